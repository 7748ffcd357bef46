/**
 * Closed-loop gRPC load generator (a child process of `bench/serving.ts`, like wrk for HTTP): `concurrency` calls
 * of `ModelInfer` always in flight, spread over `min(concurrency, 8)` HTTP/2 connections, for `seconds`. It speaks
 * gRPC's wire format straight over node:http2 (a length-prefixed message, `grpc-status` from the trailers) with a
 * request serialized once, because @grpc/grpc-js's client costs several times the server's CPU per call and so
 * would measure itself. A call counts as an error unless its `grpc-status` is 0.
 * Prints one line: `GRPC_RESULT {"requests","durationUs","errors","p50Us","p99Us"}`.
 *
 * Run: node bench/grpc-load.ts <host:port> <request file> <concurrency> <seconds>
 */
import { readFileSync } from 'node:fs';
import { type ClientHttp2Session, connect } from 'node:http2';
import { MODEL_INFER_PATH } from './bodies.ts';

const [target, file, concurrencyArg, secondsArg] = process.argv.slice(2);
if (!target || !file)
  throw new Error('usage: node bench/grpc-load.ts <host:port> <request file> <concurrency> <seconds>');
const concurrency = Number(concurrencyArg ?? 1);
const seconds = Number(secondsArg ?? 3);
const message = readFileSync(file);
// gRPC framing: 1 byte "not compressed", 4 bytes big-endian length, the message.
const framed = Buffer.alloc(5 + message.length);
framed.writeUInt32BE(message.length, 1);
message.copy(framed, 5);
const authorization = process.env['GRPC_AUTHORIZATION'];
const headers = {
  ':method': 'POST',
  ':path': MODEL_INFER_PATH,
  'content-type': 'application/grpc',
  te: 'trailers',
  ...(authorization ? { authorization } : {}),
};

const sessions = await Promise.all(
  Array.from(
    { length: Math.min(concurrency, 8) },
    () =>
      new Promise<ClientHttp2Session>((resolve, reject) => {
        const session = connect(`http://${target}`);
        session.once('connect', () => resolve(session));
        session.once('error', reject);
      }),
  ),
);

function call(session: ClientHttp2Session): Promise<boolean> {
  return new Promise((resolve) => {
    let status: unknown;
    const stream = session.request(headers);
    // A trailers-only answer (an error) carries grpc-status in its headers.
    stream.on('response', (h) => {
      status ??= h['grpc-status'];
    });
    stream.on('trailers', (t) => {
      status = t['grpc-status'];
    });
    stream.on('data', () => {});
    stream.on('error', () => {});
    stream.on('close', () => resolve(status === '0'));
    stream.end(framed);
  });
}

const latencies: number[] = [];
let errors = 0;
const started = performance.now();
const end = started + seconds * 1000;

async function loop(session: ClientHttp2Session): Promise<void> {
  for (let t0 = performance.now(); t0 < end; t0 = performance.now()) {
    if (await call(session)) latencies.push(performance.now() - t0);
    else errors++;
  }
}

await Promise.all(
  Array.from({ length: concurrency }, (_, i) => loop(sessions[i % sessions.length] as ClientHttp2Session)),
);
const durationUs = Math.round((performance.now() - started) * 1000);
for (const session of sessions) session.close();

latencies.sort((a, b) => a - b);
const pct = (p: number) =>
  Math.round((latencies[Math.min(latencies.length - 1, Math.floor(latencies.length * p))] ?? 0) * 1000);
const result = { requests: latencies.length + errors, durationUs, errors, p50Us: pct(0.5), p99Us: pct(0.99) };
process.stdout.write(`GRPC_RESULT ${JSON.stringify(result)}\n`);
