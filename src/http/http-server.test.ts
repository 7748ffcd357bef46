import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { once } from 'node:events';
import { readFileSync } from 'node:fs';
import type { Server } from 'node:http';
import { type AddressInfo, connect, type Socket } from 'node:net';
import { after, before, describe, test } from 'node:test';
import { silentLogger } from '../logging/index.ts';
import { readBody } from './body.ts';
import { createHttpServer, LISTEN_BACKLOG, listenOn } from './http-server.ts';
import { sendJson } from './respond.ts';

/** A raw client: writes `chunks`, then keeps the socket open; resolves with everything read once the server closes. */
async function slowClient(port: number, chunks: string[]): Promise<{ socket: Socket; closed: Promise<string> }> {
  const socket = connect(port, '127.0.0.1');
  await once(socket, 'connect');
  let received = '';
  socket.on('data', (d) => {
    received += d.toString('latin1');
  });
  socket.on('error', () => {});
  const closed = new Promise<string>((resolve) => socket.on('close', () => resolve(received)));
  for (const chunk of chunks) socket.write(chunk);
  return { socket, closed };
}

describe('slow clients are disconnected', () => {
  let server: Server;
  let port: number;
  before(async () => {
    const json = async (req: Parameters<typeof readBody>[0], res: Parameters<typeof sendJson>[0]) => {
      const body = await readBody(req, 1024 * 1024);
      sendJson(res, 200, { bytes: body.length });
    };
    server = createHttpServer(
      {
        api: json,
        openapi: () => ({}),
        inference: json,
        // Stands for an upload route: reads the body as a stream, with no deadline of its own.
        metrics: async (req, res) => {
          let bytes = 0;
          for await (const chunk of req) bytes += (chunk as Buffer).length;
          sendJson(res, 200, { bytes });
        },
      },
      silentLogger(),
      { headersMs: 300, bodyMs: 300, uploadMs: 1_000 },
    );
    server.listen(0, '127.0.0.1');
    await once(server, 'listening');
    port = (server.address() as AddressInfo).port;
  });
  after(() => new Promise<void>((resolve) => server.close(() => resolve())));

  const head = (path: string, length: number) =>
    `POST ${path} HTTP/1.1\r\nhost: localhost\r\ncontent-type: application/json\r\ncontent-length: ${length}\r\n\r\n`;

  test('a body that trickles in gets 408 and its socket is closed (control API and inference)', async () => {
    for (const path of ['/api/v1/projects', '/v2/models/fraud/infer', '/v1/models/fraud:predict']) {
      const client = await slowClient(port, [head(path, 1000), '{"a"']);
      const answer = await client.closed;
      assert.match(answer, /^HTTP\/1\.1 408 /, path);
      assert.match(answer, /"code":"request_timeout"|request body did not arrive/, path);
    }
  });

  test('headers that never finish: the socket is closed', async () => {
    const client = await slowClient(port, ['POST /v2/models/fraud/infer HTTP/1.1\r\nhost: local']);
    const answer = await client.closed;
    assert.match(answer, /^HTTP\/1\.1 408 |^$/);
  });

  test('a streamed upload that trickles in is cut at the upload timeout', async () => {
    const client = await slowClient(port, [head('/metrics', 1_000_000), 'x'.repeat(100)]);
    await client.closed;
    assert.equal(client.socket.destroyed, true);
  });

  test('50 slow-body sockets at once: all 50 are closed', async () => {
    const clients = await Promise.all(
      Array.from({ length: 50 }, () => slowClient(port, [head('/v2/models/fraud/infer', 5000), '['])),
    );
    const answers = await Promise.all(clients.map((c) => c.closed));
    assert.equal(answers.filter((a) => a.startsWith('HTTP/1.1 408')).length, 50);
  });

  test('a prompt client is served', async () => {
    const res = await fetch(`http://127.0.0.1:${port}/v2/models/fraud/infer`, { method: 'POST', body: '{"x":1}' });
    assert.deepEqual(await res.json(), { bytes: 7 });
  });

  test('a body that came with its headers, one sent in pieces and pipelined requests are each read whole', async () => {
    const body = (n: number) => `[${'1,'.repeat(n)}1]`;
    const request = (b: string) => `${head('/v2/models/fraud/infer', b.length)}${b}`;
    // Three pipelined requests in one write (their bodies sit in the socket together), then one in two pieces.
    const client = await slowClient(port, [request(body(3)) + request(body(4000)) + request(body(0))]);
    const pieces = request(body(10));
    client.socket.write(pieces.slice(0, -5));
    await new Promise((resolve) => setTimeout(resolve, 50));
    client.socket.end(pieces.slice(-5));
    const answer = await client.closed;
    const sizes = [...answer.matchAll(/\{"bytes":(\d+)\}/g)].map((m) => Number(m[1]));
    assert.deepEqual(sizes, [body(3).length, body(4000).length, body(0).length, body(10).length]);
  });
});

describe('listenOn', () => {
  test('accepts with a backlog of LISTEN_BACKLOG (capped by net.core.somaxconn), not Node default 511', async (t) => {
    const ss = spawnSync('ss', ['-Hltn'], { encoding: 'utf8' });
    if (ss.error) return t.skip('ss (iproute2) is not installed: the backlog cannot be read');
    const server = createHttpServer({ api: () => {}, openapi: () => ({}) }, silentLogger());
    await listenOn(server, 0, '127.0.0.1');
    try {
      const { port } = server.address() as AddressInfo;
      const somaxconn = Number(readFileSync('/proc/sys/net/core/somaxconn', 'utf8'));
      // For a listening socket, ss prints the backlog as its Send-Q (the third column).
      const line = spawnSync('ss', ['-Hltn', `sport = :${port}`], { encoding: 'utf8' }).stdout.trim();
      assert.equal(Number(line.split(/\s+/)[2]), Math.min(LISTEN_BACKLOG, somaxconn));
    } finally {
      server.close();
    }
  });
});
