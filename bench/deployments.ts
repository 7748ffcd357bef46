/**
 * Reliability figures of deployments (issue 4), printed, never asserted: failed requests during a rolling update,
 * a canary shift and a rollback under steady load; canary split accuracy at 10% and 50%; config-to-effect time;
 * the median cold start from zero for the example model; a burst of 50 from zero; in-flight requests across a
 * graceful shutdown. `npm run bench:deployments`; figures also go to bench/out/deployments.json.
 */
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { trainFraudModel } from '../examples/fraud/train.ts';
import { ModelportClient } from '../src/client/client.ts';
import { compileServerConfig } from '../src/core/config.ts';
import { silentLogger } from '../src/logging/index.ts';
import { startServer } from '../src/server/server.ts';

const v1 = trainFraudModel({ seed: 1, rows: 4000 });
const v2 = trainFraudModel({ seed: 3, rows: 4000 });
const body = JSON.stringify({ inputs: [{ name: 'input', datatype: 'FP32', shape: [1, 30], data: v1.samples.fraud }] });
const median = (xs: number[]) => {
  const s = [...xs].sort((a, b) => a - b);
  return s.length === 0
    ? Number.NaN
    : s.length % 2
      ? s[(s.length - 1) / 2]!
      : (s[s.length / 2 - 1]! + s[s.length / 2]!) / 2;
};

async function call(url: string, name: string) {
  const t0 = performance.now();
  try {
    const res = await fetch(`${url}/v2/models/${name}/infer`, {
      method: 'POST',
      body,
      headers: { 'content-type': 'application/json' },
    });
    const json = (await res.json()) as { model_version?: string };
    return { status: res.status, version: json.model_version, ms: performance.now() - t0 };
  } catch {
    return { status: 0, version: undefined, ms: performance.now() - t0 };
  }
}

function steadyLoad(url: string, name: string, clients: number) {
  let running = true;
  const results: { status: number; version: string | undefined; at: number }[] = [];
  const loops = Array.from({ length: clients }, async () => {
    while (running) {
      const r = await call(url, name);
      results.push({ ...r, at: performance.now() });
    }
  });
  return {
    results,
    stop: async () => {
      running = false;
      await Promise.all(loops);
    },
  };
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

async function main() {
  const home = await mkdtemp(join(tmpdir(), 'modelport-bench-deploy-'));
  const config = compileServerConfig({ home, port: '0', grpcPort: '0', example: 'false' });
  const server = await startServer(config, {
    log: silentLogger(),
    version: 'bench',
    examplesDir: '/nonexistent',
  });
  const mp = new ModelportClient({ url: server.url });
  const out: Record<string, unknown> = {};
  try {
    await mp.registerVersion('fraud', v1.onnx);
    await mp.registerVersion('fraud', v2.onnx);

    // 1. Rolling update, canary shift, rollback under steady load.
    await mp.createDeployment('rollout', { traffic: [{ model: 'fraud@1', weight: 100 }] });
    await mp.waitDeployment('rollout');
    const load = steadyLoad(server.url, 'rollout', 8);
    await sleep(1000);
    const steps: [string, () => Promise<unknown>][] = [
      ['rolling update to v2', () => mp.applyDeployment('rollout', { traffic: [{ model: 'fraud@2', weight: 100 }] })],
      [
        'canary shift 50/50',
        () =>
          mp.applyDeployment('rollout', {
            traffic: [
              { model: 'fraud@2', weight: 50, tag: 'stable' },
              { model: 'fraud@1', weight: 50, tag: 'canary' },
            ],
          }),
      ],
      ['rollback to revision 1', () => mp.rollbackDeployment('rollout', 1)],
    ];
    const transitions: Record<string, { requests: number; failed: number }> = {};
    for (const [label, step] of steps) {
      const from = load.results.length;
      await step();
      await mp.waitDeployment('rollout');
      await sleep(1000);
      const window = load.results.slice(from);
      transitions[label] = { requests: window.length, failed: window.filter((r) => r.status !== 200).length };
    }
    await load.stop();
    out['transitions'] = transitions;

    // 2. Split accuracy and config-to-effect.
    const split: Record<string, unknown> = {};
    for (const pct of [10, 50]) {
      const t0 = performance.now();
      await mp.applyDeployment('rollout', {
        traffic: [
          { model: 'fraud@1', weight: 100 - pct, tag: 'stable' },
          { model: 'fraud@2', weight: pct, tag: 'canary' },
        ],
      });
      let effect = Number.NaN;
      for (;;) {
        const r = await call(server.url, 'rollout');
        if (r.version === '2') {
          effect = performance.now() - t0;
          break;
        }
      }
      let canary = 0;
      const n = 2000;
      for (let i = 0; i < n / 50; i++) {
        const batch = await Promise.all(Array.from({ length: 50 }, () => call(server.url, 'rollout')));
        canary += batch.filter((r) => r.version === '2').length;
      }
      split[`${pct}%`] = {
        samples: n,
        observedPct: (canary / n) * 100,
        errorPp: Math.abs((canary / n) * 100 - pct),
        configToEffectMs: effect,
      };
    }
    out['split'] = split;

    // 3. Cold starts from zero (median of 7) and a burst of 50 from zero.
    await mp.createDeployment('cold', {
      traffic: [{ model: 'fraud@1', weight: 100 }],
      scaling: { minReplicas: 0, maxReplicas: 1, idleTimeout: '200ms' },
    });
    await mp.waitDeployment('cold');
    const asleep = async () => {
      for (;;) {
        const d = await mp.getDeployment('cold');
        if (d.status.targets[0]?.replicas.desired === 0) return;
        await sleep(50);
      }
    };
    const colds: number[] = [];
    for (let i = 0; i < 7; i++) {
      await asleep();
      colds.push((await call(server.url, 'cold')).ms);
    }
    await asleep();
    const coldStarts = async () => {
      const text = await (await fetch(`${server.url}/metrics`)).text();
      const m = /^modelport_cold_starts_total\{model="fraud",version="1"\} (\d+)$/m.exec(text);
      return Number(m?.[1] ?? 0);
    };
    const before = await coldStarts();
    const burst = await Promise.all(Array.from({ length: 50 }, () => call(server.url, 'cold')));
    const started = (await coldStarts()) - before;
    out['coldStart'] = { medianMs: median(colds), samplesMs: colds.map((x) => Math.round(x)) };
    out['burstFromZero'] = {
      requests: 50,
      ok: burst.filter((r) => r.status === 200).length,
      workersStarted: started,
    };

    // 4. Graceful shutdown with requests in flight (they wait 300 ms in the batcher).
    await mp.createDeployment('drain', {
      traffic: [{ model: 'fraud@1', weight: 100 }],
      runtime: { batching: { maxBatchSize: 64, maxQueueDelay: '300ms' } },
    });
    await mp.waitDeployment('drain');
    const pending = Array.from({ length: 30 }, () => call(server.url, 'drain'));
    await sleep(50);
    const t0 = performance.now();
    await server.close();
    const done = await Promise.all(pending);
    out['shutdown'] = {
      inFlight: 30,
      completed: done.filter((r) => r.status === 200).length,
      closeMs: Math.round(performance.now() - t0),
    };
  } finally {
    await server.close().catch(() => {});
    await rm(home, { recursive: true, force: true });
  }

  const t = out['transitions'] as Record<string, { requests: number; failed: number }>;
  const s = out['split'] as Record<string, { observedPct: number; errorPp: number; configToEffectMs: number }>;
  const c = out['coldStart'] as { medianMs: number; samplesMs: number[] };
  const b = out['burstFromZero'] as { ok: number; workersStarted: number };
  const g = out['shutdown'] as { inFlight: number; completed: number; closeMs: number };
  console.log('Deployments reliability (2-core machine; load generator in the same process)');
  for (const [label, r] of Object.entries(t))
    console.log(`  ${label.padEnd(24)} ${r.requests} requests, ${r.failed} failed`);
  for (const [pct, r] of Object.entries(s)) {
    console.log(
      `  canary ${pct.padEnd(4)} observed ${r.observedPct.toFixed(1)}% (error ${r.errorPp.toFixed(1)} pp over 2000), config to effect ${r.configToEffectMs.toFixed(0)} ms`,
    );
  }
  console.log(`  cold start from zero     median ${c.medianMs.toFixed(0)} ms (samples ${c.samplesMs.join(', ')} ms)`);
  console.log(`  burst of 50 from zero    ${b.ok}/50 answered 200; workers started: ${b.workersStarted}`);
  console.log(
    `  graceful shutdown        ${g.completed}/${g.inFlight} in-flight requests completed; close took ${g.closeMs} ms`,
  );
  await mkdir(new URL('./out/', import.meta.url), { recursive: true });
  await writeFile(new URL('./out/deployments.json', import.meta.url), `${JSON.stringify(out, null, 2)}\n`);
}

await main();
