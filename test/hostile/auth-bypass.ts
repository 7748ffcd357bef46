/**
 * The auth-bypass hostile suite, generated: every route of the control API's route table (`declaredRoutes()`, the
 * same table the server mounts) and every inference route (REST V2, V1, Seldon, /metrics, OpenAPI; gRPC methods),
 * crossed with credentials that must never pass there (none, malformed, forged, expired, revoked, another project's
 * token, a viewer doing writes, a token scoped to one deployment, duplicate Authorization headers, the console's
 * cookie without its CSRF header or from another site, a rebinding Host), path spellings (`//`, `/./`, `%2f`,
 * case, trailing slashes, `..`, encoded letters, `;`, backslashes), and method tricks (HEAD, OPTIONS,
 * X-HTTP-Method-Override). A case succeeds when the server answers 2xx or 3xx (or gRPC OK): the expected count
 * of successes is zero. A route added to the table is covered the day it is added.
 *
 * Used by test/auth-bypass.e2e.test.ts and `npm run bench:security`.
 */
import { Agent, request as httpRequest } from 'node:http';
import { join } from 'node:path';
import { DatabaseSync } from 'node:sqlite';
import { credentials, Metadata } from '@grpc/grpc-js';
import type { AnyRoute } from '../../src/api/route.ts';
import { declaredRoutes } from '../../src/api/routes/index.ts';
import { ModelportClient } from '../../src/client/client.ts';
import { loadInferenceProto } from '../../src/serving/grpc/grpc-client.fixture.ts';

/** Credentials a case sends, by name. Built once against the running server by `prepareWorld`. */
export interface World {
  url: string;
  grpcPort: number;
  /** Bearer tokens: admin (server admin), viewer (bob, viewer on default), foreign (carol, admin of `other`). */
  tokens: {
    admin: string;
    viewer: string;
    foreign: string;
    expired: string;
    revoked: string;
    scoped: string;
    otherScoped: string;
  };
  /** A console session of the server admin: its cookie value and CSRF token. */
  session: { cookie: string; csrf: string };
  /** A session of another user (bob), for a CSRF token that belongs to someone else. */
  otherSession: { cookie: string; csrf: string };
}

export interface HttpCase {
  kind: 'http';
  /** What the case tries, for the failure report. */
  label: string;
  /** The route it attacks (`GET /api/v1/projects/:project/models`, `POST /v2/models/{name}/infer`). */
  target: string;
  method: string;
  path: string;
  headers: Record<string, string | string[]>;
  body?: string;
}

export interface GrpcCase {
  kind: 'grpc';
  label: string;
  target: string;
  method: 'ModelInfer' | 'ModelMetadata' | 'ModelReady' | 'ServerMetadata';
  request: object;
  metadata: [string, string][];
}

export type BypassCase = HttpCase | GrpcCase;

const UNSAFE = new Set(['POST', 'PUT', 'PATCH', 'DELETE']);

/** Concrete values for path parameters; what exists does not matter, the check runs before the handler. */
function concrete(route: AnyRoute): string {
  const values: Record<string, string> = {
    project: 'default',
    model: 'fraud',
    version: '1',
    alias: 'champion',
    id: '0123456789abcdef',
    kind: 'user',
    user: 'bob',
  };
  return `/api/v1${route.path.replace(/:([a-zA-Z]+)/g, (_, key: string) => {
    if (key === 'name') {
      if (route.path.startsWith('/users') || route.path.includes('/members/')) return 'bob';
      if (route.path.startsWith('/groups')) return 'analysts';
      if (route.path.startsWith('/modeltypes')) return 'onnx';
      if (route.path.includes('/secrets/')) return 'canary';
      return 'fraud';
    }
    return values[key] ?? 'x';
  })}`;
}

/** Spellings of one path that a lax router might take for it. */
export function pathVariants(path: string): [string, string][] {
  const [, first, rest] = /^\/([^/]+)(\/.*)?$/.exec(path) ?? [];
  const tail = rest ?? '';
  const lastSlash = path.lastIndexOf('/');
  const variants: [string, string][] = [
    ['trailing slash', `${path}/`],
    ['doubled slash', `/${first}/${tail.replace(/^\//, '/')}`.replace(/^\/([^/]+)\//, '/$1//')],
    ['leading //', `/${path}`],
    ['/./ segment', `/${first}/.${tail}`],
    ['/x/../ segment', `/${first}/x/..${tail}`],
    ['%2f for the last /', `${path.slice(0, lastSlash)}%2f${path.slice(lastSlash + 1)}`],
    ['%2F for the first /', `%2F${path.slice(1)}`.replace(/^%2F/, '/%2F')],
    ['upper case', path.toUpperCase()],
    ['capitalised prefix', path.replace(/^\/([a-z])/, (_, c: string) => `/${c.toUpperCase()}`)],
    [
      'percent-encoded letter',
      path.replace(/\/([a-z])([^/]*)$/, (_, c: string, r: string) => `/%${c.charCodeAt(0).toString(16)}${r}`),
    ],
    ['matrix ;', `${path};.json`],
    ['backslash', path.replace(/\//g, (m, i: number) => (i === lastSlash ? '\\' : m))],
    ['encoded dot segment', `/${first}/%2e${tail}`],
  ];
  return variants.filter(([, p]) => p !== path);
}

interface Cred {
  name: string;
  headers: Record<string, string | string[]>;
}

function credentialsFor(world: World, method: string): Cred[] {
  const { tokens, session, otherSession } = world;
  const bearer = (t: string) => ({ authorization: `Bearer ${t}` });
  const creds: Cred[] = [
    { name: 'no credentials', headers: {} },
    { name: 'empty Authorization', headers: { authorization: '' } },
    { name: 'Bearer with no token', headers: { authorization: 'Bearer ' } },
    { name: 'Basic admin:admin', headers: { authorization: 'Basic YWRtaW46YWRtaW4=' } },
    { name: 'garbage bearer', headers: bearer('not-a-token') },
    { name: 'forged well-formed token', headers: bearer(`mp_0123456789abcdef_${'A'.repeat(43)}`) },
    { name: "admin's id with another secret", headers: bearer(`${tokens.admin.slice(0, 20)}${'B'.repeat(43)}`) },
    { name: 'admin token truncated', headers: bearer(tokens.admin.slice(0, -1)) },
    { name: 'admin token with a NUL-free suffix', headers: bearer(`${tokens.admin}x`) },
    { name: 'expired token', headers: bearer(tokens.expired) },
    { name: 'revoked server-admin token', headers: bearer(tokens.revoked) },
    { name: 'token scoped to one deployment', headers: bearer(tokens.scoped) },
    {
      name: 'two Authorization headers (admin, admin)',
      headers: { authorization: [`Bearer ${tokens.admin}`, `Bearer ${tokens.admin}`] },
    },
    {
      name: 'two Authorization headers (garbage, admin)',
      headers: { authorization: ['Bearer x', `Bearer ${tokens.admin}`] },
    },
    { name: 'Authorization joined by a comma', headers: { authorization: `Bearer ${tokens.admin}, Bearer x` } },
    { name: 'admin token, rebinding Host', headers: { ...bearer(tokens.admin), host: 'attacker.example' } },
    {
      name: 'admin session cookie, rebinding Host',
      headers: {
        cookie: `mp_session=${session.cookie}`,
        'x-modelport-csrf': session.csrf,
        host: 'attacker.example:8080',
      },
    },
    { name: 'forged session cookie', headers: { cookie: `mp_session=0123456789abcdef_${'C'.repeat(43)}` } },
    {
      name: 'two session cookies',
      headers: {
        cookie: `mp_session=${otherSession.cookie}; mp_session=${session.cookie}`,
        'x-modelport-csrf': session.csrf,
      },
    },
  ];
  if (UNSAFE.has(method)) {
    creds.push(
      { name: 'admin session cookie without the CSRF header', headers: { cookie: `mp_session=${session.cookie}` } },
      {
        name: 'admin session cookie, wrong CSRF header',
        headers: { cookie: `mp_session=${session.cookie}`, 'x-modelport-csrf': 'x' },
      },
      {
        name: "admin session cookie, another session's CSRF",
        headers: { cookie: `mp_session=${session.cookie}`, 'x-modelport-csrf': otherSession.csrf },
      },
      {
        name: 'admin session cookie + CSRF, cross-site Origin',
        headers: {
          cookie: `mp_session=${session.cookie}`,
          'x-modelport-csrf': session.csrf,
          origin: 'https://attacker.example',
        },
      },
      {
        name: 'admin session cookie + CSRF, Sec-Fetch-Site cross-site',
        headers: {
          cookie: `mp_session=${session.cookie}`,
          'x-modelport-csrf': session.csrf,
          'sec-fetch-site': 'cross-site',
        },
      },
      {
        name: 'admin session cookie + CSRF, Origin null',
        headers: { cookie: `mp_session=${session.cookie}`, 'x-modelport-csrf': session.csrf, origin: 'null' },
      },
      {
        name: 'admin token, cross-site Origin',
        headers: { ...bearer(tokens.admin), origin: 'https://attacker.example' },
      },
    );
  }
  return creds;
}

/** Credentials that are valid but must be refused on this route by its permission. */
function roleCredentials(world: World, route: AnyRoute): Cred[] {
  const out: Cred[] = [];
  const project = route.path.includes(':project');
  if (route.permission !== 'read' && route.permission !== 'self') {
    out.push({ name: 'viewer doing a write', headers: { authorization: `Bearer ${world.tokens.viewer}` } });
  }
  if (project || (route.permission !== 'read' && route.permission !== 'self')) {
    out.push({ name: "another project's admin", headers: { authorization: `Bearer ${world.tokens.foreign}` } });
  }
  return out;
}

const FRAUD_ROW = JSON.stringify({
  inputs: [{ name: 'input', datatype: 'FP32', shape: [1, 30], data: new Array(30).fill(0) }],
});

/** The inference and other non-table routes that need a principal, with what a viewer and a stranger may do. */
const INFERENCE_ROUTES: {
  method: string;
  path: string;
  body?: string;
  headers?: Record<string, string>;
  readOnly: boolean;
}[] = [
  { method: 'POST', path: '/v2/models/fraud/infer', body: FRAUD_ROW, readOnly: false },
  { method: 'POST', path: '/v2/models/fraud/versions/1/infer', body: FRAUD_ROW, readOnly: false },
  { method: 'GET', path: '/v2/models/fraud', readOnly: false },
  { method: 'GET', path: '/v2/models/fraud/ready', readOnly: false },
  { method: 'GET', path: '/v2/models/fraud@champion', readOnly: false },
  { method: 'POST', path: '/v1/models/fraud:predict', body: '{"instances":[[0]]}', readOnly: false },
  { method: 'GET', path: '/v1/models/fraud', readOnly: false },
  {
    method: 'POST',
    path: '/api/v1.0/predictions',
    body: '{"data":{"ndarray":[[0]]}}',
    headers: { 'model-id': 'fraud' },
    readOnly: false,
  },
  {
    method: 'POST',
    path: '/predict',
    body: '{"data":{"ndarray":[[0]]}}',
    headers: { 'model-id': 'fraud' },
    readOnly: false,
  },
  { method: 'GET', path: '/v2', readOnly: true },
  { method: 'GET', path: '/metrics', readOnly: true },
  { method: 'GET', path: '/api/v1/openapi.json', readOnly: true },
];

export interface GeneratedSuite {
  cases: BypassCase[];
  /** Cases per control-API route (`METHOD /path`), to show every route is covered. */
  perRoute: Map<string, number>;
}

export function generateCases(world: World, routes: readonly AnyRoute[] = declaredRoutes()): GeneratedSuite {
  const cases: BypassCase[] = [];
  const perRoute = new Map<string, number>();
  const add = (c: BypassCase) => {
    cases.push(c);
    perRoute.set(c.target, (perRoute.get(c.target) ?? 0) + 1);
  };
  const json = (method: string): Record<string, string> =>
    UNSAFE.has(method) ? { 'content-type': 'application/json' } : {};

  for (const route of routes) {
    const target = `${route.method} /api/v1${route.path}`;
    const path = concrete(route);
    const body = UNSAFE.has(route.method) ? '{}' : undefined;
    const denied = [...credentialsFor(world, route.method), ...roleCredentials(world, route)];
    for (const cred of denied) {
      add({
        kind: 'http',
        label: cred.name,
        target,
        method: route.method,
        path,
        headers: { ...json(route.method), ...cred.headers },
        body,
      });
    }
    // Path spellings: with no credentials, and with the valid-but-insufficient ones.
    const lesser = [{ name: 'no credentials', headers: {} }, ...roleCredentials(world, route)];
    if (UNSAFE.has(route.method))
      lesser.push({
        name: 'admin session cookie without the CSRF header',
        headers: { cookie: `mp_session=${world.session.cookie}` },
      });
    for (const [variant, spelled] of pathVariants(path)) {
      for (const cred of lesser) {
        add({
          kind: 'http',
          label: `${cred.name}, ${variant}`,
          target,
          method: route.method,
          path: spelled,
          headers: { ...json(route.method), ...cred.headers },
          body,
        });
      }
    }
    // Method tricks.
    for (const cred of [{ name: 'no credentials', headers: {} }, ...roleCredentials(world, route)]) {
      for (const method of ['HEAD', 'OPTIONS']) {
        add({ kind: 'http', label: `${cred.name}, ${method}`, target, method, path, headers: cred.headers });
      }
      const carrier = route.method === 'GET' ? 'POST' : 'GET';
      // A carrier that is itself a route this credential may call (GET /projects for a viewer) proves nothing.
      const carrierAllowed = routes.some(
        (r) => r.method === carrier && r.path === route.path && (r.permission === 'read' || r.permission === 'self'),
      );
      if (cred.name === 'no credentials' || !carrierAllowed)
        add({
          kind: 'http',
          label: `${cred.name}, ${carrier} with X-HTTP-Method-Override: ${route.method}`,
          target,
          method: carrier,
          path,
          headers: {
            ...json(carrier),
            ...cred.headers,
            'x-http-method-override': route.method,
            'x-method-override': route.method,
          },
          body: carrier === 'POST' ? '{}' : undefined,
        }); // prettier-ignore
      add({
        kind: 'http',
        label: `${cred.name}, lower-case method`,
        target,
        method: route.method.toLowerCase(),
        path,
        headers: { ...json(route.method), ...cred.headers },
        body,
      });
    }
  }

  for (const r of INFERENCE_ROUTES) {
    const target = `${r.method} ${r.path}`;
    const base = { 'content-type': 'application/json', ...(r.headers ?? {}) };
    const denied = credentialsFor(world, r.method).filter(
      (c) => c.name !== 'token scoped to one deployment' || r.readOnly,
    );
    denied.push({
      name: 'token scoped to another deployment',
      headers: { authorization: `Bearer ${world.tokens.otherScoped}` },
    });
    if (!r.readOnly) {
      denied.push(
        { name: 'viewer calling inference', headers: { authorization: `Bearer ${world.tokens.viewer}` } },
        { name: 'stranger calling inference', headers: { authorization: `Bearer ${world.tokens.foreign}` } },
      );
    }
    for (const cred of denied) {
      add({
        kind: 'http',
        label: cred.name,
        target,
        method: r.method,
        path: r.path,
        headers: { ...base, ...cred.headers },
        body: r.body,
      });
    }
    for (const [variant, spelled] of pathVariants(r.path)) {
      add({
        kind: 'http',
        label: `no credentials, ${variant}`,
        target,
        method: r.method,
        path: spelled,
        headers: base,
        body: r.body,
      });
      if (!r.readOnly) {
        add({
          kind: 'http',
          label: `viewer, ${variant}`,
          target,
          method: r.method,
          path: spelled,
          headers: { ...base, authorization: `Bearer ${world.tokens.viewer}` },
          body: r.body,
        });
      }
    }
    for (const method of ['HEAD', 'OPTIONS', r.method === 'GET' ? 'POST' : 'GET']) {
      add({
        kind: 'http',
        label: `no credentials, ${method}${method !== 'HEAD' && method !== 'OPTIONS' ? ` with X-HTTP-Method-Override: ${r.method}` : ''}`,
        target,
        method,
        path: r.path,
        headers: { ...base, 'x-http-method-override': r.method },
        body: method === 'POST' ? r.body : undefined,
      });
    }
  }

  const infer = {
    model_name: 'fraud',
    inputs: [{ name: 'input', datatype: 'FP32', shape: [1, 30] }],
    raw_input_contents: [Buffer.alloc(120)],
  };
  const grpcCalls: [GrpcCase['method'], object, boolean][] = [
    ['ModelInfer', infer, false],
    ['ModelInfer', { ...infer, model_name: 'fraud@champion' }, false],
    ['ModelInfer', { ...infer, model_name: 'FRAUD' }, false],
    ['ModelInfer', { ...infer, model_name: 'fraud', model_version: '1' }, false],
    ['ModelMetadata', { name: 'fraud', version: '' }, false],
    ['ModelReady', { name: 'fraud', version: '' }, false],
    ['ServerMetadata', {}, true],
  ];
  const { tokens, session } = world;
  for (const [method, request, readOnly] of grpcCalls) {
    const target = `gRPC ${method}`;
    const variants: [string, [string, string][]][] = [
      ['no metadata', []],
      ['authorization: garbage', [['authorization', 'garbage']]],
      ['authorization: Bearer (empty)', [['authorization', 'Bearer ']]],
      ['authorization: Basic', [['authorization', 'Basic YWRtaW46YWRtaW4=']]],
      ['forged token', [['authorization', `Bearer mp_0123456789abcdef_${'A'.repeat(43)}`]]],
      ['expired token', [['authorization', `Bearer ${tokens.expired}`]]],
      ['revoked token', [['authorization', `Bearer ${tokens.revoked}`]]],
      // Two `authorization` entries cannot be sent at all: grpc-js and node's HTTP/2 refuse them as the client.
      ['authorization entries joined by a comma', [['authorization', `Bearer ${tokens.admin}, Bearer x`]]],
      ['token in a -bin entry', [['authorization-bin', Buffer.from(`Bearer ${tokens.admin}`).toString('base64')]]],
      ['token under another key', [['x-authorization', `Bearer ${tokens.admin}`]]],
      ['token in a cookie entry', [['cookie', `token=${tokens.admin}`]]],
      ['session cookie without CSRF', [['cookie', `mp_session=${session.cookie}`]]],
      [
        'session cookie, wrong CSRF',
        [
          ['cookie', `mp_session=${session.cookie}`],
          ['x-modelport-csrf', 'x'],
        ],
      ],
      ['token scoped to another deployment', [['authorization', `Bearer ${tokens.otherScoped}`]]],
    ];
    if (!readOnly) {
      variants.push(
        ['viewer token', [['authorization', `Bearer ${tokens.viewer}`]]],
        ["stranger's token", [['authorization', `Bearer ${tokens.foreign}`]]],
      );
    }
    for (const [label, metadata] of variants) add({ kind: 'grpc', label, target, method, request, metadata });
  }
  return { cases, perRoute };
}

/** Users, tokens and sessions on a running --auth server with the example `fraud` deployment in `default`. */
export async function prepareWorld(url: string, grpcPort: number, adminToken: string, home: string): Promise<World> {
  const admin = new ModelportClient({ url, token: adminToken });
  await admin.createUser('bob');
  await admin.addMember('default', { kind: 'user', name: 'bob' }, 'viewer');
  await admin.createUser('carol');
  await admin.createProject('other');
  await admin.addMember('other', { kind: 'user', name: 'carol' }, 'admin');
  await admin.createUser('dana');
  await admin.addMember('default', { kind: 'user', name: 'dana' }, 'editor');
  const viewer = (await admin.createToken({ name: 'v', user: 'bob' })).token;
  const foreign = (await admin.createToken({ name: 'c', user: 'carol' })).token;
  const scoped = (
    await admin.createToken({ name: 's', user: 'dana', deployment: { project: 'default', name: 'fraud' } })
  ).token;
  const otherScoped = (
    await admin.createToken({ name: 'o', user: 'dana', deployment: { project: 'default', name: 'elsewhere' } })
  ).token;
  const expiring = await admin.createToken({ name: 'e', user: 'admin', expiresIn: '1h' });
  const revoked = await admin.createToken({ name: 'r', user: 'admin' });
  await admin.revokeToken(revoked.id);
  // Expire the token in the database itself (no waiting): the server reads expiry from its row.
  const db = new DatabaseSync(join(home, 'modelport.db'));
  db.prepare('update api_tokens set expires_at = ? where id = ?').run(
    new Date(Date.now() - 60_000).toISOString(),
    expiring.id,
  );
  db.close();
  const signIn = async (token: string) => {
    const res = await fetch(`${url}/auth/token`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ token }),
    });
    const cookie = /mp_session=([^;]+)/.exec(res.headers.get('set-cookie') ?? '')?.[1];
    const { csrf } = (await res.json()) as { csrf: string };
    if (!cookie) throw new Error(`signing in with a token failed: ${res.status}`);
    return { cookie, csrf };
  };
  return {
    url,
    grpcPort,
    tokens: {
      admin: adminToken,
      viewer,
      foreign,
      expired: expiring.token,
      revoked: revoked.token,
      scoped,
      otherScoped,
    },
    session: await signIn(adminToken),
    otherSession: await signIn(viewer),
  };
}

export interface CaseResult {
  case: BypassCase;
  /** HTTP status, or the gRPC status code (0 is OK). */
  status: number;
  success: boolean;
}

const agent = new Agent({ keepAlive: true, maxSockets: 16 });

function sendHttp(base: string, c: HttpCase): Promise<number> {
  const url = new URL(base);
  return new Promise((resolve, reject) => {
    const req = httpRequest(
      { host: url.hostname, port: url.port, method: c.method, path: c.path, agent, setHost: !('host' in c.headers) },
      (res) => {
        res.resume();
        res.on('end', () => resolve(res.statusCode ?? 0));
      },
    );
    for (const [k, v] of Object.entries(c.headers)) req.setHeader(k, v);
    req.on('error', reject);
    req.end(c.body);
  });
}

/** Runs every case (a few at a time) and says which succeeded. */
export async function runCases(world: World, cases: readonly BypassCase[], concurrency = 8): Promise<CaseResult[]> {
  const { GRPCInferenceService } = loadInferenceProto();
  const grpc = new GRPCInferenceService(`127.0.0.1:${world.grpcPort}`, credentials.createInsecure());
  const callGrpc = (c: GrpcCase) =>
    new Promise<number>((resolve) => {
      const metadata = new Metadata();
      for (const [k, v] of c.metadata) {
        if (k.endsWith('-bin')) metadata.add(k, Buffer.from(v, 'base64'));
        else metadata.add(k, v);
      }
      (
        grpc as unknown as Record<
          string,
          (r: object, m: Metadata, o: object, cb: (e: { code: number } | null) => void) => void
        >
      )[c.method]!(c.request, metadata, { deadline: Date.now() + 30_000 }, (error) => resolve(error ? error.code : 0));
    });
  const results: CaseResult[] = new Array(cases.length);
  let next = 0;
  const worker = async () => {
    while (next < cases.length) {
      const i = next++;
      const c = cases[i]!;
      const status = c.kind === 'http' ? await sendHttp(world.url, c) : await callGrpc(c);
      const success = c.kind === 'http' ? status >= 200 && status < 400 : status === 0;
      results[i] = { case: c, status, success };
    }
  };
  try {
    await Promise.all(Array.from({ length: concurrency }, worker));
  } finally {
    grpc.close();
  }
  return results;
}
