/**
 * A quick memory probe, the companion of bench/serving.ts's memory lines: starts the same gateway
 * (bench/serving-server.ts, with the flags `npm start` gives it) with the fraud model and the CNNs, reads the
 * gateway's and the workers' resident memory idle, runs fraud V2 JSON at 64 connections (wrk) while sampling the
 * gateway's RSS, and reads again. Each run starts a fresh server; the figures printed are medians over the runs.
 *
 * Run: node bench/memory.ts [--runs 3] [--seconds 10] [--connections 64] [--peers] [--breakdown] [--like-bench]
 *        [--gateway-flags='--max-semi-space-size=8 ...']
 *
 * --peers also serves the peer models of issue 19 (../shared/models), as the full bench does.
 * Also printed: req/s, p99 latency and each process's CPU time per request during the load (what a flag saves in
 * memory may cost in speed).
 * --breakdown prints, per run, /proc/<pid>/smaps_rollup and the gateway's V8 heap spaces after the load.
 * --like-bench runs what bench/serving.ts runs before its peak reading (4 s at 64 connections, then 3 runs of 3 s at 1
 * and at 16), which leaves the gateway about 10 MB above a fresh start's 64-connection peak.
 */
import { type ChildProcess, fork, spawnSync } from 'node:child_process';
import { once } from 'node:events';
import { existsSync, readFileSync } from 'node:fs';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { enableCompileCache } from 'node:module';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { trainFraudModel } from '../examples/fraud/train.ts';
import { childEnv } from '../src/core/child-env.ts';
import { buildCnnModel } from '../src/onnx-builder/index.ts';
import { fraudRow, type HttpBody, mnistImage, requestBodies } from './bodies.ts';
import { cpuSeconds, GATEWAY_FLAGS, runWrk, stopChild } from './load.ts';
import type { ServerMessage } from './serving-server.ts';

const { values: args } = parseArgs({
  options: {
    runs: { type: 'string', default: '3' },
    seconds: { type: 'string', default: '10' },
    connections: { type: 'string', default: '64' },
    peers: { type: 'boolean', default: false },
    breakdown: { type: 'boolean', default: false },
    'like-bench': { type: 'boolean', default: false },
    'gateway-flags': { type: 'string', default: GATEWAY_FLAGS.join(' ') },
  },
});
const HERE = new URL('.', import.meta.url).pathname;
const SHARED_MODELS = join(HERE, '..', '..', 'shared', 'models');
enableCompileCache();

/** /proc/<pid>/status fields in MB: VmRSS = RssAnon + RssFile + RssShmem. */
export function statusMb(pid: number): { rss: number; anon: number; file: number } {
  const text = readFileSync(`/proc/${pid}/status`, 'utf8');
  const field = (name: string) => Number(new RegExp(`${name}:\\s+(\\d+) kB`).exec(text)?.[1] ?? 0) / 1024;
  return { rss: field('VmRSS'), anon: field('RssAnon'), file: field('RssFile') };
}

function rollup(pid: number): string {
  return readFileSync(`/proc/${pid}/smaps_rollup`, 'utf8')
    .split('\n')
    .filter((l) => /^(Rss|Pss|Shared_Clean|Private_Clean|Private_Dirty|Anonymous):/.test(l))
    .map((l) => l.replace(/\s+/g, ' '))
    .join(', ');
}

const median = (xs: number[]) => {
  const s = [...xs].sort((a, b) => a - b);
  const m = Math.floor(s.length / 2);
  return s.length % 2 ? (s[m] as number) : ((s[m - 1] as number) + (s[m] as number)) / 2;
};
const mb = (bytes: number) => (bytes / 2 ** 20).toFixed(1);

async function post(url: string, body: HttpBody): Promise<void> {
  const response = await fetch(url + body.path, { method: 'POST', body: body.body, headers: body.headers });
  await response.arrayBuffer();
  if (!response.ok) throw new Error(`${body.path} answered ${response.status}`);
}

function ask<T extends ServerMessage['type']>(
  child: ChildProcess,
  type: T,
): Promise<Extract<ServerMessage, { type: T }>> {
  return new Promise((resolve) => {
    const onMessage = (message: ServerMessage) => {
      if (message.type !== type) return;
      child.off('message', onMessage);
      resolve(message as Extract<ServerMessage, { type: T }>);
    };
    child.on('message', onMessage);
    child.send({ type });
  });
}

const dir = await mkdtemp(join(tmpdir(), 'modelport-bench-memory-'));
const rows: Record<string, number[]> = {};
const record = (name: string, value: number) => {
  rows[name] ??= [];
  rows[name].push(value);
};
try {
  await writeFile(join(dir, 'fraud.onnx'), trainFraudModel().onnx);
  await writeFile(join(dir, 'cnn.onnx'), buildCnnModel());
  await writeFile(join(dir, 'cnn-large.onnx'), buildCnnModel({ channels: [64, 128] }));
  const peers = args.peers
    ? [`lr30=${join(SHARED_MODELS, 'sk_lr30.onnx')}`, `rf30=${join(SHARED_MODELS, 'sk_rf30.onnx')}`]
    : [];
  if (args.peers && !existsSync(join(SHARED_MODELS, 'sk_lr30.onnx'))) throw new Error('--peers: no ../shared/models');
  const gatewayFlags = (args['gateway-flags'] ?? '').split(' ').filter(Boolean);
  // Fill the compile cache as a first start would (bench/serving.ts does the same), with the same V8 flags: the
  // cache is keyed by them, and a miss loads the type stripper (15-20 MB).
  spawnSync(process.execPath, [...gatewayFlags, join(HERE, 'serving-server.ts')], {
    env: { ...process.env, ...childEnv() },
  });
  const fraud = requestBodies('fraud', [1, 30], fraudRow());
  const cnn = requestBodies('cnn', [1, 1, 28, 28], mnistImage());
  for (let run = 0; run < Number(args.runs); run++) {
    const child = fork(
      join(HERE, 'serving-server.ts'),
      [join(dir, 'fraud.onnx'), join(dir, 'cnn.onnx'), join(dir, 'cnn-large.onnx'), ...peers],
      {
        execArgv: gatewayFlags,
        env: { ...process.env, ...childEnv() },
        stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
      },
    );
    try {
      const [ready] = (await once(child, 'message')) as [Extract<ServerMessage, { type: 'ready' }>];
      const workers = (await ask(child, 'workers')).workers;
      // Every REST protocol answers once, as in the full bench before its idle reading.
      for (const body of [fraud.v2json, fraud.v2binary, fraud.v1, cnn.v2binary, cnn.v2json])
        await post(ready.url, body);
      await new Promise((r) => setTimeout(r, 500));
      const idle = statusMb(ready.pid);
      const fraudWorker = workers['fraud']?.[0] ?? 0;
      const workerIdle = statusMb(fraudWorker);
      record('gateway idle RSS', idle.rss);
      record('gateway idle anon', idle.anon);
      record('gateway idle file', idle.file);
      if (args['like-bench']) {
        await runWrk({ url: ready.url, body: fraud.v2json, connections: 64, seconds: 4, dir });
        for (const connections of [1, 16])
          for (let i = 0; i < 3; i++)
            await runWrk({ url: ready.url, body: fraud.v2json, connections, seconds: 3, dir });
      } else await runWrk({ url: ready.url, body: fraud.v2json, connections: 16, seconds: 1, dir });
      const cpu0 = { gateway: cpuSeconds(ready.pid), worker: cpuSeconds(fraudWorker) };
      let peak = 0;
      const sampler = setInterval(() => {
        peak = Math.max(peak, statusMb(ready.pid).rss);
      }, 200);
      const load = await runWrk({
        url: ready.url,
        body: fraud.v2json,
        connections: Number(args.connections),
        seconds: Number(args.seconds),
        dir,
      });
      clearInterval(sampler);
      const after = statusMb(ready.pid);
      const worker = statusMb(fraudWorker);
      record(`gateway peak RSS @${args.connections}`, Math.max(peak, after.rss));
      record('gateway RSS after', after.rss);
      record('gateway anon after', after.anon);
      record('fraud worker RSS idle', workerIdle.rss);
      record('fraud worker RSS after', worker.rss);
      record('fraud worker anon after', worker.anon);
      record('fraud worker file after', worker.file);
      record('cnn worker RSS after', statusMb(workers['cnn']?.[0] ?? 0).rss);
      record('req/s', load.rps);
      record('p99 ms', load.p99Ms);
      // What the memory costs in speed: each process's CPU time per answered request (flags trade one for the other).
      record('gateway CPU us/req', ((cpuSeconds(ready.pid) - cpu0.gateway) / load.requests) * 1e6);
      record('fraud worker CPU us/req', ((cpuSeconds(fraudWorker) - cpu0.worker) / load.requests) * 1e6);
      if (args.breakdown) {
        const memory = await ask(child, 'memory');
        const u = memory.usage;
        console.log(
          `run ${run + 1}: gateway ${rollup(ready.pid)}\n  memoryUsage: rss ${mb(u.rss)} heapTotal ${mb(u.heapTotal)} heapUsed ${mb(u.heapUsed)} external ${mb(u.external)} arrayBuffers ${mb(u.arrayBuffers)} MB\n  spaces (used/committed MB): ${memory.spaces.map((s) => `${s.name} ${mb(s.used)}/${mb(s.size)}`).join(', ')}\n  fraud worker ${rollup(fraudWorker)}`,
        );
      }
    } finally {
      await stopChild(child);
    }
  }
  console.log(
    `medians of ${args.runs} runs (MB unless said; each run in brackets), gateway flags: ${gatewayFlags.join(' ')}`,
  );
  for (const [name, values] of Object.entries(rows)) {
    console.log(
      `  ${name.padEnd(26)} ${median(values).toFixed(1).padStart(8)}  [${values.map((v) => v.toFixed(1)).join(' ')}]`,
    );
  }
} finally {
  await rm(dir, { recursive: true, force: true });
}
