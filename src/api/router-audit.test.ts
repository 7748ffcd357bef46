import assert from 'node:assert/strict';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { after, before, describe, test } from 'node:test';
import { z } from 'zod';
import type { AuditEvent } from '../audit/index.ts';
import { ModelportError } from '../core/index.ts';
import { silentLogger } from '../logging/index.ts';
import type { Authorizer } from './authorizer.ts';
import { route } from './route.ts';
import { createRouter } from './router.ts';

const specs = new Map<string, unknown>([['fraud', { replicas: 1 }]]);

const routes = [
  route({
    id: 'changeThing',
    method: 'PUT',
    path: '/projects/:project/things/:name',
    permission: 'write',
    tag: 'things',
    summary: 'Change a thing',
    params: z.strictObject({ project: z.string(), name: z.string() }),
    body: z.strictObject({ spec: z.object({ replicas: z.number() }) }),
    response: z.object({ replicas: z.number() }),
    audit: {
      before: async ({ params }) => specs.get(params.name) ?? null,
      detail: (_ctx, before, after) => ({ before, after }),
    },
    handler: async ({ params, body }) => {
      specs.set(params.name, body.spec);
      return body.spec;
    },
  }),
  route({
    id: 'createThing',
    method: 'POST',
    path: '/projects/:project/things',
    permission: 'write',
    tag: 'things',
    summary: 'Create a thing',
    params: z.strictObject({ project: z.string() }),
    body: z.strictObject({ name: z.string() }),
    status: 201,
    response: z.object({ name: z.string() }),
    audit: { object: ({ body }) => body.name },
    handler: async ({ body }) => ({ name: body.name }),
  }),
  route({
    id: 'listThings',
    method: 'GET',
    path: '/projects/:project/things',
    permission: 'read',
    tag: 'things',
    summary: 'List things',
    params: z.strictObject({ project: z.string() }),
    response: z.object({ things: z.array(z.string()) }),
    handler: async () => ({ things: [...specs.keys()] }),
  }),
  route({
    id: 'deleteEverything',
    method: 'DELETE',
    path: '/admin/:name',
    permission: 'admin',
    tag: 'things',
    summary: 'Admin only',
    params: z.strictObject({ name: z.string() }),
    response: 'empty',
    handler: async () => {},
  }),
];

/** `authorization: ada` signs in as ada with read and write; no header is a 401; admin routes are a 403. */
const authorizer = {
  authenticate: async (req: { headers: Record<string, string | string[] | undefined> }) => {
    const who = req.headers['authorization'];
    if (typeof who !== 'string') throw new ModelportError('unauthenticated', 'send a token');
    return { subject: `user:${who}`, user: who, token: { name: 'laptop' }, projects: '*', permissions: new Set() };
  },
  authorize: (_principal: unknown, permission: string) => {
    if (permission === 'admin') throw new ModelportError('forbidden', "this route needs the 'admin' permission");
  },
} as unknown as Authorizer;

describe('the router records mutations and denials in the audit log', () => {
  let server: Server;
  let base: string;
  const events: AuditEvent[] = [];

  before(async () => {
    const handle = createRouter(routes, {
      authorizer,
      maxJsonBytes: 1024,
      log: silentLogger(),
      audit: {
        record: async (e) => {
          events.push(e);
        },
      },
    });
    server = createServer((req, res) => void handle(req, res, (req.url ?? '/').split('?')[0]!));
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  });
  after(() => new Promise<void>((resolve) => server.close(() => resolve())));

  const call = (method: string, path: string, body?: unknown, who: string | null = 'ada') =>
    fetch(`${base}${path}`, {
      method,
      headers: { 'content-type': 'application/json', ...(who ? { authorization: who } : {}) },
      ...(body === undefined ? {} : { body: JSON.stringify(body) }),
    });

  test('who, what, outcome and before/after; reads are not recorded; denials are', async () => {
    events.length = 0;
    assert.equal((await call('PUT', '/projects/p1/things/fraud', { spec: { replicas: 3 } })).status, 200);
    assert.equal((await call('POST', '/projects/p1/things', { name: 'churn' })).status, 201);
    assert.equal((await call('GET', '/projects/p1/things')).status, 200);
    assert.equal((await call('PUT', '/projects/p1/things/fraud', { spec: { replicas: 'x' } })).status, 400);
    assert.equal((await call('GET', '/projects/p1/things', undefined, null)).status, 401);
    assert.equal((await call('DELETE', '/admin/everything')).status, 403);
    const rows = events.map((e) => ({
      who: e.principal?.subject ?? 'anonymous',
      token: e.principal?.token?.name,
      what: `${e.method} ${e.route} ${e.project ?? '-'} ${e.object ?? '-'}`,
      outcome: `${e.status}${e.errorCode ? ` ${e.errorCode}` : ''}`,
    }));
    assert.deepEqual(rows, [
      { who: 'user:ada', token: 'laptop', what: 'PUT /projects/:project/things/:name p1 fraud', outcome: '200' },
      { who: 'user:ada', token: 'laptop', what: 'POST /projects/:project/things p1 churn', outcome: '201' },
      {
        who: 'user:ada',
        token: 'laptop',
        what: 'PUT /projects/:project/things/:name p1 fraud',
        outcome: '400 invalid_request',
      },
      // The caller is identified before any route is matched (the route table cannot be probed anonymously), so
      // an anonymous call is recorded without a route.
      { who: 'anonymous', token: undefined, what: 'GET (no route) - -', outcome: '401 unauthenticated' },
      { who: 'user:ada', token: 'laptop', what: 'DELETE /admin/:name - everything', outcome: '403 forbidden' },
    ]);
    assert.deepEqual(events[0]?.detail, { before: { replicas: 1 }, after: { replicas: 3 } });
  });

  test('a mutation is recorded before it is answered', async () => {
    let answeredBeforeStored = false;
    let stored = false;
    const handle = createRouter(routes, {
      authorizer,
      maxJsonBytes: 1024,
      log: silentLogger(),
      audit: {
        record: async () => {
          await new Promise((resolve) => setImmediate(resolve));
          stored = true;
        },
      },
    });
    const s = createServer((req, res) => {
      res.once('finish', () => {
        if (!stored) answeredBeforeStored = true;
      });
      void handle(req, res, (req.url ?? '/').split('?')[0]!);
    });
    await new Promise<void>((resolve) => s.listen(0, '127.0.0.1', resolve));
    try {
      const port = (s.address() as AddressInfo).port;
      const res = await fetch(`http://127.0.0.1:${port}/projects/p1/things`, {
        method: 'POST',
        headers: { 'content-type': 'application/json', authorization: 'ada' },
        body: '{"name":"x"}',
      });
      assert.equal(res.status, 201);
      assert.equal(stored, true);
      assert.equal(answeredBeforeStored, false);
    } finally {
      await new Promise<void>((resolve) => s.close(() => resolve()));
    }
  });
});
