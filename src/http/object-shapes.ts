/**
 * Settles the size V8 gives Node's per-request objects before the first request, so that a gateway whose first
 * requests trickle in does not answer every later one with objects in dictionary mode.
 *
 * V8 sizes the objects a constructor makes from its first instances ("in-object slack tracking"): at the seventh
 * allocation it shrinks them to the most properties any earlier instance's shape reached. Those shapes are held
 * weakly, so when the first requests come apart (a probe, an idle minute, a full collection between them) the seventh
 * finds them collected and the constructor keeps room for no property at all. Node's IncomingMessage and
 * ServerResponse set about 30 and 45 properties in their constructors: every later request and response then holds
 * them all outside the object and, at the first symbol-keyed one past V8's soft limit of 12 such properties, turns
 * into a dictionary; every access to them in Node's HTTP code and ours then misses its inline cache. Measured in
 * `bench/serving.ts`, whose gateway served six requests and then idled through the floors' series: 52 us of gateway
 * CPU per fraud V2 JSON request against 36 for a gateway that served at once, for the rest of the process's life.
 *
 * Building the first instances here, together and kept alive until the last is built, settles the size while their
 * shapes are all reachable. Idempotent: a constructor whose tracking is over is left as it is.
 */
import type { IncomingMessage as Request, ServerResponse as Response } from 'node:http';
import { Socket } from 'node:net';

// As in http-server.ts: `import ... from 'node:http'` would load Node's fetch client into every process.
const { IncomingMessage, ServerResponse } = process.getBuiltinModule('node:http');

/** More than V8's slack tracking counts (7), so the last allocations always come after the settling one. */
const INSTANCES = 10;

let settled = false;

/** One request and its response, built as Node's server builds them; the caller destroys `req.socket`. */
export function buildExchange(): [Request, Response] {
  const req = new IncomingMessage(new Socket());
  // What the parser sets on a real request before the response is built (HTTP/1.1 keeps the keep-alive defaults).
  req.httpVersionMajor = 1;
  req.httpVersionMinor = 1;
  req.method = 'GET';
  return [req, new ServerResponse(req)];
}

export function settleHttpObjectShapes(): void {
  if (settled) return;
  settled = true;
  const live: [Request, Response][] = [];
  for (let i = 0; i < INSTANCES; i++) live.push(buildExchange());
  // `live` ends here, after the last construction: every shape was reachable when V8 settled the sizes.
  for (const [req] of live) req.socket.destroy();
}
