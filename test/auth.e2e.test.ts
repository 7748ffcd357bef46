/**
 * Auth end to end: a real server on loopback with --auth, real tokens made through the CLI, and each role doing
 * exactly what it may over REST, gRPC (a grpc-js client) and the CLI. Expired and revoked tokens are refused, a
 * token never reaches the log or the database in clear, and the health probes answer without one.
 */
import assert from 'node:assert/strict';
import { mkdtemp, readFile, rm, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { credentials, Metadata } from '@grpc/grpc-js';
import { main } from '../src/cli/main.ts';
import { ModelportClient } from '../src/client/client.ts';
import { loadInferenceProto } from '../src/serving/grpc/grpc-client.fixture.ts';
import { REPO_ROOT, startTestServer, type TestServer } from './support/server.ts';

interface Run {
  code: number;
  stdout: string;
  stderr: string;
}

describe('auth on loopback with --auth', () => {
  let t: TestServer;
  let admin: string;
  const tokens: Record<string, string> = {};
  let body: string;
  let onnx: Buffer;

  /** The CLI as a user runs it, with MODELPORT_TOKEN set (or not). */
  const cli = async (token: string | undefined, ...argv: string[]): Promise<Run> =>
    cliWith({ MODELPORT_URL: t.url, ...(token ? { MODELPORT_TOKEN: token } : {}) }, ...argv);
  const cliWith = async (env: Record<string, string>, ...argv: string[]): Promise<Run> => {
    let stdout = '';
    let stderr = '';
    const code = await main(argv, env, {
      out: (s) => {
        stdout += s;
      },
      err: (s) => {
        stderr += s;
      },
      interactive: false,
    });
    return { code, stdout, stderr };
  };
  const ok = async (token: string | undefined, ...argv: string[]) => {
    const run = await cli(token, ...argv);
    assert.equal(run.code, 0, `modelport ${argv.join(' ')}: ${run.stderr}`);
    return run.stdout;
  };
  const api = (token: string | undefined, method: string, path: string, payload?: unknown, type?: string) =>
    fetch(`${t.url}${path}`, {
      method,
      headers: {
        ...(token ? { authorization: `Bearer ${token}` } : {}),
        ...(payload !== undefined ? { 'content-type': type ?? 'application/json' } : {}),
      },
      body: payload === undefined ? undefined : payload instanceof Uint8Array ? payload : JSON.stringify(payload),
    });
  const infer = (token: string | undefined, model = 'fraud') =>
    fetch(`${t.url}/v2/models/${model}/infer`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', ...(token ? { authorization: `Bearer ${token}` } : {}) },
      body,
    });

  before(async () => {
    t = await startTestServer('embedded', { auth: 'true', example: 'true' });
    body = await readFile(join(REPO_ROOT, 'examples', 'fraud', 'sample-request.json'), 'utf8');
    onnx = await readFile(join(REPO_ROOT, 'examples', 'fraud', 'model.onnx'));
    admin = t.server.auth.adminToken!;
    assert.match(admin, /^mp_[0-9a-f]{16}_[A-Za-z0-9_-]{43}$/);
    for (const [name, role, extra] of [
      ['vera', 'viewer', []],
      ['eddie', 'editor', []],
      ['cody', 'editor', ['--code']],
      ['ada', 'admin', []],
    ] as const) {
      await ok(admin, 'users', 'create', name);
      await ok(admin, 'members', 'add', 'default', name, role, ...extra);
      tokens[name] = (await ok(admin, 'tokens', 'create', 'laptop', '--user', name)).trim();
    }
  });
  after(() => t?.close());

  test('the first start wrote the admin token to <home>/admin-token, mode 0600', async () => {
    assert.equal((await readFile(join(t.home, 'admin-token'), 'utf8')).trim(), admin);
    assert.equal((await stat(join(t.home, 'admin-token'))).mode & 0o777, 0o600);
    assert.equal((await stat(join(t.home, 'token.key'))).mode & 0o777, 0o600);
    assert.match(await ok(admin, 'whoami'), /user:\s+admin[\s\S]*server admin: yes/);
  });

  test('without a token only the health probes answer; the rest is 401 with WWW-Authenticate', async () => {
    for (const path of ['/v2/health/live', '/v2/health/ready'])
      assert.equal((await api(undefined, 'GET', path)).status, 200);
    for (const [method, path] of [
      ['GET', '/api/v1/projects'],
      ['GET', '/api/v1/info'],
      ['GET', '/api/v1/openapi.json'],
      ['POST', '/api/v1/secrets/rotate'],
      ['GET', '/metrics'],
      ['GET', '/v2'],
      ['GET', '/v2/models/fraud'],
      ['GET', '/v1/models/fraud'],
      ['GET', '/api/v1/projects/default/models/fraud/versions/1/artifact'],
      ['GET', '/api/v1/no-such-route'],
      ['PATCH', '/api/v1/projects'],
    ]) {
      const res = await api(undefined, method!, path!);
      assert.equal(res.status, 401, `${method} ${path}`);
      assert.equal(res.headers.get('www-authenticate'), 'Bearer realm="modelport"');
    }
    const v2 = await infer(undefined);
    assert.equal(v2.status, 401);
    assert.deepEqual(Object.keys((await v2.json()) as object), ['error']);
    const forged = await api(
      'mp_0123456789abcdef_AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA',
      'GET',
      '/api/v1/projects',
    );
    assert.equal(forged.status, 401);
    assert.equal(((await forged.json()) as { error: { code: string } }).error.code, 'unauthenticated');
    const basic = await fetch(`${t.url}/api/v1/projects`, { headers: { authorization: 'Basic YWRtaW46YWRtaW4=' } });
    assert.equal(basic.status, 401);
    // The console's files load; its API calls need a token.
    assert.equal((await api(undefined, 'GET', '/')).status, 200);
  });

  test('each role does exactly what it may over REST', async () => {
    const { vera, eddie, cody, ada } = tokens as Record<string, string>;
    const status = async (token: string, method: string, path: string, payload?: unknown, type?: string) =>
      (await api(token, method, path, payload, type)).status;
    const models = '/api/v1/projects/default/models';
    // Reading: every role.
    for (const token of [vera!, eddie!, ada!]) assert.equal(await status(token, 'GET', `${models}/fraud`), 200);
    // Inference: editor and admin, not viewer.
    assert.equal((await infer(vera)).status, 403);
    assert.match(((await (await infer(vera)).json()) as { error: string }).error, /'editor' role.*you have 'viewer'/);
    assert.equal((await infer(eddie)).status, 200);
    assert.equal((await infer(ada)).status, 200);
    // Registering: editor, not viewer; a js model needs the code permission (checked before the model is loaded).
    const upload = `${models}/uploaded/versions`;
    assert.equal(await status(vera!, 'POST', upload, onnx, 'application/octet-stream'), 403);
    assert.equal(await status(eddie!, 'POST', upload, onnx, 'application/octet-stream'), 201);
    const js = await api(eddie, 'POST', `${upload}?format=js`, onnx, 'application/octet-stream');
    assert.equal(js.status, 403);
    assert.match(((await js.json()) as { error: { message: string } }).error.message, /code permission/);
    assert.equal(await status(cody!, 'POST', `${upload}?format=js`, onnx, 'application/octet-stream'), 400);
    // The same through a model type whose runtime is js: ?type=js, or a type an administrator added with runtime js.
    const teamJs = {
      name: 'team-js',
      runtime: 'js',
      default_base_image: { name: 'modelport', value: 'ghcr.io/modelport/modelport:0.1.0' },
      available_base_images: [{ name: 'modelport', value: 'ghcr.io/modelport/modelport:0.1.0' }],
    };
    assert.equal(await status(admin, 'POST', '/api/v1/modeltypes', teamJs), 201);
    const versionsBefore = await (await api(eddie, 'GET', `${models}/uploaded/versions`)).text();
    for (const type of ['js', 'team-js']) {
      const typed = await api(eddie, 'POST', `${upload}?type=${type}`, onnx, 'application/octet-stream');
      assert.equal(typed.status, 403, `?type=${type} without the code permission`);
      assert.match(((await typed.json()) as { error: { message: string } }).error.message, /code permission/);
      // With it, the check goes on to the model itself (an ONNX file is no js package: 400, not 403).
      assert.equal(await status(cody!, 'POST', `${upload}?type=${type}`, onnx, 'application/octet-stream'), 400);
    }
    assert.equal(
      await (await api(eddie, 'GET', `${models}/uploaded/versions`)).text(),
      versionsBefore,
      'nothing stored',
    );
    // Secrets, deletes and members: the project admin.
    const secret = '/api/v1/projects/default/secrets/API_KEY';
    assert.equal(await status(eddie!, 'PUT', secret, { value: 'x' }), 403);
    assert.equal(await status(ada!, 'PUT', secret, { value: 'x' }), 200);
    assert.equal(await status(eddie!, 'DELETE', `${models}/uploaded`), 403);
    assert.equal(await status(ada!, 'DELETE', `${models}/uploaded`), 204);
    assert.equal(await status(eddie!, 'PUT', '/api/v1/projects/default/members/user/vera', { role: 'editor' }), 403);
    assert.equal(await status(ada!, 'PUT', '/api/v1/projects/default/members/user/vera', { role: 'viewer' }), 200);
    // Server-wide: only the server admin.
    for (const [method, path, payload] of [
      ['POST', '/api/v1/projects', { name: 'fraud-team' }],
      ['POST', '/api/v1/secrets/rotate', {}],
      ['POST', '/api/v1/users', { name: 'mallory' }],
      ['GET', '/api/v1/users', undefined],
    ] as const) {
      assert.equal(await status(ada!, method, path, payload), 403, `${method} ${path}`);
    }
    assert.equal(await status(admin, 'POST', '/api/v1/projects', { name: 'fraud-team' }), 201);
    // Another project: no role there, no access; listings show only projects with a role.
    assert.equal(await status(ada!, 'GET', '/api/v1/projects/fraud-team/models'), 403);
    const listed = (await (await api(ada, 'GET', '/api/v1/projects')).json()) as { projects: { name: string }[] };
    assert.deepEqual(
      listed.projects.map((p) => p.name),
      ['default'],
    );
    assert.equal(await status(ada!, 'GET', '/metrics'), 200);
  });

  test('gRPC: UNAUTHENTICATED without a token, PERMISSION_DENIED for a viewer, served for an editor', async () => {
    const { GRPCInferenceService } = loadInferenceProto();
    const grpc = new GRPCInferenceService(`127.0.0.1:${t.server.grpcPort}`, credentials.createInsecure());
    const call = <T>(method: string, request: object, token?: string) =>
      new Promise<T>((resolve, reject) => {
        const metadata = new Metadata();
        if (token) metadata.set('authorization', `Bearer ${token}`);
        (grpc as unknown as Record<string, (r: object, m: Metadata, cb: (e: Error | null, v: T) => void) => void>)[
          method
        ]!(request, metadata, (error, value) => (error ? reject(error) : resolve(value)));
      });
    const row = (JSON.parse(body) as { inputs: { data: number[] }[] }).inputs[0]!.data.slice(0, 30);
    const request = {
      model_name: 'fraud',
      inputs: [{ name: 'input', datatype: 'FP32', shape: [1, 30] }],
      raw_input_contents: [Buffer.from(new Float32Array(row).buffer)],
    };
    try {
      assert.deepEqual(await call('ServerLive', {}), { live: true });
      assert.deepEqual(await call('ServerReady', {}), { ready: true });
      await assert.rejects(call('ServerMetadata', {}), (e: { code: number }) => e.code === 16);
      await assert.rejects(call('ModelInfer', request), (e: { code: number }) => e.code === 16);
      await assert.rejects(
        call('ModelInfer', request, tokens['vera']),
        (e: { code: number; details: string }) => e.code === 7 && /editor/.test(e.details),
      );
      const answer = await call<{ model_name: string }>('ModelInfer', request, tokens['eddie']);
      assert.equal(answer.model_name, 'fraud');
      assert.deepEqual(await call('ModelReady', { name: 'fraud', version: '' }, tokens['eddie']), { ready: true });
    } finally {
      grpc.close();
    }
  });

  test('the CLI: refusals name the code; tokens list, revoke; a revoked token stops at once', async () => {
    const denied = await cli(tokens['vera'], 'models', 'delete', 'fraud');
    assert.equal(denied.code, 1);
    assert.match(denied.stderr, /^modelport: this needs the 'admin' role on project 'default'.*\(forbidden\)\n$/);
    const anonymous = await cli(undefined, 'models', 'list');
    assert.equal(anonymous.code, 1);
    assert.match(anonymous.stderr, /\(unauthenticated\)/);
    assert.match(await ok(tokens['vera'], 'whoami'), /user:\s+vera[\s\S]*default=viewer/);
    const spare = (await ok(tokens['vera'], 'tokens', 'create', 'spare')).trim();
    const listed = JSON.parse(await ok(tokens['vera'], 'tokens', 'list', '-o', 'json')) as {
      id: string;
      name: string;
    }[];
    assert.deepEqual(listed.map((x) => x.name).sort(), ['laptop', 'spare']);
    assert.ok(!JSON.stringify(listed).includes(spare.slice(-43)));
    // Another user's tokens: the server admin's business only.
    assert.equal((await cli(tokens['vera'], 'tokens', 'list', '--user', 'eddie')).code, 1);
    assert.equal(JSON.parse(await ok(admin, 'tokens', 'list', '--all', '-o', 'json')).length >= 6, true);
    const id = listed.find((x) => x.name === 'spare')!.id;
    assert.equal((await api(spare, 'GET', '/api/v1/projects')).status, 200);
    await ok(tokens['vera'], 'tokens', 'revoke', id);
    assert.equal((await api(spare, 'GET', '/api/v1/projects')).status, 401);
  });

  test('login stores the token 0600 under XDG_CONFIG_HOME; --token and MODELPORT_TOKEN win; the client reads the env', async () => {
    const config = await mkdtemp(join(tmpdir(), 'modelport-config-'));
    try {
      const env = { MODELPORT_URL: t.url, XDG_CONFIG_HOME: config };
      assert.equal((await cliWith(env, 'whoami')).code, 1);
      const login = await cliWith(env, 'login', '--token', tokens['vera']!);
      assert.equal(login.code, 0, login.stderr);
      const file = join(config, 'modelport', 'credentials');
      assert.equal((await stat(file)).mode & 0o777, 0o600);
      assert.match((await cliWith(env, 'whoami')).stdout, /user:\s+vera/);
      assert.match((await cliWith(env, '--token', tokens['eddie']!, 'whoami')).stdout, /user:\s+eddie/);
      assert.match((await cliWith({ ...env, MODELPORT_TOKEN: admin }, 'whoami')).stdout, /user:\s+admin/);
      const refused = await cliWith(env, 'login', '--token', 'mp_nope');
      assert.equal(refused.code, 1);
      assert.match(refused.stderr, /\(unauthenticated\)/);
      assert.equal((await cliWith(env, 'logout')).code, 0);
      assert.equal((await cliWith(env, 'whoami')).code, 1);
      const client = ModelportClient.fromEnv({ MODELPORT_URL: t.url, MODELPORT_TOKEN: tokens['vera'] });
      assert.equal((await client.whoami()).user, 'vera');
    } finally {
      await rm(config, { recursive: true, force: true });
    }
  });

  test('an expired token is refused', async () => {
    const short = JSON.parse(
      await ok(admin, 'tokens', 'create', 'short', '--user', 'eddie', '--expires-in', '1s', '-o', 'json'),
    ) as { token: string; expiresAt: string };
    // Wait on the condition (the clock passing the expiry), then assert the refusal.
    while (Date.now() <= Date.parse(short.expiresAt)) await new Promise((r) => setTimeout(r, 50));
    const res = await infer(short.token);
    assert.equal(res.status, 401);
    assert.match(((await res.json()) as { error: string }).error, /expired/);
  });

  test('a token scoped to one deployment infers there and nowhere else; an open deployment needs none', async () => {
    const app = JSON.parse(
      await ok(admin, 'tokens', 'create', 'fraud-app', '--user', 'eddie', '--deployment', 'fraud', '-o', 'json'),
    ) as { token: string };
    assert.equal((await infer(app.token)).status, 200);
    assert.equal((await infer(app.token, 'other')).status, 403);
    assert.equal((await api(app.token, 'GET', '/api/v1/projects')).status, 403);
    const open = await api(admin, 'POST', '/api/v1/projects/default/deployments', {
      name: 'public-fraud',
      spec: { traffic: [{ model: 'fraud@1', weight: 100 }], auth: 'open' },
    });
    assert.equal(open.status, 201);
    const ready = await api(admin, 'GET', '/api/v1/projects/default/deployments/public-fraud/wait?timeout=60');
    const { status } = (await ready.json()) as { status: { conditions: { type: string; status: string }[] } };
    assert.ok(status.conditions.some((c) => c.type === 'Ready' && c.status === 'True'));
    assert.equal((await infer(undefined, 'public-fraud')).status, 200);
    assert.equal((await infer(undefined, 'fraud')).status, 401);
  });

  test('a rate-limited token gets 429 with Retry-After', async () => {
    const limited = JSON.parse(
      await ok(admin, 'tokens', 'create', 'limited', '--user', 'eddie', '--rate-limit', '1', '-o', 'json'),
    ) as { token: string };
    assert.equal((await infer(limited.token)).status, 200);
    const refused = await infer(limited.token);
    assert.equal(refused.status, 429);
    assert.equal(refused.headers.get('retry-after'), '1');
  });

  test('no token appears in the log or in clear in the database', async () => {
    const all = [admin, ...Object.values(tokens)];
    const log = t.logText();
    const files = ['modelport.db', 'modelport.db-wal'].map((f) => join(t.home, f));
    const bytes = Buffer.concat(await Promise.all(files.map((f) => readFile(f).catch(() => Buffer.alloc(0)))));
    for (const token of all) {
      const secret = token.slice(-43);
      assert.ok(!log.includes(secret), 'a token secret is in the log');
      assert.ok(!bytes.includes(secret), 'a token secret is in the database');
    }
  });
});

describe('auth and the listening address', () => {
  test('off loopback auth is on by itself; --insecure-no-auth turns it off with a warning on every start', async () => {
    const exposed = await startTestServer('embedded', { host: '0.0.0.0' });
    try {
      const port = new URL(exposed.url.replace('0.0.0.0', '127.0.0.1')).port;
      assert.equal((await fetch(`http://127.0.0.1:${port}/api/v1/projects`)).status, 401);
      assert.equal(exposed.server.auth.enabled, true);
      assert.ok(exposed.server.auth.adminToken);
    } finally {
      await exposed.close();
    }
    const insecure = await startTestServer('embedded', { host: '0.0.0.0', insecureNoAuth: 'true' });
    try {
      const port = new URL(insecure.url.replace('0.0.0.0', '127.0.0.1')).port;
      assert.equal((await fetch(`http://127.0.0.1:${port}/api/v1/projects`)).status, 200);
      assert.ok(/auth is OFF on a non-loopback address/.test(insecure.logText()));
    } finally {
      await insecure.close();
    }
  });

  test('on loopback without --auth the single-user mode needs no token', async () => {
    const local = await startTestServer('embedded');
    try {
      assert.equal((await fetch(`${local.url}/api/v1/projects`)).status, 200);
      const me = (await (await fetch(`${local.url}/api/v1/whoami`)).json()) as {
        subject: string;
        serverAdmin: boolean;
      };
      assert.deepEqual([me.subject, me.serverAdmin], ['local', true]);
      assert.equal(local.server.auth.adminToken, undefined);
    } finally {
      await local.close();
    }
  });
});
