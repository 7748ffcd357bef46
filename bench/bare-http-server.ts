/**
 * The HTTP floor: a bare node:http server (a child process of `bench/serving.ts`) that reads each request body
 * whole and answers a fixed V2 response, the gateway's own answer to the same request, with no parsing at all.
 * Sends `{ type: 'ready', port }` over IPC once listening.
 *
 * Run: node bench/bare-http-server.ts <response file>
 */
import { readFileSync } from 'node:fs';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';

const response = readFileSync(process.argv[2] ?? '');
const headers = { 'content-type': 'application/json', 'content-length': response.length };

const server = createServer((req, res) => {
  req.on('data', () => {});
  req.on('end', () => {
    res.writeHead(200, headers);
    res.end(response);
  });
});
server.keepAliveTimeout = 60_000;
server.listen(0, '127.0.0.1', () => {
  process.send?.({ type: 'ready', port: (server.address() as AddressInfo).port });
});
process.on('disconnect', () => process.exit(0));
