import assert from 'node:assert/strict';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { after, before, describe, test } from 'node:test';
import { z } from 'zod';
import { ModelportError } from '../core/index.ts';
import { memoryLogger } from '../logging/index.ts';
import { type Authorizer, LocalAuthorizer } from './authorizer.ts';
import { buildOpenApiDocument } from './openapi.ts';
import { type AnyRoute, type Principal, repeated, route } from './route.ts';
import { compileRoutes, createRouter } from './router.ts';

const routes = [
  route({
    id: 'createThing',
    method: 'POST',
    path: '/projects/:project/things',
    permission: 'write',
    tag: 'things',
    summary: 'Create a thing',
    params: z.strictObject({ project: z.string() }),
    query: z.strictObject({ tag: repeated(z.string()) }),
    body: z.strictObject({ name: z.string().min(1), size: z.number().int().positive().optional() }),
    status: 201,
    response: z.object({ project: z.string(), name: z.string(), tags: z.array(z.string()) }),
    handler: async ({ params, query, body }) => ({ project: params.project, name: body.name, tags: query.tag }),
  }),
  route({
    id: 'boom',
    method: 'GET',
    path: '/boom',
    permission: 'read',
    tag: 'things',
    summary: 'Fails unexpectedly',
    response: z.object({}),
    handler: async () => {
      throw new Error('secret detail /etc/passwd');
    },
  }),
  route({
    id: 'adminOnly',
    method: 'GET',
    path: '/admin-only',
    permission: 'admin',
    tag: 'things',
    summary: 'Needs admin',
    response: z.object({ ok: z.boolean() }),
    handler: async () => ({ ok: true }),
  }),
];

/** Grants read and write only: admin routes must be refused. */
const editor: Principal = {
  subject: 'user:t',
  user: 't',
  token: { id: '0123456789abcdef', name: 't' },
  serverAdmin: false,
  roles: new Map([['p1', 'editor']]),
  code: new Set(),
  groups: [],
  scope: undefined,
};
const readWrite: Authorizer = {
  required: true,
  authenticate: async () => editor,
  identify: () => editor,
  authorize: (principal, permission, project) => new LocalAuthorizer().authorize(principal, permission, project),
};

describe('control-plane router', () => {
  let server: Server;
  let base: string;
  const log = memoryLogger();

  before(async () => {
    const handle = createRouter(routes, { authorizer: readWrite, maxJsonBytes: 1024, log });
    server = createServer((req, res) => void handle(req, res, (req.url ?? '/').split('?')[0]!));
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  });
  after(() => new Promise<void>((resolve) => server.close(() => resolve())));

  const post = (path: string, body: string, type = 'application/json') =>
    fetch(`${base}${path}`, { method: 'POST', body, headers: { 'content-type': type } });

  test('validates params, repeated query and body, and answers with the declared status', async () => {
    const res = await post('/projects/p1/things?tag=a&tag=b', JSON.stringify({ name: 'x' }));
    assert.equal(res.status, 201);
    assert.deepEqual(await res.json(), { project: 'p1', name: 'x', tags: ['a', 'b'] });
  });

  const cases: [string, string, string, number, string, string | undefined][] = [
    ['unknown field', '/projects/p1/things', '{"name":"x","colour":"red"}', 400, 'unknown_field', 'body.colour'],
    ['invalid field', '/projects/p1/things', '{"name":""}', 400, 'invalid_request', 'body.name'],
    ['wrong type', '/projects/p1/things', '{"name":"x","size":-1}', 400, 'invalid_request', 'body.size'],
    ['malformed json', '/projects/p1/things', '{"name":', 400, 'invalid_json', undefined],
    ['deep json', '/projects/p1/things', `${'['.repeat(200)}${']'.repeat(200)}`, 400, 'invalid_json', undefined],
    [
      'oversized body',
      '/projects/p1/things',
      JSON.stringify({ name: 'x'.repeat(5000) }),
      413,
      'payload_too_large',
      undefined,
    ],
    ['other project', '/projects/p2/things', '{"name":"x"}', 403, 'forbidden', undefined],
    ['unknown query field', '/projects/p1/things?colour=red', '{"name":"x"}', 400, 'unknown_field', 'query.colour'],
  ];
  for (const [what, path, body, status, code, field] of cases) {
    test(`${what} -> ${status} ${code}`, async () => {
      const res = await post(path, body);
      assert.equal(res.status, status);
      const json = (await res.json()) as { error: { code: string; field?: string; message: string } };
      assert.equal(json.error.code, code);
      assert.equal(json.error.field, field);
      assert.ok(json.error.message.length > 0);
    });
  }

  test('wrong content type -> 415', async () => {
    const res = await post('/projects/p1/things', 'name=x', 'application/x-www-form-urlencoded');
    assert.equal(res.status, 415);
  });

  test('unknown route -> 404, wrong method -> 405', async () => {
    assert.equal((await fetch(`${base}/nope`)).status, 404);
    assert.equal((await fetch(`${base}/projects/p1/things`)).status, 405);
  });

  test('a missing permission -> 403', async () => {
    const res = await fetch(`${base}/admin-only`);
    assert.equal(res.status, 403);
  });

  test('unexpected errors answer 500 without details and are logged', async () => {
    const res = await fetch(`${base}/boom`);
    assert.equal(res.status, 500);
    const text = await res.text();
    assert.ok(!text.includes('passwd') && !text.includes('secret'), text);
    // Logged at error level with the stack and the request id; the client saw none of it.
    const record = log.records.find((r) => r.msg === 'GET /api/v1/boom failed');
    assert.equal(record?.level, 'error');
    const err = record?.['err'] as { message: string; stack: string };
    assert.match(err.message, /secret detail/);
    assert.match(err.stack, /router\.test\.ts/);
    assert.match(String(record?.['requestId']), /^[0-9a-f-]{36}$/);
  });
});

test('a route without a permission is refused when the table is compiled', () => {
  const bad = { ...routes[0]!, permission: undefined } as unknown as AnyRoute;
  assert.throws(() => compileRoutes([bad]), /declares no permission/);
  assert.throws(() => compileRoutes([routes[0]!, routes[0]!]), /declared twice/);
});

test('every route has a unique camelCase operation id', () => {
  const unnamed = { ...routes[1]!, id: undefined } as unknown as AnyRoute;
  assert.throws(() => compileRoutes([unnamed]), /needs an operation id/);
  const twin = { ...routes[1]!, path: '/boom-again' };
  assert.throws(() => compileRoutes([routes[1]!, twin]), /operation id boom is used by two routes/);
});

test("a handler's result is checked against its response schema when it compiles", () => {
  const checked = route({
    id: 'typed',
    method: 'GET',
    path: '/typed',
    permission: 'read',
    tag: 'things',
    summary: 'Typed',
    response: z.object({ count: z.number() }),
    // @ts-expect-error a string is not the number the response schema declares
    handler: async () => ({ count: 'one' }),
  });
  const stream = route({
    id: 'download',
    method: 'GET',
    path: '/download',
    permission: 'read',
    tag: 'things',
    summary: 'Writes its own answer',
    response: 'stream',
    // @ts-expect-error a streaming route writes the response itself and returns nothing
    handler: async () => ({ count: 1 }),
  });
  assert.deepEqual([checked.id, stream.id], ['typed', 'download']);
});

test('the OpenAPI document comes from the same schemas', () => {
  const doc = buildOpenApiDocument(routes, '1.0.0') as {
    openapi: string;
    paths: Record<string, Record<string, Record<string, unknown>>>;
  };
  assert.equal(doc.openapi, '3.1.0');
  const op = doc.paths['/api/v1/projects/{project}/things']!['post']!;
  assert.equal(op['x-permission'], 'write');
  assert.equal(op['operationId'], 'createThing');
  const body = (
    op['requestBody'] as { content: Record<string, { schema: { properties: object; additionalProperties: boolean } }> }
  ).content['application/json']!.schema;
  assert.deepEqual(Object.keys(body.properties), ['name', 'size']);
  assert.equal(body.additionalProperties, false);
  const params = op['parameters'] as { name: string; in: string }[];
  assert.deepEqual(
    params.map((p) => `${p.in}:${p.name}`),
    ['path:project', 'query:tag'],
  );
});

test('ModelportError maps to the catalogue status', () => {
  assert.equal(new ModelportError('overloaded', 'x').httpStatus, 429);
  assert.equal(new ModelportError('not_found', 'x').grpcStatus, 5);
});
