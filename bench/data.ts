/**
 * Data repositories benchmark (`npm run bench:data`), every figure measured against a floor in the same run:
 *
 * - ingest: one large file put through the API into a server running as its own process, against
 *   `sha256sum` + `cp` of the same file; the ratio (floor time / Modelport time, higher is better; ambition
 *   >= 0.7) and the server's peak resident memory (VmHWM; ambition < 200 MB);
 * - many small files: `modelport data put` (the CLI as a process) of a folder of small files, against
 *   `git add -A && git commit` of the same folder; then the time of log, ls (root and recursive) and diff of that
 *   commit (ambition: under 1 s each);
 * - profile: the background profile of a CSV (rows x columns of numbers) from the moment its commit answers,
 *   against pandas read_csv + describe() + a 20-bin histogram per column (Debian's python3-pandas; skipped with
 *   a message when absent); ambition: under 0.5 of pandas.
 *
 * Sizes are flags, so a short run is possible:
 *   node bench/data.ts --ingest 5GiB --files 100000 --rows 1000000 --cols 30      (the defaults)
 *   node bench/data.ts --ingest 256MiB --files 5000 --rows 100000                 (a quick look)
 * A size of 0 skips that part.
 */
import { execFileSync, spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { createWriteStream, existsSync } from 'node:fs';
import { mkdir, mkdtemp, open, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { ModelportClient } from '../src/client/client.ts';
import { parseSize } from '../src/core/units.ts';
import { runCommand, startCommand, stopProcess } from '../test/support/process.ts';

const { values } = parseArgs({
  options: {
    ingest: { type: 'string', default: '5GiB' },
    files: { type: 'string', default: '100000' },
    rows: { type: 'string', default: '1000000' },
    cols: { type: 'string', default: '30' },
  },
});
const INGEST_BYTES = parseSize(values.ingest) ?? 0;
const FILES = Number(values.files);
const ROWS = Number(values.rows);
const COLS = Number(values.cols);
const PYTHON = existsSync('/usr/bin/python3') ? '/usr/bin/python3' : 'python3';

const seconds = (ms: number) => `${(ms / 1000).toFixed(2)} s`;
const mb = (bytes: number) => `${(bytes / 1e6).toFixed(0)} MB`;
const time = async <T>(fn: () => Promise<T>): Promise<[T, number]> => {
  const started = performance.now();
  const result = await fn();
  return [result, performance.now() - started];
};
const timeSync = (command: string, args: string[], options: { cwd?: string; env?: NodeJS.ProcessEnv } = {}) => {
  const started = performance.now();
  const result = spawnSync(command, args, { stdio: ['ignore', 'ignore', 'pipe'], ...options });
  if (result.status !== 0) throw new Error(`${command} ${args.join(' ')} failed: ${result.stderr}`);
  return performance.now() - started;
};

/** Peak resident memory of a process, from /proc (Linux). */
async function peakRss(pid: number): Promise<number> {
  const status = await readFile(`/proc/${pid}/status`, 'utf8');
  return Number(/VmHWM:\s+(\d+) kB/.exec(status)?.[1] ?? 0) * 1024;
}

const dir = await mkdtemp(join(tmpdir(), 'modelport-bench-data-'));
const home = join(dir, 'home');
console.log(
  `bench:data  load average at start ${loadavg()
    .map((l) => l.toFixed(2))
    .join(' ')}  (2 cores shared)`,
);
const server = await startCommand(
  ['server', '--home', home, '--port', '0', '--grpc-port', '0', '--no-example', '--max-upload-size', '64GiB'],
  {},
  /API:\s+(http:\/\/\S+)\/api\/v1/,
);
const client = new ModelportClient({ url: server.url });
const pid = server.child.pid as number;
try {
  await client.createRepo('bench', { description: 'bench:data' });

  if (INGEST_BYTES > 0) {
    const file = join(dir, 'big.bin');
    const block = randomBytes(16 * 1024 * 1024);
    const out = createWriteStream(file);
    for (let written = 0; written < INGEST_BYTES; written += block.length) {
      block.writeUInt32LE(written / block.length, 0);
      const chunk = written + block.length > INGEST_BYTES ? block.subarray(0, INGEST_BYTES - written) : block;
      if (!out.write(Buffer.from(chunk))) await new Promise((resolve) => out.once('drain', resolve));
    }
    await new Promise<void>((resolve, reject) =>
      out.end((error?: Error | null) => (error ? reject(error) : resolve())),
    );
    // Warm the page cache once so neither side pays the first read.
    timeSync('cat', [file], {});
    const hashMs = timeSync('sha256sum', [file]);
    const copyMs = timeSync('cp', [file, join(dir, 'copy.bin')]);
    await rm(join(dir, 'copy.bin'));
    const floorMs = hashMs + copyMs;
    const rssBefore = await peakRss(pid);
    const handle = await open(file);
    const [, putMs] = await time(() =>
      client.putFile(
        'bench',
        'big.bin',
        { stream: handle.readableWebStream() as unknown as AsyncIterable<Uint8Array>, size: INGEST_BYTES },
        { message: 'one large file' },
      ),
    );
    await handle.close();
    const rss = await peakRss(pid);
    console.log(`\ningest ${mb(INGEST_BYTES)} file`);
    console.log(
      `  floor  sha256sum ${seconds(hashMs)} + cp ${seconds(copyMs)} = ${seconds(floorMs)} (${mb(INGEST_BYTES / (floorMs / 1000))}/s)`,
    );
    console.log(
      `  modelport data put (hash, write, fsync, commit)   ${seconds(putMs)} (${mb(INGEST_BYTES / (putMs / 1000))}/s)`,
    );
    console.log(`  ratio floor/modelport ${(floorMs / putMs).toFixed(2)} (ambition >= 0.7)`);
    console.log(`  server peak RSS ${mb(rss)} (before the put ${mb(rssBefore)}; ambition < 200 MB)`);
    await rm(file);
  }

  if (FILES > 0) {
    const tree = join(dir, 'files');
    const perDir = 1000;
    for (let i = 0; i < FILES; i += perDir) {
      const sub = join(tree, `d${String(i / perDir).padStart(4, '0')}`);
      await mkdir(sub, { recursive: true });
      await Promise.all(
        Array.from({ length: Math.min(perDir, FILES - i) }, (_, k) =>
          writeFile(join(sub, `f${k}.txt`), `file ${i + k} ${randomBytes(8 + ((i + k) % 64)).toString('hex')}\n`),
        ),
      );
    }
    const env = {
      ...process.env,
      GIT_AUTHOR_NAME: 'bench',
      GIT_AUTHOR_EMAIL: 'bench@example.com',
      GIT_COMMITTER_NAME: 'bench',
      GIT_COMMITTER_EMAIL: 'bench@example.com',
    };
    execFileSync('git', ['init', '-q', tree]);
    const gitMs = timeSync('sh', ['-c', 'git add -A && git commit -q -m bench'], { cwd: tree, env });
    await rm(join(tree, '.git'), { recursive: true, force: true });
    // A first small commit, so the big one has a parent to diff against.
    await client.putFile('bench', 'README', new TextEncoder().encode('bench\n'), { message: 'start', branch: 'main' });
    await client.createBranch('bench', 'many');
    const [put, putMs] = await time(() =>
      runCommand(['data', 'put', 'bench@many', tree, 'files', '-m', 'many small files', '-o', 'json'], {
        MODELPORT_URL: server.url,
      }),
    );
    if (put.code !== 0) throw new Error(`data put failed: ${put.stderr}`);
    const [, logMs] = await time(() => client.listCommits('bench', 'many', 50));
    const [root, lsMs] = await time(() => client.listTree('bench', 'many'));
    const [all, lsAllMs] = await time(() => client.listTree('bench', 'many', 'files', true));
    const [diff, diffMs] = await time(() => client.diffCommits('bench', 'many~1', 'many', 1_000_000));
    console.log(`\ncommit ${FILES.toLocaleString('en-US')} small files (${FILES / perDir} folders)`);
    console.log(`  git add -A && git commit   ${seconds(gitMs)}`);
    console.log(`  modelport data put (CLI process: walk, tar, upload, store, commit)   ${seconds(putMs)}`);
    console.log(`  ratio git/modelport ${(gitMs / putMs).toFixed(2)} (ambition > 1: faster than git)`);
    console.log(
      `  log ${logMs.toFixed(0)} ms; ls root ${lsMs.toFixed(0)} ms (${root.entries.length} entries); ls -r ${lsAllMs.toFixed(0)} ms (${all.entries.length} files); diff ${diffMs.toFixed(0)} ms (${diff.totals.added} added)  (ambition < 1000 ms each)`,
    );
    await rm(tree, { recursive: true, force: true });
  }

  if (ROWS > 0) {
    const csv = join(dir, 'table.csv');
    const out = createWriteStream(csv);
    out.write(`${Array.from({ length: COLS }, (_, c) => `c${c}`).join(',')}\n`);
    let seed = 42;
    const rand = () => {
      seed = (seed * 1103515245 + 12345) & 0x7fffffff;
      return seed / 0x7fffffff;
    };
    for (let r = 0; r < ROWS; r += 10_000) {
      const lines: string[] = [];
      for (let k = r; k < Math.min(ROWS, r + 10_000); k++) {
        const row: string[] = [];
        for (let c = 0; c < COLS; c++)
          row.push(c % 3 === 0 ? String(Math.floor(rand() * 1000)) : (rand() * 100 - 50).toFixed(4));
        lines.push(row.join(','));
      }
      if (!out.write(`${lines.join('\n')}\n`)) await new Promise((resolve) => out.once('drain', resolve));
    }
    await new Promise<void>((resolve, reject) =>
      out.end((error?: Error | null) => (error ? reject(error) : resolve())),
    );
    const size = (await stat(csv)).size;
    console.log(`\nprofile a ${ROWS.toLocaleString('en-US')}-row, ${COLS}-column CSV (${mb(size)})`);

    let pandasMs: number | undefined;
    const probe = spawnSync(PYTHON, ['-c', 'import pandas, numpy'], { stdio: 'ignore' });
    if (probe.status === 0) {
      const script = [
        'import sys, time, numpy as np, pandas as pd',
        't = time.perf_counter()',
        'df = pd.read_csv(sys.argv[1])',
        'd = df.describe()',
        'h = [np.histogram(df[c].dropna(), bins=20) for c in df.select_dtypes("number").columns]',
        'print((time.perf_counter() - t) * 1000)',
      ].join('\n');
      const result = spawnSync(PYTHON, ['-c', script, csv], { encoding: 'utf8' });
      if (result.status !== 0) throw new Error(`pandas failed: ${result.stderr}`);
      pandasMs = Number(result.stdout.trim());
      console.log(`  pandas read_csv + describe() + 20-bin histogram per column   ${seconds(pandasMs)}`);
    } else {
      console.log('  pandas: skipped (python3-pandas is not installed: apt-get install python3-pandas)');
    }
    const handle = await open(csv);
    const committed = await client.putFile(
      'bench',
      'table.csv',
      { stream: handle.readableWebStream() as unknown as AsyncIterable<Uint8Array>, size },
      { message: 'a table' },
    );
    await handle.close();
    const answered = performance.now();
    let profile = await client.getProfile('bench', committed.commit.id, 'table.csv');
    while (profile.state === 'pending') {
      await new Promise((resolve) => setTimeout(resolve, 50));
      profile = await client.getProfile('bench', committed.commit.id, 'table.csv');
    }
    const readyMs = performance.now() - answered;
    if (profile.state !== 'ready' || !profile.profile) throw new Error(`profile ${profile.state}: ${profile.error}`);
    console.log(
      `  modelport profile (DuckDB: load, statistics, quantiles, histograms)   ${seconds(profile.profile.elapsedMs)}; ready ${seconds(readyMs)} after the commit answered`,
    );
    if (pandasMs !== undefined) {
      console.log(`  ratio modelport/pandas ${(readyMs / pandasMs).toFixed(2)} (ambition < 0.5)`);
    }
  }
  console.log(
    `\nload average at end ${loadavg()
      .map((l) => l.toFixed(2))
      .join(' ')}`,
  );
} finally {
  await stopProcess(server.child);
  await rm(dir, { recursive: true, force: true });
}
