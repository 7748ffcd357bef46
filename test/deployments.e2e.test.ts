/**
 * Deployments end to end on a real server with real worker processes: rollouts and canary shifts under load
 * without a failed request, split accuracy, tags and sticky routing, shadows, scale from zero, a revision that
 * cannot load, restart recovery, deletion, and graceful shutdown. No timing thresholds: only counts and states.
 */
import assert from 'node:assert/strict';
import { readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { trainFraudModel } from '../examples/fraud/train.ts';
import { ModelportApiError, ModelportClient } from '../src/client/client.ts';
import type { Deployment } from '../src/deployments/types.ts';
import { buildLogisticRegressionModel } from '../src/onnx-builder/index.ts';
import { cli } from './support/cli.ts';
import { startTestServer, type TestServer } from './support/server.ts';

const first = trainFraudModel({ seed: 1, rows: 4000 });
const second = trainFraudModel({ seed: 3, rows: 4000 });
/** Only the "cannot load" test uses it: its artifact is corrupted there, so it must be shared with no other model. */
const third = trainFraudModel({ seed: 5, rows: 4000 });
const row = first.samples.fraud;
const body = JSON.stringify({ inputs: [{ name: 'input', datatype: 'FP32', shape: [1, 30], data: row }] });

async function call(url: string, name: string, headers: Record<string, string> = {}) {
  const res = await fetch(`${url}/v2/models/${name}/infer`, {
    method: 'POST',
    body,
    headers: { 'content-type': 'application/json', ...headers },
  });
  const json = (await res.json()) as { model_version?: string; error?: string };
  return {
    status: res.status,
    version: json.model_version,
    error: json.error,
    retryAfter: res.headers.get('retry-after'),
  };
}

/** Closed-loop load from `clients` concurrent callers until stopped; returns every status seen. */
function load(url: string, name: string, clients = 6) {
  let running = true;
  const statuses: number[] = [];
  const errors: string[] = [];
  const loops = Array.from({ length: clients }, async () => {
    while (running) {
      try {
        const r = await call(url, name);
        statuses.push(r.status);
        if (r.status !== 200) errors.push(`${r.status} ${r.error}`);
      } catch (error) {
        statuses.push(0);
        errors.push(String(error));
      }
    }
  });
  return {
    statuses,
    errors,
    async stop() {
      running = false;
      await Promise.all(loops);
    },
  };
}

async function until<T>(what: string, probe: () => Promise<T | undefined>, attempts = 400): Promise<T> {
  for (let i = 0; i < attempts; i++) {
    const value = await probe();
    if (value !== undefined) return value;
    await new Promise((r) => setTimeout(r, 50));
  }
  throw new Error(`gave up waiting for ${what}`);
}

describe('deployments', () => {
  let t: TestServer;
  let mp: ModelportClient;

  before(async () => {
    t = await startTestServer('embedded');
    mp = new ModelportClient({ url: t.url });
    await mp.registerVersion('fraud', first.onnx, { aliases: ['champion'] });
    await mp.registerVersion('fraud', second.onnx, { aliases: ['challenger'] });
  });
  after(() => t.close());

  test('create, wait, show: status conditions, revision, replicas and URL', async () => {
    await mp.createDeployment('basic', { traffic: [{ model: 'fraud@champion', weight: 100 }] });
    const d = await mp.waitDeployment('basic');
    assert.equal(d.currentRevision, 1);
    assert.equal(d.status.observedGeneration, d.generation);
    assert.deepEqual(
      d.status.conditions.map((c) => `${c.type}=${c.status}`),
      ['Ready=True', 'RolledOut=True', 'Failed=False'],
    );
    assert.deepEqual(
      d.status.targets.map((x) => [x.model, x.version, x.weight, x.replicas.ready]),
      [['fraud', 1, 100, 1]],
    );
    assert.equal(d.status.urls.rest, `${t.url}/v2/models/basic/infer`);
    assert.equal((await call(t.url, 'basic')).version, '1');
    // Applying the same spec again is a no-op: no new revision.
    const again = await mp.applyDeployment('basic', { traffic: [{ model: 'fraud@champion', weight: 100 }] });
    assert.equal(again.latestRevision, 1);
    await assert.rejects(
      mp.createDeployment('basic', { traffic: [{ model: 'fraud', weight: 100 }] }),
      (e: unknown) => e instanceof ModelportApiError && e.code === 'already_exists',
    );
  });

  test('bad specs are refused naming the field, and nothing changes', async () => {
    const cases: [unknown, string][] = [
      [{ traffic: [{ model: 'fraud', weight: 60 }] }, 'spec.traffic'],
      [{ traffic: [{ model: 'ghost', weight: 100 }] }, 'spec.traffic[0].model'],
      [{ traffic: [{ model: 'fraud@9', weight: 100 }] }, 'spec.traffic[0].model'],
      [
        { traffic: [{ model: 'fraud', weight: 100 }], scaling: { minReplicas: 3, maxReplicas: 1 } },
        'spec.scaling.maxReplicas',
      ],
      [
        { traffic: [{ model: 'fraud', weight: 100 }], scaling: { scaleDownDelay: 'soon' } },
        'spec.scaling.scaleDownDelay',
      ],
      [{ traffic: [{ model: 'fraud', weight: 100, colour: 'red' }] }, 'body.spec.traffic[0].colour'],
    ];
    for (const [spec, field] of cases) {
      await assert.rejects(mp.applyDeployment('basic', spec as never), (e: unknown) => {
        assert.ok(e instanceof ModelportApiError, String(e));
        assert.equal(e.field, field, e.message);
        return e.status >= 400 && e.status < 500;
      });
    }
    assert.equal((await mp.getDeployment('basic')).latestRevision, 1);
  });

  test('rolling update and canary shift under steady load: zero failed requests', async () => {
    await mp.createDeployment('rolling', { traffic: [{ model: 'fraud@1', weight: 100 }] });
    await mp.waitDeployment('rolling');
    const traffic = load(t.url, 'rolling');
    await until('some traffic', async () => (traffic.statuses.length > 50 ? true : undefined));
    await mp.applyDeployment('rolling', { traffic: [{ model: 'fraud@2', weight: 100 }] });
    await mp.waitDeployment('rolling');
    const afterRollout = traffic.statuses.length;
    await until('traffic on the new revision', async () =>
      traffic.statuses.length > afterRollout + 50 ? true : undefined,
    );
    await mp.applyDeployment('rolling', {
      traffic: [
        { model: 'fraud@2', weight: 50, tag: 'stable' },
        { model: 'fraud@1', weight: 50, tag: 'canary' },
      ],
    });
    await mp.waitDeployment('rolling');
    await mp.rollbackDeployment('rolling', 1);
    await mp.waitDeployment('rolling');
    const afterAll = traffic.statuses.length;
    await until('traffic after the rollback', async () => (traffic.statuses.length > afterAll + 50 ? true : undefined));
    await traffic.stop();
    assert.deepEqual(traffic.errors, []);
    assert.ok(traffic.statuses.length > 200);
    assert.equal((await call(t.url, 'rolling')).version, '1');
  });

  test('a 10% canary split over 2,000 requests lands within 3 points; tags and sticky headers route exactly', async () => {
    await mp.createDeployment('split', {
      traffic: [
        { model: 'fraud@1', weight: 90, tag: 'stable' },
        { model: 'fraud@2', weight: 10, tag: 'canary' },
      ],
      sticky: { header: 'x-user' },
    });
    await mp.waitDeployment('split');
    let canary = 0;
    const total = 2000;
    for (let batch = 0; batch < total / 50; batch++) {
      const results = await Promise.all(Array.from({ length: 50 }, () => call(t.url, 'split')));
      for (const r of results) {
        assert.equal(r.status, 200);
        if (r.version === '2') canary++;
      }
    }
    const share = (canary / total) * 100;
    assert.ok(Math.abs(share - 10) <= 3, `canary got ${share.toFixed(1)}%`);

    for (let i = 0; i < 20; i++) assert.equal((await call(t.url, 'split@canary')).version, '2');
    assert.equal((await call(t.url, 'split', { 'modelport-tag': 'stable' })).version, '1');
    assert.equal((await call(t.url, 'split@nope')).status, 404);
    for (const user of ['alice', 'bob', 'carol', 'dave']) {
      const seen = new Set<string | undefined>();
      for (let i = 0; i < 10; i++) seen.add((await call(t.url, 'split', { 'x-user': user })).version);
      assert.equal(seen.size, 1, `user ${user} moved between versions`);
    }
  });

  test('promote sends all traffic to the canary', async () => {
    const d = await mp.promoteDeployment('split');
    assert.deepEqual(d.spec.traffic, [{ model: 'fraud@2', weight: 100, tag: 'canary' }]);
    await mp.waitDeployment('split');
    for (let i = 0; i < 10; i++) assert.equal((await call(t.url, 'split')).version, '2');
  });

  test('after a rollback, show and promote use the serving revision, not the latest one', async () => {
    await mp.createDeployment('reverted', { traffic: [{ model: 'fraud@1', weight: 100 }] });
    await mp.waitDeployment('reverted');
    await mp.applyDeployment('reverted', {
      traffic: [
        { model: 'fraud@1', weight: 90, tag: 'stable' },
        { model: 'fraud@2', weight: 10, tag: 'canary' },
      ],
    });
    await mp.waitDeployment('reverted');
    const back = await mp.rollbackDeployment('reverted', 1);
    assert.deepEqual([back.currentRevision, back.latestRevision], [1, 2]);
    assert.deepEqual(back.spec.traffic, [{ model: 'fraud@1', weight: 100 }]);
    const d = await mp.waitDeployment('reverted');
    assert.deepEqual(d.spec.traffic, [{ model: 'fraud@1', weight: 100 }]);
    const shown = await cli(t.url, 'deployments', 'show', 'reverted', '-o', 'json');
    assert.equal(shown.code, 0, shown.stderr);
    assert.deepEqual((JSON.parse(shown.stdout) as Deployment).spec.traffic, [{ model: 'fraud@1', weight: 100 }]);
    // Revision 1 has no canary: promoting must not resurrect revision 2's.
    await assert.rejects(
      mp.promoteDeployment('reverted'),
      (e: unknown) => e instanceof ModelportApiError && e.code === 'conflict' && /no canary/.test(e.message),
    );
    const unchanged = await mp.getDeployment('reverted');
    assert.deepEqual([unchanged.currentRevision, unchanged.latestRevision], [1, 2]);
    for (let i = 0; i < 5; i++) assert.equal((await call(t.url, 'reverted')).version, '1');
  });

  test('a shadow gets a copy of the traffic and the deployment records agreement', async () => {
    await mp.createDeployment('shadowed', {
      traffic: [{ model: 'fraud@1', weight: 100 }],
      shadow: { model: 'fraud@1', percent: 100 },
    });
    await mp.waitDeployment('shadowed');
    for (let i = 0; i < 30; i++) assert.equal((await call(t.url, 'shadowed')).status, 200);
    const d = await until('30 shadow comparisons', async () => {
      const got = await mp.getDeployment('shadowed');
      return (got.status.shadow?.requests ?? 0) >= 30 ? got : undefined;
    });
    assert.equal(d.status.shadow?.errors, 0);
    assert.equal(d.status.shadow?.agreementRate, 1);
    const metrics = await (await fetch(`${t.url}/metrics`)).text();
    assert.match(metrics, /^modelport_shadow_requests_total\{deployment="shadowed",outcome="agree"\} 30$/m);
  });

  test('a shadow that fails is counted as an error; the primary answers as if it were not there', async () => {
    // The shadow takes 4 features, the primary 30: every mirrored request fails in the shadow.
    await mp.registerVersion(
      'narrow',
      buildLogisticRegressionModel({ weights: [0.5, -1, 0.25, 2], bias: 0.1, featureCount: 4 }),
    );
    await mp.createDeployment('misfit', {
      traffic: [{ model: 'fraud@1', weight: 100 }],
      shadow: { model: 'narrow@1', percent: 100 },
    });
    await mp.waitDeployment('misfit');
    for (let i = 0; i < 20; i++) {
      const r = await call(t.url, 'misfit');
      assert.deepEqual([r.status, r.version, r.error], [200, '1', undefined]);
    }
    // The answer is the primary's own, bit for bit: the same as fraud@1 called without a deployment.
    const outputs = async (path: string) => {
      const res = await fetch(`${t.url}/v2/models/${path}/infer`, {
        method: 'POST',
        body,
        headers: { 'content-type': 'application/json' },
      });
      assert.equal(res.status, 200);
      return ((await res.json()) as { outputs: { name: string; data: number[] }[] }).outputs.map((o) => [
        o.name,
        o.data,
      ]);
    };
    assert.deepEqual(await outputs('misfit'), await outputs('fraud/versions/1'));
    const d = await until('21 shadow outcomes', async () => {
      const got = await mp.getDeployment('misfit');
      return (got.status.shadow?.requests ?? 0) >= 21 ? got : undefined;
    });
    assert.deepEqual(
      {
        requests: d.status.shadow?.requests,
        errors: d.status.shadow?.errors,
        agreements: d.status.shadow?.agreements,
        agreementRate: d.status.shadow?.agreementRate,
      },
      { requests: 21, errors: 21, agreements: 0, agreementRate: null },
    );
    const metrics = await (await fetch(`${t.url}/metrics`)).text();
    assert.match(metrics, /^modelport_shadow_requests_total\{deployment="misfit",outcome="error"\} 21$/m);
    assert.doesNotMatch(metrics, /^modelport_shadow_requests_total\{deployment="misfit",outcome="(agree|disagree)"\}/m);
    await mp.deleteDeployment('misfit');
  });

  test('a deployment is routable the moment create accepts it: the first request waits for its start, never a 404', async () => {
    await mp.createDeployment('eager', {
      traffic: [{ model: 'fraud@2', weight: 100 }],
      scaling: { minReplicas: 0, maxReplicas: 1 },
    });
    // No wait for the reconcile: sent right after create answered.
    const results = await Promise.all(Array.from({ length: 5 }, () => call(t.url, 'eager')));
    assert.deepEqual(
      results.map((r) => [r.status, r.version]),
      Array(5).fill([200, '2']),
    );
  });

  test('scale to zero, then a burst of 50 from zero: all answered, exactly one worker started', async () => {
    await mp.createDeployment('sleepy', {
      traffic: [{ model: 'fraud@2', weight: 100 }],
      scaling: { minReplicas: 0, maxReplicas: 1, idleTimeout: '300ms' },
    });
    await mp.waitDeployment('sleepy');
    const asleep = await until('scaled to zero', async () => {
      const d = await mp.getDeployment('sleepy');
      return d.status.targets[0]?.replicas.desired === 0 && d.status.targets[0].replicas.ready === 0 ? d : undefined;
    });
    assert.equal(asleep.status.conditions.find((c) => c.type === 'Ready')?.status, 'True');
    const coldStarts = async () => {
      const text = await (await fetch(`${t.url}/metrics`)).text();
      return [...text.matchAll(/^modelport_cold_starts_total\{model="fraud",version="2"\} (\d+)$/gm)].reduce(
        (sum, m) => sum + Number(m[1]),
        0,
      );
    };
    const coldStartTimings = async () => {
      const text = await (await fetch(`${t.url}/metrics`)).text();
      return Number(/^modelport_cold_start_seconds_count\{model="fraud",version="2"\} (\d+)$/m.exec(text)?.[1] ?? 0);
    };
    const before = await coldStarts();
    const timedBefore = await coldStartTimings();
    const results = await Promise.all(Array.from({ length: 50 }, () => call(t.url, 'sleepy')));
    assert.deepEqual(
      results.map((r) => r.status),
      Array(50).fill(200),
    );
    assert.equal((await coldStarts()) - before, 1);
    // Counted and timed: one more observation of the cold-start histogram.
    assert.equal((await coldStartTimings()) - timedBefore, 1);
    const awake = await mp.getDeployment('sleepy');
    assert.equal(awake.status.targets[0]?.replicas.desired, 1);
  });

  test('from zero, a burst beyond the queue gets 429 with Retry-After; the queued requests are answered', async () => {
    await mp.createDeployment('tiny-queue', {
      traffic: [{ model: 'fraud@1', weight: 100 }],
      scaling: { minReplicas: 0, maxReplicas: 1, idleTimeout: '300ms' },
      runtime: { batching: { maxQueueSize: 4, maxBatchSize: 1 } },
    });
    await mp.waitDeployment('tiny-queue');
    await until('scaled to zero', async () => {
      const d = await mp.getDeployment('tiny-queue');
      return d.status.targets[0]?.replicas.desired === 0 ? d : undefined;
    });
    const results = await Promise.all(Array.from({ length: 40 }, () => call(t.url, 'tiny-queue')));
    const ok = results.filter((r) => r.status === 200).length;
    const refused = results.filter((r) => r.status === 429);
    assert.equal(ok + refused.length, 40, JSON.stringify(results.filter((r) => r.status !== 200 && r.status !== 429)));
    assert.ok(ok >= 1 && refused.length >= 1, `${ok} answered, ${refused.length} refused`);
    for (const r of refused) assert.equal(r.retryAfter, '1');
  });

  test('autoscaling on concurrency: up when in-flight requests pass the target, down after the delay', async () => {
    await mp.createDeployment('elastic', {
      traffic: [{ model: 'fraud@1', weight: 100 }],
      scaling: { minReplicas: 1, maxReplicas: 2, targetConcurrency: 1, scaleDownDelay: '500ms' },
    });
    await mp.waitDeployment('elastic');
    const replicas = async () => (await mp.getDeployment('elastic')).status.targets[0]?.replicas;
    const traffic = load(t.url, 'elastic', 6);
    await until('two ready replicas', async () => ((await replicas())?.ready === 2 ? true : undefined));
    await traffic.stop();
    assert.deepEqual(traffic.errors, []);
    await until('back to one replica', async () => {
      const r = await replicas();
      return r?.desired === 1 && r.ready === 1 ? true : undefined;
    });
  });

  test('a revision whose model cannot load gets no traffic; the old one keeps serving and status says why', async () => {
    const broken = await mp.registerVersion('brittle', first.onnx);
    await mp.registerVersion('brittle', third.onnx);
    await mp.createDeployment('guarded', { traffic: [{ model: 'brittle@1', weight: 100 }] });
    await mp.waitDeployment('guarded');
    // Corrupt version 2's stored artifact: the checksum check must stop it before any worker loads it.
    const v2 = await mp.getVersion('brittle', 2);
    assert.notEqual(v2.sha256, broken.sha256);
    const blobDir = join(t.home, 'artifacts', 'sha256', v2.sha256.slice(0, 2));
    const blob = join(blobDir, (await readdir(blobDir)).find((f) => f.startsWith(v2.sha256))!);
    const bytes = await readFile(blob);
    bytes[bytes.length - 5]! ^= 0xff;
    await writeFile(blob, bytes);

    const traffic = load(t.url, 'guarded', 3);
    await mp.applyDeployment('guarded', { traffic: [{ model: 'brittle@2', weight: 100 }] });
    await assert.rejects(
      mp.waitDeployment('guarded'),
      (e: unknown) => e instanceof ModelportApiError && /failed/.test(e.message),
    );
    const d: Deployment = await mp.getDeployment('guarded');
    await traffic.stop();
    assert.deepEqual(traffic.errors, []);
    const failed = d.status.conditions.find((c) => c.type === 'Failed');
    assert.equal(failed?.status, 'True');
    assert.match(failed?.message ?? '', /brittle@2 could not be loaded: .*sha256/);
    assert.equal(d.status.conditions.find((c) => c.type === 'Ready')?.status, 'True');
    assert.equal(d.status.servingRevision, 1);
    assert.equal((await call(t.url, 'guarded')).version, '1');
    // The failed revision is logged at warn by the deployments component, with the reason.
    const logged = t
      .logText()
      .split('\n')
      .filter((line) => line.startsWith('{'))
      .map((line) => JSON.parse(line) as Record<string, unknown>);
    assert.ok(
      logged.some(
        (r) =>
          r['msg'] === 'deployment revision failed' &&
          r['level'] === 'warn' &&
          r['component'] === 'deployments' &&
          r['deployment'] === 'guarded' &&
          r['reason'] === 'ModelLoadFailed',
      ),
      t.logText(),
    );
  });

  test('the CLI drives the whole lifecycle', async () => {
    const create = await cli(
      t.url,
      'deployments',
      'create',
      'viacli',
      '--model',
      'fraud@1',
      '--canary',
      'fraud@2:25',
      '--wait',
    );
    assert.equal(create.code, 0, create.stderr);
    assert.match(create.stdout, /traffic:\s+fraud@1 \(stable\) 75% 1\/1 ready, fraud@2 \(canary\) 25% 1\/1 ready/);
    const list = await cli(t.url, 'deployments', 'list');
    assert.match(list.stdout, /^viacli\s+True\s+1\s+fraud@1:75% fraud@2:25%/m);
    // promote and rollback --wait print the state they led to, not the one before the change.
    const promoted = await cli(t.url, 'deployments', 'promote', 'viacli', '--wait');
    assert.equal(promoted.code, 0, promoted.stderr);
    assert.match(promoted.stdout, /revision:\s+2 of 2 \(serving 2\)/);
    assert.match(promoted.stdout, /traffic:\s+fraud@2 \(canary\) 100% 1\/1 ready\n/);
    assert.doesNotMatch(promoted.stdout, /rolling out/);
    assert.equal((await cli(t.url, 'deployments', 'wait', 'viacli')).stdout, `${t.url}/v2/models/viacli/infer\n`);
    const rollback = await cli(t.url, 'deployments', 'rollback', 'viacli', '--wait');
    assert.match(rollback.stdout, /revision:\s+1 of 2 \(serving 1\)/);
    assert.match(rollback.stdout, /traffic:\s+fraud@1 \(stable\) 75% 1\/1 ready, fraud@2 \(canary\) 25% 1\/1 ready/);
    // Without --wait, the answer says what is rolling out.
    const again = await cli(t.url, 'deployments', 'promote', 'viacli');
    assert.match(again.stdout, /rolling out:\s+fraud@2 \(canary\) 100% \(--wait blocks until it serves\)/);
    assert.equal((await cli(t.url, 'deployments', 'wait', 'viacli')).code, 0);
    const refused = await cli(t.url, 'models', 'delete', 'fraud@2');
    assert.equal(refused.code, 1);
    assert.match(refused.stderr, /used by deployment/);
    const bad = await cli(t.url, 'deployments', 'create', 'x', '--model', 'fraud', '--canary', 'fraud@2');
    assert.equal(bad.code, 2);
    assert.match(bad.stderr, /--canary takes/);

    // apply -f takes the same document as the API, in YAML; show, rollback --to-revision, delete.
    const file = join(t.home, 'viacli.yaml');
    await writeFile(
      file,
      'name: viacli\nspec:\n  traffic:\n    - { model: fraud@2, weight: 100, tag: stable }\n  scaling: { minReplicas: 1, maxReplicas: 2 }\n',
    );
    const applied = await cli(t.url, 'deployments', 'apply', '-f', file, '--wait');
    assert.equal(applied.code, 0, applied.stderr);
    assert.match(applied.stdout, /revision:\s+4 of 4/);
    const shown = await cli(t.url, 'deployments', 'show', 'viacli');
    assert.match(shown.stdout, /ready:\s+True/);
    assert.match(shown.stdout, /traffic:\s+fraud@2 \(stable\) 100% 1\/1 ready/);
    const back = await cli(t.url, 'deployments', 'rollback', 'viacli', '--to-revision', '2');
    assert.match(back.stdout, /revision:\s+2 of 4/);
    assert.equal((await cli(t.url, 'deployments', 'wait', 'viacli')).code, 0);
    const deleted = await cli(t.url, 'deployments', 'delete', 'viacli');
    assert.equal(deleted.stdout, 'deleted deployment viacli\n');
    assert.match(
      deleted.stderr,
      /payload log, if it logged, is kept: payloads list viacli; delete it with --purge-payloads/,
    );
    assert.doesNotMatch((await cli(t.url, 'deployments', 'list')).stdout, /^viacli\s/m);
    assert.equal(t.server.host.list().filter((u) => u.key.startsWith('deploy:default/viacli/')).length, 0);
  });

  test('delete stops every worker and leaves nothing running', async () => {
    await mp.createDeployment('doomed', {
      traffic: [{ model: 'fraud@2', weight: 100 }],
      scaling: { minReplicas: 2, maxReplicas: 2 },
    });
    await mp.waitDeployment('doomed');
    const units = t.server.host.list().filter((s) => s.key.startsWith('deploy:default/doomed/'));
    const pids = units.flatMap((u) => u.pool.stats().workers.map((w) => w.pid!));
    assert.equal(pids.length, 2);
    await mp.deleteDeployment('doomed');
    assert.equal(t.server.host.list().filter((s) => s.key.startsWith('deploy:default/doomed/')).length, 0);
    await until('worker processes gone', async () =>
      pids.every((pid) => {
        try {
          process.kill(pid, 0);
          return false;
        } catch {
          return true;
        }
      })
        ? true
        : undefined,
    );
    await assert.rejects(
      mp.getDeployment('doomed'),
      (e: unknown) => e instanceof ModelportApiError && e.status === 404,
    );
  });
});

describe('deployments across a restart and a graceful shutdown', () => {
  test('after a restart every deployment comes back to its spec; in-flight requests finish on SIGTERM-style close', async () => {
    const t = await startTestServer('embedded');
    const mp = new ModelportClient({ url: t.url });
    await mp.registerVersion('fraud', first.onnx);
    await mp.createDeployment('durable', {
      traffic: [{ model: 'fraud@1', weight: 100 }],
      runtime: { batching: { maxBatchSize: 64, minBatchDelay: '400ms', maxQueueDelay: '400ms' } },
    });
    await mp.waitDeployment('durable');

    // Requests wait up to 400 ms in the batcher: they are in flight when the server is told to stop.
    const pending = Array.from({ length: 20 }, () => call(t.url, 'durable'));
    try {
      await until('20 requests in flight', async () => {
        const text = await (await fetch(`${t.url}/metrics`)).text();
        return /^modelport_inference_in_flight\{model="fraud",version="1"\} 20$/m.test(text) ? true : undefined;
      });
    } catch (error) {
      // Without this the server's workers outlive the failure and keep the test process from exiting.
      await t.close();
      throw error;
    }
    await t.server.close();
    const results = await Promise.all(pending);
    assert.deepEqual(
      results.map((r) => r.status),
      Array(20).fill(200),
    );

    const again = await startTestServer('embedded', { home: t.home });
    try {
      const d = await new ModelportClient({ url: again.url }).waitDeployment('durable');
      assert.equal(d.status.servingRevision, 1);
      assert.equal((await call(again.url, 'durable')).status, 200);
    } finally {
      await again.close();
      await rm(t.home, { recursive: true, force: true });
    }
  });
});
