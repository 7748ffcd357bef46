import assert from 'node:assert/strict';
import { once } from 'node:events';
import { mkdir, mkdtemp, rm, symlink, writeFile } from 'node:fs/promises';
import { request } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { createHttpServer } from '../http/index.ts';
import { silentLogger } from '../logging/index.ts';
import { createConsoleHandler } from './console-handler.ts';

/** Sends `path` byte for byte (fetch would normalise `..` away). */
function get(port: number, path: string, method = 'GET') {
  return new Promise<{ status: number; headers: Record<string, unknown>; body: string }>((done, fail) => {
    const req = request({ host: '127.0.0.1', port, path, method }, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (chunk: string) => (body += chunk));
      res.on('end', () => done({ status: res.statusCode ?? 0, headers: res.headers, body }));
    });
    req.on('error', fail);
    req.end();
  });
}

async function serve(root: string) {
  const server = createHttpServer(
    { api: async () => {}, openapi: () => ({}), console: createConsoleHandler({ root }) },
    silentLogger(),
  );
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  return { server, port: (server.address() as AddressInfo).port };
}

describe('console handler', () => {
  let dir: string;
  let port: number;
  let close: () => void;

  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'modelport-console-'));
    const root = join(dir, 'dist');
    await mkdir(join(root, 'assets'), { recursive: true });
    await writeFile(join(root, 'index.html'), '<!doctype html><title>console</title>');
    await writeFile(join(root, 'assets', 'index-abc123.js'), 'console.log(1)');
    await writeFile(join(root, 'assets', 'index-abc123.css'), 'body{}');
    await writeFile(join(dir, 'secret.txt'), 'top secret');
    await symlink(join(dir, 'secret.txt'), join(root, 'link.txt'));
    const s = await serve(root);
    port = s.port;
    close = () => s.server.close();
  });
  after(async () => {
    close();
    await rm(dir, { recursive: true, force: true });
  });

  test('serves index.html at / and for client routes, never cached for long', async () => {
    for (const path of ['/', '/deployments/fraud', '/models?q=x']) {
      const res = await get(port, path);
      assert.equal(res.status, 200, path);
      assert.equal(res.headers['content-type'], 'text/html; charset=utf-8');
      assert.equal(res.headers['cache-control'], 'no-cache');
      assert.match(res.body, /<title>console<\/title>/);
    }
  });

  test('serves hashed assets with their type and a long cache', async () => {
    const js = await get(port, '/assets/index-abc123.js');
    assert.equal(js.status, 200);
    assert.equal(js.headers['content-type'], 'text/javascript; charset=utf-8');
    assert.equal(js.headers['cache-control'], 'public, max-age=31536000, immutable');
    assert.equal(js.body, 'console.log(1)');
    const css = await get(port, '/assets/index-abc123.css', 'HEAD');
    assert.equal(css.headers['content-type'], 'text/css; charset=utf-8');
    assert.equal(css.body, '');
  });

  test('a missing file is a 404, not the index', async () => {
    const res = await get(port, '/assets/missing.js');
    assert.equal(res.status, 404);
    assert.equal(JSON.parse(res.body).error.code, 'not_found');
  });

  test('never serves a file outside the folder', async () => {
    const vectors = [
      '/../secret.txt',
      '/assets/../../secret.txt',
      '/%2e%2e/secret.txt',
      '/assets/%2e%2e%2f%2e%2e%2fsecret.txt',
      '/..%5csecret.txt',
      '/%2e%2e%5csecret.txt',
      '/link.txt',
      '/%00/secret.txt',
      '/%E0%A4%A.txt',
    ];
    for (const path of vectors) {
      const res = await get(port, path);
      assert.ok(!res.body.includes('top secret'), path);
      assert.equal(res.status, 404, path);
    }
  });

  test('only GET and HEAD', async () => {
    const res = await get(port, '/', 'POST');
    assert.equal(res.status, 405);
  });

  test('says how to build the console when it is not built', async () => {
    const s = await serve(join(dir, 'nowhere'));
    try {
      const res = await get(s.port, '/models');
      assert.equal(res.status, 503);
      assert.match(res.body, /npm run build/);
      assert.ok(!res.body.includes(dir), 'no server path in the page');
    } finally {
      s.server.close();
    }
  });
});
