/**
 * A quick A/B companion to bench/serving.ts: starts the same gateway (bench/serving-server.ts) with the fraud
 * model and the CNN, then runs only the chosen load points and prints, per point, the medians of req/s and of the
 * gateway's CPU time per request (the figure to judge a change by on a shared machine). No floors, no memory.
 *
 * Points: fraudV2Json, fraudV2Binary, fraudGrpc, fraudV1, cnnV2Binary, cnnV2Json, cnnGrpc, cnnLargeV2Binary, and the
 * floors bareHttp and bareGrpc (bench/serving.ts's bare node:http and node:http2 servers answering the gateway's own
 * fraud answers; their "gateway" column is the bare server's CPU per request).
 *
 * Run: node bench/quick.ts [--points fraudV2Json,fraudGrpc] [--connections 64] [--seconds 3] [--runs 5] [--profile] [--auth]
 *        [--fraud-batching '{"minBatchDelayMs":1}']   (batching options merged over the fraud model's SERVE entry)
 *        [--gateway-flags='--max-semi-space-size=8 ...']   (the gateway's V8 flags; the default is what `npm start` gives)
 *        [--h2-connections 8]   (most HTTP/2 connections the gRPC points open; 64 with --connections 64 is one stream each)
 *
 * --auth starts the server with auth on and sends the admin token with every request, REST and gRPC (the cost of
 * checking a bearer token on the hot path; compare with a run without it).
 */
import { type ChildProcess, fork } from 'node:child_process';
import { once } from 'node:events';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { trainFraudModel } from '../examples/fraud/train.ts';
import { buildCnnModel } from '../src/onnx-builder/index.ts';
import { fraudRow, mnistImage, type RequestBodies, requestBodies } from './bodies.ts';
import {
  cpuSeconds,
  GATEWAY_FLAGS,
  grpcCall,
  httpCall,
  type LoadResult,
  medianResult,
  runGrpcLoad,
  runWrk,
  startChild,
  stopChild,
} from './load.ts';
import type { ServerMessage } from './serving-server.ts';

const { values: args } = parseArgs({
  options: {
    points: { type: 'string', default: 'fraudV2Json,fraudGrpc' },
    connections: { type: 'string', default: '64' },
    'h2-connections': { type: 'string', default: '8' },
    seconds: { type: 'string', default: '3' },
    runs: { type: 'string', default: '5' },
    profile: { type: 'boolean', default: false },
    'fraud-batching': { type: 'string' },
    auth: { type: 'boolean', default: false },
    // The gateway's V8 flags, as `npm start` and bin/modelport.js give them (bench/serving.ts's GATEWAY_FLAGS).
    'gateway-flags': { type: 'string', default: GATEWAY_FLAGS.join(' ') },
  },
});
const HERE = new URL('.', import.meta.url).pathname;

const dir = await mkdtemp(join(tmpdir(), 'modelport-bench-quick-'));
let child: ChildProcess | undefined;
const floors: ChildProcess[] = [];
try {
  await writeFile(join(dir, 'fraud.onnx'), trainFraudModel().onnx);
  await writeFile(join(dir, 'cnn.onnx'), buildCnnModel());
  await writeFile(join(dir, 'cnn-large.onnx'), buildCnnModel({ channels: [64, 128] }));
  const execArgv = [
    ...(args['gateway-flags'] ?? '').split(' ').filter(Boolean),
    ...(args.profile ? ['--cpu-prof', `--cpu-prof-dir=${join(HERE, 'out', 'profile')}`] : []),
  ];
  child = fork(
    join(HERE, 'serving-server.ts'),
    [join(dir, 'fraud.onnx'), join(dir, 'cnn.onnx'), join(dir, 'cnn-large.onnx')],
    {
      execArgv,
      env: {
        ...process.env,
        MODELPORT_BENCH_AUTH: args.auth ? 'true' : 'false',
        ...(args['fraud-batching'] ? { BENCH_FRAUD_BATCHING: args['fraud-batching'] } : {}),
      },
      stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
    },
  );
  const [ready] = (await once(child, 'message')) as [Extract<ServerMessage, { type: 'ready' }>];
  const bodies: Record<'fraud' | 'cnn' | 'cnnLarge', RequestBodies> = {
    fraud: requestBodies('fraud', [1, 30], fraudRow()),
    cnn: requestBodies('cnn', [1, 1, 28, 28], mnistImage()),
    cnnLarge: requestBodies('cnn-large', [1, 1, 28, 28], mnistImage()),
  };
  if (ready.token !== undefined) {
    for (const set of Object.values(bodies)) {
      for (const body of [set.v2json, set.v2binary, set.v1]) body.headers['authorization'] = `Bearer ${ready.token}`;
    }
  }
  const grpcTarget = `127.0.0.1:${ready.grpcPort}`;
  const authorization = ready.token === undefined ? undefined : `Bearer ${ready.token}`;
  const h2Connections = Number(args['h2-connections']);
  const plans: Record<string, (connections: number, seconds: number) => Promise<LoadResult>> = {
    fraudV2Json: (c, s) => runWrk({ url: ready.url, body: bodies.fraud.v2json, connections: c, seconds: s, dir }),
    fraudV2Binary: (c, s) => runWrk({ url: ready.url, body: bodies.fraud.v2binary, connections: c, seconds: s, dir }),
    fraudV1: (c, s) => runWrk({ url: ready.url, body: bodies.fraud.v1, connections: c, seconds: s, dir }),
    fraudGrpc: (c, s) =>
      runGrpcLoad({
        target: grpcTarget,
        request: bodies.fraud.grpc,
        responseBytes: 0,
        connections: c,
        seconds: s,
        dir,
        authorization,
        maxConnections: h2Connections,
      }),
    cnnV2Binary: (c, s) => runWrk({ url: ready.url, body: bodies.cnn.v2binary, connections: c, seconds: s, dir }),
    cnnV2Json: (c, s) => runWrk({ url: ready.url, body: bodies.cnn.v2json, connections: c, seconds: s, dir }),
    cnnLargeV2Binary: (c, s) =>
      runWrk({ url: ready.url, body: bodies.cnnLarge.v2binary, connections: c, seconds: s, dir }),
    cnnGrpc: (c, s) =>
      runGrpcLoad({
        target: grpcTarget,
        request: bodies.cnn.grpc,
        responseBytes: 0,
        connections: c,
        seconds: s,
        dir,
        authorization,
        maxConnections: h2Connections,
      }),
  };
  // The floors answer the gateway's own fraud answers, started only when a point asks for them.
  const bare = async (file: string, response: Buffer, argv: string[] = []) => {
    await writeFile(join(dir, file), response);
    const started = await startChild<{ port: number }>(
      file.endsWith('.json') ? 'bare-http-server.ts' : 'bare-grpc-server.ts',
      [join(dir, file), ...argv],
    );
    floors.push(started.child);
    return { port: started.ready.port, pid: started.child.pid ?? 0 };
  };
  let bareHttp: { port: number; pid: number } | undefined;
  let bareGrpc: { port: number; pid: number } | undefined;
  const pids: Record<string, () => number> = {
    bareHttp: () => bareHttp?.pid ?? 0,
    bareGrpc: () => bareGrpc?.pid ?? 0,
  };
  const floorPlans: typeof plans = {
    bareHttp: async (c, s) => {
      bareHttp ??= await bare('response.json', await httpCall(ready.url, bodies.fraud.v2json));
      return runWrk({
        url: `http://127.0.0.1:${bareHttp.port}`,
        body: bodies.fraud.v2json,
        connections: c,
        seconds: s,
        dir,
      });
    },
    bareGrpc: async (c, s) => {
      bareGrpc ??= await bare('response.grpc', await grpcCall(grpcTarget, bodies.fraud.grpc), ['http2']);
      const target = `127.0.0.1:${bareGrpc.port}`;
      return runGrpcLoad({
        target,
        request: bodies.fraud.grpc,
        responseBytes: 0,
        connections: c,
        seconds: s,
        dir,
        maxConnections: h2Connections,
      });
    },
  };
  Object.assign(plans, floorPlans);
  // Rows per batch sent to the fraud model's workers, from the gateway's own histogram (sum and count so far).
  const batchRows = async (): Promise<[number, number]> => {
    const text = await (await fetch(`${ready.url}/metrics`, { headers: bodies.fraud.v2json.headers })).text();
    const read = (suffix: string) =>
      Number(
        new RegExp(`^modelport_inference_batch_size_${suffix}\\{model="fraud"[^}]*\\} (\\S+)$`, 'm').exec(text)?.[1] ??
          0,
      );
    return [read('sum'), read('count')];
  };
  const connections = Number(args.connections);
  for (const name of (args.points ?? '').split(',')) {
    const plan = plans[name];
    if (!plan) throw new Error(`unknown point ${name}; choose from ${Object.keys(plans).join(', ')}`);
    await plan(16, 1);
    const results: LoadResult[] = [];
    const pid = pids[name] ?? (() => ready.pid);
    const [rowsBefore, batchesBefore] = await batchRows();
    for (let run = 0; run < Number(args.runs); run++) {
      const before = cpuSeconds(pid());
      const result = await plan(connections, Number(args.seconds));
      const answered = Math.max(1, result.requests - result.errors);
      results.push({ ...result, serverUsPerRequest: ((cpuSeconds(pid()) - before) * 1e6) / answered });
    }
    const m = medianResult(results);
    const [rowsAfter, batchesAfter] = await batchRows();
    const batches = batchesAfter - batchesBefore;
    const meanBatch = batches > 0 ? `  fraud batch ${((rowsAfter - rowsBefore) / batches).toFixed(2)} rows` : '';
    const each = results.map((r) => Math.round(r.serverUsPerRequest ?? 0)).join(' ');
    console.log(
      `${name.padEnd(14)} @${connections}: ${Math.round(m.rps)} req/s  p50 ${m.p50Ms.toFixed(2)} ms  p99 ${m.p99Ms.toFixed(1)} ms  gateway ${Math.round(m.serverUsPerRequest ?? 0)} us/req (runs: ${each})${meanBatch}${m.errors ? `  errors ${m.errors}` : ''}`,
    );
  }
} finally {
  for (const floor of floors) await stopChild(floor);
  await stopChild(child);
  await rm(dir, { recursive: true, force: true });
}
