/**
 * Serves the web console's built files (ui/dist) at /. Hashed files under /assets/ are cached for a year; every
 * other path that names no file gets index.html, so the console's own routes (/deployments/fraud) load on refresh.
 * Paths are resolved and checked to stay inside the folder (symlinks included). When the console is not built,
 * every page says how to build it.
 *
 *   createHttpServer({ ..., console: createConsoleHandler({ root: 'ui/dist' }) }, log)
 */
import { readFile, realpath, stat } from 'node:fs/promises';
import type { ServerResponse } from 'node:http';
import { extname, resolve, sep } from 'node:path';
import { ModelportError } from '../core/index.ts';
import type { PathHandler } from '../http/index.ts';

export interface ConsoleOptions {
  /** The Vite build output: index.html and assets/. */
  root: string;
}

const TYPES: Record<string, string> = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.mjs': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.json': 'application/json',
  '.map': 'application/json',
  '.svg': 'image/svg+xml',
  '.png': 'image/png',
  '.ico': 'image/x-icon',
  '.woff2': 'font/woff2',
  '.txt': 'text/plain; charset=utf-8',
};

const SECURITY_HEADERS = {
  'x-content-type-options': 'nosniff',
  'referrer-policy': 'no-referrer',
  'content-security-policy':
    "default-src 'self'; img-src 'self' data:; style-src 'self' 'unsafe-inline'; object-src 'none'; base-uri 'none'; frame-ancestors 'none'",
};

const NOT_BUILT = `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>Modelport</title></head>
<body style="font-family: system-ui, sans-serif; max-width: 40rem; margin: 4rem auto; padding: 0 1rem">
<h1>The web console is not built</h1>
<p>Build it with <code>npm run build</code> (<code>npm start</code> runs the build first), then reload this page.</p>
<p>The API is up: <a href="/api/v1/openapi.json">/api/v1/openapi.json</a>.</p>
</body></html>
`;

export function createConsoleHandler(options: ConsoleOptions): PathHandler {
  const root = resolve(options.root);
  let realRoot: Promise<string> | undefined;

  return async (req, res, path) => {
    if (req.method !== 'GET' && req.method !== 'HEAD') {
      throw new ModelportError('method_not_allowed', `the console answers GET and HEAD, not ${req.method}`);
    }
    realRoot ??= realpath(root).catch(() => root);
    const file = await find(root, realRoot, path);
    if (file) return send(res, req.method, file, path.startsWith('/assets/'));
    // A missing file with an extension is a missing file; anything else is a console route.
    if (extname(path) !== '') throw new ModelportError('not_found', `nothing is served at ${path.slice(0, 200)}`);
    const index = await find(root, realRoot, '/index.html');
    if (index) return send(res, req.method, index, false);
    realRoot = undefined; // look again once it is built
    const body = Buffer.from(NOT_BUILT);
    res.writeHead(503, {
      'content-type': TYPES['.html']!,
      'content-length': body.byteLength,
      'cache-control': 'no-store',
      ...SECURITY_HEADERS,
    });
    res.end(req.method === 'HEAD' ? undefined : body);
  };
}

/** The regular file `path` names inside `root`, or undefined; never anything outside it. */
async function find(root: string, realRoot: Promise<string>, path: string): Promise<string | undefined> {
  let decoded: string;
  try {
    decoded = decodeURIComponent(path);
  } catch {
    return undefined;
  }
  if (decoded.includes('\0') || decoded.includes('\\')) return undefined;
  const candidate = resolve(root, `.${decoded}`);
  if (!candidate.startsWith(root + sep)) return undefined;
  try {
    const real = await realpath(candidate);
    if (!real.startsWith((await realRoot) + sep)) return undefined;
    return (await stat(real)).isFile() ? real : undefined;
  } catch {
    return undefined;
  }
}

async function send(res: ServerResponse, method: string, file: string, hashed: boolean): Promise<void> {
  const body = await readFile(file);
  res.writeHead(200, {
    'content-type': TYPES[extname(file).toLowerCase()] ?? 'application/octet-stream',
    'content-length': body.byteLength,
    'cache-control': hashed ? 'public, max-age=31536000, immutable' : 'no-cache',
    ...SECURITY_HEADERS,
  });
  res.end(method === 'HEAD' ? undefined : body);
}
