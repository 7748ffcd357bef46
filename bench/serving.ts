/**
 * Serving benchmark (`npm run bench:serving`): the gateway against floors measured in this same run, printed as
 * medians of 3 runs and ratios, and written to bench/out/serving.json and bench/out/serving.svg.
 *
 * - Floors: raw ONNX Runtime in this process (rows/s at batch 1 and the best of a batch sweep) for each model; a
 *   bare node:http server answering the gateway's own V2 response without parsing, and a bare node:http2 gRPC
 *   server (plus a bare @grpc/grpc-js one, for reference) answering its own ModelInfer response, each in a child
 *   process, under the same load generators.
 * - Gateway: a real Modelport server in a child process (bench/serving-server.ts), the example fraud model (30
 *   features) and two MNIST-size CNNs (8/16 channels, 0.6 M multiply-adds per image, whose raw rate is past the
 *   bare HTTP server's, and 64/128 channels, about 40 M, where the model's compute dominates) pre-loaded with the
 *   options in its `SERVE`, started as `npm start` starts
 *   it: Node's compile cache warm (any start after the first) and its V8 flags (`GATEWAY_FLAGS`).
 * - Load: wrk (one thread, closed loop, Lua script for POST bodies) for HTTP; h2load (nghttp2, one thread, closed
 *   loop, pre-serialized request; bench/grpc-load.ts when h2load is missing) for gRPC, since wrk speaks no HTTP/2.
 *   Different generators cost different CPU on a shared machine, so gRPC is also compared to its own bare floor.
 * - Memory: the gateway's peak RSS during fraud V2 JSON at 64 connections, the fraud worker's RSS, and the gateway's
 *   RSS growth over 10,000 malformed requests.
 * - Peers (issue 19), when ../shared/models is present (skipped with a message otherwise): the 60-line node:http +
 *   onnxruntime-node server (bench/peer-ort-server.ts) on its main thread and with 2 worker threads, against the
 *   gateway's V2 JSON on the same two models (sk_lr30, sk_rf30), at 1 and 64 connections; the forest with batching
 *   off (maxBatchSize 1) and on at 256 connections.
 * - Faults: kill -9 of the fraud worker under an open-loop 200 req/s, three times: failed requests per kill and the
 *   time until the replacement worker is ready.
 * - Overload (bench/overload.ts): one worker's capacity C calibrated closed-loop, then an open-loop arrival rate of
 *   1x, 2x and 4x C (bench/open-loop.ts): goodput / C, refusal p99, and whether every answer was 200 or 429/503
 *   with Retry-After.
 *
 * - Alternated ratios: the headline ratios (V2 JSON / bare, gRPC / V2 JSON, cnn binary / JSON, the gateway / the
 *   main-thread peer, batching on / off) measured again as back-to-back pairs, the order flipping each pair; the
 *   ambitions are judged on their medians, the ratios of the series (minutes apart) are printed beside them.
 *
 * Everything (server, workers, load generator) shares this machine's cores; the output says how many.
 *
 * - Payload logging (issue 18, bench/payloads.ts): V2 JSON at 64 connections with `sample: 100` and the built-in sink
 *   against the same deployment without logging, and `payloads list` over `--payload-rows` records (10 million).
 *
 * Run: node bench/serving.ts [--seconds 3] [--runs 3] [--profile] [--only payloads] [--payload-rows N]
 * (--profile: the gateway child runs with --cpu-prof, profiles in bench/out/profile/; summarise one with
 * node bench/profile-summary.ts <file>)
 */
import { type ChildProcess, spawnSync } from 'node:child_process';
import { once } from 'node:events';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { enableCompileCache } from 'node:module';
import { availableParallelism, cpus, loadavg, tmpdir, totalmem } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { trainFraudModel } from '../examples/fraud/train.ts';
import { childEnv } from '../src/core/child-env.ts';
import { buildCnnModel } from '../src/onnx-builder/index.ts';
import { fraudRow, type HttpBody, mnistImage, type RequestBodies, requestBodies } from './bodies.ts';
import {
  cpuSeconds,
  GATEWAY_FLAGS,
  grpcCall,
  hasH2load,
  httpCall,
  type LoadResult,
  medianResult,
  runGrpcLoad,
  runWrk,
  startChild,
  stopChild,
} from './load.ts';
import { sendMalformed } from './malformed.ts';
import { type OrtFloor, ortFloor } from './ort-floor.ts';
import { overloadProbe, PROBE_CNN, probeBody } from './overload.ts';
import { runPayloadBench } from './payloads.ts';
import { formatTable, renderSvg, type Series } from './report.ts';
import type { ServerMessage } from './serving-server.ts';

const { values: args } = parseArgs({
  options: {
    seconds: { type: 'string', default: '3' },
    runs: { type: 'string', default: '3' },
    profile: { type: 'boolean', default: false },
    /**
     * `--only payloads`: run only the payload logging rows (bench/payloads.ts). `--only peers`: start the gateway as
     * the full run does, then run only the peer rows (issue 19's main-thread peer ratios) and stop.
     */
    only: { type: 'string' },
    /** Back-to-back pairs per alternated ratio: on this machine three cannot tell 0.75 from 1.0. */
    pairs: { type: 'string', default: '7' },
    'payload-rows': { type: 'string', default: '10000000' },
  },
});
const SECONDS = Number(args.seconds);
const RUNS = Number(args.runs);
const PAIRS = Number(args.pairs);
const ONLY_PEERS = args.only === 'peers';
/** The payload logging rows (issue 18), after the others or alone with `--only payloads`. */
const payloadRows = async () => {
  const report = await runPayloadBench({
    seconds: SECONDS,
    runs: RUNS,
    rows: Number(args['payload-rows']),
    hours: 24,
  });
  writeFileSync(
    join(new URL('.', import.meta.url).pathname, 'out', 'payloads.json'),
    `${JSON.stringify({ date: new Date().toISOString(), ...report }, null, 2)}\n`,
  );
};
if (args.only === 'payloads') {
  mkdirSync(join(new URL('.', import.meta.url).pathname, 'out'), { recursive: true });
  await payloadRows();
  process.exit(0);
}
const CONNECTIONS = [1, 16, 64, 256];
/** The shared real models (issue 19's peers); absent in a fresh clone, then the peer rows are skipped. */
const SHARED_MODELS = join(new URL('.', import.meta.url).pathname, '..', '..', 'shared', 'models');
const HERE = new URL('.', import.meta.url).pathname;
/** The gateway's V8 flags, as `npm start` and bin/modelport.js give them. */
enableCompileCache();
const OUT = join(HERE, 'out');
mkdirSync(OUT, { recursive: true });

const fmt = (n: number, digits = 0) =>
  n.toLocaleString('en-US', { minimumFractionDigits: digits, maximumFractionDigits: digits });
const ratio = (a: number, b: number) => (b > 0 ? a / b : 0);
const log = (line: string) => process.stdout.write(`${line}\n`);

/**
 * Resident memory of a process in MB, from /proc: VmRSS (everything, including the shared pages of the node
 * binary and native libraries) or RssAnon (the process's own heap and stacks).
 */
function rssMb(pid: number, field: 'VmRSS' | 'RssAnon' = 'VmRSS'): number {
  const match = new RegExp(`${field}:\\s+(\\d+) kB`).exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
  return match ? Number(match[1]) / 1024 : 0;
}

/** Runs one load point and adds the server's and the workers' CPU time per answered request. */
async function measured(run: () => Promise<LoadResult>, serverPid: number, workerPids: number[]): Promise<LoadResult> {
  const server0 = cpuSeconds([serverPid]);
  const workers0 = cpuSeconds(workerPids);
  const result = await run();
  const answered = Math.max(1, result.requests - result.errors);
  const perRequest = (seconds: number) => (seconds * 1e6) / answered;
  return {
    ...result,
    serverUsPerRequest: perRequest(cpuSeconds([serverPid]) - server0),
    ...(workerPids.length > 0 ? { workerUsPerRequest: perRequest(cpuSeconds(workerPids) - workers0) } : {}),
  };
}

/**
 * A ratio measured in alternation: `b` then `a`, `runs` times back to back (the order flipping each time), each
 * pair giving b/a in req/s; the median of those. Run after run this machine's speed drifts by up to 2x (other work,
 * the hypervisor), so two series measured minutes apart can disagree by more than the effect being compared.
 */
async function alternated(
  a: () => Promise<LoadResult>,
  b: () => Promise<LoadResult>,
  runs: number,
): Promise<{ ratio: number; each: number[] }> {
  const each: number[] = [];
  for (let run = 0; run < runs; run++) {
    const first = run % 2 === 0 ? await b() : await a();
    const second = run % 2 === 0 ? await a() : await b();
    const [ra, rb] = run % 2 === 0 ? [second, first] : [first, second];
    each.push(ra.rps > 0 ? rb.rps / ra.rps : 0);
  }
  const sorted = [...each].sort((x, y) => x - y);
  const mid = sorted.length >> 1;
  const ratio = sorted.length % 2 ? (sorted[mid] ?? 0) : ((sorted[mid - 1] ?? 0) + (sorted[mid] ?? 0)) / 2;
  return { ratio, each };
}

// ---------------------------------------------------------------------------------------------------------------

const dir = await mkdtemp(join(tmpdir(), 'modelport-bench-serving-'));
const children: ChildProcess[] = [];
// biome-ignore lint/suspicious/noConfusingLabels: `--only peers` leaves after the peer rows (`break bench`), the children still stopped by `finally`.
bench: try {
  // `wrk -v` prints its version, then exits 1.
  const wrkVersion = spawnSync('wrk', ['-v'], { encoding: 'utf8' }).stdout?.split(' ')[1]?.trim() || 'missing';
  const machine = {
    cores: availableParallelism(),
    cpu: cpus()[0]?.model ?? 'unknown',
    memoryGb: Math.round(totalmem() / 2 ** 30),
    node: process.version,
    wrk: wrkVersion,
    loadAverageAtStart: loadavg()[0] ?? 0,
  };
  log(`Modelport serving benchmark: medians of ${RUNS} runs of ${SECONDS} s per point`);
  log(
    `machine: ${machine.cores} cores (${machine.cpu}), ${machine.memoryGb} GB, Node ${machine.node}, wrk ${machine.wrk}, load average ${machine.loadAverageAtStart.toFixed(2)} at start`,
  );
  log(
    `note: the gateway, its workers, the floors' servers and the load generators all share these ${machine.cores} cores`,
  );

  // Floors: raw ONNX Runtime, in process, before anything else runs.
  const fraudModel = trainFraudModel();
  const cnnModel = buildCnnModel();
  const cnnLargeModel = buildCnnModel(PROBE_CNN);
  log('\nraw ONNX Runtime floors (rows/s, in process):');
  const floorOptions = { seconds: Math.min(1, SECONDS / 3), runs: RUNS };
  const ortFraud = await ortFloor(fraudModel.onnx, [30], {
    ...floorOptions,
    threads: 1,
    batchSizes: [1, 8, 32, 64, 256, 1024],
  });
  const ortCnn1 = await ortFloor(cnnModel, [1, 28, 28], {
    ...floorOptions,
    threads: 1,
    batchSizes: [1, 8, 32, 64, 128],
  });
  const ortCnn2 = await ortFloor(cnnModel, [1, 28, 28], {
    ...floorOptions,
    threads: 2,
    batchSizes: [1, 8, 32, 64, 128],
  });
  const ortCnn = ortCnn2.best.rowsPerSecond >= ortCnn1.best.rowsPerSecond ? ortCnn2 : ortCnn1;
  const cnnFloor = (threads: number) =>
    ortFloor(cnnLargeModel, [1, 28, 28], { ...floorOptions, threads, batchSizes: [1, 8, 32, 64, 128] });
  const ortCnnLarge1 = await cnnFloor(1);
  const ortCnnLarge2 = await cnnFloor(2);
  const ortCnnLarge = ortCnnLarge2.best.rowsPerSecond >= ortCnnLarge1.best.rowsPerSecond ? ortCnnLarge2 : ortCnnLarge1;
  const showFloor = (name: string, f: OrtFloor) =>
    log(
      `  ${name} (${f.threads} thread${f.threads > 1 ? 's' : ''}): batch 1 ${fmt(f.batch1)}; best batch ${f.best.batch} ${fmt(f.best.rowsPerSecond)}; sweep ${Object.entries(
        f.sweep,
      )
        .map(([b, r]) => `${b}:${fmt(r)}`)
        .join(' ')}`,
    );
  showFloor('fraud', ortFraud);
  showFloor('cnn  ', ortCnn1);
  showFloor('cnn  ', ortCnn2);
  showFloor('cnn-large', ortCnnLarge1);
  showFloor('cnn-large', ortCnnLarge2);

  // The gateway and the bare floors, each in its own process.
  await writeFile(join(dir, 'fraud.onnx'), fraudModel.onnx);
  await writeFile(join(dir, 'cnn.onnx'), cnnModel);
  await writeFile(join(dir, 'cnn-large.onnx'), cnnLargeModel);
  const profileDir = join(OUT, 'profile');
  // Fill the compile cache as a first start would: without arguments the gateway compiles everything and exits.
  // With the gateway's flags: the cache is keyed by the V8 flags, and a miss costs the gateway 15-25 MB.
  spawnSync(process.execPath, [...GATEWAY_FLAGS, join(HERE, 'serving-server.ts')], {
    env: { ...process.env, ...childEnv() },
    stdio: 'ignore',
  });
  const peerModels = { lr30: join(SHARED_MODELS, 'sk_lr30.onnx'), rf30: join(SHARED_MODELS, 'sk_rf30.onnx') };
  const withPeers = existsSync(peerModels.lr30) && existsSync(peerModels.rf30);
  const peerArgs = withPeers ? [`lr30=${peerModels.lr30}`, `rf30=${peerModels.rf30}`] : [];
  const gateway = await startChild<Extract<ServerMessage, { type: 'ready' }>>(
    'serving-server.ts',
    [
      join(dir, 'fraud.onnx'),
      join(dir, 'cnn.onnx'),
      join(dir, 'cnn-large.onnx'),
      ...(withPeers ? [...peerArgs, `rf30-nobatch=${peerModels.rf30}`] : []),
      `probe=${join(dir, 'cnn-large.onnx')}`,
      `full=${join(dir, 'cnn-large.onnx')}`,
    ],
    [...GATEWAY_FLAGS, ...(args.profile ? ['--cpu-prof', `--cpu-prof-dir=${profileDir}`] : [])],
  );
  children.push(gateway.child);
  const { url, grpcPort, pid: gatewayPid } = gateway.ready;
  const grpcTarget = `127.0.0.1:${grpcPort}`;
  const bodies: Record<'fraud' | 'cnn' | 'cnnLarge', RequestBodies> = {
    fraud: requestBodies('fraud', [1, 30], fraudRow()),
    cnn: requestBodies('cnn', [1, 1, 28, 28], mnistImage()),
    cnnLarge: requestBodies('cnn-large', [1, 1, 28, 28], mnistImage()),
  };
  // Every protocol answers before it is loaded; the fraud answers become the bare servers' fixed responses.
  const fraudJson = await httpCall(url, bodies.fraud.v2json);
  for (const b of [bodies.fraud.v2binary, bodies.fraud.v1, bodies.cnn.v2binary, bodies.cnn.v2json])
    await httpCall(url, b);
  const fraudGrpc = await grpcCall(grpcTarget, bodies.fraud.grpc);
  const cnnGrpc = await grpcCall(grpcTarget, bodies.cnn.grpc);
  await httpCall(url, bodies.cnnLarge.v2binary);
  const cnnLargeGrpc = await grpcCall(grpcTarget, bodies.cnnLarge.grpc);
  await writeFile(join(dir, 'response.json'), fraudJson);
  await writeFile(join(dir, 'response.grpc'), fraudGrpc);
  const bareHttp = await startChild<{ port: number }>('bare-http-server.ts', [join(dir, 'response.json')]);
  children.push(bareHttp.child);
  const bareGrpc = await startChild<{ port: number }>('bare-grpc-server.ts', [join(dir, 'response.grpc'), 'http2']);
  children.push(bareGrpc.child);
  const bareGrpcJs = await startChild<{ port: number }>('bare-grpc-server.ts', [join(dir, 'response.grpc'), 'grpc-js']);
  children.push(bareGrpcJs.child);
  const bareUrl = `http://127.0.0.1:${bareHttp.ready.port}`;
  const bareGrpcTarget = `127.0.0.1:${bareGrpc.ready.port}`;
  const bareGrpcJsTarget = `127.0.0.1:${bareGrpcJs.ready.port}`;
  const gatewayIdleRss = rssMb(gatewayPid);

  gateway.child.send({ type: 'workers' });
  const [workersMessage] = (await once(gateway.child, 'message')) as [Extract<ServerMessage, { type: 'workers' }>];
  const workerPids = {
    fraud: workersMessage.workers['fraud'] ?? [],
    cnn: workersMessage.workers['cnn'] ?? [],
    cnnLarge: workersMessage.workers['cnn-large'] ?? [],
  };
  const fraudWorkerIdleRss = Math.max(...workerPids.fraud.map((pid) => rssMb(pid)));

  interface Plan {
    key: string;
    label: string;
    run: (connections: number, seconds: number) => Promise<LoadResult>;
    /** The process answering, and the model's workers (none for the bare floors). */
    pids: [number, number[]];
    /** Stops a floor's server once its rows are measured: idle, its timers still took a tenth of a core. */
    done?: () => void;
  }
  const http = (url: string, body: HttpBody) => (connections: number, seconds: number) =>
    runWrk({ url, body, connections, seconds, dir });
  const grpc = (target: string, request: Buffer, response: Buffer) => (connections: number, seconds: number) =>
    runGrpcLoad({ target, request, responseBytes: response.length, connections, seconds, dir });
  const bareHttpPids: [number, number[]] = [bareHttp.child.pid ?? 0, []];
  const bareGrpcPids: [number, number[]] = [bareGrpc.child.pid ?? 0, []];
  const bareGrpcJsPids: [number, number[]] = [bareGrpcJs.child.pid ?? 0, []];
  const fraudPids: [number, number[]] = [gatewayPid, workerPids.fraud];
  const cnnPids: [number, number[]] = [gatewayPid, workerPids.cnn];
  const cnnLargePids: [number, number[]] = [gatewayPid, workerPids.cnnLarge];
  const plans: Plan[] = [
    {
      key: 'bareHttp',
      label: 'bare node:http (floor)',
      run: http(bareUrl, bodies.fraud.v2json),
      pids: bareHttpPids,
      done: () => void stopChild(bareHttp.child),
    },
    {
      key: 'bareGrpc',
      label: 'bare http2 gRPC (floor)',
      run: grpc(bareGrpcTarget, bodies.fraud.grpc, fraudGrpc),
      pids: bareGrpcPids,
      done: () => void stopChild(bareGrpc.child),
    },
    {
      key: 'bareGrpcJs',
      label: 'bare grpc-js (reference)',
      run: grpc(bareGrpcJsTarget, bodies.fraud.grpc, fraudGrpc),
      pids: bareGrpcJsPids,
      done: () => void stopChild(bareGrpcJs.child),
    },
    { key: 'fraudV2Json', label: 'fraud V2 JSON', run: http(url, bodies.fraud.v2json), pids: fraudPids },
    { key: 'fraudV2Binary', label: 'fraud V2 binary', run: http(url, bodies.fraud.v2binary), pids: fraudPids },
    { key: 'fraudGrpc', label: 'fraud gRPC', run: grpc(grpcTarget, bodies.fraud.grpc, fraudGrpc), pids: fraudPids },
    { key: 'fraudV1', label: 'fraud V1', run: http(url, bodies.fraud.v1), pids: fraudPids },
    { key: 'cnnV2Binary', label: 'cnn V2 binary', run: http(url, bodies.cnn.v2binary), pids: cnnPids },
    { key: 'cnnV2Json', label: 'cnn V2 JSON', run: http(url, bodies.cnn.v2json), pids: cnnPids },
    { key: 'cnnGrpc', label: 'cnn gRPC', run: grpc(grpcTarget, bodies.cnn.grpc, cnnGrpc), pids: cnnPids },
    {
      key: 'cnnLargeV2Binary',
      label: 'cnn-large V2 binary',
      run: http(url, bodies.cnnLarge.v2binary),
      pids: cnnLargePids,
    },
    {
      key: 'cnnLargeGrpc',
      label: 'cnn-large gRPC',
      run: grpc(grpcTarget, bodies.cnnLarge.grpc, cnnLargeGrpc),
      pids: cnnLargePids,
    },
  ];

  log(
    `\nload: wrk -t1 (HTTP) and ${hasH2load ? 'h2load -t1' : 'bench/grpc-load.ts'} (gRPC, over up to 8 connections), closed loop, ${CONNECTIONS.join('/')} connections`,
  );
  const series: (Series & { key: string })[] = [];
  let gatewayRss64 = 0;
  // The gateway's collections over a point's runs (a storm of mark-compacts costs a series what no code change does).
  const gatewayGc = async () => {
    gateway.child.send({ type: 'gc' });
    const [gc] = (await once(gateway.child, 'message')) as [Extract<ServerMessage, { type: 'gc' }>];
    return gc;
  };
  for (const plan of ONLY_PEERS ? [] : plans) {
    // Warm-up: JIT tiers, connections, worker caches. 1 s at 16 connections left the first of three measured runs
    // at about twice the CPU per request of the third (V8 optimises the hot path over a few seconds).
    await plan.run(64, 4);
    const s: Series & { key: string } = { key: plan.key, label: plan.label, points: {} };
    for (const connections of CONNECTIONS) {
      const sampleRss = plan.key === 'fraudV2Json' && connections === 64;
      const sampler = sampleRss
        ? setInterval(() => {
            gatewayRss64 = Math.max(gatewayRss64, rssMb(gatewayPid));
          }, 200)
        : undefined;
      const results: LoadResult[] = [];
      const onGateway = plan.pids[0] === gatewayPid;
      if (onGateway) await gatewayGc();
      for (let run = 0; run < RUNS; run++) {
        results.push(await measured(() => plan.run(connections, SECONDS), ...plan.pids));
      }
      clearInterval(sampler);
      const gc = onGateway ? await gatewayGc() : undefined;
      const point = medianResult(results);
      s.points[connections] = point;
      log(
        `  ${plan.label.padEnd(24)} @${String(connections).padStart(3)}: ${fmt(point.rps).padStart(7)} req/s  p50 ${fmt(point.p50Ms, 2).padStart(6)} ms  p99 ${fmt(point.p99Ms, 2).padStart(7)} ms  server ${fmt(point.serverUsPerRequest ?? 0)} us/req${point.errors ? `  errors ${point.errors}` : ''}${gc ? `  GC ${gc.markCompacts} mark-compacts, ${fmt(gc.pauseMs)} ms paused` : ''}`,
      );
    }
    series.push(s);
    plan.done?.();
  }

  // The headline ratios again, alternated (see `alternated`): the bare server is started afresh for them.
  log(`\nalternated ratios (b/a in req/s, median of ${PAIRS} back-to-back pairs of ${SECONDS} s runs):`);
  const pairs: Record<string, { ratio: number; each: number[] }> = {};
  const showPair = (key: string, label: string) =>
    log(
      `  ${label.padEnd(44)} ${(pairs[key]?.ratio ?? 0).toFixed(2)}  (pairs: ${(pairs[key]?.each ?? []).map((r) => r.toFixed(2)).join(' ')})`,
    );
  if (!ONLY_PEERS) {
    const bare = await startChild<{ port: number }>('bare-http-server.ts', [join(dir, 'response.json')]);
    const plan = (key: string) => plans.find((p) => p.key === key) as Plan;
    const at64 = (run: Plan['run']) => () => run(64, SECONDS);
    pairs['fraudV2JsonVsBareHttp64'] = await alternated(
      at64(http(`http://127.0.0.1:${bare.ready.port}`, bodies.fraud.v2json)),
      at64(plan('fraudV2Json').run),
      PAIRS,
    );
    await stopChild(bare.child);
    showPair('fraudV2JsonVsBareHttp64', 'fraud V2 JSON @64 / bare node:http @64');
    pairs['fraudGrpcVsV2Json64'] = await alternated(at64(plan('fraudV2Json').run), at64(plan('fraudGrpc').run), PAIRS);
    showPair('fraudGrpcVsV2Json64', 'fraud gRPC @64 / fraud V2 JSON @64');
    pairs['cnnV2BinaryVsV2Json64'] = await alternated(
      at64(plan('cnnV2Json').run),
      at64(plan('cnnV2Binary').run),
      PAIRS,
    );
    showPair('cnnV2BinaryVsV2Json64', 'cnn V2 binary @64 / cnn V2 JSON @64');
  }

  // Peers: the 60-line servers and the gateway on the same real models, in this same run.
  const peerSeries: (Series & { key: string })[] = [];
  if (!withPeers) {
    log(`\npeers: ${SHARED_MODELS} is absent; skipping the peer servers and the forest batching rows`);
  } else {
    log('\npeers: node:http + onnxruntime-node (bench/peer-ort-server.ts) vs the gateway, V2 JSON, same models');
    const peerMain = await startChild<{ port: number }>('peer-ort-server.ts', peerArgs);
    children.push(peerMain.child);
    const peerThreads = await startChild<{ port: number }>('peer-ort-server.ts', ['--threads', '2', ...peerArgs]);
    children.push(peerThreads.child);
    const row = Array.from({ length: 30 }, (_, i) => Math.fround(((i * 37) % 101) / 101));
    const body = (model: string) => requestBodies(model, [1, 30], row).v2json;
    for (const b of [body('lr30'), body('rf30'), body('rf30-nobatch')]) await httpCall(url, b);
    gateway.child.send({ type: 'workers' });
    const [peerWorkers] = (await once(gateway.child, 'message')) as [Extract<ServerMessage, { type: 'workers' }>];
    const gw = (model: string): [number, number[]] => [gatewayPid, peerWorkers.workers[model] ?? []];
    const peerUrl = (port: number) => `http://127.0.0.1:${port}`;
    const peerPlans: (Plan & { connections: number[] })[] = [];
    for (const model of ['lr30', 'rf30'] as const) {
      peerPlans.push(
        {
          key: `${model}Gateway`,
          label: `${model} gateway V2 JSON`,
          run: http(url, body(model)),
          pids: gw(model),
          connections: [1, 64],
        },
        {
          key: `${model}PeerMain`,
          label: `${model} peer main thread`,
          run: http(peerUrl(peerMain.ready.port), body(model)),
          pids: [peerMain.child.pid ?? 0, []],
          connections: [1, 64],
        },
        {
          key: `${model}PeerThreads`,
          label: `${model} peer 2 threads`,
          run: http(peerUrl(peerThreads.ready.port), body(model)),
          pids: [peerThreads.child.pid ?? 0, []],
          connections: [1, 64],
        },
      );
    }
    peerPlans.push(
      {
        key: 'rf30Batching',
        label: 'rf30 gateway batching on',
        run: http(url, body('rf30')),
        pids: gw('rf30'),
        connections: [256],
      },
      {
        key: 'rf30NoBatching',
        label: 'rf30 gateway batching off',
        run: http(url, body('rf30-nobatch')),
        pids: gw('rf30-nobatch'),
        connections: [256],
      },
    );
    for (const plan of peerPlans) {
      await plan.run(64, 4); // warm-up, as above
      const s: Series & { key: string } = { key: plan.key, label: plan.label, points: {} };
      for (const connections of plan.connections) {
        const results: LoadResult[] = [];
        for (let run = 0; run < RUNS; run++)
          results.push(await measured(() => plan.run(connections, SECONDS), ...plan.pids));
        const point = medianResult(results);
        s.points[connections] = point;
        log(
          `  ${plan.label.padEnd(26)} @${String(connections).padStart(3)}: ${fmt(point.rps).padStart(7)} req/s  p50 ${fmt(point.p50Ms, 2).padStart(6)} ms  p99 ${fmt(point.p99Ms, 2).padStart(7)} ms  server ${fmt(point.serverUsPerRequest ?? 0)} us/req${point.errors ? `  errors ${point.errors}` : ''}`,
        );
      }
      peerSeries.push(s);
    }
    const peerPlan = (key: string) => peerPlans.find((p) => p.key === key) as Plan;
    for (const model of ['lr30', 'rf30']) {
      const key = `${model}GatewayVsPeerMain64`;
      pairs[key] = await alternated(
        () => peerPlan(`${model}PeerMain`).run(64, SECONDS),
        () => peerPlan(`${model}Gateway`).run(64, SECONDS),
        PAIRS,
      );
      showPair(key, `${model} gateway V2 JSON @64 / peer main thread`);
    }
    pairs['rf30BatchingOnVsOff256'] = await alternated(
      () => peerPlan('rf30NoBatching').run(256, SECONDS),
      () => peerPlan('rf30Batching').run(256, SECONDS),
      PAIRS,
    );
    showPair('rf30BatchingOnVsOff256', 'rf30 @256 batching on / batching off');
    await stopChild(peerMain.child);
    await stopChild(peerThreads.child);
  }
  if (ONLY_PEERS) break bench;

  // Memory: a worker serving the example model, then growth over malformed requests.
  const fraudWorkerRss = Math.max(...workerPids.fraud.map((pid) => rssMb(pid)));
  const fraudWorkerAnon = Math.max(...workerPids.fraud.map((pid) => rssMb(pid, 'RssAnon')));
  const cnnWorkerRss = Math.max(...workerPids.cnn.map((pid) => rssMb(pid)));
  const gatewayAnon = rssMb(gatewayPid, 'RssAnon');
  const rssBefore = rssMb(gatewayPid);
  const malformedStatuses = await sendMalformed(url, 'fraud', 10_000);
  const rssAfter = rssMb(gatewayPid);

  // Faults, after the memory figures (they read the first fraud worker's pid): kill -9 of the fraud worker under an
  // open-loop 200 req/s; the gateway kills it and times the replacement.
  log('\nfaults: kill -9 of the fraud worker under 200 req/s (open loop), 3 trials');
  const faults: { sent: number; failed: number; replacementMs: number }[] = [];
  for (let trial = 0; trial < 3; trial++) {
    const statuses: Promise<number>[] = [];
    const started = performance.now();
    let sent = 0;
    const ticker = setInterval(() => {
      const due = Math.floor(((performance.now() - started) / 1000) * 200);
      for (; sent < due; sent++) {
        statuses.push(
          fetch(`${url}${bodies.fraud.v2json.path}`, {
            method: 'POST',
            body: bodies.fraud.v2json.body,
            headers: bodies.fraud.v2json.headers,
          }).then(
            async (r) => {
              await r.arrayBuffer();
              return r.status;
            },
            () => 0,
          ),
        );
      }
    }, 2);
    await new Promise((resolve) => setTimeout(resolve, 500));
    gateway.child.send({ type: 'kill', model: 'fraud' });
    const [killed] = (await once(gateway.child, 'message')) as [Extract<ServerMessage, { type: 'killed' }>];
    await new Promise((resolve) => setTimeout(resolve, 500));
    clearInterval(ticker);
    const all = await Promise.all(statuses);
    const failed = all.filter((status) => status !== 200).length;
    faults.push({ sent: all.length, failed, replacementMs: killed.replacementMs });
    log(
      `  trial ${trial + 1}: ${all.length} requests, ${failed} failed; replacement ready in ${fmt(killed.replacementMs)} ms`,
    );
  }

  // Overload, open loop (bench/overload.ts): 1x, 2x and 4x the calibrated capacity of one worker.
  log('');
  await httpCall(url, probeBody('probe'));
  gateway.child.send({ type: 'workers' });
  const [probeWorkers] = (await once(gateway.child, 'message')) as [Extract<ServerMessage, { type: 'workers' }>];
  const overload = await overloadProbe({
    url,
    model: 'wide CNN, batching off',
    seconds: SECONDS,
    dir,
    log,
    pids: { gateway: gatewayPid, workers: probeWorkers.workers['probe'] ?? [] },
    loopDelay: async () => {
      gateway.child.send({ type: 'loop' });
      const [loop] = (await once(gateway.child, 'message')) as [Extract<ServerMessage, { type: 'loop' }>];
      return loop;
    },
  });
  const overload4x = overload.rows.find((r) => r.multiple === 4);

  // Ratios to the floors.
  const at = (key: string, connections: number) =>
    [...series, ...peerSeries].find((s) => s.key === key)?.points[connections];
  const rps = (key: string, connections: number) => at(key, connections)?.rps ?? 0;
  const cnnBest256 = Math.max(rps('cnnV2Binary', 256), rps('cnnGrpc', 256));
  const cnnLargeBest256 = Math.max(rps('cnnLargeV2Binary', 256), rps('cnnLargeGrpc', 256));
  // CPU per request (server + workers) is steadier than req/s when other work shares the machine.
  const cpuPerRequest = (key: string, connections: number) =>
    (at(key, connections)?.serverUsPerRequest ?? 0) + (at(key, connections)?.workerUsPerRequest ?? 0);
  const ratios = {
    fraudV2JsonVsBareHttp64: ratio(rps('fraudV2Json', 64), rps('bareHttp', 64)),
    fraudV2JsonCpuVsBareHttp64: ratio(cpuPerRequest('bareHttp', 64), cpuPerRequest('fraudV2Json', 64)),
    fraudGrpcCpuVsBareGrpc64: ratio(cpuPerRequest('bareGrpc', 64), cpuPerRequest('fraudGrpc', 64)),
    fraudGrpcCpuVsV2Json64: ratio(cpuPerRequest('fraudV2Json', 64), cpuPerRequest('fraudGrpc', 64)),
    fraudV2JsonP99Ms64: at('fraudV2Json', 64)?.p99Ms ?? 0,
    fraudGrpcVsBareGrpc64: ratio(rps('fraudGrpc', 64), rps('bareGrpc', 64)),
    fraudGrpcVsV2Json64: ratio(rps('fraudGrpc', 64), rps('fraudV2Json', 64)),
    fraudGrpcVsV2Binary64: ratio(rps('fraudGrpc', 64), rps('fraudV2Binary', 64)),
    fraudV2JsonVsOrtBatch1: ratio(rps('fraudV2Json', 1), ortFraud.batch1),
    cnnRowsVsOrtBest256: ratio(cnnBest256, ortCnn.best.rowsPerSecond),
    cnnLargeRowsVsOrtBest256: ratio(cnnLargeBest256, ortCnnLarge.best.rowsPerSecond),
    cnnOrtBestVsBareHttp64: ratio(ortCnn.best.rowsPerSecond, rps('bareHttp', 64)),
    cnnGrpcVsV2Binary256: ratio(rps('cnnGrpc', 256), rps('cnnV2Binary', 256)),
    bareGrpcVsBareHttp64: ratio(rps('bareGrpc', 64), rps('bareHttp', 64)),
    fraudGrpcVsBareGrpcJs64: ratio(rps('fraudGrpc', 64), rps('bareGrpcJs', 64)),
    cnnV2BinaryVsV2Json64: ratio(rps('cnnV2Binary', 64), rps('cnnV2Json', 64)),
    p50At1Ms: {
      v2json: at('fraudV2Json', 1)?.p50Ms ?? 0,
      v1: at('fraudV1', 1)?.p50Ms ?? 0,
      grpc: at('fraudGrpc', 1)?.p50Ms ?? 0,
    },
    ...(withPeers
      ? {
          lr30GatewayVsPeerMain64: ratio(rps('lr30Gateway', 64), rps('lr30PeerMain', 64)),
          rf30GatewayVsPeerMain64: ratio(rps('rf30Gateway', 64), rps('rf30PeerMain', 64)),
          lr30GatewayVsPeerThreads64: ratio(rps('lr30Gateway', 64), rps('lr30PeerThreads', 64)),
          rf30GatewayVsPeerThreads64: ratio(rps('rf30Gateway', 64), rps('rf30PeerThreads', 64)),
          rf30BatchingOnVsOff256: ratio(rps('rf30Batching', 256), rps('rf30NoBatching', 256)),
        }
      : {}),
    faultsFailedPerKill: faults.reduce((n, f) => n + f.failed, 0) / Math.max(1, faults.length),
    faultsReplacementMs: faults.map((f) => f.replacementMs),
    overloadGoodputAt4x: overload4x?.goodputOverC ?? 0,
    overloadRefusalP99MsAt4x: overload4x?.result.refused.p99 ?? 0,
    overloadClean: overload.rows.every((r) => r.clean),
    overloadCoresBusyAt4x: overload4x?.coresBusy ?? 0,
    /** The same ratios measured in alternation (`alternated`): the ones the ambitions are judged by. */
    alternated: Object.fromEntries(Object.entries(pairs).map(([key, pair]) => [key, pair.ratio])),
  };
  const alt = (key: string, sequential: number) => pairs[key]?.ratio ?? sequential;
  const both = (key: string, sequential: number) =>
    `${alt(key, sequential).toFixed(2)} alternated, ${sequential.toFixed(2)} in sequence`;

  log(`\n${formatTable(series, CONNECTIONS)}`);
  log('\nratios (ambition in brackets):');
  const check = (ok: boolean) => (ok ? 'meets' : 'below');
  log(
    `  fraud V2 JSON @64 / bare node:http @64      ${both('fraudV2JsonVsBareHttp64', ratios.fraudV2JsonVsBareHttp64)}  [>= 0.60: ${check(alt('fraudV2JsonVsBareHttp64', ratios.fraudV2JsonVsBareHttp64) >= 0.6)}]  p99 ${fmt(ratios.fraudV2JsonP99Ms64, 2)} ms [< 10: ${check(ratios.fraudV2JsonP99Ms64 < 10)}]`,
  );
  log(
    `  cnn best @256 rows/s / raw ORT best batched  ${ratios.cnnRowsVsOrtBest256.toFixed(2)}  [>= 0.80: ${check(ratios.cnnRowsVsOrtBest256 >= 0.8)}]  (${fmt(cnnBest256)} vs ${fmt(ortCnn.best.rowsPerSecond)} at batch ${ortCnn.best.batch}, ${ortCnn.threads} thread(s))`,
  );
  log(
    `  cnn-large best @256 / raw ORT best batched   ${ratios.cnnLargeRowsVsOrtBest256.toFixed(2)}  [>= 0.80: ${check(ratios.cnnLargeRowsVsOrtBest256 >= 0.8)}]  (${fmt(cnnLargeBest256)} vs ${fmt(ortCnnLarge.best.rowsPerSecond)} at batch ${ortCnnLarge.best.batch}, ${ortCnnLarge.threads} thread(s))`,
  );
  log(
    `    (the small cnn's raw ORT rate is ${ratios.cnnOrtBestVsBareHttp64.toFixed(1)}x the bare node:http server's req/s: one image per request, its ratio is bounded by HTTP, not by the model)`,
  );
  log(
    `  fraud gRPC @64 / fraud V2 JSON @64           ${both('fraudGrpcVsV2Json64', ratios.fraudGrpcVsV2Json64)}  [>= 1.00: ${check(alt('fraudGrpcVsV2Json64', ratios.fraudGrpcVsV2Json64) >= 1)}]`,
  );
  log(`  fraud gRPC @64 / fraud V2 binary @64         ${ratios.fraudGrpcVsV2Binary64.toFixed(2)}`);
  log('  the same by CPU per request (bare us / gateway us, server + workers; steadier on a shared machine):');
  log(`    fraud V2 JSON @64 vs bare node:http        ${ratios.fraudV2JsonCpuVsBareHttp64.toFixed(2)}`);
  log(`    fraud gRPC @64 vs bare http2 gRPC           ${ratios.fraudGrpcCpuVsBareGrpc64.toFixed(2)}`);
  log(`    fraud gRPC @64 vs fraud V2 JSON             ${ratios.fraudGrpcCpuVsV2Json64.toFixed(2)}`);
  log(`  cnn gRPC @256 / cnn V2 binary @256           ${ratios.cnnGrpcVsV2Binary256.toFixed(2)}`);
  log(
    `  fraud gRPC @64 / bare http2 gRPC @64         ${ratios.fraudGrpcVsBareGrpc64.toFixed(2)}  (the generator-neutral view: compare with the V2 JSON ratio above)`,
  );
  log(`  fraud gRPC @64 / bare grpc-js @64            ${ratios.fraudGrpcVsBareGrpcJs64.toFixed(2)}`);
  log(
    `  bare http2 gRPC @64 / bare node:http @64     ${ratios.bareGrpcVsBareHttp64.toFixed(2)}  (the transports' own ceiling)`,
  );
  log(`  fraud V2 JSON @1 req/s / raw ORT batch 1     ${ratios.fraudV2JsonVsOrtBatch1.toFixed(3)}`);
  const p50 = ratios.p50At1Ms;
  log(
    `  p50 at 1 connection: V2 JSON ${fmt(p50.v2json, 2)} ms, V1 ${fmt(p50.v1, 2)} ms, gRPC ${fmt(p50.grpc, 2)} ms  [<= 0.25: ${check(Math.max(p50.v2json, p50.v1, p50.grpc) <= 0.25)}]`,
  );
  log(
    `  cnn V2 binary @64 / cnn V2 JSON @64 (784 floats) ${both('cnnV2BinaryVsV2Json64', ratios.cnnV2BinaryVsV2Json64)}  [>= 1.00: ${check(alt('cnnV2BinaryVsV2Json64', ratios.cnnV2BinaryVsV2Json64) >= 1)}]`,
  );
  if (withPeers) {
    const peer = (label: string, key: string, value: number | undefined, floor: number) =>
      log(
        `  ${label.padEnd(44)} ${pairs[key] ? both(key, value ?? 0) : (value ?? 0).toFixed(2)}  [>= ${floor.toFixed(2)}: ${check(alt(key, value ?? 0) >= floor)}]`,
      );
    peer('lr30 gateway V2 JSON @64 / peer main thread', 'lr30GatewayVsPeerMain64', ratios.lr30GatewayVsPeerMain64, 1);
    peer('rf30 gateway V2 JSON @64 / peer main thread', 'rf30GatewayVsPeerMain64', ratios.rf30GatewayVsPeerMain64, 1);
    peer('lr30 gateway V2 JSON @64 / peer 2 threads', '-', ratios.lr30GatewayVsPeerThreads64, 1);
    peer('rf30 gateway V2 JSON @64 / peer 2 threads', '-', ratios.rf30GatewayVsPeerThreads64, 1);
    peer('rf30 @256 batching on / batching off', 'rf30BatchingOnVsOff256', ratios.rf30BatchingOnVsOff256, 1.5);
    for (const model of ['lr30', 'rf30']) {
      log(
        `  ${model} p50 @1: gateway ${fmt(at(`${model}Gateway`, 1)?.p50Ms ?? 0, 2)} ms, peer main ${fmt(at(`${model}PeerMain`, 1)?.p50Ms ?? 0, 2)} ms, peer 2 threads ${fmt(at(`${model}PeerThreads`, 1)?.p50Ms ?? 0, 2)} ms`,
      );
    }
  }
  log(
    `  faults: ${ratios.faultsFailedPerKill.toFixed(1)} failed requests per worker kill [0: ${check(ratios.faultsFailedPerKill === 0)}]; replacement ready in ${ratios.faultsReplacementMs.map((ms) => fmt(ms)).join(', ')} ms`,
  );

  log(
    `  overload at 4x C (open loop): goodput ${ratios.overloadGoodputAt4x.toFixed(2)} C [>= 0.90: ${check(ratios.overloadGoodputAt4x >= 0.9)}], refusal p99 ${fmt(ratios.overloadRefusalP99MsAt4x, 1)} ms [< 10: ${check(ratios.overloadRefusalP99MsAt4x < 10)}]; every answer 200 or 429/503 with Retry-After at 1x/2x/4x: ${ratios.overloadClean ? 'yes' : 'no'}; ${fmt(ratios.overloadCoresBusyAt4x, 2)} of ${machine.cores} cores busy at 4x (gateway, worker and generator)`,
  );

  const memory = {
    gatewayIdleMb: gatewayIdleRss,
    gatewayPeakAt64Mb: gatewayRss64,
    gatewayAnonAfterLoadMb: gatewayAnon,
    fraudWorkerIdleMb: fraudWorkerIdleRss,
    fraudWorkerMb: fraudWorkerRss,
    fraudWorkerAnonMb: fraudWorkerAnon,
    cnnWorkerMb: cnnWorkerRss,
    malformed: {
      count: 10_000,
      statuses: malformedStatuses,
      rssBeforeMb: rssBefore,
      rssAfterMb: rssAfter,
      growthMb: rssAfter - rssBefore,
    },
  };
  log('\nmemory (RSS):');
  log(
    `  gateway idle ${fmt(gatewayIdleRss, 1)} MB; peak during fraud V2 JSON @64 ${fmt(gatewayRss64, 1)} MB  [< 150: ${check(gatewayRss64 < 150)}]`,
  );
  log(
    `  gateway's anonymous memory (heap, not the shared pages of the node binary) after the load: ${fmt(gatewayAnon, 1)} MB`,
  );
  log(
    `  fraud worker idle ${fmt(fraudWorkerIdleRss, 1)} MB, after the load ${fmt(fraudWorkerRss, 1)} MB  [< 100: ${check(fraudWorkerRss < 100)}], ${fmt(fraudWorkerAnon, 1)} MB anonymous; cnn worker ${fmt(cnnWorkerRss, 1)} MB`,
  );
  log(
    `  10,000 malformed requests: ${Object.entries(malformedStatuses)
      .map(([status, n]) => `${n} x ${status}`)
      .join(
        ', ',
      )}; gateway ${fmt(rssBefore, 1)} -> ${fmt(rssAfter, 1)} MB, growth ${fmt(rssAfter - rssBefore, 1)} MB  [< 32: ${check(rssAfter - rssBefore < 32)}]`,
  );

  const loadAtEnd = loadavg()[0] ?? 0;
  const busy = Math.max(machine.loadAverageAtStart, loadAtEnd) > machine.cores + 1;
  log(
    `\nload average at the end ${loadAtEnd.toFixed(2)}${busy ? ': other work shared the machine, expect noise' : ''}`,
  );
  const report = {
    date: new Date().toISOString(),
    machine: { ...machine, loadAverageAtEnd: loadAtEnd },
    settings: { seconds: SECONDS, runs: RUNS, pairs: PAIRS, connections: CONNECTIONS },
    floors: { ortFraud, ortCnn1, ortCnn2, ortCnnLarge1, ortCnnLarge2 },
    series: Object.fromEntries([...series, ...peerSeries].map((s) => [s.key, { label: s.label, points: s.points }])),
    faults,
    overload,
    ratios,
    memory,
  };
  writeFileSync(join(OUT, 'serving.json'), `${JSON.stringify(report, null, 2)}\n`);
  writeFileSync(
    join(OUT, 'serving.svg'),
    renderSvg(`Modelport serving, req/s (${machine.cores} shared cores)`, series, CONNECTIONS),
  );
  log(`\nwrote ${join('bench', 'out', 'serving.json')} and ${join('bench', 'out', 'serving.svg')}`);
} finally {
  for (const child of children.reverse()) await stopChild(child);
  await rm(dir, { recursive: true, force: true });
}
if (!ONLY_PEERS) await payloadRows();
