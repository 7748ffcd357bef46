/**
 * Run by object-shapes.test.ts in a child (`--allow-natives-syntax --expose-gc`): builds requests and responses the
 * way a gateway whose first requests trickle in does (one at a time, a full collection between them), then prints
 * whether the next request and response still have fast properties (not a dictionary).
 *
 * Modes: `none` and `settle` build the objects directly (`settle` settles their shapes first); `plain-server` and
 * `server` send real requests over loopback to Node's own server and to `createHttpServer`'s, from raw sockets (a
 * client in this process would build IncomingMessages of its own).
 */
import { once } from 'node:events';
import type { IncomingMessage as Request, ServerResponse as Response } from 'node:http';
import { connect } from 'node:net';
import { memoryLogger } from '../logging/index.ts';
import { createHttpServer, listenOn } from './http-server.ts';
import { buildExchange, settleHttpObjectShapes } from './object-shapes.ts';

const { createServer } = process.getBuiltinModule('node:http');
// `%HasFastProperties` is V8 syntax the type stripper would refuse, so it is compiled at run time.
const hasFastProperties = new Function('object', 'return %HasFastProperties(object)') as (object: object) => boolean;
const collect = (globalThis as { gc?: () => void }).gc;
if (!collect) throw new Error('run with --expose-gc');
const TRICKLE = 8;
const mode = process.argv[2];
let last: { request: boolean; response: boolean } | undefined;

function exchange(): void {
  const [req, res] = buildExchange();
  req.socket.destroy();
  last = { request: hasFastProperties(req), response: hasFastProperties(res) };
}

/** One GET on a fresh connection; resolves once the answer has come back and the connection closed. */
async function get(port: number): Promise<void> {
  const socket = connect(port, '127.0.0.1');
  socket.end('GET /api/v1/ping HTTP/1.1\r\nhost: 127.0.0.1\r\nconnection: close\r\n\r\n');
  socket.resume();
  await once(socket, 'close');
}

if (mode === 'none' || mode === 'settle') {
  if (mode === 'settle') settleHttpObjectShapes();
  for (let i = 0; i <= TRICKLE; i++) {
    exchange();
    collect();
  }
} else {
  const handler = (req: Request, res: Response) => {
    last = { request: hasFastProperties(req), response: hasFastProperties(res) };
    res.end('ok');
  };
  const server =
    mode === 'plain-server'
      ? createServer(handler)
      : createHttpServer({ api: handler, openapi: () => ({}) }, memoryLogger());
  await listenOn(server, 0, '127.0.0.1');
  const { port } = server.address() as { port: number };
  for (let i = 0; i <= TRICKLE; i++) {
    await get(port);
    collect();
  }
  server.close();
}
process.stdout.write(`${JSON.stringify(last)}\n`);
