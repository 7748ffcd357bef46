/**
 * The compose bundle's gateway as the bundle runs it, with real processes on loopback: the real compose renderer
 * writes the bundle for a canary deployment (sticky, with a shadow); its two serving services run their rendered
 * `serve-model` commands on the example ONNX model (ONNX Runtime); the gateway runs its rendered command line with
 * the rendered routes.json (service URLs pointed at the loopback ports, as compose's DNS would). Checked: routing
 * by deployment name, model name, tag, version and the model-id header (V2, V1, Seldon), the weighted split,
 * stickiness, the shadow's agreement, a reload of the routes file, 404 / 413 / 502 / 504 answers, readiness, and
 * that a broken routes file stops the gateway naming the field.
 */
import assert from 'node:assert/strict';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { parse } from 'yaml';
import { openSources, revisionOf } from '../src/backends/backend.fixture.ts';
import { ComposeBackend } from '../src/backends/compose/compose-backend.ts';
import type { GatewayRoutes } from '../src/backends/image/gateway/index.ts';
import { ManifestValidator } from '../src/backends/schema-validation.ts';
import type { DeploymentSpecInput } from '../src/deployments/spec.ts';
import { type CommandProcess, runCommand, startCommand, stopProcess } from './support/process.ts';
import { REPO_ROOT } from './support/server.ts';

const MODEL = join(REPO_ROOT, 'examples', 'fraud', 'model.onnx');
const SAMPLE = join(REPO_ROOT, 'examples', 'fraud', 'sample-request.json');
const SPEC: DeploymentSpecInput = {
  traffic: [
    { model: 'fraud@1', weight: 70, tag: 'stable' },
    { model: 'fraud@2', weight: 30, tag: 'canary' },
  ],
  shadow: { model: 'fraud@3', percent: 100 },
  sticky: { header: 'x-user-id' },
};

let dir: string;
let closeSources: () => Promise<void>;
let backend: ComposeBackend;
let compose: { services: Record<string, { command: string[] }> };
let routesFile: string;
let upstreams: Record<string, CommandProcess>;
let gateway: CommandProcess;
let sample: string;
/** compose service URL -> the loopback URL of the process playing it. */
let loopback: Map<string, string>;

/** The bundle's files for a revision of `fraud-api`, from the real renderer (validated as on apply). */
async function render(spec: DeploymentSpecInput, revision = 1) {
  const files = await backend.render(revisionOf('fraud-api', spec, revision));
  const file = (path: string) => files.find((f) => f.path === path)!.content;
  return { compose: parse(file('base/docker-compose.yaml')), routes: JSON.parse(file('base/gateway/routes.json')) };
}

/** routes.json with every service URL pointed where its process listens. */
function pointed(routes: GatewayRoutes, urls: Map<string, string>): GatewayRoutes {
  const at = (url: string) => urls.get(url) ?? assert.fail(`no process plays ${url}`);
  return {
    deployments: routes.deployments.map((d) => ({
      ...d,
      traffic: d.traffic.map((t) => ({ ...t, url: at(t.url) })),
      ...(d.shadow ? { shadow: { ...d.shadow, url: at(d.shadow.url) } } : {}),
    })),
  };
}

/** A rendered command line with the given option values replaced (a container's paths and ports). */
function withValues(command: readonly string[], values: Record<string, string>): string[] {
  return command.map((arg, i) => {
    const option = command[i - 1]?.startsWith('--') ? command[i - 1]!.slice(2) : undefined;
    return option !== undefined && values[option] !== undefined ? values[option] : arg;
  });
}

async function startGatewayProcess(file: string, extra: string[] = []): Promise<CommandProcess> {
  const command = withValues(compose.services['gateway']!.command, { routes: file, port: '0' });
  return startCommand([...command, '--host', '127.0.0.1', ...extra], {}, /gateway at (http:\/\/\S+)/);
}

interface Answer {
  status: number;
  target: string | null;
  body: { error?: string; outputs?: { name: string; data: number[] }[]; [key: string]: unknown };
}

async function call(path: string, init: RequestInit = {}, base = gateway.url): Promise<Answer> {
  const res = await fetch(`${base}${path}`, init);
  const text = await res.text();
  return { status: res.status, target: res.headers.get('modelport-target'), body: text ? JSON.parse(text) : {} };
}

const infer = (name: string, headers: Record<string, string> = {}, base?: string) =>
  call(
    `/v2/models/${name}/infer`,
    { method: 'POST', body: sample, headers: { 'content-type': 'application/json', ...headers } },
    base,
  );

const labelOf = (answer: Answer) => answer.body.outputs?.find((o) => o.name === 'label')?.data;

before(async () => {
  dir = await mkdtemp(join(tmpdir(), 'modelport-compose-gateway-'));
  const opened = await openSources();
  closeSources = opened.close;
  backend = new ComposeBackend({
    bundleDir: dir,
    sources: opened.sources,
    validator: new ManifestValidator(),
    artifacts: join(dir, 'artifacts'),
  });
  sample = await readFile(SAMPLE, 'utf8');
  const bundle = await render(SPEC);
  compose = bundle.compose;
  // Each serving service runs its own rendered command, on the model file compose's model-download would fetch.
  const started = await Promise.all(
    ['s-fraud-v1', 's-fraud-v2'].map((service) =>
      startCommand(
        [
          ...withValues(compose.services[service]!.command, { 'model-uri': MODEL, port: '0' }),
          '--host',
          '127.0.0.1',
          '--grpc-port',
          '0',
        ],
        { MODELPORT_HOME: dir },
        /serving \S+ at (http:\/\/\S+)/,
      ),
    ),
  );
  upstreams = { v1: started[0]!, v2: started[1]! };
  // fraud@3, the shadow, is played by v1's process (the same model, so the two answers agree).
  loopback = new Map([
    ['http://s-fraud-v1:8080', upstreams['v1']!.url],
    ['http://s-fraud-v2:8080', upstreams['v2']!.url],
    ['http://s-fraud-v3:8080', upstreams['v1']!.url],
  ]);
  routesFile = join(dir, 'routes.json');
  await writeFile(routesFile, JSON.stringify(pointed(bundle.routes, loopback)));
  gateway = await startGatewayProcess(routesFile, ['--reload-interval', '100ms']);
});

after(async () => {
  await Promise.all([gateway, ...Object.values(upstreams ?? {})].map((p) => p && stopProcess(p.child)));
  await closeSources?.();
  await rm(dir, { recursive: true, force: true });
});

describe('compose gateway', () => {
  test("runs the bundle's gateway command line as rendered, and is live and ready", async () => {
    assert.deepEqual(compose.services['gateway']!.command, [
      'gateway',
      '--routes',
      '/etc/modelport/routes.json',
      '--port',
      '8080',
    ]);
    assert.equal((await call('/v2/health/live')).status, 200);
    const ready = await call('/v2/health/ready');
    assert.equal(ready.status, 200);
    assert.equal(ready.body['ready'], true);
  });

  test('routes V2 by deployment name and by model name to a real ONNX answer', async () => {
    const byDeployment = await infer('fraud-api');
    assert.equal(byDeployment.status, 200);
    assert.deepEqual(labelOf(byDeployment), [0, 1]);
    assert.match(byDeployment.target ?? '', /^fraud@[12]$/);
    const byModel = await infer('fraud');
    assert.equal(byModel.status, 200);
    assert.deepEqual(labelOf(byModel), [0, 1]);
    const metadata = await call('/v2/models/fraud-api');
    assert.equal(metadata.status, 200);
    assert.equal(metadata.body['name'], 'fraud', 'the upstream answers for the model it serves');
  });

  test('a tag (name@tag or modelport-tag) or /versions/N picks the target', async () => {
    assert.equal((await infer('fraud-api@canary')).target, 'fraud@2');
    assert.equal((await infer('fraud-api', { 'modelport-tag': 'stable' })).target, 'fraud@1');
    const versioned = await call('/v2/models/fraud-api/versions/2/infer', {
      method: 'POST',
      body: sample,
      headers: { 'content-type': 'application/json' },
    });
    assert.equal(versioned.status, 200);
    assert.equal(versioned.target, 'fraud@2');
  });

  test('Seldon routes by the model-id header, V1 by the path', async () => {
    const { inputs } = JSON.parse(sample) as { inputs: { data: number[] }[] };
    const data = inputs[0]!.data;
    const rows = [data.slice(0, 30), data.slice(30, 60)];
    const seldon = await call('/api/v1.0/predictions', {
      method: 'POST',
      body: JSON.stringify({ data: { ndarray: rows } }),
      headers: { 'content-type': 'application/json', 'model-id': 'fraud-api', 'modelport-tag': 'canary' },
    });
    assert.equal(seldon.status, 200, JSON.stringify(seldon.body));
    assert.equal(seldon.target, 'fraud@2');
    assert.ok(seldon.body['data'], 'a Seldon answer');
    const noHeader = await call('/api/v1.0/predictions', { method: 'POST', body: '{}' });
    assert.equal(noHeader.status, 400);
    assert.match(noHeader.body.error ?? '', /model-id/);
    const v1 = await call('/v1/models/fraud-api:predict', {
      method: 'POST',
      body: JSON.stringify({ instances: rows }),
      headers: { 'content-type': 'application/json' },
    });
    assert.equal(v1.status, 200, JSON.stringify(v1.body));
    assert.ok(Array.isArray(v1.body['predictions']));
  });

  test('splits traffic by the weights (70/30), and a sticky header keeps its target', async () => {
    const counts: Record<string, number> = {};
    for (let batch = 0; batch < 10; batch++) {
      const answers = await Promise.all(Array.from({ length: 20 }, () => infer('fraud-api')));
      for (const a of answers) {
        assert.equal(a.status, 200);
        counts[a.target ?? 'none'] = (counts[a.target ?? 'none'] ?? 0) + 1;
      }
    }
    const canary = counts['fraud@2'] ?? 0;
    assert.equal((counts['fraud@1'] ?? 0) + canary, 200, JSON.stringify(counts));
    assert.ok(canary >= 36 && canary <= 84, `fraud@2 got ${canary} of 200 (expected about 60)`);
    for (const user of ['user-1', 'user-2', 'user-3']) {
      const targets = new Set<string | null>();
      for (let i = 0; i < 8; i++) targets.add((await infer('fraud-api', { 'x-user-id': user })).target);
      assert.equal(targets.size, 1, `${user} moved between targets`);
    }
  });

  test('mirrors to the shadow and counts agreement in /metrics', async () => {
    let metrics = '';
    for (let i = 0; i < 50 && !/outcome="agree"} [1-9]/.test(metrics); i++) {
      await new Promise((resolve) => setTimeout(resolve, 100));
      metrics = await (await fetch(`${gateway.url}/metrics`)).text();
    }
    assert.match(metrics, /modelport_shadow_requests_total\{deployment="fraud-api",outcome="agree"} [1-9]/);
    assert.doesNotMatch(metrics, /outcome="disagree"/);
    assert.match(metrics, /modelport_gateway_requests_total\{deployment="fraud-api",target="fraud@2",code="200"}/);
  });

  test('an unknown model or tag is 404 with a JSON error; other paths too', async () => {
    const unknown = await infer('nope');
    assert.equal(unknown.status, 404);
    assert.match(unknown.body.error ?? '', /no deployment or model 'nope'/);
    const tag = await infer('fraud-api@blue');
    assert.equal(tag.status, 404);
    assert.match(tag.body.error ?? '', /no target tagged 'blue'/);
    assert.equal((await call('/v2/models/fraud-api/explain')).status, 404);
  });

  test('re-reads routes.json when the bundle is regenerated', async () => {
    const next = await render({ traffic: [{ model: 'fraud@2', weight: 100 }] }, 2);
    await writeFile(routesFile, JSON.stringify(pointed(next.routes, loopback)));
    let streak = 0;
    for (let i = 0; i < 100 && streak < 10; i++) {
      streak = (await infer('fraud-api')).target === 'fraud@2' ? streak + 1 : 0;
      if (streak === 0) await new Promise((resolve) => setTimeout(resolve, 50));
    }
    assert.equal(streak, 10, 'all traffic goes to fraud@2 after the reload');
    assert.equal((await infer('fraud-api@canary')).status, 404, 'the old tags are gone');
  });

  test('an upstream that is down is 502, and readiness says which', async () => {
    await stopProcess(upstreams['v2']!.child);
    const down = await infer('fraud-api');
    assert.equal(down.status, 502);
    assert.match(down.body.error ?? '', /fraud@2 is unreachable/);
    const ready = await call('/v2/health/ready');
    assert.equal(ready.status, 503);
    assert.deepEqual(ready.body['notReady'], ['fraud@2']);
  });
});

describe('compose gateway limits', () => {
  let hanging: Server;
  let limited: CommandProcess | undefined;
  before(async () => {
    // An upstream that reads requests and never answers them.
    hanging = createServer((req) => req.resume());
    hanging.listen(0, '127.0.0.1');
    await new Promise((resolve) => hanging.once('listening', resolve));
    const url = `http://127.0.0.1:${(hanging.address() as AddressInfo).port}`;
    const { routes } = await render(SPEC);
    const file = join(dir, 'routes-hanging.json');
    await writeFile(file, JSON.stringify(pointed(routes, new Map([...loopback.keys()].map((k) => [k, url])))));
    limited = await startGatewayProcess(file, ['--timeout', '300ms', '--max-body-size', '1KiB']);
  });
  after(async () => {
    if (limited) await stopProcess(limited.child);
    hanging.closeAllConnections();
    await new Promise((resolve) => hanging.close(resolve));
  });

  test('an upstream that does not answer in time is 504; a body over the cap is 413', async () => {
    const small = await call('/v2/models/fraud-api/infer', { method: 'POST', body: '{}' }, limited!.url);
    assert.equal(small.status, 504);
    assert.match(small.body.error ?? '', /did not answer within 0.3 s/);
    const big = await call('/v2/models/fraud-api/infer', { method: 'POST', body: 'x'.repeat(4096) }, limited!.url);
    assert.equal(big.status, 413);
    assert.match(big.body.error ?? '', /larger than the gateway's limit of 1024 bytes/);
    // Streamed (chunked, no content-length): cut off once the cap is passed.
    const chunks = [Buffer.alloc(800, 120), Buffer.alloc(800, 120)];
    const streamed = await call(
      '/v2/models/fraud-api/infer',
      {
        method: 'POST',
        body: new ReadableStream({ pull: (c) => (chunks.length ? c.enqueue(chunks.shift()!) : c.close()) }),
        duplex: 'half',
      } as RequestInit,
      limited!.url,
    );
    assert.equal(streamed.status, 413);
  });
});

describe('compose gateway routes validation', () => {
  type Editable = { deployments: { traffic: Record<string, unknown>[]; shadow: Record<string, unknown> }[] };
  const broken: [string, (routes: Editable) => void, RegExp][] = [
    [
      'a weight that is not a number',
      (r) => (r.deployments[0]!.traffic[1]!['weight'] = 'thirty'),
      /deployments\[0\]\.traffic\[1\]\.weight: must be a number from 0 to 100/,
    ],
    [
      'weights that do not add up to 100',
      (r) => (r.deployments[0]!.traffic[1]!['weight'] = 20),
      /deployments\[0\]\.traffic: the weights add up to 90; make them add up to 100/,
    ],
    [
      'a URL with a path',
      (r) => (r.deployments[0]!.traffic[0]!['url'] = 'http://s-fraud-v1:8080/elsewhere'),
      /deployments\[0\]\.traffic\[0\]\.url: .* is not the service URL/,
    ],
    [
      'an unknown field',
      (r) => (r.deployments[0]!.shadow['mirror'] = true),
      /deployments\[0\]\.shadow\.mirror: unknown field/,
    ],
  ];
  for (const [what, breakIt, message] of broken) {
    test(`a routes file with ${what} stops the gateway, naming the field`, async () => {
      const { routes } = await render(SPEC);
      breakIt(routes);
      const file = join(dir, `routes-broken-${Math.random().toString(36).slice(2)}.json`);
      await writeFile(file, JSON.stringify(routes));
      const result = await runCommand(withValues(compose.services['gateway']!.command, { routes: file, port: '0' }));
      assert.equal(result.code, 1, result.stderr);
      assert.match(result.stderr, message);
      assert.match(result.stderr, /invalid_config/);
    });
  }

  test('a missing routes file stops the gateway naming --routes', async () => {
    const result = await runCommand(['gateway', '--routes', join(dir, 'absent.json'), '--port', '0']);
    assert.equal(result.code, 1);
    assert.match(result.stderr, /--routes: cannot read/);
  });
});
