/**
 * Speed of pipelines (issue 16), printed, never asserted: commit -> first step running (median and p99 over 50
 * commits), the per-step overhead of a 10-step no-op pipeline, and 100 queued runs drained at a concurrency limit of
 * 4 with none lost or duplicated. `npm run bench:pipelines [-- --postgres URL]`; figures also go to
 * bench/out/pipelines.json.
 */
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { ModelportClient } from '../src/client/client.ts';
import { compileServerConfig } from '../src/core/config.ts';
import { silentLogger } from '../src/logging/index.ts';
import { startServer } from '../src/server/server.ts';

const { values } = parseArgs({ options: { postgres: { type: 'string' } } });
const quantile = (xs: number[], q: number) => {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.max(0, Math.ceil(q * s.length) - 1))]!;
};
const ENDED = new Set(['Succeeded', 'Failed', 'Blocked', 'Cancelled', 'Skipped']);

const home = await mkdtemp(join(tmpdir(), 'modelport-bench-pipelines-'));
const schema = `mp_bench_${process.pid}`;
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
const mp = new ModelportClient({ url: server.url });
const waitRun = async (id: string) => {
  for (;;) {
    const run = await mp.getRun(id);
    if (ENDED.has(run.state)) return run;
    await new Promise((r) => setTimeout(r, 5));
  }
};

try {
  await mp.createRepo('bench');
  // 1. Commit -> first step running.
  await mp.applyPipeline({
    spec: {
      name: 'latency',
      trigger: { data: { repo: 'bench', glob: '*.csv' } },
      concurrency: { limit: 1, policy: 'queue' },
      steps: [{ name: 'first', run: 'true' }],
    },
  });
  const latencies: number[] = [];
  for (let i = 0; i < 50; i++) {
    const { commit } = await mp.putFile('bench', `rows-${i % 5}.csv`, new TextEncoder().encode(`a\n${i}\n`), {
      message: `commit ${i}`,
    });
    let runId: string | undefined;
    while (!runId) {
      runId = (await mp.listRuns({ pipeline: 'latency', limit: 1 })).find(
        (r) => r.trigger.kind === 'data' && r.trigger.commit === commit.id,
      )?.id;
      if (!runId) await new Promise((r) => setTimeout(r, 2));
    }
    const run = await waitRun(runId);
    latencies.push(Date.parse(run.steps[0]!.startedAt!) - Date.parse(commit.createdAt));
  }
  await mp.deletePipeline('latency');

  // 2. A 10-step no-op chain: overhead per step.
  await mp.applyPipeline({
    spec: {
      name: 'chain',
      steps: Array.from({ length: 10 }, (_, i) => ({
        name: `s${i}`,
        run: 'true',
        ...(i > 0 ? { needs: [`s${i - 1}`] } : {}),
      })),
    },
  });
  const perStep: number[] = [];
  for (let i = 0; i < 5; i++) {
    const run = await waitRun((await mp.triggerPipeline('chain')).id);
    perStep.push((Date.parse(run.finishedAt!) - Date.parse(run.startedAt!)) / 10);
  }

  // 3. 100 commits, runs queued at a concurrency limit of 4, drained.
  await mp.applyPipeline({
    spec: {
      name: 'drain',
      trigger: { data: { repo: 'bench', glob: 'drain/*' } },
      concurrency: { limit: 4, policy: 'queue' },
      steps: [{ name: 'work', run: 'sleep 0.05' }],
    },
  });
  const started = performance.now();
  const commits: string[] = [];
  for (let i = 0; i < 100; i++) {
    const { commit } = await mp.putFile('bench', `drain/${i}.txt`, new TextEncoder().encode(String(i)), {
      message: `d${i}`,
    });
    commits.push(commit.id);
  }
  const committedMs = performance.now() - started;
  let runs = await mp.listRuns({ pipeline: 'drain', limit: 500 });
  while (runs.length < 100 || runs.some((r) => !ENDED.has(r.state))) {
    await new Promise((r) => setTimeout(r, 200));
    runs = await mp.listRuns({ pipeline: 'drain', limit: 500 });
  }
  const drainedMs = performance.now() - started;
  const perCommit = new Map<string, number>();
  for (const r of runs)
    if (r.trigger.kind === 'data') perCommit.set(r.trigger.commit, (perCommit.get(r.trigger.commit) ?? 0) + 1);
  const lost = commits.filter((c) => !perCommit.has(c)).length;
  const duplicated = [...perCommit.values()].filter((n) => n > 1).length;
  const events = runs.flatMap((r) => [
    { at: Date.parse(r.startedAt!), d: 1 },
    { at: Date.parse(r.finishedAt!), d: -1 },
  ]);
  events.sort((a, b) => a.at - b.at || a.d - b.d);
  let now = 0;
  let peak = 0;
  for (const e of events) {
    now += e.d;
    peak = Math.max(peak, now);
  }

  const figures = {
    store: values.postgres ? 'postgres' : 'sqlite',
    commitToFirstStepMs: { median: quantile(latencies, 0.5), p99: quantile(latencies, 0.99), n: latencies.length },
    perStepOverheadMs: { median: quantile(perStep, 0.5), runs: perStep.length },
    drain: {
      runs: runs.length,
      succeeded: runs.filter((r) => r.state === 'Succeeded').length,
      lost,
      duplicated,
      peakConcurrent: peak,
      limit: 4,
      seconds: Number((drainedMs / 1000).toFixed(1)),
      commitsSeconds: Number((committedMs / 1000).toFixed(1)),
      runMedianMs: quantile(
        runs.map((r) => Date.parse(r.finishedAt!) - Date.parse(r.startedAt!)),
        0.5,
      ),
    },
  };
  console.log(
    `pipelines (${figures.store}): commit -> first step running median ${figures.commitToFirstStepMs.median} ms, p99 ${figures.commitToFirstStepMs.p99} ms (50 commits)\n` +
      `10-step no-op pipeline: ${figures.perStepOverheadMs.median.toFixed(1)} ms per step (median of 5 runs)\n` +
      `100 queued runs at concurrency 4: ${figures.drain.succeeded} succeeded, ${lost} lost, ${duplicated} duplicated, peak ${peak} running, drained in ${figures.drain.seconds} s (the 100 commits took ${figures.drain.commitsSeconds} s; a run ${figures.drain.runMedianMs} ms median)`,
  );
  await mkdir(join(import.meta.dirname, 'out'), { recursive: true });
  await writeFile(join(import.meta.dirname, 'out', 'pipelines.json'), `${JSON.stringify(figures, null, 2)}\n`);
} finally {
  await server.close();
  await rm(home, { recursive: true, force: true });
  if (values.postgres) {
    const { default: pg } = await import('pg');
    const client = new pg.Client({ connectionString: values.postgres });
    await client.connect();
    await client.query(`drop schema if exists ${schema} cascade`);
    await client.end();
  }
}
