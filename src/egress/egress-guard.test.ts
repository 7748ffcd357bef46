import assert from 'node:assert/strict';
import { once } from 'node:events';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { after, before, describe, test } from 'node:test';
import { ModelportError } from '../core/index.ts';
import { blockedRange } from './address-policy.ts';
import { EgressGuard, type LookupAll } from './egress-guard.ts';

/** An HTTP server that counts the connections it accepts. */
async function listen(
  host: string,
  handler: Parameters<typeof createServer>[1],
): Promise<{ server: Server; port: number; connections: () => number }> {
  const server = createServer(handler);
  let count = 0;
  server.on('connection', () => count++);
  server.listen(0, host);
  await once(server, 'listening');
  return { server, port: (server.address() as AddressInfo).port, connections: () => count };
}

const refused = (e: unknown) => e instanceof ModelportError && e.code === 'egress_refused';

describe('EgressGuard', () => {
  let sentinel: Awaited<ReturnType<typeof listen>>;
  let allowed: Awaited<ReturnType<typeof listen>>;
  let S: number;
  let A: number;
  let guard: EgressGuard;

  before(async () => {
    sentinel = await listen('127.0.0.1', (_req, res) => res.end('sentinel reached'));
    S = sentinel.port;
    allowed = await listen('127.0.0.2', (req, res) => {
      const url = new URL(req.url ?? '/', 'http://x');
      if (url.pathname === '/redirect') {
        res.writeHead(Number(url.searchParams.get('status') ?? 302), { location: url.searchParams.get('to') ?? '/' });
        res.end();
      } else if (url.pathname.startsWith('/chain/')) {
        const n = Number(url.pathname.slice(7));
        if (n === 0) res.end('end of chain');
        else res.writeHead(302, { location: `/chain/${n - 1}` }).end();
      } else if (url.pathname === '/big') {
        res.write(Buffer.alloc(4096, 97));
        res.end(Buffer.alloc(4096, 97));
      } else if (url.pathname === '/hang') {
        res.flushHeaders();
      } else {
        let body = '';
        req.setEncoding('utf8');
        req.on('data', (c) => {
          body += c;
        });
        req.on('end', () =>
          res.end(
            JSON.stringify({
              method: req.method,
              host: req.headers.host,
              auth: req.headers.authorization ?? null,
              body,
            }),
          ),
        );
      }
    });
    A = allowed.port;
    guard = new EgressGuard({ allowHosts: ['127.0.0.2', `allowed.test:${A}`, 'rebind.test'], maxResponseBytes: 6000 });
  });

  after(async () => {
    await guard.close();
    sentinel.server.close();
    allowed.server.closeAllConnections();
    allowed.server.close();
    assert.equal(sentinel.connections(), 0, 'the sentinel on 127.0.0.1 must never be reached');
  });

  const vectors = (): [string, string][] => [
    ['loopback', `http://127.0.0.1:${S}/`],
    ['decimal', `http://2130706433:${S}/`],
    ['octal', `http://0177.0.0.1:${S}/`],
    ['hex short form', `http://0x7f.1:${S}/`],
    ['hex', `http://0x7f000001:${S}/`],
    ['octal whole', `http://017700000001:${S}/`],
    ['short form', `http://127.1:${S}/`],
    ['three parts', `http://127.0.1:${S}/`],
    ['other loopback', `http://127.255.255.254:${S}/`],
    ['IPv4-mapped IPv6', `http://[::ffff:127.0.0.1]:${S}/`],
    ['IPv4-mapped IPv6 hex', `http://[::ffff:7f00:1]:${S}/`],
    ['IPv4-compatible IPv6', `http://[::127.0.0.1]:${S}/`],
    ['NAT64 of loopback', `http://[64:ff9b::7f00:1]:${S}/`],
    ['IPv6 loopback', `http://[::1]:${S}/`],
    ['IPv6 loopback long', `http://[0:0:0:0:0:0:0:1]:${S}/`],
    ['IPv6 unspecified', `http://[::]:${S}/`],
    ['localhost', `http://localhost:${S}/`],
    ['LOCALHOST', `http://LOCALHOST:${S}/`],
    ['localhost trailing dot', `http://localhost.:${S}/`],
    ['unspecified', `http://0.0.0.0:${S}/`],
    ['zero', `http://0:${S}/`],
    ['userinfo', `http://good@127.0.0.1:${S}/`],
    ['userinfo naming the allowed host', `http://127.0.0.2:${A}@127.0.0.1:${S}/`],
    ['userinfo with password', `http://user:pass@127.0.0.1:${S}/`],
    ['metadata', 'http://169.254.169.254/latest/meta-data/'],
    ['metadata mapped', 'http://[::ffff:169.254.169.254]/'],
    ['metadata decimal', 'http://2852039166/'],
    ['link-local', 'http://169.254.1.1/'],
    ['RFC 1918 10/8', 'http://10.0.0.1/'],
    ['RFC 1918 172.16/12', 'http://172.31.255.1/'],
    ['RFC 1918 192.168/16', 'http://192.168.1.1/'],
    ['private mapped', 'http://[::ffff:10.0.0.1]/'],
    ['CGNAT', 'http://100.64.0.1/'],
    ['ULA', 'http://[fd00::1]/'],
    ['IPv6 link-local', 'http://[fe80::1]/'],
    ['multicast', 'http://224.0.0.1/'],
    ['IPv6 multicast', 'http://[ff02::1]/'],
    ['broadcast', 'http://255.255.255.255/'],
    ['file scheme', 'file:///etc/passwd'],
    ['ftp scheme', `ftp://127.0.0.2:${A}/`],
    ['gopher scheme', `gopher://127.0.0.1:${S}/`],
    ['not a URL', 'http://[::1/'],
    ['redirect to loopback', `http://127.0.0.2:${A}/redirect?to=${encodeURIComponent(`http://127.0.0.1:${S}/`)}`],
    [
      'redirect to localhost',
      `http://127.0.0.2:${A}/redirect?status=307&to=${encodeURIComponent(`http://localhost:${S}/`)}`,
    ],
    [
      'redirect to mapped',
      `http://127.0.0.2:${A}/redirect?status=301&to=${encodeURIComponent(`http://[::ffff:127.0.0.1]:${S}/`)}`,
    ],
    [
      'redirect to decimal',
      `http://127.0.0.2:${A}/redirect?status=308&to=${encodeURIComponent(`http://2130706433:${S}/`)}`,
    ],
    ['redirect to userinfo', `http://127.0.0.2:${A}/redirect?to=${encodeURIComponent(`http://x@127.0.0.2:${A}/`)}`],
    ['redirect to file', `http://127.0.0.2:${A}/redirect?to=${encodeURIComponent('file:///etc/passwd')}`],
    ['allowed name on another port', `http://allowed.test:${S}/`],
    ['name resolving to loopback', `http://evil.test:${S}/`],
    ['name resolving to public and loopback', `http://mixed.test:${S}/`],
    ['name resolving to mapped loopback', `http://mapped.test:${S}/`],
    ['IPv4-translated loopback', `http://[::ffff:0:127.0.0.1]:${S}/`],
    ['IPv4-translated loopback, hex', `http://[::ffff:0:7f00:1]:${S}/`],
    ['IPv4-translated metadata', 'http://[::ffff:0:169.254.169.254]/'],
    ['IPv4-compatible loopback', `http://[::127.0.0.1]:${S}/`],
    ['IPv4-compatible public (deprecated range)', 'http://[::8.8.8.8]/'],
    ['NAT64 loopback', `http://[64:ff9b::127.0.0.1]:${S}/`],
    ['NAT64 private', 'http://[64:ff9b::10.0.0.1]/'],
    ['6to4 embedding loopback', 'http://[2002:7f00:1::1]/'],
    ['6to4 embedding private', 'http://[2002:c0a8:101::1]/'],
    ['this network 0.0.0.0/8', `http://0.1.2.3:${S}/`],
    ['octal', `http://0177.0.0.1:${S}/`],
    ['hex', `http://0x7f000001:${S}/`],
    ['hex dotted', `http://0x7f.0x0.0x0.0x1:${S}/`],
    ['short form', `http://127.1:${S}/`],
    ['name resolving to translated loopback', `http://translated.test:${S}/`],
    [
      'redirect to translated',
      `http://127.0.0.2:${A}/redirect?to=${encodeURIComponent(`http://[::ffff:0:127.0.0.1]:${S}/`)}`,
    ],
  ];

  const names: Record<string, string[]> = {
    'allowed.test': ['127.0.0.2'],
    'evil.test': ['127.0.0.1'],
    'mixed.test': ['93.184.215.14', '127.0.0.1'],
    'mapped.test': ['::ffff:127.0.0.1'],
    'translated.test': ['::ffff:0:7f00:1'],
  };
  const lookup: LookupAll = async (host) => {
    if (host === 'localhost' || host === 'localhost.')
      return [
        { address: '127.0.0.1', family: 4 },
        { address: '::1', family: 6 },
      ];
    const found = names[host];
    if (!found) throw Object.assign(new Error(`ENOTFOUND ${host}`), { code: 'ENOTFOUND' });
    return found.map((address) => ({ address, family: address.includes(':') ? 6 : 4 }));
  };

  test('refuses at least 30 loopback, private and malformed vectors without connecting', async () => {
    const list = vectors();
    assert.ok(list.length >= 30);
    const g = new EgressGuard({ allowHosts: ['127.0.0.2', `allowed.test:${A}`], lookup });
    try {
      for (const [what, url] of list) {
        await assert.rejects(g.fetch(url), (e: unknown) => {
          assert.ok(refused(e), `${what}: expected egress_refused, got ${String(e)}`);
          return true;
        });
      }
    } finally {
      await g.close();
    }
    assert.equal(sentinel.connections(), 0);
  });

  test('the real resolver: localhost is refused', async () => {
    await assert.rejects(guard.fetch(`http://localhost:${S}/`), refused);
    assert.equal(sentinel.connections(), 0);
  });

  test('an allowed host works, with method, body and Host header kept', async () => {
    const res = await guard.fetch(`http://127.0.0.2:${A}/echo`, {
      method: 'POST',
      body: '{"x":1}',
      headers: { 'content-type': 'application/json', authorization: 'Bearer t' },
    });
    assert.equal(res.status, 200);
    assert.deepEqual(await res.json(), { method: 'POST', host: `127.0.0.2:${A}`, auth: 'Bearer t', body: '{"x":1}' });
  });

  test('an allowed name connects to the address checked first, and resolves once (DNS rebinding)', async () => {
    let calls = 0;
    const rebinding: LookupAll = async () => {
      calls++;
      return [{ address: calls === 1 ? '127.0.0.2' : '127.0.0.1', family: 4 }];
    };
    const g = new EgressGuard({ allowHosts: ['rebind.test'], lookup: rebinding });
    try {
      const before = allowed.connections();
      const res = await g.fetch(`http://rebind.test:${A}/echo`);
      assert.equal(((await res.json()) as { host: string }).host, `rebind.test:${A}`);
      assert.equal(calls, 1);
      assert.equal(allowed.connections(), before + 1);
    } finally {
      await g.close();
    }
    assert.equal(sentinel.connections(), 0);
  });

  test('check resolves once and returns the address the connection will be pinned to', async () => {
    let calls = 0;
    const g = new EgressGuard({
      lookup: async () => {
        calls++;
        return [{ address: calls === 1 ? '93.184.215.14' : '127.0.0.1', family: 4 }];
      },
    });
    const target = await g.check(`http://rebind.example:${S}/`);
    assert.equal(target.address, '93.184.215.14');
    assert.equal(calls, 1);
    await g.close();
  });

  test('redirects are followed and counted: 5 pass, 6 are refused', async () => {
    const ok = await guard.fetch(`http://127.0.0.2:${A}/chain/5`);
    assert.equal(await ok.text(), 'end of chain');
    await assert.rejects(
      guard.fetch(`http://127.0.0.2:${A}/chain/6`),
      (e: unknown) => refused(e) && /more than 5 redirects/.test(String(e)),
    );
  });

  test('a redirect drops credentials when it leaves the origin, and 303 turns POST into GET', async () => {
    const to = `http://allowed.test:${A}/echo`;
    const g = new EgressGuard({ allowHosts: ['127.0.0.2', `allowed.test:${A}`], lookup });
    try {
      const res = await g.fetch(`http://127.0.0.2:${A}/redirect?status=303&to=${encodeURIComponent(to)}`, {
        method: 'POST',
        body: 'payload',
        headers: { authorization: 'Bearer t' },
      });
      assert.deepEqual(await res.json(), { method: 'GET', host: `allowed.test:${A}`, auth: null, body: '' });
      const same = await g.fetch(`http://127.0.0.2:${A}/redirect?status=307&to=/echo`, {
        method: 'PUT',
        body: 'kept',
        headers: { authorization: 'Bearer t' },
      });
      assert.deepEqual(await same.json(), { method: 'PUT', host: `127.0.0.2:${A}`, auth: 'Bearer t', body: 'kept' });
    } finally {
      await g.close();
    }
  });

  test('the response body is cut at the limit, and a hanging server hits the deadline', async () => {
    const res = await guard.fetch(`http://127.0.0.2:${A}/big`);
    await assert.rejects(
      res.arrayBuffer(),
      (e: unknown) => e instanceof ModelportError && e.code === 'payload_too_large',
    );
    const g = new EgressGuard({ allowHosts: ['127.0.0.2'], timeoutMs: 200 });
    try {
      const hanging = await g.fetch(`http://127.0.0.2:${A}/hang`);
      await assert.rejects(hanging.text(), (e: unknown) => e instanceof ModelportError && e.code === 'timeout');
    } finally {
      await g.close();
    }
  });

  test('a refused redirect names the first host only, never where it led', async () => {
    const g = new EgressGuard({ allowHosts: ['127.0.0.2'], lookup });
    try {
      for (const to of [`http://internal-db.corp:${S}/`, `http://evil.test:${S}/`, `http://10.9.8.7:${S}/`]) {
        const url = `http://127.0.0.2:${A}/redirect?to=${encodeURIComponent(to)}`;
        await assert.rejects(g.fetch(url), (e: unknown) => {
          assert.ok(e instanceof ModelportError, String(e));
          assert.ok(['egress_refused', 'not_ready'].includes(e.code), e.code);
          assert.match(e.message, /127\.0\.0\.2/);
          for (const secret of ['internal-db', 'evil.test', '10.9.8.7'])
            assert.ok(!e.message.includes(secret), e.message);
          return true;
        });
      }
    } finally {
      await g.close();
    }
    assert.equal(sentinel.connections(), 0);
  });

  test('blockedRange: every embedding of a special IPv4 address is refused', () => {
    const table: [string, string | undefined][] = [
      ['::ffff:0:7f00:1', 'loopback'],
      ['::ffff:0:a00:1', 'private (RFC 1918)'],
      ['::ffff:0:808:808', 'IPv4-translated'],
      ['::7f00:1', 'loopback'],
      ['::808:808', 'IPv4-compatible (deprecated)'],
      ['64:ff9b::7f00:1', 'loopback'],
      ['64:ff9b::a9fe:a9fe', 'cloud metadata'],
      ['64:ff9b::808:808', undefined],
      ['2002:7f00:1::', '6to4'],
      ['2001:0:7f00:1::', 'Teredo'],
      ['0.0.0.0', 'unspecified ("this network")'],
      ['0.255.255.255', 'unspecified ("this network")'],
      ['::ffff:0:0', 'unspecified ("this network")'],
    ];
    for (const [ip, reason] of table) assert.equal(blockedRange(ip), reason, ip);
  });

  test('blockedRange names the range, and passes public addresses', () => {
    assert.equal(blockedRange('169.254.169.254'), 'cloud metadata');
    assert.equal(blockedRange('::ffff:10.1.2.3'), 'private (RFC 1918)');
    assert.equal(blockedRange('[::1]'), 'loopback');
    assert.equal(blockedRange('93.184.215.14'), undefined);
    assert.equal(blockedRange('2606:4700:4700::1111'), undefined);
    assert.equal(blockedRange('::ffff:8.8.8.8'), undefined);
  });
});
