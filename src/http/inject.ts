/**
 * Calls an HTTP server in-process, without a port (like Fastify's `inject()` or Hono's `app.request()`): the
 * request travels over an in-memory socket pair into the server's own HTTP parser, so limits, routing and error
 * answers behave exactly as on a listener. The server need not (and should not) be listening.
 *
 * ```ts
 * const res = await inject(app.server, '/api/v1/projects', { method: 'POST', body: JSON.stringify({ name: 'p' }) });
 * assert.equal(res.status, 201);
 * ```
 */
import type { IncomingHttpHeaders, Server } from 'node:http';
import { duplexPair } from 'node:stream';

// Not `import { ... } from 'node:http'`: building that module's ESM namespace reads its lazy WebSocket, CloseEvent and
// MessageEvent getters, which load Node's bundled fetch client (undici, about 13 MB resident) in every process.
const { Agent, request } = process.getBuiltinModule('node:http');

export interface InjectInit {
  method?: string;
  headers?: Record<string, string>;
  body?: string | Uint8Array;
}

export function inject(server: Server, path: string, init: InjectInit = {}): Promise<Response> {
  return new Promise((resolve, reject) => {
    const body = init.body === undefined ? undefined : Buffer.from(init.body);
    // An agent of one in-memory connection: its far end is handed to the server as a new connection.
    const agent = new Agent();
    agent.createConnection = () => {
      const [client, served] = duplexPair();
      // The server reads a socket's address and tunes it; an in-memory pair has no such knobs.
      Object.assign(served, {
        remoteAddress: '127.0.0.1',
        remotePort: 0,
        setTimeout: () => served,
        setNoDelay: () => served,
        setKeepAlive: () => served,
      });
      server.emit('connection', served);
      return client as never;
    };
    const req = request(
      {
        method: init.method ?? 'GET',
        path,
        // A loopback name: the server's Host check (DNS rebinding) answers loopback names and IP addresses.
        host: 'localhost',
        headers: {
          ...(body ? { 'content-type': 'application/json', 'content-length': String(body.length) } : {}),
          ...init.headers,
        },
        agent,
      },
      (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (chunk: Buffer) => chunks.push(chunk));
        res.once('error', reject);
        res.once('end', () => {
          agent.destroy();
          const status = res.statusCode ?? 0;
          const nullBody = status === 204 || status === 304 || init.method === 'HEAD';
          resolve(new Response(nullBody ? null : Buffer.concat(chunks), { status, headers: toHeaders(res.headers) }));
        });
      },
    );
    req.once('error', (error) => {
      agent.destroy();
      reject(error);
    });
    req.end(body);
  });
}

function toHeaders(headers: IncomingHttpHeaders): Headers {
  const out = new Headers();
  for (const [name, value] of Object.entries(headers)) {
    if (value === undefined) continue;
    for (const v of Array.isArray(value) ? value : [value]) out.append(name, v);
  }
  return out;
}
