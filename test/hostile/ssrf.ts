/**
 * The SSRF suite (issue 14, "Proof"): a sentinel HTTP server on loopback (IPv4 and IPv6) counts every connection;
 * each of `ssrfSpellings` (ways to write a loopback URL to it) goes through every outbound call the server makes
 * for a user: an import by URL, a hosted model's descriptor, an import redirected there by an allowed host, and a
 * hosted model's inference redirected there. Pass: the sentinel sees no connection.
 */
import { once } from 'node:events';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { ModelportClient } from '../../src/client/client.ts';
import { startTestServer } from '../support/server.ts';

export interface SsrfReport {
  spellings: number;
  /** The outbound calls each spelling went through. */
  paths: string[];
  cases: number;
  /** Cases the server refused (an error answer; the URL never reached the sentinel). */
  refused: number;
  /** Connections the sentinel saw. Must be 0. */
  sentinelHits: number;
  /** Redirects served by the allowed host: proves the redirect cases reached the guard's second check. */
  redirectsServed: number;
  /** Cases answered 2xx (must be 0: nothing may be fetched from the sentinel). */
  accepted: string[];
}

/** Ways to write `http://<loopback>:<port>/` that a URL parser, a resolver or a socket may take for loopback. */
export function ssrfSpellings(port: number): string[] {
  const p = port;
  return [
    `http://127.0.0.1:${p}/m.onnx`,
    `http://localhost:${p}/m.onnx`,
    `http://LOCALHOST:${p}/m.onnx`,
    `http://localhost.:${p}/m.onnx`,
    `http://127.1:${p}/m.onnx`,
    `http://127.0.1:${p}/m.onnx`,
    `http://2130706433:${p}/m.onnx`,
    `http://0x7f000001:${p}/m.onnx`,
    `http://0x7f.0x0.0x0.0x1:${p}/m.onnx`,
    `http://0177.0.0.1:${p}/m.onnx`,
    `http://017700000001:${p}/m.onnx`,
    `http://0x7f.1:${p}/m.onnx`,
    `http://127.000.000.001:${p}/m.onnx`,
    `http://127.0.0.1.:${p}/m.onnx`,
    `http://127.255.255.254:${p}/m.onnx`,
    `http://127.0.0.2:${p}/m.onnx`,
    `http://[::1]:${p}/m.onnx`,
    `http://[0:0:0:0:0:0:0:1]:${p}/m.onnx`,
    `http://[::ffff:127.0.0.1]:${p}/m.onnx`,
    `http://[::ffff:7f00:1]:${p}/m.onnx`,
    `http://[0:0:0:0:0:ffff:127.0.0.1]:${p}/m.onnx`,
    `http://[::ffff:0:127.0.0.1]:${p}/m.onnx`,
    `http://[::127.0.0.1]:${p}/m.onnx`,
    `http://[64:ff9b::127.0.0.1]:${p}/m.onnx`,
    `http://0.0.0.0:${p}/m.onnx`,
    `http://0:${p}/m.onnx`,
    `http://[::]:${p}/m.onnx`,
    `https://127.0.0.1:${p}/m.onnx`,
    `https://localhost:${p}/m.onnx`,
    `HTTP://127.0.0.1:${p}/m.onnx`,
    `http://user@127.0.0.1:${p}/m.onnx`,
    `http://user:pass@localhost:${p}/m.onnx`,
    `http://example.com@127.0.0.1:${p}/m.onnx`,
    `http://127.0.0.1:${p}#@example.com/m.onnx`,
    `http://127.0.0.1:${p}?@example.com/m.onnx`,
    `http://\u24db\u24de\u24d2\u24d0\u24db\u24d7\u24de\u24e2\u24e3:${p}/m.onnx`,
    `http://\uff4c\uff4f\uff43\uff41\uff4c\uff48\uff4f\uff53\uff54:${p}/m.onnx`,
    `http://127\u30020\u30020\u30021:${p}/m.onnx`,
    `http://\u2460\u2461\u2466.0.0.1:${p}/m.onnx`,
    `http://[::1]:${p}/m.onnx?x=../`,
    `//127.0.0.1:${p}/m.onnx`,
    `http:/127.0.0.1:${p}/m.onnx`,
    `http:\\\\127.0.0.1:${p}\\m.onnx`,
  ];
}

function listen(server: Server, host: string): Promise<number> {
  server.listen({ port: 0, host, ipv6Only: false });
  return once(server, 'listening').then(() => (server.address() as AddressInfo).port);
}

export async function runSsrfSuite(): Promise<SsrfReport> {
  let sentinelHits = 0;
  const sentinel = createServer((_req, res) => res.end('sentinel'));
  sentinel.on('connection', () => {
    sentinelHits++;
  });
  const port = await listen(sentinel, '::');
  const spellings = ssrfSpellings(port);

  // The one host an administrator allowed: it redirects to the spelling it is told (or the next in the queue).
  let redirectsServed = 0;
  const queue: string[] = [];
  const redirector = createServer((req, res) => {
    const url = new URL(req.url ?? '/', 'http://x');
    const to = url.searchParams.get('to') ?? queue.shift();
    redirectsServed++;
    // A header carries ASCII only: non-ASCII spellings go percent-encoded, as a real server would send them.
    const location = to === undefined ? '/' : /^[\x20-\x7e]*$/.test(to) ? to : encodeURI(to);
    res.writeHead(307, { location }).end();
  });
  const redirectPort = await listen(redirector, '127.0.0.2');
  const allowed = `127.0.0.2:${redirectPort}`;

  const server = await startTestServer('embedded', { egressAllowHosts: allowed });
  const mp = new ModelportClient({ url: server.url });
  const report: SsrfReport = {
    spellings: spellings.length,
    paths: [],
    cases: 0,
    refused: 0,
    sentinelHits: 0,
    redirectsServed: 0,
    accepted: [],
  };
  const signature = {
    inputs: [{ name: 'x', datatype: 'FP32', shape: [-1, 2] }],
    outputs: [{ name: 'y', datatype: 'FP32', shape: [-1, 2] }],
  };
  const hosted = (url: string) =>
    new TextEncoder().encode(JSON.stringify({ url, protocol: 'v2', model: 'remote', signature }));
  const attempt = async (path: string, spelling: string, call: () => Promise<unknown>) => {
    report.cases++;
    try {
      await call();
      report.accepted.push(`${path}: ${spelling}`);
    } catch {
      report.refused++;
    }
  };
  try {
    const paths: [string, (s: string) => Promise<unknown>][] = [
      ['import by URL', (s) => mp.importModel('imported', { url: s })],
      ['hosted model descriptor', (s) => mp.registerVersion('remote', hosted(s), { format: 'hosted' })],
      [
        'import redirected by an allowed host',
        (s) => mp.importModel('imported', { url: `http://${allowed}/redirect?to=${encodeURIComponent(s)}` }),
      ],
    ];
    for (const [path, call] of paths) {
      report.paths.push(path);
      for (const s of spellings) await attempt(path, s, () => call(s));
    }

    // A hosted model on the allowed host, deployed; every inference is redirected to the next spelling.
    report.paths.push('hosted model inference redirected by an allowed host');
    await mp.registerVersion('redirected', hosted(`http://${allowed}`), { format: 'hosted' });
    await mp.applyDeployment('redirected', { traffic: [{ model: 'redirected', weight: 100 }] });
    await mp.waitDeployment('redirected', 60);
    for (const s of spellings) {
      queue.push(s);
      await attempt('hosted inference', s, async () => {
        const res = await fetch(`${server.url}/v2/models/redirected/infer`, {
          method: 'POST',
          headers: { 'content-type': 'application/json' },
          body: JSON.stringify({ inputs: [{ name: 'x', datatype: 'FP32', shape: [1, 2], data: [1, 2] }] }),
        });
        await res.arrayBuffer();
        if (!res.ok) throw new Error(String(res.status));
      });
      queue.length = 0;
    }
  } finally {
    await server.close();
    report.sentinelHits = sentinelHits;
    report.redirectsServed = redirectsServed;
    sentinel.close();
    redirector.close();
  }
  return report;
}
