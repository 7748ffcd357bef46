/**
 * Runs one load point in a separate process and parses its result: wrk (Debian's, with bench/wrk-post.lua) for
 * HTTP, bench/grpc-load.ts for gRPC. Both are closed loop: `connections` requests in flight at all times, latency
 * measured from each send.
 *
 * Example: `await runWrk({ url, body, connections: 64, seconds: 3, dir })` -> `{ rps: 31000, p50Ms: 1.9, ... }`.
 */
import { execFile } from 'node:child_process';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { HttpBody } from './bodies.ts';

export interface LoadResult {
  rps: number;
  p50Ms: number;
  p99Ms: number;
  requests: number;
  /** Non-2xx answers, socket errors and timeouts (HTTP); non-OK statuses (gRPC). */
  errors: number;
  /** CPU time of the server process (user + system) per answered request, in microseconds, when measured. */
  serverUsPerRequest?: number;
  /** CPU time of the model's worker processes per answered request, in microseconds, when measured. */
  workerUsPerRequest?: number;
}

interface RawResult {
  requests: number;
  durationUs: number;
  errors: number;
  p50Us: number;
  p99Us: number;
}

const HERE = fileURLToPath(new URL('.', import.meta.url));
let files = 0;

function run(command: string, args: string[], env: Record<string, string>, marker: string): Promise<LoadResult> {
  return new Promise((resolve, reject) => {
    execFile(
      command,
      args,
      { env: { ...process.env, ...env }, maxBuffer: 16 * 1024 * 1024 },
      (error, stdout, stderr) => {
        const line = stdout.split('\n').find((l) => l.startsWith(marker));
        if (error || !line)
          return reject(new Error(`${command} failed: ${error?.message ?? ''}\n${stdout}\n${stderr}`));
        const raw = JSON.parse(line.slice(marker.length)) as RawResult;
        resolve({
          rps: (raw.requests - raw.errors) / (raw.durationUs / 1e6),
          p50Ms: raw.p50Us / 1000,
          p99Ms: raw.p99Us / 1000,
          requests: raw.requests,
          errors: raw.errors,
        });
      },
    );
  });
}

export interface WrkOptions {
  /** Base URL, e.g. http://127.0.0.1:8080. */
  url: string;
  body: HttpBody;
  connections: number;
  seconds: number;
  /** A folder for the body file. */
  dir: string;
}

/** One wrk run with one thread (the machine has two cores; the server gets the rest). */
export async function runWrk(options: WrkOptions): Promise<LoadResult> {
  const file = join(options.dir, `body-${files++}.bin`);
  await writeFile(file, options.body.body);
  const headers = Object.entries(options.body.headers)
    .map(([name, value]) => `${name}: ${value}`)
    .join('\n');
  return run(
    'wrk',
    [
      '-t1',
      `-c${options.connections}`,
      `-d${options.seconds}s`,
      '--timeout',
      '10s',
      '-s',
      join(HERE, 'wrk-post.lua'),
      `${options.url}${options.body.path}`,
    ],
    { WRK_BODY: file, WRK_HEADERS: headers },
    'WRK_RESULT ',
  );
}

export interface GrpcLoadOptions {
  /** host:port */
  target: string;
  /** A serialized ModelInferRequest. */
  request: Buffer;
  connections: number;
  seconds: number;
  dir: string;
}

/** One run of bench/grpc-load.ts in its own Node process. */
export async function runGrpcLoad(options: GrpcLoadOptions): Promise<LoadResult> {
  const file = join(options.dir, `request-${files++}.bin`);
  await writeFile(file, options.request);
  return run(
    process.execPath,
    [join(HERE, 'grpc-load.ts'), options.target, file, String(options.connections), String(options.seconds)],
    {},
    'GRPC_RESULT ',
  );
}

/** The median of each figure over runs (figures taken separately). */
export function medianResult(results: LoadResult[]): LoadResult {
  const median = (pick: (r: LoadResult) => number) => {
    const sorted = results.map(pick).sort((a, b) => a - b);
    return sorted[Math.floor(sorted.length / 2)] ?? 0;
  };
  const optional = (name: 'serverUsPerRequest' | 'workerUsPerRequest') =>
    results.every((r) => r[name] !== undefined) ? { [name]: median((r) => r[name] as number) } : {};
  return {
    rps: median((r) => r.rps),
    p50Ms: median((r) => r.p50Ms),
    p99Ms: median((r) => r.p99Ms),
    requests: median((r) => r.requests),
    errors: results.reduce((n, r) => n + r.errors, 0),
    ...optional('serverUsPerRequest'),
    ...optional('workerUsPerRequest'),
  };
}
