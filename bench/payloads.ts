/**
 * Payload logging rows of `npm run bench:serving` (issue 18), also runnable alone:
 *
 *   node bench/payloads.ts [--seconds 5] [--runs 3] [--rows 10000000] [--hours 24]
 *   node bench/serving.ts --only payloads
 *
 * 1. V2 JSON at 64 connections (wrk) against the fraud model deployed twice with the same serving options in one
 *    server (bench/payloads-server.ts): `plain` (no logging) and `logged` (`sample: 100`, the built-in store),
 *    alternating, medians of `runs`. Prints the ratio (ambition: at least 0.9), the records written against the
 *    calls answered (none lost while the sink keeps up; drops counted in /metrics when it does not), and where each
 *    call's CPU went: the server's event loop, its other threads (DuckDB's inserts run on libuv's, V8's collector on
 *    its own) and the model's workers, in microseconds per call (Linux /proc; the load generator left out).
 * 2. `payloads list` over `rows` records of one deployment (spread over `hours` hours, Parquet files made with
 *    DuckDB and taken in by the store): a filtered page (`prediction = 'fraud'`, 50 rows) through the API, over all
 *    the records and over the last hour; the first (cold: the files' checksums are verified once) and the median of
 *    the next five (warm). Ambition: under 1 s.
 */
import { type ChildProcess, fork } from 'node:child_process';
import { once } from 'node:events';
import { mkdirSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { availableParallelism, loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { childEnv } from '../src/core/child-env.ts';
import { fraudRow, requestBodies } from './bodies.ts';
import { GATEWAY_FLAGS, type LoadResult, medianResult, runWrk, statCpuSeconds, stopChild } from './load.ts';
import type { PayloadServerMessage } from './payloads-server.ts';

const HERE = fileURLToPath(new URL('.', import.meta.url));
const log = (line: string) => process.stdout.write(`${line}\n`);
const fmt = (n: number, digits = 0) =>
  n.toLocaleString('en-US', { minimumFractionDigits: digits, maximumFractionDigits: digits });

export interface PayloadBenchOptions {
  seconds: number;
  runs: number;
  rows: number;
  hours: number;
}

/** CPU seconds so far: the server's main thread, its other threads, its children (the model's workers). */
type CpuSplit = Record<'eventLoop' | 'threads' | 'workers', number>;

function secondsOf(statFile: string): number {
  try {
    return statCpuSeconds(statFile);
  } catch {
    return 0; // a thread or worker that ended
  }
}

function serverCpu(pid: number): CpuSplit {
  const split: CpuSplit = { eventLoop: 0, threads: 0, workers: 0 };
  for (const task of readdirSync(`/proc/${pid}/task`)) {
    const seconds = secondsOf(`/proc/${pid}/task/${task}/stat`);
    if (task === String(pid)) split.eventLoop += seconds;
    else split.threads += seconds;
  }
  const children = readFileSync(`/proc/${pid}/task/${pid}/children`, 'utf8').trim().split(/\s+/).filter(Boolean);
  for (const child of children) split.workers += secondsOf(`/proc/${child}/stat`);
  return split;
}

/** Microseconds of CPU per answered call between two readings. */
function perCall(before: CpuSplit, after: CpuSplit, answered: number): CpuSplit {
  const us = (key: keyof CpuSplit) => ((after[key] - before[key]) * 1e6) / Math.max(1, answered);
  return { eventLoop: us('eventLoop'), threads: us('threads'), workers: us('workers') };
}

const medianOf = (values: number[]) => [...values].sort((a, b) => a - b)[Math.floor(values.length / 2)] ?? 0;
const medianCpu = (list: CpuSplit[]): CpuSplit => ({
  eventLoop: medianOf(list.map((t) => t.eventLoop)),
  threads: medianOf(list.map((t) => t.threads)),
  workers: medianOf(list.map((t) => t.workers)),
});
const canRead = process.platform === 'linux';

export async function runPayloadBench(options: PayloadBenchOptions): Promise<Record<string, unknown>> {
  const dir = await mkdtemp(join(tmpdir(), 'modelport-bench-payloads-'));
  const child: ChildProcess = fork(join(HERE, 'payloads-server.ts'), [], {
    execArgv: GATEWAY_FLAGS,
    env: { ...process.env, ...childEnv() },
    stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
  });
  const next = async <T extends PayloadServerMessage['type']>(type: T) => {
    for (;;) {
      const [message] = (await Promise.race([
        once(child, 'message'),
        once(child, 'exit').then(([code]) => Promise.reject(new Error(`payloads-server.ts exited with ${code}`))),
      ])) as [PayloadServerMessage];
      if (message.type === type) return message as Extract<PayloadServerMessage, { type: T }>;
    }
  };
  try {
    log(
      `\npayload logging (issue 18): load average ${(loadavg()[0] ?? 0).toFixed(2)}, ${availableParallelism()} cores`,
    );
    const { url, pid } = await next('ready');
    const bodies = {
      plain: requestBodies('plain', [1, 30], fraudRow()),
      logged: requestBodies('logged', [1, 30], fraudRow()),
    };
    const wrk = (name: 'plain' | 'logged', seconds: number) =>
      runWrk({ url, body: bodies[name].v2json, connections: 64, seconds, dir });
    // Warm both (JIT, workers, the store's DuckDB), then count what the log holds before the measured runs.
    await wrk('plain', 1);
    await wrk('logged', 1);
    child.send({ type: 'count' });
    const before = await next('count');
    const plain: LoadResult[] = [];
    const logged: LoadResult[] = [];
    const cpu: Record<'plain' | 'logged', CpuSplit[]> = { plain: [], logged: [] };
    const measured = async (name: 'plain' | 'logged') => {
      const before = canRead ? serverCpu(pid) : undefined;
      const result = await wrk(name, options.seconds);
      if (before) cpu[name].push(perCall(before, serverCpu(pid), result.requests - result.errors));
      return result;
    };
    for (let i = 0; i < options.runs; i++) {
      plain.push(await measured('plain'));
      logged.push(await measured('logged'));
    }
    child.send({ type: 'count' });
    const after = await next('count');
    const p = medianResult(plain);
    const l = medianResult(logged);
    const answered = logged.reduce((sum, r) => sum + r.requests - r.errors, 0);
    const written = after.written - before.written;
    const dropped = after.dropped - before.dropped;
    const ratio = p.rps > 0 ? l.rps / p.rps : 0;
    log('  V2 JSON, 64 connections, fraud (medians):');
    log(
      `    no logging              ${fmt(p.rps)} req/s  p50 ${fmt(p.p50Ms, 2)} ms  p99 ${fmt(p.p99Ms, 2)} ms  errors ${p.errors}`,
    );
    log(
      `    sample 100, store sink  ${fmt(l.rps)} req/s  p50 ${fmt(l.p50Ms, 2)} ms  p99 ${fmt(l.p99Ms, 2)} ms  errors ${l.errors}`,
    );
    log(`    ratio ${ratio.toFixed(3)}  [>= 0.9: ${ratio >= 0.9 ? 'yes' : 'NO'}]`);
    const cpuPerCall = { plain: medianCpu(cpu.plain), logged: medianCpu(cpu.logged) };
    if (canRead) {
      for (const name of ['plain', 'logged'] as const) {
        const t = cpuPerCall[name];
        log(
          `    CPU per call, ${name.padEnd(6)}  event loop ${fmt(t.eventLoop)} us, server's other threads ${fmt(t.threads)} us, workers ${fmt(t.workers)} us`,
        );
      }
    }
    log(
      `    records written ${fmt(written)} vs calls answered ${fmt(answered)} (wrk counts the calls it saw finish; the server may answer a few more at the cut-off); dropped ${fmt(dropped)}; lost ${fmt(Math.max(0, answered - written - dropped))}`,
    );

    let list: Record<string, unknown> | undefined;
    if (options.rows > 0) {
      log(`  payloads list over ${fmt(options.rows)} records of one deployment (${options.hours} hourly files):`);
      child.send({ type: 'seed', rows: options.rows, hours: options.hours });
      const seeded = await next('seeded');
      log(
        `    seeded ${fmt(seeded.rows)} records in ${fmt(seeded.files)} Parquet files, ${fmt(seeded.bytes / 2 ** 20, 1)} MiB, in ${fmt(seeded.ms / 1000, 1)} s`,
      );
      const page = async (query: string) => {
        const started = performance.now();
        const response = await fetch(`${url}/api/v1/projects/default/deployments/big/payloads?${query}`);
        const body = (await response.json()) as { records?: unknown[]; elapsedMs?: number; error?: string };
        if (response.status !== 200) throw new Error(`payloads list: ${response.status} ${JSON.stringify(body)}`);
        return { ms: performance.now() - started, rows: body.records?.length ?? 0, serverMs: body.elapsedMs ?? 0 };
      };
      const measure = async (label: string, query: string) => {
        const cold = await page(query);
        const warm: number[] = [];
        for (let i = 0; i < 5; i++) warm.push((await page(query)).ms);
        warm.sort((a, b) => a - b);
        const median = warm[2]!;
        log(
          `    ${label.padEnd(44)} cold ${fmt(cold.ms)} ms, warm ${fmt(median)} ms (${cold.rows} rows)  [< 1 s: ${median < 1000 ? 'yes' : 'NO'}]`,
        );
        return { coldMs: cold.ms, warmMs: median, rows: cold.rows };
      };
      const where = encodeURIComponent("prediction = 'fraud'");
      list = {
        seeded,
        all: await measure(`--where "prediction = 'fraud'" --limit 50`, `where=${where}&limit=50`),
        lastHour: await measure(
          `--since 1h --where "prediction = 'fraud'" --limit 50`,
          `since=1h&where=${where}&limit=50`,
        ),
        arm: await measure(
          `--where "arm = 'canary' AND total_ms > 1.5" --limit 50`,
          `where=${encodeURIComponent("arm = 'canary' AND total_ms > 1.5")}&limit=50`,
        ),
      };
    }
    log(`  load average at the end ${(loadavg()[0] ?? 0).toFixed(2)}`);
    return {
      serving: { plain: p, logged: l, ratio, written, answered, dropped, cpuPerCallUs: canRead ? cpuPerCall : null },
      list,
      loadAverage: loadavg()[0] ?? 0,
    };
  } finally {
    await stopChild(child);
    await rm(dir, { recursive: true, force: true });
  }
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  const { values } = parseArgs({
    options: {
      seconds: { type: 'string', default: '5' },
      runs: { type: 'string', default: '3' },
      rows: { type: 'string', default: '10000000' },
      hours: { type: 'string', default: '24' },
    },
  });
  const report = await runPayloadBench({
    seconds: Number(values.seconds),
    runs: Number(values.runs),
    rows: Number(values.rows),
    hours: Number(values.hours),
  });
  const out = join(HERE, 'out');
  mkdirSync(out, { recursive: true });
  writeFileSync(
    join(out, 'payloads.json'),
    `${JSON.stringify({ date: new Date().toISOString(), ...report }, null, 2)}\n`,
  );
  log(`wrote ${join('bench', 'out', 'payloads.json')}`);
}
