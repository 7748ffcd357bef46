/**
 * The auth-bypass hostile suite (test/hostile/auth-bypass.ts) against a real --auth server on loopback with the
 * example deployment: more than a thousand cases generated from the route table and the inference routes, over
 * REST and gRPC. None may succeed, every route of the table is attacked, and nothing stored changes.
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { declaredRoutes } from '../src/api/routes/index.ts';
import { ModelportClient } from '../src/client/client.ts';
import { generateCases, prepareWorld, runCases, type World } from './hostile/auth-bypass.ts';
import { startTestServer, type TestServer } from './support/server.ts';

describe('auth bypass: generated hostile cases', () => {
  let t: TestServer;
  let world: World;
  let admin: ModelportClient;

  const snapshot = async () => ({
    projects: await admin.listProjects(),
    users: await admin.listUsers(),
    groups: await admin.listGroups(),
    tokens: (await admin.listTokens({ all: true })).map((x) => x.id),
    models: await admin.call('listModels'),
    deployments: (await admin.listDeployments()).map((d) => [d.name, d.generation]),
    secrets: await admin.listSecrets(),
    members: await admin.call('listMembers', { params: { project: 'default' } }),
  });

  before(async () => {
    t = await startTestServer('embedded', { auth: 'true', example: 'true' });
    admin = new ModelportClient({ url: t.url, token: t.server.auth.adminToken! });
    world = await prepareWorld(t.url, t.server.grpcPort!, t.server.auth.adminToken!, t.home);
  });
  after(() => t?.close());

  test('every route of the table is attacked, and the suite has at least 1,000 cases', () => {
    const { cases, perRoute } = generateCases(world);
    assert.ok(cases.length >= 1000, `${cases.length} cases`);
    for (const route of declaredRoutes()) {
      const n = perRoute.get(`${route.method} /api/v1${route.path}`) ?? 0;
      assert.ok(n >= 30, `${route.method} ${route.path} has only ${n} cases`);
    }
  });

  test('zero successes over REST and gRPC; nothing stored changes', async () => {
    const before = await snapshot();
    const { cases } = generateCases(world);
    const results = await runCases(world, cases);
    const successes = results.filter((r) => r.success);
    assert.deepEqual(
      successes.slice(0, 40).map((r) => `${r.case.target} [${r.case.label}] -> ${r.status}`),
      [],
      `${successes.length} of ${results.length} cases got in`,
    );
    // Refusals are refusals, not crashes: no 5xx and no gRPC INTERNAL/UNKNOWN.
    const crashes = results.filter((r) =>
      r.case.kind === 'http' ? r.status >= 500 : r.status === 13 || r.status === 2,
    );
    assert.deepEqual(
      crashes.slice(0, 10).map((r) => `${r.case.target} [${r.case.label}] -> ${r.status}`),
      [],
    );
    assert.deepEqual(await snapshot(), before);
    // The credentials themselves work where they should: the cases fail for the reason they test.
    assert.equal((await new ModelportClient({ url: t.url, token: world.tokens.viewer }).whoami()).user, 'bob');
    const viaSession = await fetch(`${t.url}/api/v1/whoami`, {
      headers: { cookie: `mp_session=${world.session.cookie}` },
    });
    assert.equal(viaSession.status, 200);
  });
});
