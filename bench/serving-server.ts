/**
 * The gateway under test, as a child process of `bench/serving.ts` so the load generator never shares its event
 * loop: a real Modelport server (embedded stores in a temp home, HTTP and gRPC on loopback port 0) with the fraud
 * model, the CNN and optionally the wide CNN (ONNX files given as arguments, built by the parent) registered through
 * the API and pre-loaded with the serving options given in `SERVE` below.
 *
 * Talks to its parent over IPC: sends `{ type: 'ready', url, grpcPort, models }` once both models are warm; answers
 * `{ type: 'workers' }` with the worker pids per model, `{ type: 'loop' }` with its event loop's delay and `{ type: 'gc' }` with its collections since the last ask; on SIGTERM closes the server and exits (so `--cpu-prof`
 * writes its profile).
 *
 * Run alone: node bench/serving-server.ts <fraud.onnx> <cnn.onnx> [<cnn-large.onnx>] (prints the ready message without IPC).
 */
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { Session } from 'node:inspector/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { constants, monitorEventLoopDelay, PerformanceObserver } from 'node:perf_hooks';
import { getHeapSpaceStatistics, setFlagsFromString, writeHeapSnapshot } from 'node:v8';
import { runInNewContext } from 'node:vm';
import { compileServerConfig } from '../src/core/config.ts';
import { memoryLogger } from '../src/logging/index.ts';
import { startServer } from '../src/server/server.ts';
import { registryKey, type ServeOptions } from '../src/serving/model-host.ts';

/**
 * How each model is served. fraud: one single-threaded worker (its inference is microseconds; the gateway and the
 * load generator need the other core), the default work-conserving batching (batches gather only while the worker
 * is busy), up to 64 rows. cnn and cnn-large: two single-threaded workers each, one per core, batches of up to 64
 * images. `BENCH_FRAUD_BATCHING` (JSON) overrides the fraud model's batching options, for A/B runs.
 */
export const SERVE: Record<string, ServeOptions> = {
  fraud: {
    replicas: 1,
    settings: { intraOpNumThreads: 1, interOpNumThreads: 1 },
    batching: {
      maxBatchSize: 64,
      maxQueueSize: 4096,
      ...(process.env['BENCH_FRAUD_BATCHING'] ? JSON.parse(process.env['BENCH_FRAUD_BATCHING']) : {}),
    },
  },
  cnn: {
    replicas: 2,
    settings: { intraOpNumThreads: 1, interOpNumThreads: 1 },
    batching: { maxBatchSize: 64, maxQueueDelayMs: 2, maxQueueSize: 4096 },
  },
  'cnn-large': {
    replicas: 2,
    settings: { intraOpNumThreads: 1, interOpNumThreads: 1 },
    batching: { maxBatchSize: 64, maxQueueDelayMs: 2, maxQueueSize: 4096 },
  },
  // The peers' models (issue 19): one single-threaded worker, default batching; the forest also unbatched.
  lr30: { replicas: 1, settings: { intraOpNumThreads: 1, interOpNumThreads: 1 }, batching: { maxQueueSize: 4096 } },
  rf30: {
    replicas: 1,
    settings: { intraOpNumThreads: 1, interOpNumThreads: 1 },
    batching: { maxBatchSize: 64, maxQueueSize: 4096 },
  },
  // The overload probe (bench/overload.ts): one single-threaded worker, batching off, the default queue; `full` is
  // the same with a queue of one, where nearly every call is refused (a refusal's cost).
  probe: { replicas: 1, settings: { intraOpNumThreads: 1, interOpNumThreads: 1 }, batching: { maxBatchSize: 1 } },
  full: {
    replicas: 1,
    settings: { intraOpNumThreads: 1, interOpNumThreads: 1 },
    batching: { maxBatchSize: 1, maxQueueSize: 1 },
  },
  'rf30-nobatch': {
    replicas: 1,
    settings: { intraOpNumThreads: 1, interOpNumThreads: 1 },
    batching: { maxBatchSize: 1, maxQueueSize: 4096 },
  },
};

export type ServerMessage =
  | { type: 'ready'; url: string; grpcPort: number; pid: number; token?: string | undefined }
  | { type: 'workers'; workers: Record<string, number[]> }
  /** The answer to `{ type: 'kill', model }`: its worker was killed (-9) and a replacement became ready. */
  | { type: 'killed'; replacementMs: number }
  /** The answer to `{ type: 'profile' }` (started) and `{ type: 'profile', file }` (written there). */
  | { type: 'profile' }
  /** The answer to `{ type: 'gc' }`: the collections since the last ask (mark-compacts, scavenges, pause ms). */
  | { type: 'gc'; markCompacts: number; scavenges: number; pauseMs: number }
  /** The answer to `{ type: 'loop' }`: the event loop's delay since the last ask (p99 and max, ms), then reset. */
  | { type: 'loop'; p99Ms: number; maxMs: number }
  /** The answer to `{ type: 'memory' }`: `process.memoryUsage()` and V8's heap spaces (used and committed bytes). */
  | {
      type: 'memory';
      usage: NodeJS.MemoryUsage;
      spaces: { name: string; used: number; size: number }[];
    };

const [fraudFile, cnnFile, cnnLargeFile, ...extra] = process.argv.slice(2);
if (!fraudFile || !cnnFile) {
  throw new Error(
    'usage: node bench/serving-server.ts <fraud.onnx> <cnn.onnx> [<cnn-large.onnx>] [name=<model.onnx> ...]',
  );
}
const home = await mkdtemp(join(tmpdir(), 'modelport-bench-serving-'));
// MODELPORT_BENCH_AUTH=true runs with auth on: the parent sends the admin token (cached after its first use).
const auth = process.env['MODELPORT_BENCH_AUTH'] === 'true' ? 'true' : 'false';
const config = compileServerConfig({ home, port: '0', grpcPort: '0', example: 'false', auth });
const server = await startServer(config, { log: memoryLogger(), version: 'bench', grpc: true, examplesDir: home });
const token = server.auth.adminToken;

const models = [
  ['fraud', fraudFile],
  ['cnn', cnnFile],
  ...(cnnLargeFile ? [['cnn-large', cnnLargeFile] as const] : []),
  ...extra.map((spec) => spec.split('=') as [string, string]),
];
for (const [name, file] of models) {
  // Straight into the registry, not through the API with the client: its fetch would load undici and web streams into
  // this process (12-17 MB resident) that a gateway serving its clients never holds.
  const found = await server.registry.registerVersion('default', name, { file });
  // The registry resolver serves a name from this key, so the request path finds the unit already running.
  await server.host.ensure(registryKey(found), found, SERVE[name]);
  await server.host.get(registryKey(found))?.pool.whenReady();
}

const send = (message: ServerMessage) => (process.send ? process.send(message) : console.log(JSON.stringify(message)));

// Sampled only from the first `{ type: 'loop' }` on (the overload probe): its 1 ms timer took 1.3% of a core while the
// gateway idled, and a little of every series before it.
const loopDelay = monitorEventLoopDelay({ resolution: 1 });
let loopSampled = false;
let profiler: Session | undefined;
// The collector's work per series (mark-compacts are what a storm of them, or a heap that keeps growing, shows).
const gc = { markCompacts: 0, scavenges: 0, pauseMs: 0 };
new PerformanceObserver((list) => {
  for (const entry of list.getEntries()) {
    const kind = (entry as PerformanceEntry & { detail?: { kind?: number } }).detail?.kind;
    if (kind === constants.NODE_PERFORMANCE_GC_MAJOR) gc.markCompacts++;
    else if (kind === constants.NODE_PERFORMANCE_GC_MINOR) gc.scavenges++;
    gc.pauseMs += entry.duration;
  }
}).observe({ entryTypes: ['gc'] });
process.on(
  'message',
  async (message: { type?: string; model?: string; gc?: boolean; snapshot?: string; file?: string }) => {
    // `{ type: 'profile' }` starts a CPU profile of what follows (no start-up in it); `{ type: 'profile', file }` writes it.
    if (message.type === 'profile') {
      if (!message.file) {
        profiler = new Session();
        profiler.connect();
        await profiler.post('Profiler.enable');
        await profiler.post('Profiler.setSamplingInterval', { interval: 100 });
        await profiler.post('Profiler.start');
        send({ type: 'profile' });
        return;
      }
      const { profile } = await (profiler as Session).post('Profiler.stop');
      profiler?.disconnect();
      await writeFile(message.file, JSON.stringify(profile));
      send({ type: 'profile' });
      return;
    }
    if (message.type === 'memory') {
      // A full GC first when asked: what the heap holds live, not the garbage the next mark-compact would free.
      if (message.gc) {
        setFlagsFromString('--expose-gc');
        (runInNewContext('gc') as () => void)();
      }
      if (message.snapshot) writeHeapSnapshot(message.snapshot);
      const spaces = getHeapSpaceStatistics().map((s) => ({
        name: s.space_name,
        used: s.space_used_size,
        size: s.space_size,
      }));
      send({ type: 'memory', usage: process.memoryUsage(), spaces });
      return;
    }
    if (message.type === 'loop') {
      if (!loopSampled) {
        loopSampled = true;
        loopDelay.enable();
      }
      send({ type: 'loop', p99Ms: loopDelay.percentile(99) / 1e6, maxMs: loopDelay.max / 1e6 });
      loopDelay.reset();
      return;
    }
    if (message.type === 'gc') {
      send({ type: 'gc', ...gc });
      gc.markCompacts = 0;
      gc.scavenges = 0;
      gc.pauseMs = 0;
      return;
    }
    if (message.type === 'kill') {
      const served = server.host.list().find((s) => s.labels.model === message.model);
      const pid = served?.pool.stats().workers.find((w) => w.state === 'ready')?.pid;
      if (!served || pid === undefined) return;
      const killed = performance.now();
      const restarts = served.pool.restarts;
      process.kill(pid, 'SIGKILL');
      const poll = setInterval(() => {
        if (served.pool.restarts > restarts && served.pool.stats().ready === served.pool.stats().target) {
          clearInterval(poll);
          send({ type: 'killed', replacementMs: performance.now() - killed });
        }
      }, 2);
      return;
    }
    if (message.type !== 'workers') return;
    const workers: Record<string, number[]> = {};
    for (const served of server.host.list()) {
      workers[served.labels.model] = served.pool.stats().workers.flatMap((w) => (w.pid === undefined ? [] : [w.pid]));
    }
    send({ type: 'workers', workers });
  },
);

let closing = false;
const shutdown = async () => {
  if (closing) return;
  closing = true;
  await server.close();
  await rm(home, { recursive: true, force: true });
  process.exit(0);
};
process.on('SIGTERM', shutdown);
process.on('SIGINT', shutdown);
process.on('disconnect', shutdown);

send({ type: 'ready', url: server.url, grpcPort: server.grpcPort ?? 0, pid: process.pid, token });
