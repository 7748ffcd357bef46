/**
 * Scan statistics benchmark (`npm run bench:scans`): each part runs in its own process (so its peak resident memory
 * is its own), RUNS times, and prints medians; ratios are measured in this same run. No thresholds.
 *
 * - drift: PSI (10 reference-quantile bins) + two-sample KS with p-value for 30 features between two
 *   1,000,000-row datasets (float32 columns in a binary file each, column after column, read one column at a time)
 *   with src/stats, against numpy + scipy on the same files (np.quantile edges, np.histogram, scipy.stats.ks_2samp;
 *   Debian's python3-scipy, skipped with a message when absent). Ambition: at least 3x faster than numpy + scipy;
 *   peak RSS under 500 MB.
 * - importance: permutation importance, 30 features x 5 repeats x 100,000 rows, with the example fraud model in
 *   ONNX Runtime (as bench/score.ts loads it), against the scorer alone on the same rows (rows/s of each).
 *
 * Sizes are flags: node bench/scans.ts --rows 1000000 --features 30 --importance-rows 100000 --repeats 5 --runs 3
 */
import { execFileSync, spawnSync } from 'node:child_process';
import { closeSync, existsSync, openSync, readSync } from 'node:fs';
import { mkdtemp, open, rm, writeFile } from 'node:fs/promises';
import { loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { createRng, numericDriftSamples, permutationImportance, rocAuc } from '../src/stats/index.ts';

const { values } = parseArgs({
  options: {
    rows: { type: 'string', default: '1000000' },
    features: { type: 'string', default: '30' },
    'importance-rows': { type: 'string', default: '100000' },
    repeats: { type: 'string', default: '5' },
    runs: { type: 'string', default: '3' },
    part: { type: 'string' },
    dir: { type: 'string' },
  },
});
const ROWS = Number(values.rows);
const FEATURES = Number(values.features);
const IMPORTANCE_ROWS = Number(values['importance-rows']);
const REPEATS = Number(values.repeats);
const RUNS = Number(values.runs);
/** Debian's interpreter, where python3-scipy installs (a pyenv shim on PATH may lack it). */
const PYTHON = existsSync('/usr/bin/python3') ? '/usr/bin/python3' : 'python3';
const SELF = fileURLToPath(import.meta.url);

const median = (v: number[]) => [...v].sort((a, b) => a - b)[Math.floor(v.length / 2)]!;
const fmt = (n: number) => Math.round(n).toLocaleString('en-US');
const mb = (kb: number) => `${Math.round(kb / 1024)} MB`;

interface PartResult {
  seconds: number;
  maxRssKb: number;
  extra?: Record<string, number>;
}

// ---- parts, each run in a child process ---------------------------------------------------------------------

/** One column of a column-major float32 file. */
function readColumn(fd: number, j: number, rows: number, into: Float32Array): Float32Array {
  const bytes = new Uint8Array(into.buffer, into.byteOffset, rows * 4);
  let done = 0;
  while (done < bytes.length) done += readSync(fd, bytes, done, bytes.length - done, j * rows * 4 + done);
  return into;
}

async function driftPart(dir: string): Promise<PartResult> {
  const started = performance.now();
  const ref = openSync(join(dir, 'ref.f32'), 'r');
  const cur = openSync(join(dir, 'cur.f32'), 'r');
  const a = new Float32Array(ROWS);
  const b = new Float32Array(ROWS);
  let drifted = 0;
  let checksum = 0;
  for (let j = 0; j < FEATURES; j++) {
    const r = numericDriftSamples(readColumn(ref, j, ROWS, a), readColumn(cur, j, ROWS, b));
    if (r.drifted) drifted++;
    checksum += r.psi + r.ks.statistic;
  }
  closeSync(ref);
  closeSync(cur);
  return {
    seconds: (performance.now() - started) / 1000,
    maxRssKb: process.resourceUsage().maxRSS,
    extra: { drifted, checksum },
  };
}

async function importancePart(): Promise<PartResult> {
  const { generateTransactions, trainFraudModel } = await import('../examples/fraud/train.ts');
  const { createRandom } = await import('../src/onnx-builder/index.ts');
  const { createSession } = await import('../src/runtimes/onnx/session.ts');
  const ort = await import('onnxruntime-node');
  const model = trainFraudModel();
  const width = model.featureNames.length;
  const rng = createRandom(2025);
  const rows = new Float32Array(IMPORTANCE_ROWS * width);
  const truth = new Uint8Array(IMPORTANCE_ROWS);
  for (let done = 0; done < IMPORTANCE_ROWS; ) {
    const n = Math.min(10_000, IMPORTANCE_ROWS - done);
    const { data, labels } = generateTransactions(rng, n);
    for (const [i, row] of data.entries()) {
      rows.set(row, (done + i) * width);
      truth[done + i] = labels[i]!;
    }
    done += n;
  }
  const session = await createSession(model.onnx);
  const scorer = async (batch: Float32Array, n: number) => {
    const out = await session.run({ input: new ort.Tensor('float32', batch, [n, width]) }, ['probabilities']);
    const p = out['probabilities']!.data as Float32Array;
    const scores = new Float32Array(n);
    for (let i = 0; i < n; i++) scores[i] = p[2 * i + 1]!;
    return scores;
  };
  // The scorer alone over the same rows, as many times as importance scores them.
  const floorStarted = performance.now();
  const passes = 1 + Math.min(FEATURES, width) * REPEATS;
  for (let pass = 0; pass < Math.min(passes, 10); pass++) {
    for (let at = 0; at < IMPORTANCE_ROWS; at += 8192) {
      const n = Math.min(8192, IMPORTANCE_ROWS - at);
      await scorer(rows.subarray(at * width, (at + n) * width), n);
    }
  }
  const floorRate = (Math.min(passes, 10) * IMPORTANCE_ROWS) / ((performance.now() - floorStarted) / 1000);
  const started = performance.now();
  const result = await permutationImportance({
    model: scorer,
    data: { rows, n: IMPORTANCE_ROWS, width },
    truth,
    metric: rocAuc,
    repeats: REPEATS,
    features: Array.from({ length: Math.min(FEATURES, width) }, (_, j) => j),
  });
  const seconds = (performance.now() - started) / 1000;
  await session.release();
  return {
    seconds,
    maxRssKb: process.resourceUsage().maxRSS,
    extra: { rowsPerSecond: result.rowsScored / seconds, floorRowsPerSecond: floorRate, rowsScored: result.rowsScored },
  };
}

const PY_DRIFT = `
import sys, time, resource
import numpy as np
from scipy import stats
d, rows, features = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
started = time.perf_counter()
drifted = 0
with open(d + '/ref.f32', 'rb') as fr, open(d + '/cur.f32', 'rb') as fc:
    for j in range(features):
        fr.seek(j * rows * 4); fc.seek(j * rows * 4)
        ref = np.fromfile(fr, dtype=np.float32, count=rows).astype(np.float64)
        cur = np.fromfile(fc, dtype=np.float32, count=rows).astype(np.float64)
        edges = np.unique(np.quantile(ref, np.arange(1, 10) / 10))
        lo, hi = min(ref.min(), cur.min()), max(ref.max(), cur.max())
        bins = np.concatenate([[lo], edges, [hi]])
        r = np.histogram(ref, bins=bins)[0] / len(ref)
        c = np.histogram(cur, bins=bins)[0] / len(cur)
        r, c = np.maximum(r, 1e-4), np.maximum(c, 1e-4)
        psi = float(np.sum((c - r) * np.log(c / r)))
        ks = stats.ks_2samp(ref, cur)
        if psi >= 0.2 or (ks.pvalue < 0.05 and ks.statistic >= 0.1): drifted += 1
print(time.perf_counter() - started, resource.getrusage(resource.RUSAGE_SELF).ru_maxrss, drifted)
`;

// ---- the driver -----------------------------------------------------------------------------------------------

function runPart(part: string, dir: string): PartResult {
  const child = spawnSync(
    process.execPath,
    [
      SELF,
      '--part',
      part,
      '--dir',
      dir,
      ...process.argv
        .slice(2)
        .filter((a, i, all) => !['--part', '--dir'].includes(a) && !['--part', '--dir'].includes(all[i - 1] ?? '')),
    ],
    { encoding: 'utf8', stdio: ['ignore', 'pipe', 'inherit'], maxBuffer: 1 << 20 },
  );
  if (child.status !== 0) throw new Error(`part ${part} failed (exit ${child.status})`);
  return JSON.parse(child.stdout.trim().split('\n').pop()!);
}

async function writeDatasets(dir: string): Promise<void> {
  // Column after column: reference N(0, 1); the current data shifts the first sixth of the features a little more
  // each, so some drift and some do not. Written a column at a time to keep the generator's memory small.
  const rng = createRng(99);
  const column = new Float32Array(ROWS);
  for (const [name, shifted] of [
    ['ref.f32', false],
    ['cur.f32', true],
  ] as const) {
    const file = await open(join(dir, name), 'w');
    for (let j = 0; j < FEATURES; j++) {
      const shift = shifted && j < FEATURES / 6 ? 0.05 * (j + 1) : 0;
      const scale = shifted && j === FEATURES - 1 ? 1.5 : 1;
      for (let i = 0; i < ROWS; i++) column[i] = rng.normal() * scale + shift;
      await file.write(new Uint8Array(column.buffer), 0, ROWS * 4, j * ROWS * 4);
    }
    await file.close();
  }
}

async function main(): Promise<void> {
  if (values.part === 'drift') return void console.log(JSON.stringify(await driftPart(values.dir!)));
  if (values.part === 'importance') return void console.log(JSON.stringify(await importancePart()));

  const dir = await mkdtemp(join(tmpdir(), 'modelport-bench-scans-'));
  try {
    console.log(
      `bench:scans  load average ${loadavg()
        .map((l) => l.toFixed(2))
        .join(' ')}; ${RUNS} runs each, medians`,
    );
    await writeDatasets(dir);
    await writeFile(join(dir, 'drift.py'), PY_DRIFT);
    let python = true;
    try {
      execFileSync(PYTHON, ['-c', 'import numpy, scipy'], { stdio: 'ignore' });
    } catch {
      python = false;
      console.log('drift: numpy + scipy not installed (apt-get install python3-scipy): the comparison is skipped');
    }

    const js: PartResult[] = [];
    const py: { seconds: number; maxRssKb: number; drifted: number }[] = [];
    for (let run = 0; run < RUNS; run++) {
      js.push(runPart('drift', dir));
      if (python) {
        const [seconds, rss, drifted] = execFileSync(
          PYTHON,
          [join(dir, 'drift.py'), dir, String(ROWS), String(FEATURES)],
          { encoding: 'utf8' },
        )
          .trim()
          .split(/\s+/)
          .map(Number);
        py.push({ seconds: seconds!, maxRssKb: rss!, drifted: drifted! });
      }
    }
    const jsSeconds = median(js.map((r) => r.seconds));
    console.log(
      `drift, ${FEATURES} features x 2 x ${fmt(ROWS)} rows (PSI + KS):  modelport ${jsSeconds.toFixed(2)} s, peak RSS ${mb(median(js.map((r) => r.maxRssKb)))}, ${js[0]!.extra!['drifted']} features drifted`,
    );
    if (python) {
      const pySeconds = median(py.map((r) => r.seconds));
      console.log(
        `                                          numpy + scipy ${pySeconds.toFixed(2)} s, peak RSS ${mb(median(py.map((r) => r.maxRssKb)))}, ${py[0]!.drifted} features drifted`,
      );
      console.log(`drift speed-up over numpy + scipy: ${(pySeconds / jsSeconds).toFixed(2)}x  (ambition >= 3x)`);
    }

    const imp: PartResult[] = [];
    for (let run = 0; run < RUNS; run++) imp.push(runPart('importance', dir));
    const rate = median(imp.map((r) => r.extra!['rowsPerSecond']!));
    const floor = median(imp.map((r) => r.extra!['floorRowsPerSecond']!));
    console.log(
      `permutation importance, ${FEATURES} features x ${REPEATS} repeats x ${fmt(IMPORTANCE_ROWS)} rows (fraud model): ${median(imp.map((r) => r.seconds)).toFixed(2)} s, ${fmt(rate)} rows/s scored (scorer alone ${fmt(floor)} rows/s, ratio ${(rate / floor).toFixed(2)}), peak RSS ${mb(median(imp.map((r) => r.maxRssKb)))}`,
    );
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

await main();
