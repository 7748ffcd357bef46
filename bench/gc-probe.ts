/**
 * What each load point costs the gateway's garbage collector, counted rather than timed (on a shared two-core machine
 * V8's `--trace-gc` lines are deterministic where CPU times are not): starts the gateway (bench/serving-server.ts)
 * with `--trace-gc-nvp` and the given V8 flags, and per load point and run prints the scavenges and mark-compacts
 * during the run, the bytes and the global handles (native objects' JS wrappers) scavenges promoted per answer, the old generation's used size sampled every 250 ms (first, min, max, last) and the answers.
 * With --snapshots, writes a heap snapshot before and after a point's runs (after a full GC) into that folder.
 *
 * Points: fraudV2Json, fraudV2Binary, fraudGrpc, refusal (429s of a full queue), unknownModel (404s).
 * Run: node bench/gc-probe.ts [--points fraudGrpc,fraudV2Json] [--connections 64] [--seconds 5] [--runs 2]
 *        [--gateway-flags='--max-semi-space-size=8 ...'] [--snapshots <dir>]
 */
import { type ChildProcess, fork } from 'node:child_process';
import { once } from 'node:events';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { trainFraudModel } from '../examples/fraud/train.ts';
import { buildCnnModel } from '../src/onnx-builder/index.ts';
import { fraudRow, requestBodies } from './bodies.ts';
import { GATEWAY_FLAGS, type LoadResult, runGrpcLoad, runWrk, stopChild } from './load.ts';
import { PROBE_CNN, probeBody } from './overload.ts';
import type { ServerMessage } from './serving-server.ts';

const { values: args } = parseArgs({
  options: {
    points: { type: 'string', default: 'fraudGrpc,fraudV2Json' },
    connections: { type: 'string', default: '64' },
    seconds: { type: 'string', default: '5' },
    runs: { type: 'string', default: '2' },
    'gateway-flags': { type: 'string', default: GATEWAY_FLAGS.join(' ') },
    snapshots: { type: 'string' },
  },
});
const HERE = new URL('.', import.meta.url).pathname;
const mb = (bytes: number) => (bytes / 2 ** 20).toFixed(1);

function ask(child: ChildProcess, message: object): Promise<Extract<ServerMessage, { type: 'memory' }>> {
  return new Promise((resolve) => {
    const onMessage = (m: ServerMessage) => {
      if (m.type !== 'memory') return;
      child.off('message', onMessage);
      resolve(m);
    };
    child.on('message', onMessage);
    child.send({ type: 'memory', ...message });
  });
}
const oldUsed = (m: Extract<ServerMessage, { type: 'memory' }>) =>
  m.spaces.find((s) => s.name === 'old_space')?.used ?? 0;

const dir = await mkdtemp(join(tmpdir(), 'modelport-bench-gc-'));
let child: ChildProcess | undefined;
try {
  await writeFile(join(dir, 'fraud.onnx'), trainFraudModel().onnx);
  await writeFile(join(dir, 'cnn.onnx'), buildCnnModel());
  const probeModel = join(dir, 'probe.onnx');
  await writeFile(probeModel, buildCnnModel(PROBE_CNN));
  const flags = (args['gateway-flags'] ?? '').split(' ').filter(Boolean);
  child = fork(
    join(HERE, 'serving-server.ts'),
    [join(dir, 'fraud.onnx'), join(dir, 'cnn.onnx'), '', `full=${probeModel}`],
    {
      execArgv: [...flags, '--trace-gc-nvp'],
      stdio: ['ignore', 'pipe', 'inherit', 'ipc'],
    },
  );
  const gcLines: string[] = [];
  let pending = '';
  child.stdout?.on('data', (chunk: Buffer) => {
    const lines = (pending + chunk.toString()).split('\n');
    pending = lines.pop() ?? '';
    for (const line of lines) if (/ ms: pause=.* gc=/.test(line)) gcLines.push(line);
  });
  const [ready] = (await once(child, 'message')) as [Extract<ServerMessage, { type: 'ready' }>];
  const fraud = requestBodies('fraud', [1, 30], fraudRow());
  const full = probeBody('full');
  const unknown = { ...full, path: full.path.replace('/full/', '/no-such-model/') };
  // wrk counts every answer but a 2xx as an error; the refusal points count their 429s and 404s as answers.
  const everyAnswer = (load: Promise<LoadResult>) => load.then((result) => ({ ...result, errors: 0 }));
  const plans: Record<string, (connections: number, seconds: number) => Promise<LoadResult>> = {
    fraudV2Json: (c, s) => runWrk({ url: ready.url, body: fraud.v2json, connections: c, seconds: s, dir }),
    fraudV2Binary: (c, s) => runWrk({ url: ready.url, body: fraud.v2binary, connections: c, seconds: s, dir }),
    fraudGrpc: (c, s) =>
      runGrpcLoad({
        target: `127.0.0.1:${ready.grpcPort}`,
        request: fraud.grpc,
        responseBytes: 0,
        connections: c,
        seconds: s,
        dir,
      }),
    // The overload probe's refusal: the wide CNN with a queue of one, so nearly every call is a 429 before its body is read.
    refusal: (c, s) => everyAnswer(runWrk({ url: ready.url, body: full, connections: c, seconds: s, dir })),
    // A name no model has: 404 from admission, before the body is read.
    unknownModel: (c, s) => everyAnswer(runWrk({ url: ready.url, body: unknown, connections: c, seconds: s, dir })),
  };
  console.log(`gateway flags: ${flags.join(' ')}`);
  for (const name of (args.points ?? '').split(',')) {
    const plan = plans[name];
    if (!plan) throw new Error(`unknown point ${name}; choose from ${Object.keys(plans).join(', ')}`);
    await plan(16, 1);
    if (args.snapshots) await ask(child, { gc: true, snapshot: join(args.snapshots, `${name}-before.heapsnapshot`) });
    for (let run = 0; run < Number(args.runs); run++) {
      const first = gcLines.length;
      const samples: number[] = [];
      let sampling = true;
      const sampler = (async () => {
        while (sampling && child) {
          samples.push(oldUsed(await ask(child, {})));
          await new Promise((r) => setTimeout(r, 250));
        }
      })();
      const result = await plan(Number(args.connections), Number(args.seconds));
      sampling = false;
      await sampler;
      const lines = gcLines.slice(first);
      const count = (kind: string) => lines.filter((l) => l.includes(` gc=${kind} `)).length;
      const sum = (field: string) =>
        lines.reduce((total, l) => total + Number(new RegExp(` ${field}=(\\d+)`).exec(l)?.[1] ?? 0), 0);
      const answers = Math.max(1, result.requests - result.errors);
      const pauseMs = lines.reduce((total, l) => total + Number(/ pause=([\d.]+)/.exec(l)?.[1] ?? 0), 0);
      console.log(
        `${name.padEnd(12)} run ${run + 1}: ${answers} answers, ${count('s')} scavenges, ${count('mc')} mark-compacts (${((count('mc') * 1e4) / answers).toFixed(1)} per 10k answers), GC pauses ${((pauseMs * 1000) / answers).toFixed(1)} us/answer; allocated ${Math.round(sum('allocated') / answers)} B/answer, promoted ${Math.round(sum('promoted') / answers)} B/answer, global handles promoted ${(sum('nodes_promoted') / answers).toFixed(2)}/answer; old space MB first ${mb(samples[0] ?? 0)} min ${mb(Math.min(...samples))} max ${mb(Math.max(...samples))} last ${mb(samples.at(-1) ?? 0)}`,
      );
    }
    if (args.snapshots) await ask(child, { gc: true, snapshot: join(args.snapshots, `${name}-after.heapsnapshot`) });
  }
} finally {
  await stopChild(child);
  await rm(dir, { recursive: true, force: true });
}
