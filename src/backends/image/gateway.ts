/**
 * The compose bundle's gateway (`modelport gateway --routes routes.json --port 8080`), its one published port: a
 * reverse proxy in front of the bundle's serving services, reading the `base/gateway/routes.json` the compose
 * renderer writes.
 *
 * - A request names a deployment in its path (V2 `/v2/models/{name}/...`, V1 `/v1/models/{name}[:predict]`) or,
 *   for Seldon (`/api/v1.0/predictions`, `/predict`), in the deployment's `modelIdHeader` (`model-id`). A model name
 *   that only one deployment serves works too, split over that deployment's targets of the model.
 * - The target is chosen as the server's deployments choose (deployments/traffic.ts): `name@tag` or the
 *   `modelport-tag` header, else `/versions/N`, else the weights, sticky on `stickyHeader` when set. The path sent
 *   upstream names the target's model (the name its service serves) and drops `/versions/N` (one service, one
 *   version); the answer carries `modelport-target: model@version`.
 * - A sampled `percent` of inference calls is mirrored to the shadow after the primary answered; V2 JSON answers
 *   are compared with deployments/shadow.ts and counted in `modelport_shadow_requests_total`.
 * - Bodies stream both ways, capped at `maxRequestBytes` (413); upstream calls time out (504); an unreachable
 *   upstream is 502. Errors are `{"error": "..."}`. Upstreams come only from the routes file: nothing in a request
 *   chooses a host, and redirects are passed back, never followed. gRPC is not proxied.
 * - The file is validated at start (an error names the field and the fix) and re-read when it changes; a broken
 *   rewrite is logged and the previous routes stay.
 *
 * ```ts
 * const gw = await startGateway({ routes: '/etc/modelport/routes.json', port: 8080 });
 * // POST http://host:8080/v2/models/fraud-api/infer -> http://s-fraud-v2:8080/v2/models/fraud/infer
 * await gw.close();
 * ```
 */
import { once } from 'node:events';
import { readFileSync, unwatchFile, watchFile } from 'node:fs';
import { Agent as HttpAgent, request as httpRequest, type IncomingMessage, type ServerResponse } from 'node:http';
import { Agent as HttpsAgent, request as httpsRequest } from 'node:https';
import type { AddressInfo } from 'node:net';
import { Transform, type TransformCallback } from 'node:stream';
import { z } from 'zod';
import { ModelportError, notFound } from '../../core/errors.ts';
import { outputsAgree } from '../../deployments/shadow.ts';
import { selectTarget, splitTag, TAG_HEADER } from '../../deployments/traffic.ts';
import { createHttpServer } from '../../http/http-server.ts';
import { LATENCY_BUCKETS, MetricsRegistry } from '../../metrics/prometheus.ts';
import { HEADER_LENGTH_HEADER } from '../../serving/protocols/index.ts';
import { readInferRequest } from '../../serving/protocols/v2-json.ts';

// ---- The routes file -------------------------------------------------------------------------------------------

const HEADER = /^[a-z0-9-]{1,64}$/i;
const NAME = /^[a-z0-9](?:[a-z0-9._-]{0,61}[a-z0-9])?$/;
const URL_FIX = 'the service URL, such as http://s-fraud-v1:8080';

const modelField = z
  .string({ error: 'must be the model name its service serves (a string)' })
  .regex(NAME, { error: 'must be a model name: 1-63 lowercase letters, digits, ".", "_" or "-"' });
const versionField = z
  .number({ error: 'must be a version number' })
  .int({ error: 'must be a whole number' })
  .positive({ error: 'must be 1 or more' });
const percentField = z
  .number({ error: 'must be a number from 0 to 100' })
  .min(0, { error: 'must be from 0 to 100' })
  .max(100, { error: 'must be from 0 to 100' });
const urlField = z.string({ error: `must be ${URL_FIX}` });
const headerField = z
  .string({ error: 'must be a header name' })
  .regex(HEADER, { error: 'must be a header name of letters, digits and "-" (at most 64)' });

const TargetSchema = z.strictObject({
  model: modelField,
  version: versionField,
  weight: percentField,
  tag: z.string({ error: 'must be a string' }).regex(NAME, { error: 'must be a tag such as canary' }).optional(),
  url: urlField,
});

const ShadowSchema = z.strictObject({ model: modelField, version: versionField, percent: percentField, url: urlField });

const DeploymentSchema = z.strictObject({
  name: z.string({ error: 'must be the deployment name' }).regex(NAME, {
    error: 'must be a deployment name: 1-63 lowercase letters, digits, ".", "_" or "-"',
  }),
  revision: z
    .number({ error: 'must be the revision number' })
    .int({ error: 'must be a whole number' })
    .nonnegative({ error: 'must be 0 or more' }),
  modelIdHeader: headerField.default('model-id'),
  stickyHeader: headerField.optional(),
  traffic: z.array(TargetSchema, { error: 'must be a list of targets' }).min(1, { error: 'must list a target' }),
  shadow: ShadowSchema.optional(),
});

const RoutesSchema = z.strictObject({
  deployments: z
    .array(DeploymentSchema, { error: 'must be a list of deployments' })
    .min(1, { error: 'must list a deployment' }),
});

/** `base/gateway/routes.json`, as the compose renderer writes it. */
export type GatewayRoutes = z.input<typeof RoutesSchema>;
type ParsedRoutes = z.output<typeof RoutesSchema>;
type ParsedDeployment = ParsedRoutes['deployments'][number];

const routesError = (source: string, field: string, message: string) =>
  new ModelportError(
    'invalid_config',
    `${source}: ${field}: ${message} (regenerate it with 'modelport export <deployment> --format compose', or fix the field)`,
    { field },
  );

/** Checks the file's contents; errors name the field (`deployments[0].traffic[1].weight`) and the fix. */
export function parseRoutes(text: string, source = 'routes.json'): ParsedRoutes {
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch (error) {
    throw routesError(source, '(file)', `is not JSON (${(error as Error).message})`);
  }
  const result = RoutesSchema.safeParse(json);
  if (!result.success) {
    const issue = result.error.issues[0]!;
    const path = issue.path.map((p, i) => (typeof p === 'number' ? `[${p}]` : `${i ? '.' : ''}${String(p)}`)).join('');
    if (issue.code === 'unrecognized_keys') {
      throw routesError(source, `${path ? `${path}.` : ''}${issue.keys[0]}`, 'unknown field; remove it');
    }
    throw routesError(source, path || '(file)', issue.message);
  }
  const routes = result.data;
  const names = new Set<string>();
  routes.deployments.forEach((d, i) => {
    const at = `deployments[${i}]`;
    if (names.has(d.name)) throw routesError(source, `${at}.name`, `'${d.name}' is listed twice; keep one`);
    names.add(d.name);
    const sum = d.traffic.reduce((n, t) => n + t.weight, 0);
    if (Math.abs(sum - 100) > 1e-6) {
      throw routesError(source, `${at}.traffic`, `the weights add up to ${sum}; make them add up to 100`);
    }
    const tags = new Set<string>();
    d.traffic.forEach((t, j) => {
      checkUrl(source, `${at}.traffic[${j}].url`, t.url);
      if (t.tag === undefined) return;
      if (tags.has(t.tag)) throw routesError(source, `${at}.traffic[${j}].tag`, `'${t.tag}' tags two targets`);
      tags.add(t.tag);
    });
    if (d.shadow) checkUrl(source, `${at}.shadow.url`, d.shadow.url);
  });
  return routes;
}

function checkUrl(source: string, field: string, value: string): void {
  let url: URL | undefined;
  try {
    url = new URL(value);
  } catch {}
  const ok =
    url !== undefined &&
    (url.protocol === 'http:' || url.protocol === 'https:') &&
    url.hostname !== '' &&
    url.username === '' &&
    url.password === '' &&
    url.pathname === '/' &&
    url.search === '' &&
    url.hash === '';
  if (!ok) throw routesError(source, field, `'${value.slice(0, 100)}' is not ${URL_FIX} (http or https, no path)`);
}

// ---- The routing table -----------------------------------------------------------------------------------------

interface Upstream {
  /** `model@version`, in logs, metrics and the `modelport-target` header. */
  label: string;
  model: string;
  version: number;
  origin: URL;
}

interface RoutedUpstream extends Upstream {
  weight: number;
  tag?: string | undefined;
}

interface Route {
  deployment: string;
  modelIdHeader: string;
  stickyHeader?: string | undefined;
  targets: RoutedUpstream[];
  shadow?: (Upstream & { percent: number }) | undefined;
}

interface Table {
  byName: Map<string, Route>;
  /** Every deployment's model-id header, lower-cased. */
  modelIdHeaders: Set<string>;
  /** Every traffic upstream once, for readiness. */
  upstreams: Upstream[];
}

const upstreamOf = (t: { model: string; version: number; url: string }): Upstream => ({
  label: `${t.model}@${t.version}`,
  model: t.model,
  version: t.version,
  origin: new URL(t.url),
});

function routeOf(d: ParsedDeployment, traffic: ParsedDeployment['traffic']): Route {
  // A model's share of a split deployment is rescaled to 100 (equal shares when all its weights are 0).
  const sum = traffic.reduce((n, t) => n + t.weight, 0);
  return {
    deployment: d.name,
    modelIdHeader: d.modelIdHeader.toLowerCase(),
    stickyHeader: d.stickyHeader?.toLowerCase(),
    targets: traffic.map((t) => ({
      ...upstreamOf(t),
      weight: sum > 0 ? (t.weight * 100) / sum : 100 / traffic.length,
      tag: t.tag,
    })),
    shadow: d.shadow ? { ...upstreamOf(d.shadow), percent: d.shadow.percent } : undefined,
  };
}

function compile(routes: ParsedRoutes): Table {
  const byName = new Map<string, Route>();
  for (const d of routes.deployments) byName.set(d.name, routeOf(d, d.traffic));
  const owners = new Map<string, ParsedDeployment[]>();
  for (const d of routes.deployments) {
    for (const model of new Set(d.traffic.map((t) => t.model))) owners.set(model, [...(owners.get(model) ?? []), d]);
  }
  for (const [model, [only, ...others]] of owners) {
    if (only && others.length === 0 && !byName.has(model)) {
      byName.set(
        model,
        routeOf(
          only,
          only.traffic.filter((t) => t.model === model),
        ),
      );
    }
  }
  const upstreams = new Map(routes.deployments.flatMap((d) => d.traffic.map((t) => [t.url, upstreamOf(t)] as const)));
  return {
    byName,
    modelIdHeaders: new Set(routes.deployments.map((d) => d.modelIdHeader.toLowerCase())),
    upstreams: [...upstreams.values()],
  };
}

// ---- Proxying --------------------------------------------------------------------------------------------------

export interface GatewayOptions {
  /** Path of routes.json. */
  routes: string;
  /** Default 0.0.0.0 (a container's port must be reachable from outside it). */
  host?: string;
  port: number;
  /** Request bodies above this are refused with 413 (default 64 MiB). */
  maxRequestBytes?: number;
  /** How long an upstream may take to start its answer, and stay silent while sending it (default 60 s). */
  upstreamTimeoutMs?: number;
  /** How often the routes file is checked for changes (default 2 s; 0 reads it only at start). */
  reloadIntervalMs?: number;
  /** Shadow calls in flight at most; more are dropped (default 8). */
  maxShadowsInFlight?: number;
  log?: (message: string, fields?: Record<string, unknown>) => void;
}

export interface RunningGateway {
  url: string;
  close(): Promise<void>;
}

/** Headers that belong to one connection, not to the message (RFC 9110 7.6.1): never forwarded. */
const HOP_BY_HOP = new Set([
  'connection',
  'keep-alive',
  'proxy-authenticate',
  'proxy-authorization',
  'proxy-connection',
  'te',
  'trailer',
  'transfer-encoding',
  'upgrade',
  'host',
  'expect',
]);

const V2_MODEL = /^\/v2\/models\/([^/]+)(?:\/versions\/([^/]+))?(\/ready|\/infer)?\/?$/;
const V1_MODEL = /^\/v1\/models\/([^/:]+)(:predict)?\/?$/;
const SELDON = new Set(['/api/v1.0/predictions', '/predict']);

/** A failure answered with `{"error": message}`. */
class GatewayError extends Error {
  readonly status: number;
  constructor(status: number, message: string) {
    super(message);
    this.status = status;
  }
}

interface Call {
  name: string;
  version?: string | undefined;
  /** The upstream path for the chosen target's model. */
  path: (model: string) => string;
  /** Whether it is an inference call (mirrored to a shadow). */
  infer: boolean;
  /** A V2 JSON infer call, whose answer a shadow's can be compared with. */
  v2Json: boolean;
}

function firstHeader(req: IncomingMessage, name: string): string | undefined {
  const value = req.headers[name];
  return Array.isArray(value) ? value[0] : value;
}

function decodeName(segment: string): string {
  try {
    return decodeURIComponent(segment);
  } catch {
    throw new GatewayError(400, 'the model name in the path is not valid percent-encoding');
  }
}

/** Fails once more than `max` bytes passed through; keeps a copy of them when `keep` is set. */
class Limit extends Transform {
  readonly #max: number;
  readonly chunks: Buffer[] | undefined;
  #bytes = 0;
  constructor(max: number, keep: boolean) {
    super();
    this.#max = max;
    this.chunks = keep ? [] : undefined;
  }
  override _transform(chunk: Buffer, _encoding: BufferEncoding, done: TransformCallback): void {
    this.#bytes += chunk.length;
    if (this.#bytes > this.#max) {
      done(new GatewayError(413, `the body is larger than the gateway's limit of ${this.#max} bytes`));
      return;
    }
    this.chunks?.push(chunk);
    done(null, chunk);
  }
}

export async function startGateway(options: GatewayOptions): Promise<RunningGateway> {
  const log = options.log ?? (() => {});
  const maxBytes = options.maxRequestBytes ?? 64 * 1024 * 1024;
  const timeoutMs = options.upstreamTimeoutMs ?? 60_000;
  const maxShadows = options.maxShadowsInFlight ?? 8;
  const load = () => compile(parseRoutes(readFileSync(options.routes, 'utf8'), options.routes));
  let table: Table;
  try {
    table = load();
  } catch (error) {
    if (error instanceof ModelportError) throw error;
    throw new ModelportError(
      'invalid_config',
      `--routes: cannot read '${options.routes}' (${(error as Error).message}); mount the bundle's base/gateway/routes.json there`,
      { field: 'routes' },
    );
  }

  const metrics = new MetricsRegistry();
  const requests = metrics.counter(
    'modelport_gateway_requests_total',
    'Requests routed by the gateway, by deployment, target (model@version) and status code.',
    ['deployment', 'target', 'code'],
  );
  const latency = metrics.histogram(
    'modelport_gateway_upstream_seconds',
    'Time until the upstream started its answer.',
    ['deployment', 'target'],
    LATENCY_BUCKETS,
  );
  const shadows = metrics.counter(
    'modelport_shadow_requests_total',
    'Requests mirrored to a deployment shadow, by outcome (agree, disagree, uncompared, error, dropped).',
    ['deployment', 'outcome'],
  );
  let shadowsInFlight = 0;

  const agents = {
    'http:': new HttpAgent({ keepAlive: true, maxSockets: 256 }),
    'https:': new HttpsAgent({ keepAlive: true, maxSockets: 256 }),
  };

  /**
   * Sends one call to an upstream; `answer` resolves once its status line arrived. `body` is the client's request
   * (streamed through a Limit) or a buffer. Rejects with a GatewayError: 413, 502 or 504.
   */
  function send(
    upstream: Upstream,
    method: string,
    path: string,
    headers: Record<string, string | string[]>,
    body: { stream: IncomingMessage; limit: Limit } | Buffer | undefined,
    timeout = timeoutMs,
  ): { answer: Promise<IncomingMessage>; abort: () => void } {
    const { origin } = upstream;
    const request = origin.protocol === 'https:' ? httpsRequest : httpRequest;
    const outgoing = request({
      protocol: origin.protocol,
      hostname: origin.hostname.replace(/^\[|\]$/g, ''),
      port: origin.port || undefined,
      method,
      path,
      headers: { ...headers, host: origin.host },
      agent: agents[origin.protocol as 'http:' | 'https:'],
    });
    const answer = new Promise<IncomingMessage>((resolve, reject) => {
      const timer = setTimeout(() => {
        const seconds = Math.round(timeout / 100) / 10;
        outgoing.destroy(new GatewayError(504, `${upstream.label} did not answer within ${seconds} s`));
      }, timeout);
      outgoing.once('response', (res) => {
        clearTimeout(timer);
        res.setTimeout(timeout, () => res.destroy(new Error(`${upstream.label} stalled while answering`)));
        resolve(res);
      });
      outgoing.once('error', (error: NodeJS.ErrnoException) => {
        clearTimeout(timer);
        if (error instanceof GatewayError) reject(error);
        else reject(new GatewayError(502, `${upstream.label} is unreachable (${error.code ?? error.message})`));
      });
    });
    if (body === undefined) outgoing.end();
    else if (Buffer.isBuffer(body)) outgoing.end(body);
    else {
      body.limit.once('error', (error) => outgoing.destroy(error));
      body.stream.pipe(body.limit).pipe(outgoing);
    }
    return { answer, abort: () => outgoing.destroy(new Error('the client went away')) };
  }

  function forwardedHeaders(req: IncomingMessage, model: string): Record<string, string | string[]> {
    const listed = (firstHeader(req, 'connection') ?? '').toLowerCase().split(',');
    const drop = new Set([...HOP_BY_HOP, ...listed.map((h) => h.trim()).filter(Boolean)]);
    const headers: Record<string, string | string[]> = {};
    for (const [name, value] of Object.entries(req.headers)) {
      if (value !== undefined && !drop.has(name)) headers[name] = value;
    }
    // The upstream serves the model under its own name, whatever the client called the deployment.
    for (const name of table.modelIdHeaders) if (headers[name] !== undefined) headers[name] = model;
    const forwardedFor = firstHeader(req, 'x-forwarded-for');
    const client = req.socket.remoteAddress ?? '';
    headers['x-forwarded-for'] = forwardedFor ? `${forwardedFor}, ${client}` : client;
    return headers;
  }

  function parseCall(req: IncomingMessage, path: string, query: string): Call | undefined {
    const v2 = V2_MODEL.exec(path);
    if (v2) {
      const action = v2[3] ?? '';
      return {
        name: decodeName(v2[1]!),
        version: v2[2] === undefined ? undefined : decodeName(v2[2]),
        path: (model) => `/v2/models/${encodeURIComponent(model)}${action}${query}`,
        infer: action === '/infer',
        v2Json: action === '/infer' && req.headers[HEADER_LENGTH_HEADER] === undefined,
      };
    }
    const v1 = V1_MODEL.exec(path);
    if (v1) {
      const predict = v1[2] ?? '';
      return {
        name: decodeName(v1[1]!),
        path: (model) => `/v1/models/${encodeURIComponent(model)}${predict}${query}`,
        infer: predict !== '',
        v2Json: false,
      };
    }
    if (SELDON.has(path)) {
      for (const header of table.modelIdHeaders) {
        const name = firstHeader(req, header);
        if (name === undefined || name === '') continue;
        const route = table.byName.get(splitTag(name).base);
        if (route === undefined || route.modelIdHeader === header) {
          return { name, path: () => `${path}${query}`, infer: true, v2Json: false };
        }
      }
      throw new GatewayError(400, `name the deployment in the '${[...table.modelIdHeaders][0]}' header`);
    }
    return undefined;
  }

  function sendJson(res: ServerResponse, status: number, body: unknown, extra: Record<string, string> = {}): void {
    const text = JSON.stringify(body);
    res.writeHead(status, {
      'content-type': 'application/json',
      'content-length': Buffer.byteLength(text),
      ...extra,
    });
    res.end(text);
  }

  function fail(res: ServerResponse, req: IncomingMessage, status: number, message: string): void {
    if (res.headersSent || res.destroyed) {
      res.destroy();
      return;
    }
    const extra: Record<string, string> = {};
    if (!req.complete) {
      // An unread body: drain a small one so the client reads our answer; close after a large one.
      const declared = Number(req.headers['content-length']);
      req.unpipe();
      if (status !== 413 && Number.isFinite(declared) && declared <= maxBytes) req.resume();
      else extra['connection'] = 'close';
    }
    sendJson(res, status, { error: message }, extra);
  }

  async function unready(): Promise<string[]> {
    const answers = await Promise.all(
      table.upstreams.map(async (upstream) => {
        const { answer } = send(upstream, 'GET', '/v2/health/ready', {}, undefined, Math.min(timeoutMs, 2000));
        const res = await answer.catch(() => undefined);
        res?.resume();
        return res?.statusCode === 200 ? undefined : upstream.label;
      }),
    );
    return answers.filter((a): a is string => a !== undefined);
  }

  /** Calls the shadow with the primary's request and counts whether the answers agree. Never throws. */
  async function mirror(
    route: Route,
    shadow: Upstream,
    req: IncomingMessage,
    call: Call,
    body: Buffer,
    primary: Buffer | undefined,
  ): Promise<void> {
    shadowsInFlight++;
    let outcome = 'error';
    try {
      const headers = forwardedHeaders(req, shadow.model);
      const res = await send(shadow, req.method ?? 'POST', call.path(shadow.model), headers, body).answer;
      const chunks: Buffer[] = [];
      let size = 0;
      for await (const chunk of res as AsyncIterable<Buffer>) {
        size += chunk.length;
        if (size > maxBytes) throw new Error('the shadow answer is larger than the body limit');
        chunks.push(chunk);
      }
      if (res.statusCode !== 200) throw new Error(`the shadow answered ${res.statusCode}`);
      if (!call.v2Json || primary === undefined) {
        outcome = 'uncompared';
        return;
      }
      const outputs = (text: Buffer) =>
        readInferRequest({ inputs: (JSON.parse(text.toString('utf8')) as { outputs?: unknown }).outputs }, undefined)
          .inputs;
      outcome = outputsAgree(outputs(primary), outputs(Buffer.concat(chunks))) ? 'agree' : 'disagree';
    } catch (error) {
      log('shadow call failed', { deployment: route.deployment, shadow: shadow.label, error: String(error) });
    } finally {
      shadowsInFlight--;
      shadows.inc({ deployment: route.deployment, outcome });
    }
  }

  async function proxy(req: IncomingMessage, res: ServerResponse, path: string): Promise<void> {
    const url = req.url ?? '/';
    const q = url.indexOf('?');
    const call = parseCall(req, path, q < 0 ? '' : url.slice(q));
    if (!call) {
      throw new GatewayError(
        404,
        `no inference route matches ${path.slice(0, 100)}; use /v2/models/<name>/..., /v1/models/<name>[:predict] or /api/v1.0/predictions with a model-id header`,
      );
    }
    const { base, tag } = splitTag(call.name);
    const route = table.byName.get(base);
    if (!route) {
      const known = [...table.byName.keys()].slice(0, 10).join(', ');
      throw new GatewayError(404, `no deployment or model '${base.slice(0, 64)}' is routed here (routed: ${known})`);
    }
    let target: RoutedUpstream;
    try {
      target = selectTarget(route.deployment, route.targets, (t) => t.version, {
        tag: tag ?? firstHeader(req, TAG_HEADER),
        version: call.version,
        sticky: route.stickyHeader ? firstHeader(req, route.stickyHeader) : undefined,
      });
    } catch (error) {
      throw new GatewayError(404, (error as Error).message);
    }
    const declared = Number(req.headers['content-length']);
    if (Number.isFinite(declared) && declared > maxBytes) {
      throw new GatewayError(413, `the body is larger than the gateway's limit of ${maxBytes} bytes`);
    }

    const sampled = call.infer && route.shadow && Math.random() * 100 < route.shadow.percent ? route.shadow : undefined;
    const shadow = sampled && shadowsInFlight < maxShadows ? sampled : undefined;
    if (sampled && !shadow) shadows.inc({ deployment: route.deployment, outcome: 'dropped' });

    const labels = { deployment: route.deployment, target: target.label };
    const started = performance.now();
    const limit = new Limit(maxBytes, shadow !== undefined);
    const method = req.method ?? 'GET';
    const hasBody = method !== 'GET' && method !== 'HEAD';
    const upstream = send(
      target,
      method,
      call.path(target.model),
      forwardedHeaders(req, target.model),
      hasBody ? { stream: req, limit } : undefined,
    );
    res.once('close', () => {
      if (!res.writableFinished) upstream.abort();
    });
    let answer: IncomingMessage;
    try {
      answer = await upstream.answer;
    } catch (error) {
      const status = error instanceof GatewayError ? error.status : 502;
      requests.inc({ ...labels, code: String(status) });
      if (status !== 413 && !res.destroyed) log('upstream call failed', { ...labels, error: (error as Error).message });
      throw error;
    }
    latency.observe(labels, (performance.now() - started) / 1000);
    requests.inc({ ...labels, code: String(answer.statusCode ?? 502) });
    const headers: Record<string, string | string[]> = {};
    for (const [name, value] of Object.entries(answer.headers)) {
      if (value !== undefined && !HOP_BY_HOP.has(name)) headers[name] = value;
    }
    headers['modelport-target'] = target.label;
    res.writeHead(answer.statusCode ?? 502, headers);
    // A mirrored call keeps the primary's answer to compare the shadow's with (up to the body limit).
    const kept: Buffer[] | undefined = shadow && answer.statusCode === 200 ? [] : undefined;
    let keptBytes = 0;
    if (kept) {
      answer.on('data', (chunk: Buffer) => {
        keptBytes += chunk.length;
        if (keptBytes <= maxBytes) kept.push(chunk);
      });
    }
    await new Promise<void>((resolve) => {
      answer.once('error', () => res.destroy());
      res.once('close', () => resolve());
      answer.pipe(res);
    });
    if (shadow && kept && limit.chunks && res.writableFinished) {
      const primary = keptBytes <= maxBytes ? Buffer.concat(kept) : undefined;
      void mirror(route, shadow, req, call, Buffer.concat(limit.chunks), primary);
    }
  }

  async function inference(req: IncomingMessage, res: ServerResponse, path: string): Promise<void> {
    try {
      if (path === '/v2/health/live') return sendJson(res, 200, { live: true });
      if (path === '/v2/health/ready') {
        const missing = await unready();
        return sendJson(res, missing.length ? 503 : 200, {
          ready: missing.length === 0,
          ...(missing.length ? { notReady: missing } : {}),
        });
      }
      if (path === '/v2' || path === '/v2/') {
        return sendJson(res, 200, { name: 'modelport-gateway', version: 'compose', extensions: [] });
      }
      await proxy(req, res, path);
    } catch (error) {
      if (error instanceof GatewayError) return fail(res, req, error.status, error.message);
      log('gateway request failed', { path, error: String(error) });
      fail(res, req, 500, 'internal error');
    }
  }

  const http = createHttpServer(
    {
      api: () => {
        throw notFound('the control plane (this is the compose gateway)');
      },
      openapi: () => ({}),
      inference,
      metrics: (_req, res) => {
        res.writeHead(200, { 'content-type': 'text/plain; version=0.0.4' });
        res.end(metrics.render());
      },
    },
    (message, error) => log(message, { error: String(error) }),
  );
  const bind = options.host ?? '0.0.0.0';
  http.listen(options.port, bind);
  await once(http, 'listening');

  const reloadMs = options.reloadIntervalMs ?? 2000;
  if (reloadMs > 0) {
    watchFile(options.routes, { interval: reloadMs, persistent: false }, (now, before) => {
      if (now.mtimeMs === before.mtimeMs && now.size === before.size) return;
      try {
        table = load();
        log('routes reloaded', { routes: options.routes });
      } catch (error) {
        log('routes not reloaded; the previous routes stay', { error: (error as Error).message });
      }
    });
  }

  const address = http.address() as AddressInfo;
  const shown = bind === '0.0.0.0' ? '127.0.0.1' : bind.includes(':') ? `[${bind}]` : bind;
  log('gateway listening', { port: address.port, routes: [...table.byName.keys()] });
  return {
    url: `http://${shown}:${address.port}`,
    close: async () => {
      unwatchFile(options.routes);
      http.closeIdleConnections();
      await new Promise<void>((resolve) => http.close(() => resolve()));
      agents['http:'].destroy();
      agents['https:'].destroy();
    },
  };
}
