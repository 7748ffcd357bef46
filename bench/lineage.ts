/**
 * Speed of the lineage query, printed, never asserted. A real chain is built first on a server in this process: one
 * data commit (a CSV, profiled), a pipeline (copy a model, gate, register, deploy) run `--runs` times on it, so the
 * commit reached that many runs, versions and deployment revisions, and `--requests` logged predictions on the last
 * revision. Then each kind of query is timed over HTTP (`--repeat` times each): from a request id (up), a model
 * version, a deployment revision, a run, and the commit (down, the widest: every run, version and revision).
 * `npm run bench:lineage [-- --runs 20 --requests 1000 --repeat 20 --postgres URL]`; figures also go to
 * bench/out/lineage.json.
 */
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { ModelportClient } from '../src/client/client.ts';
import { compileServerConfig } from '../src/core/config.ts';
import { silentLogger } from '../src/logging/index.ts';
import { buildLogisticRegressionModel } from '../src/onnx-builder/index.ts';
import { startServer } from '../src/server/server.ts';

const { values } = parseArgs({
  options: {
    runs: { type: 'string', default: '20' },
    requests: { type: 'string', default: '1000' },
    repeat: { type: 'string', default: '20' },
    postgres: { type: 'string' },
  },
});
const RUNS = Number(values.runs);
const REQUESTS = Number(values.requests);
const REPEAT = Number(values.repeat);
const quantile = (xs: number[], q: number) => {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.max(0, Math.ceil(q * s.length) - 1))]!;
};
const ENDED = new Set(['Succeeded', 'Failed', 'Blocked', 'Cancelled', 'Skipped']);
const FEATURES = 4;

const home = await mkdtemp(join(tmpdir(), 'modelport-bench-lineage-'));
const schema = `mp_bench_lineage_${process.pid}`;
const config = compileServerConfig(
  {
    home,
    port: '0',
    grpcPort: '0',
    example: 'false',
    ...(values.postgres
      ? { databaseUrl: `${values.postgres}${values.postgres.includes('?') ? '&' : '?'}schema=${schema}` }
      : {}),
  },
  {},
);
const server = await startServer(config, { log: silentLogger(), version: 'bench', examplesDir: home });
const mp = new ModelportClient({ url: server.url, timeoutMs: 120_000 });
const load = loadavg()[0]!.toFixed(2);

try {
  const model = join(home, 'model.onnx');
  const bytes = buildLogisticRegressionModel({
    weights: new Float32Array([0.5, -0.25, 1, 0.1]),
    bias: 0.2,
    featureCount: FEATURES,
  });
  await writeFile(model, bytes);
  await mp.registerVersion('bench', bytes);
  await mp.applyDeployment('bench', {
    traffic: [{ model: 'bench@1', weight: 100 }],
    logging: { sample: 100, sinks: [{ type: 'store' }] },
  } as never);
  await mp.createRepo('bench');
  const rows = Array.from({ length: 1000 }, (_, i) => `${i},${i % 7},${(i * 13) % 101},${i % 2}`).join('\n');
  const { commit } = await mp.putFile('bench', 'rows.csv', new TextEncoder().encode(`a,b,c,label\n${rows}\n`), {
    message: 'the data',
  });
  await mp.applyPipeline({
    spec: {
      name: 'chain',
      // Runs by hand, each on the head of the data branch (the glob keeps commits from starting runs).
      trigger: { manual: true, data: { repo: 'bench', glob: 'never-*.txt' } },
      concurrency: { limit: 1, policy: 'queue' },
      steps: [
        { name: 'train', run: `cp ${JSON.stringify(model)} "$MODELPORT_OUTPUT/model.onnx"` },
        { name: 'gate', needs: ['train'], gate: 'true' },
        { name: 'register', needs: ['gate'], register: { model: 'bench', file: 'model.onnx' } },
        { name: 'deploy', needs: ['register'], deploy: { deployment: 'bench' } },
      ],
    },
  } as never);
  const built = Date.now();
  let lastRun = '';
  for (let i = 0; i < RUNS; i++) {
    const run = await mp.triggerPipeline('chain');
    for (;;) {
      const r = await mp.getRun(run.id);
      if (ENDED.has(r.state)) {
        if (r.state !== 'Succeeded') throw new Error(`run ${i} ended ${r.state}: ${r.reason}`);
        break;
      }
      await new Promise((resolve) => setTimeout(resolve, 20));
    }
    lastRun = run.id;
  }
  const deployment = await mp.getDeployment('bench');
  for (let i = 0; i < REQUESTS; i++) {
    const res = await fetch(`${server.url}/v2/models/bench/infer`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({
        id: `req-${i}`,
        inputs: [{ name: 'input', datatype: 'FP32', shape: [1, FEATURES], data: [i % 5, 1, 2, 3] }],
      }),
    });
    await res.arrayBuffer();
  }
  await server.payloads.flush();
  const buildMs = Date.now() - built;

  const queries: [string, string, 'up' | 'down' | 'both'][] = [
    ['request id (up)', `request:req-${REQUESTS - 1}`, 'up'],
    ['model version (both)', `model:bench@${RUNS + 1}`, 'both'],
    ['deployment revision (both)', `deployment:bench@${deployment.currentRevision}`, 'both'],
    ['run (both)', lastRun, 'both'],
    [`data commit (down: ${RUNS} runs)`, `data:bench@${commit.id}`, 'down'],
  ];
  const results: Record<string, unknown>[] = [];
  console.log(
    `lineage query over HTTP, ${RUNS} runs on one commit, ${REQUESTS} logged predictions; ${REPEAT} repetitions;` +
      ` ${values.postgres ? 'PostgreSQL' : 'SQLite'}; load average ${load} at start (chain built in ${(buildMs / 1000).toFixed(1)} s)`,
  );
  console.log('| query | nodes | edges | median ms | p95 ms |\n| --- | ---: | ---: | ---: | ---: |');
  for (const [name, of, direction] of queries) {
    const times: number[] = [];
    let graph: Awaited<ReturnType<typeof mp.getLineage>> | undefined;
    for (let i = 0; i < REPEAT; i++) {
      const start = performance.now();
      graph = await mp.getLineage(of, direction);
      times.push(performance.now() - start);
    }
    const median = quantile(times, 0.5);
    const p95 = quantile(times, 0.95);
    results.push({ name, of, direction, nodes: graph!.nodes.length, edges: graph!.edges.length, median, p95 });
    console.log(
      `| ${name} | ${graph!.nodes.length} | ${graph!.edges.length} | ${median.toFixed(1)} | ${p95.toFixed(1)} |`,
    );
  }
  const start = performance.now();
  const events = await mp.exportOpenLineage(`data:bench@${commit.id}`, 'down');
  console.log(
    `OpenLineage export of the commit (down): ${events.length} events in ${(performance.now() - start).toFixed(1)} ms`,
  );
  console.log(`load average at the end ${loadavg()[0]!.toFixed(2)}`);
  await mkdir(new URL('./out/', import.meta.url), { recursive: true });
  await writeFile(
    new URL('./out/lineage.json', import.meta.url),
    `${JSON.stringify({ runs: RUNS, requests: REQUESTS, repeat: REPEAT, load, results }, null, 2)}\n`,
  );
} finally {
  await server.close();
  await rm(home, { recursive: true, force: true });
}
