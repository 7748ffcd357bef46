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
 * - Bodies stream both ways, capped at `maxRequestBytes` (413, `payload_too_large`); upstream calls time out (504,
 *   `upstream_timeout`); an unreachable upstream is 502 (`upstream_unreachable`). Errors are codes of the one
 *   catalogue (src/core/errors.ts), answered as `{"error": "..."}` like the V2 protocol's. Upstreams come only from the routes file: nothing in a request
 *   chooses a host, and redirects are passed back, never followed. gRPC is not proxied.
 * - The file is validated at start (an error names the field and the fix) and re-read when it changes; a broken
 *   rewrite is logged and the previous routes stay.
 *
 * The parts: routes-file.ts (schema and checks), routing-table.ts, calls.ts (what a request names), upstream.ts
 * (calls to the services), shadow-mirror.ts, metrics.ts; this file wires them to the listener.
 *
 * ```ts
 * const gw = await startGateway({ routes: '/etc/modelport/routes.json', port: 8080 });
 * // POST http://host:8080/v2/models/fraud-api/infer -> http://s-fraud-v2:8080/v2/models/fraud/infer
 * await gw.close();
 * ```
 */
import { readFileSync, unwatchFile, watchFile } from 'node:fs';
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { ModelportError, notFound } from '../../../core/index.ts';
import { selectTarget, splitTag, TAG_HEADER } from '../../../deployments/index.ts';
import { createHttpServer, listenOn, sendError, sendJson } from '../../../http/index.ts';
import { type Logger, silentLogger } from '../../../logging/index.ts';
import { MetricsRegistry } from '../../../metrics/index.ts';
import { parseCall } from './calls.ts';
import { createGatewayMetrics } from './metrics.ts';
import { parseRoutes } from './routes-file.ts';
import { compile, type RoutedUpstream, type Table } from './routing-table.ts';
import { ShadowMirror } from './shadow-mirror.ts';
import { firstHeader, forwardedHeaders, HOP_BY_HOP, Limit, tooLarge, UpstreamClient } from './upstream.ts';

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
  log?: Logger;
}

export interface RunningGateway {
  url: string;
  close(): Promise<void>;
}

export async function startGateway(options: GatewayOptions): Promise<RunningGateway> {
  const log = options.log ?? silentLogger();
  const maxBytes = options.maxRequestBytes ?? 64 * 1024 * 1024;
  const timeoutMs = options.upstreamTimeoutMs ?? 60_000;
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
  const { requests, latency, shadows } = createGatewayMetrics(metrics);
  const client = new UpstreamClient(timeoutMs);
  const headersFor = (req: IncomingMessage, model: string) => forwardedHeaders(req, model, table.modelIdHeaders);
  const mirror = new ShadowMirror({
    client,
    counter: shadows,
    maxInFlight: options.maxShadowsInFlight ?? 8,
    maxBytes,
    headers: headersFor,
    log,
  });

  /** An error answer; an unread body is drained when small, else (and always after a 413) the connection closes. */
  function fail(res: ServerResponse, req: IncomingMessage, error: unknown): void {
    if (!req.complete) req.unpipe();
    const e = error instanceof ModelportError ? error : undefined;
    sendError(res, error, 'v2', undefined, { drainLimit: e?.code === 'payload_too_large' ? -1 : maxBytes });
  }

  async function unready(): Promise<string[]> {
    const answers = await Promise.all(
      table.upstreams.map(async (upstream) => {
        const { answer } = client.send(upstream, 'GET', '/v2/health/ready', {}, undefined, Math.min(timeoutMs, 2000));
        const res = await answer.catch(() => undefined);
        res?.resume();
        return res?.statusCode === 200 ? undefined : upstream.label;
      }),
    );
    return answers.filter((a): a is string => a !== undefined);
  }

  async function proxy(req: IncomingMessage, res: ServerResponse, path: string): Promise<void> {
    const url = req.url ?? '/';
    const q = url.indexOf('?');
    const call = parseCall(req, path, q < 0 ? '' : url.slice(q), table);
    if (!call) {
      throw new ModelportError(
        'not_found',
        `no inference route matches ${path.slice(0, 100)}; use /v2/models/<name>/..., /v1/models/<name>[:predict] or /api/v1.0/predictions with a model-id header`,
      );
    }
    const { base, tag } = splitTag(call.name);
    const route = table.byName.get(base);
    if (!route) {
      const known = [...table.byName.keys()].slice(0, 10).join(', ');
      throw new ModelportError(
        'not_found',
        `no deployment or model '${base.slice(0, 64)}' is routed here (routed: ${known})`,
      );
    }
    let target: RoutedUpstream;
    try {
      target = selectTarget(route.deployment, route.targets, (t) => t.version, {
        tag: tag ?? firstHeader(req, TAG_HEADER),
        version: call.version,
        sticky: route.stickyHeader ? firstHeader(req, route.stickyHeader) : undefined,
      });
    } catch (error) {
      throw new ModelportError('not_found', (error as Error).message);
    }
    const declared = Number(req.headers['content-length']);
    if (Number.isFinite(declared) && declared > maxBytes) throw tooLarge(maxBytes);

    const shadow = mirror.pick(route, call);
    const labels = { deployment: route.deployment, target: target.label };
    const started = performance.now();
    const limit = new Limit(maxBytes, shadow !== undefined);
    const method = req.method ?? 'GET';
    const hasBody = method !== 'GET' && method !== 'HEAD';
    const upstream = client.send(
      target,
      method,
      call.path(target.model),
      headersFor(req, target.model),
      hasBody ? { stream: req, limit } : undefined,
    );
    res.once('close', () => {
      if (!res.writableFinished) upstream.abort();
    });
    let answer: IncomingMessage;
    try {
      answer = await upstream.answer;
    } catch (error) {
      const status = error instanceof ModelportError ? error.httpStatus : 502;
      requests.inc({ ...labels, code: String(status) });
      if (status !== 413 && !res.destroyed) log.warn('upstream call failed', { ...labels, err: error });
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
      void mirror.mirror(route, shadow, req, call, Buffer.concat(limit.chunks), primary);
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
      if (!(error instanceof ModelportError)) log.error('gateway request failed', { path, err: error });
      fail(res, req, error);
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
    log,
  );
  const bind = options.host ?? '0.0.0.0';
  await listenOn(http, options.port, bind);

  const reloadMs = options.reloadIntervalMs ?? 2000;
  if (reloadMs > 0) {
    watchFile(options.routes, { interval: reloadMs, persistent: false }, (now, before) => {
      if (now.mtimeMs === before.mtimeMs && now.size === before.size) return;
      try {
        table = load();
        log.info('routes reloaded', { routes: options.routes });
      } catch (error) {
        log.warn('routes not reloaded; the previous routes stay', { err: error });
      }
    });
  }

  const address = http.address() as AddressInfo;
  const shown = bind === '0.0.0.0' ? '127.0.0.1' : bind.includes(':') ? `[${bind}]` : bind;
  log.info('gateway listening', { port: address.port, routes: [...table.byName.keys()] });
  return {
    url: `http://${shown}:${address.port}`,
    close: async () => {
      unwatchFile(options.routes);
      http.closeIdleConnections();
      await new Promise<void>((resolve) => http.close(() => resolve()));
      client.close();
    },
  };
}
