/**
 * `modelport server` as a user runs it: a real process on a fresh home, the first-start banner whose curl line works
 * when pasted into a shell, SIGTERM stopping it cleanly with no worker process left behind, and the packages of
 * features it does not use left unloaded.
 */
import assert from 'node:assert/strict';
import { type ChildProcessByStdio, execFile, spawn } from 'node:child_process';
import { once } from 'node:events';
import { mkdtemp, readdir, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Readable } from 'node:stream';
import { after, before, describe, test } from 'node:test';
import { promisify } from 'node:util';
import { REPO_ROOT } from './support/server.ts';

const NODE = join(REPO_ROOT, 'node_modules', '.bin', 'node');

/** Pids whose parent is `pid`, from /proc (the server's worker processes). */
async function childrenOf(pid: number): Promise<number[]> {
  const found: number[] = [];
  for (const entry of await readdir('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    const stat = await readFile(`/proc/${entry}/stat`, 'utf8').catch(() => '');
    // Field 4 is the parent pid; the command name (field 2) may hold spaces, so split after its ')'.
    const parent = Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]);
    if (parent === pid) found.push(Number(entry));
  }
  return found;
}

const alive = (pid: number) =>
  readFile(`/proc/${pid}/stat`, 'utf8').then(
    (s) => !/^\d+ \(.*\) Z/.test(s),
    () => false,
  );

/** `modelport server` as a child process; resolves once its stdout matches `ready`, with its output so far and after. */
async function startServerProcess(
  args: string[],
  env: Record<string, string>,
  ready: RegExp,
  nodeArgs: string[] = [],
): Promise<{ child: ChildProcessByStdio<null, Readable, Readable>; output: { stdout: string; stderr: string } }> {
  const child = spawn(NODE, [...nodeArgs, join(REPO_ROOT, 'bin', 'modelport.js'), 'server', ...args], {
    env,
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const output = { stdout: '', stderr: '' };
  child.stderr.on('data', (chunk: Buffer) => {
    output.stderr += chunk.toString();
  });
  await new Promise<void>((resolve, reject) => {
    child.stdout.on('data', (chunk: Buffer) => {
      output.stdout += chunk.toString();
      if (ready.test(output.stdout)) resolve();
    });
    child.once('exit', (code) => reject(new Error(`server exited ${code} before its banner: ${output.stderr}`)));
  });
  return { child, output };
}

/** The banner's curl line. */
const curlLineOf = (stdout: string) => (stdout.split('\n').find((l) => l.trim().startsWith('curl ')) ?? '').trim();
const CURL_LINE = /^\s*curl /m;

describe('modelport server as a process', { timeout: 120_000 }, () => {
  let home: string;
  before(async () => {
    home = await mkdtemp(join(tmpdir(), 'modelport-process-'));
  });
  after(() => rm(home, { recursive: true, force: true }));

  test('a first start prints a curl line that works when pasted; SIGTERM exits 0 and stops every worker', async () => {
    const { child, output } = await startServerProcess(
      ['--home', home, '--port', '0', '--grpc-port', '0'],
      { PATH: process.env['PATH'] ?? '' },
      CURL_LINE,
    );
    const { stdout } = output;
    const curlLine = curlLineOf(stdout);
    assert.match(
      stdout,
      /The example model `fraud` is deployed as the deployment `fraud` \(registered on this first start\)/,
    );
    assert.match(stdout, /Console: +http:\/\/127\.0\.0\.1:\d+\//);

    const { stdout: answer } = await promisify(execFile)('sh', ['-c', curlLine]);
    const body = JSON.parse(answer) as { model_name: string; outputs: { name: string; data: number[] }[] };
    assert.equal(body.model_name, 'fraud');
    const expected = JSON.parse(await readFile(join(REPO_ROOT, 'examples', 'fraud', 'expected-response.json'), 'utf8'));
    const label = body.outputs.find((o) => o.name === 'label')?.data.at(-1);
    const expectedLabel = (expected as { outputs: { name: string; data: number[] }[] }).outputs
      .find((o) => o.name === 'label')
      ?.data.at(-1);
    assert.equal(label, expectedLabel, 'the sample fraud row is labelled as in expected-response.json');

    const workers = await childrenOf(child.pid!);
    assert.ok(workers.length >= 1, 'the example deployment runs at least one worker process');
    child.kill('SIGTERM');
    const [code] = await once(child, 'exit');
    assert.equal(code, 0, output.stderr);
    // The log is JSON lines on stderr (not a terminal here).
    const records = output.stderr
      .split('\n')
      .filter((line) => line.startsWith('{'))
      .map((line) => JSON.parse(line) as Record<string, unknown>);
    assert.ok(
      records.some((r) => r['msg'] === 'shutting down' && r['signal'] === 'SIGTERM' && r['level'] === 'info'),
      output.stderr,
    );
    for (const pid of workers)
      assert.equal(await alive(pid), false, `worker ${pid} still runs after the server exited`);
  });

  test('a server serving REST with no optional feature in use loads none of their packages, nor the fetch client', async () => {
    const lazyHome = await mkdtemp(join(tmpdir(), 'modelport-process-lazy-'));
    const list = join(lazyHome, 'modules.txt');
    // A preload that records every module the process loads (ESM and CommonJS) and writes the list at exit.
    const recorder = `data:text/javascript,${encodeURIComponent(`
      import { registerHooks } from 'node:module';
      import { writeFileSync } from 'node:fs';
      const seen = [];
      registerHooks({ load(url, context, next) { seen.push(url); return next(url, context); } });
      process.on('exit', () => {
        writeFileSync(process.env.RECORD_MODULES_TO, seen.join('\\n'));
        writeFileSync(process.env.RECORD_MODULES_TO + '.builtin', process.moduleLoadList.join('\\n'));
      });
    `)}`;
    try {
      const { child, output } = await startServerProcess(
        ['--home', lazyHome, '--port', '0', '--grpc-port', '0'],
        { PATH: process.env['PATH'] ?? '', RECORD_MODULES_TO: list },
        CURL_LINE,
        [`--import=${recorder}`],
      );
      const curlLine = curlLineOf(output.stdout);
      // A prediction first: serving must not load them either.
      const { stdout: answer } = await promisify(execFile)('sh', ['-c', curlLine]);
      assert.equal((JSON.parse(answer) as { model_name: string }).model_name, 'fraud');
      child.kill('SIGTERM');
      const [code] = await once(child, 'exit');
      assert.equal(code, 0, output.stderr);
      const loaded = (await readFile(list, 'utf8')).split('\n');
      assert.ok(
        loaded.some((url) => url.includes('/node_modules/kysely/')),
        'the recorder saw the server start',
      );
      for (const lazy of [
        '/node_modules/cloudevents/',
        '/node_modules/openid-client/',
        '/node_modules/@opentelemetry/',
        // Data, scans and in-process scoring (the workers run ONNX Runtime), Kubernetes, S3, charts.
        '/node_modules/@duckdb/',
        '/node_modules/onnxruntime-node/',
        '/node_modules/@kubernetes/',
        '/node_modules/@aws-sdk/',
        '/node_modules/@observablehq/',
        '/node_modules/linkedom/',
        // Manifest and OpenLineage validation, CEL policies, the gRPC proto (no gRPC call was made).
        '/node_modules/ajv/',
        '/node_modules/ajv-formats/',
        '/node_modules/@marcbachmann/cel-js/',
        '/node_modules/@grpc/proto-loader/',
        '/node_modules/protobufjs/',
      ]) {
        assert.deepEqual(
          loaded.filter((url) => url.includes(lazy)),
          [],
          `${lazy} loads only when its feature is used`,
        );
      }
      // Node loads undici for fetch, and for `import { ... } from 'node:http'` (its lazy WebSocket getters).
      const builtins = (await readFile(`${list}.builtin`, 'utf8')).split('\n');
      assert.ok(builtins.includes('NativeModule http'), 'the recorder saw node:http load');
      assert.deepEqual(
        builtins.filter((name) => name.includes('undici')),
        [],
        'no fetch client in a server that fetches nothing',
      );
    } finally {
      await rm(lazyHome, { recursive: true, force: true });
    }
  });

  test('a first start on an empty compile cache fills it in a child first: the server never loads the type stripper', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'modelport-process-cache-'));
    // A preload that writes, at exit, whether this process loaded Node's type stripper (amaro), in a file per pid.
    const recorder = `data:text/javascript,${encodeURIComponent(`
      import { writeFileSync } from 'node:fs';
      process.on('exit', () => writeFileSync(process.env.RECORD_STRIPPER_TO + '/' + process.pid,
        String(process.moduleLoadList.some((m) => m.includes('amaro')))));
    `)}`;
    const env = (cache: string) => ({
      PATH: process.env['PATH'] ?? '',
      NODE_COMPILE_CACHE: cache,
      RECORD_STRIPPER_TO: dir,
    });
    try {
      // What the stripper check sees in a command that runs straight from a cold cache (no warm-up: not `server`).
      const help = spawn(NODE, [`--import=${recorder}`, join(REPO_ROOT, 'bin', 'modelport.js'), '--help'], {
        env: env(join(dir, 'cold')),
        stdio: 'ignore',
      });
      await once(help, 'exit');
      assert.equal(await readFile(join(dir, String(help.pid)), 'utf8'), 'true', 'a cold command loads the stripper');

      const { child: server, output } = await startServerProcess(
        ['--home', join(dir, 'home'), '--port', '0', '--grpc-port', '0', '--no-example'],
        env(join(dir, 'cache')),
        /Console: +http/,
        [`--import=${recorder}`],
      );
      server.kill('SIGTERM');
      const [code] = await once(server, 'exit');
      assert.equal(code, 0, output.stderr);
      assert.equal(await readFile(join(dir, String(server.pid)), 'utf8'), 'false', 'the server started from the cache');
      const others = (await readdir(dir)).filter(
        (name) => /^\d+$/.test(name) && ![help.pid, server.pid].includes(Number(name)),
      );
      assert.equal(others.length, 1, 'one child filled the cache');
      assert.equal(await readFile(join(dir, others[0]!), 'utf8'), 'true', 'that child did the compiling');
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });

  test('npx modelport prints no npm warning, whatever the system Node (EBADENGINE, unknown project config)', async () => {
    const { stdout, stderr } = await promisify(execFile)('npx', ['modelport', '--help'], {
      cwd: REPO_ROOT,
      env: { PATH: process.env['PATH'] ?? '', HOME: home },
    });
    assert.match(stdout, /usage: modelport <command>/);
    assert.equal(stderr, '', 'npx modelport writes nothing to stderr');
  });

  test('with --auth the first start prints the admin token once; its curl line sends it; a restart does not', async () => {
    const authHome = await mkdtemp(join(tmpdir(), 'modelport-process-auth-'));
    const start = async () => {
      const { child, output } = await startServerProcess(
        ['--auth', '--home', authHome, '--port', '0', '--grpc-port', '0'],
        { PATH: process.env['PATH'] ?? '' },
        CURL_LINE,
      );
      // SIGTERM as soon as the banner is out (as a supervisor may send it) is still a graceful stop: exit code 0.
      const stop = async () => {
        child.kill('SIGTERM');
        const [code] = await once(child, 'exit');
        assert.equal(code, 0, output.stderr);
        return output.stderr;
      };
      return { stdout: output.stdout, stop };
    };
    try {
      const first = await start();
      const token = (await readFile(join(authHome, 'admin-token'), 'utf8')).trim();
      assert.match(first.stdout, /Auth:\s+on/);
      assert.ok(first.stdout.includes(`    ${token}\n`), 'the banner shows the admin token once');
      const curlLine = first.stdout
        .split('\n')
        .find((l) => l.trim().startsWith('curl '))!
        .trim();
      const { stdout: answer } = await promisify(execFile)('sh', ['-c', curlLine]);
      assert.equal((JSON.parse(answer) as { model_name: string }).model_name, 'fraud');
      const bare = curlLine.replace(/ -H "authorization: [^"]+"/, '');
      const { stdout: refused } = await promisify(execFile)('sh', ['-c', bare]);
      assert.match(refused, /send a token/);
      const log = await first.stop();
      assert.ok(!log.includes(token.slice(-43)), 'the token is not in the log');
      const second = await start();
      assert.ok(!second.stdout.includes(token), 'a restart does not print the token again');
      await second.stop();
    } finally {
      await rm(authHome, { recursive: true, force: true });
    }
  });
});
