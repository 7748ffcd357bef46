/**
 * An open-loop HTTP/1.1 load generator (the overload probe of bench/serving.ts): requests leave at a fixed arrival
 * rate whatever the server answers, as real clients arrive, so a cheap 429 does not make room for the next request
 * the way a closed loop (wrk) re-sends at once. Each request goes on an idle keep-alive socket (one request in
 * flight per socket, no pipelining), or on a new one, up to `--sockets`; a request that finds none is counted as
 * not sent (the generator's own limit, reported). Latency runs from the request's scheduled time (as wrk2 does), so
 * a late generator does not hide queueing.
 *
 * Bodies are pre-serialized; responses are framed by Content-Length. Prints one JSON line: sent, not sent, answers
 * by status, 429/503 answers without Retry-After, connection errors, unanswered, and latency percentiles of the
 * 200s and of the refusals.
 *
 * Run: node bench/open-loop.ts --url http://127.0.0.1:8080/v2/models/m/infer --body-file body.json \
 *        --header 'content-type: application/json' --rate 20000 --seconds 3 [--sockets 2048]
 */
import { readFileSync } from 'node:fs';
import { connect, type Socket } from 'node:net';
import { parseArgs } from 'node:util';

export interface OpenLoopResult {
  rate: number;
  seconds: number;
  sent: number;
  notSent: number;
  statuses: Record<string, number>;
  refusalsWithoutRetryAfter: number;
  connectionErrors: number;
  unanswered: number;
  ok: { p50: number; p99: number };
  refused: { p50: number; p99: number };
  /** How late the generator itself sent requests (actual write time - scheduled time), ms: its own share of latency. */
  sendLag: { p50: number; p99: number };
  socketsOpened: number;
}

interface Conn {
  socket: Socket;
  /** Scheduled time of the request in flight, or -1 when idle. */
  scheduled: number;
  buffer: Buffer;
}

function percentile(sorted: Float64Array, q: number): number {
  if (sorted.length === 0) return 0;
  return sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))] as number;
}

export async function openLoop(options: {
  url: string;
  body: Buffer;
  headers: Record<string, string>;
  rate: number;
  seconds: number;
  sockets: number;
}): Promise<OpenLoopResult> {
  const url = new URL(options.url);
  const head = Object.entries(options.headers)
    .map(([k, v]) => `${k}: ${v}\r\n`)
    .join('');
  const request = Buffer.concat([
    Buffer.from(
      `POST ${url.pathname} HTTP/1.1\r\nhost: ${url.host}\r\n${head}content-length: ${options.body.length}\r\n\r\n`,
    ),
    options.body,
  ]);
  const port = Number(url.port);
  const idle: Conn[] = [];
  let open = 0;
  let socketsOpened = 0;
  let sent = 0;
  let notSent = 0;
  let inFlight = 0;
  let connectionErrors = 0;
  let refusalsWithoutRetryAfter = 0;
  const statuses: Record<string, number> = {};
  const okLatencies: number[] = [];
  const refusedLatencies: number[] = [];
  const sendLags: number[] = [];
  let finishing = false;
  let drained: (() => void) | undefined;

  const answered = (conn: Conn, status: number, retryAfter: boolean) => {
    const latency = performance.now() - conn.scheduled;
    conn.scheduled = -1;
    inFlight--;
    statuses[status] = (statuses[status] ?? 0) + 1;
    if (status === 200) okLatencies.push(latency);
    else if (status === 429 || status === 503) {
      refusedLatencies.push(latency);
      if (!retryAfter) refusalsWithoutRetryAfter++;
    }
    if (finishing && inFlight === 0) drained?.();
  };

  const onData = (conn: Conn, chunk: Buffer) => {
    conn.buffer = conn.buffer.length === 0 ? chunk : Buffer.concat([conn.buffer, chunk]);
    for (;;) {
      const end = conn.buffer.indexOf('\r\n\r\n');
      if (end < 0) return;
      const header = conn.buffer.toString('latin1', 0, end).toLowerCase();
      const length = Number(/\r\ncontent-length: *(\d+)/.exec(header)?.[1] ?? 0);
      if (conn.buffer.length < end + 4 + length) return;
      const status = Number(header.slice(9, 12));
      const close = /\r\nconnection: *close/.test(header);
      conn.buffer = conn.buffer.subarray(end + 4 + length);
      answered(conn, status, /\r\nretry-after: *\d/.test(header));
      if (close) {
        conn.socket.destroy();
        return;
      }
      idle.push(conn);
    }
  };

  const newConn = (): Conn => {
    const socket = connect({ host: url.hostname, port, noDelay: true });
    const conn: Conn = { socket, scheduled: -1, buffer: Buffer.alloc(0) };
    open++;
    socketsOpened++;
    socket.on('data', (chunk: Buffer) => onData(conn, chunk));
    socket.on('error', () => {});
    socket.on('close', () => {
      open--;
      const at = idle.indexOf(conn);
      if (at >= 0) idle.splice(at, 1);
      if (conn.scheduled >= 0) {
        connectionErrors++;
        conn.scheduled = -1;
        inFlight--;
        if (finishing && inFlight === 0) drained?.();
      }
    });
    return conn;
  };

  const started = performance.now();
  const interval = 1000 / options.rate;
  await new Promise<void>((resolve) => {
    const tick = () => {
      const now = performance.now();
      const due = Math.min(options.rate * options.seconds, Math.floor((now - started) / interval));
      for (let i = sent + notSent; i < due; i++) {
        const conn = idle.pop() ?? (open < options.sockets ? newConn() : undefined);
        if (!conn) {
          notSent++;
          continue;
        }
        conn.scheduled = started + i * interval;
        inFlight++;
        sent++;
        conn.socket.write(request);
        sendLags.push(performance.now() - conn.scheduled);
      }
      if (due >= options.rate * options.seconds) resolve();
      // A timer, not setImmediate: spinning would take a core from the server under test on a small machine. Up to
      // 1 ms late is harmless, since latency counts from each request's scheduled time.
      else setTimeout(tick, 1);
    };
    tick();
  });
  finishing = true;
  if (inFlight > 0) {
    await new Promise<void>((resolve) => {
      drained = resolve;
      setTimeout(resolve, 5000).unref();
    });
  }
  const unanswered = inFlight;
  for (const conn of [...idle]) conn.socket.destroy();
  const sorted = (values: number[]) => Float64Array.from(values).sort();
  const ok = sorted(okLatencies);
  const refused = sorted(refusedLatencies);
  const lags = sorted(sendLags);
  return {
    rate: options.rate,
    seconds: options.seconds,
    sent,
    notSent,
    statuses,
    refusalsWithoutRetryAfter,
    connectionErrors,
    unanswered,
    ok: { p50: percentile(ok, 0.5), p99: percentile(ok, 0.99) },
    refused: { p50: percentile(refused, 0.5), p99: percentile(refused, 0.99) },
    sendLag: { p50: percentile(lags, 0.5), p99: percentile(lags, 0.99) },
    socketsOpened,
  };
}

if (import.meta.main) {
  const { values } = parseArgs({
    options: {
      url: { type: 'string' },
      'body-file': { type: 'string' },
      header: { type: 'string', multiple: true, default: [] },
      rate: { type: 'string' },
      seconds: { type: 'string', default: '3' },
      sockets: { type: 'string', default: '2048' },
    },
  });
  if (!values.url || !values['body-file'] || !values.rate) {
    throw new Error('usage: node bench/open-loop.ts --url URL --body-file FILE --rate N [--seconds S] [--header h:v]');
  }
  const headers = Object.fromEntries(
    values.header.map((h) => {
      const at = h.indexOf(':');
      return [h.slice(0, at).trim(), h.slice(at + 1).trim()];
    }),
  );
  const result = await openLoop({
    url: values.url,
    body: readFileSync(values['body-file']),
    headers,
    rate: Number(values.rate),
    seconds: Number(values.seconds),
    sockets: Number(values.sockets),
  });
  process.stdout.write(`${JSON.stringify(result)}\n`);
  process.exit(0);
}
