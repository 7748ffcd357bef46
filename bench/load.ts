/**
 * Runs one load point in a separate process and parses its result: wrk (Debian's, with bench/wrk-post.lua) for
 * HTTP, h2load (Debian's nghttp2-client) or else bench/grpc-load.ts for gRPC. Both are closed loop: `connections` requests in flight at all times, latency
 * measured from each send.
 *
 * Example: `await runWrk({ url, body, connections: 64, seconds: 3, dir })` -> `{ rps: 31000, p50Ms: 1.9, ... }`.
 */
import { type ChildProcess, execFile, execFileSync, fork } from 'node:child_process';
import { once } from 'node:events';
import { readFileSync } from 'node:fs';
import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { Client, credentials } from '@grpc/grpc-js';
import { childEnv } from '../src/core/child-env.ts';
import { type HttpBody, MODEL_INFER_PATH } from './bodies.ts';

const execFileAsync = promisify(execFile);

/**
 * The gateway's V8 flags, as `npm start` and bin/modelport.js give it: every bench starts its server with them.
 * `--heap-growing-percent=20` once made gRPC pay for extra mark-compacts; since the gRPC server no longer lets every
 * call outlive the scavenges (InFlightCalls and renewStreamTable in src/serving/grpc/grpc-server.ts), it promotes
 * about as little per call as REST and the flag costs it nothing measurable (`node bench/gc-probe.ts`).
 */
export const GATEWAY_FLAGS = [
  '--max-semi-space-size=8',
  '--no-allocation-site-pretenuring',
  '--heap-growing-percent=20',
];

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
  /** The size of a successful answer's message (a checked call's response), so h2load's runs can count errors; 0 counts every answer. */
  responseBytes: number;
  connections: number;
  seconds: number;
  dir: string;
  /** Sent as the `authorization` metadata entry (a server with auth on). */
  authorization?: string | undefined;
  /**
   * Most HTTP/2 connections h2load opens (default 8), the streams spread over them: gRPC clients multiplex a channel
   * over few connections, and node:http2 is cheap per call only so.
   */
  maxConnections?: number;
}

/** Whether nghttp2's h2load (Debian's nghttp2-client) is on the PATH. */
export const hasH2load = (() => {
  try {
    execFileSync('h2load', ['--version'], { stdio: 'ignore' });
    return true;
  } catch {
    return false;
  }
})();

/**
 * One gRPC run: h2load (C, like wrk for HTTP, so the load generator costs little of the shared CPU) when it is
 * installed, else bench/grpc-load.ts in its own Node process. Either way `connections` calls are in flight over
 * `min(connections, 8)` HTTP/2 connections.
 */
export async function runGrpcLoad(options: GrpcLoadOptions): Promise<LoadResult> {
  const file = join(options.dir, `request-${files++}.bin`);
  if (hasH2load) return runH2load(options, file);
  await writeFile(file, options.request);
  return run(
    process.execPath,
    [join(HERE, 'grpc-load.ts'), options.target, file, String(options.connections), String(options.seconds)],
    options.authorization ? { GRPC_AUTHORIZATION: options.authorization } : {},
    'GRPC_RESULT ',
  );
}

/**
 * h2load checks HTTP statuses only, and a gRPC error is an HTTP 200 without a body (the status rides in the
 * trailers): so a call counts as answered only for the DATA bytes of a successful answer it brought back.
 * Latencies come from h2load's per-request log.
 */
async function runH2load(options: GrpcLoadOptions, file: string): Promise<LoadResult> {
  const framed = Buffer.alloc(5 + options.request.length);
  framed.writeUInt32BE(options.request.length, 1);
  options.request.copy(framed, 5);
  await writeFile(file, framed);
  const log = `${file}.log`;
  const connections = Math.min(options.connections, options.maxConnections ?? 8);
  const { stdout } = await execFileAsync(
    'h2load',
    [
      `-D${options.seconds}`,
      `-c${connections}`,
      `-m${Math.ceil(options.connections / connections)}`,
      '-t1',
      `-d${file}`,
      '-Hcontent-type: application/grpc',
      '-Hte: trailers',
      ...(options.authorization ? [`-Hauthorization: ${options.authorization}`] : []),
      `--log-file=${log}`,
      `http://${options.target}${MODEL_INFER_PATH}`,
    ],
    { maxBuffer: 16 * 1024 * 1024 },
  );
  const done = Number(/(\d+) done/.exec(stdout)?.[1] ?? 0);
  const dataBytes = Number(/\(\d+\) headers[^,]*, [^(]*\((\d+)\) data/.exec(stdout)?.[1] ?? 0);
  const answered =
    options.responseBytes > 0 ? Math.min(done, Math.floor(dataBytes / (5 + options.responseBytes))) : done;
  const durations = (await readFile(log, 'utf8'))
    .split('\n')
    .flatMap((line) => {
      const micros = Number(line.split('\t')[2]);
      return Number.isFinite(micros) && line !== '' ? [micros] : [];
    })
    .sort((a, b) => a - b);
  const percentile = (p: number) =>
    (durations[Math.min(durations.length - 1, Math.floor(p * durations.length))] ?? 0) / 1000;
  return {
    rps: answered / options.seconds,
    p50Ms: percentile(0.5),
    p99Ms: percentile(0.99),
    requests: done,
    errors: done - answered,
  };
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

/** CPU seconds (user + system) a process or thread has used so far, from its /proc stat file (USER_HZ is 100). */
export function statCpuSeconds(statFile: string): number {
  const fields = readFileSync(statFile, 'utf8').split(') ')[1]?.split(' ') ?? [];
  return (Number(fields[11]) + Number(fields[12])) / 100;
}

/** CPU seconds (user + system, all threads) the processes have used so far. */
export function cpuSeconds(pids: number | readonly number[]): number {
  let seconds = 0;
  for (const pid of typeof pids === 'number' ? [pids] : pids) seconds += statCpuSeconds(`/proc/${pid}/stat`);
  return seconds;
}

/** Stops a bench child (SIGTERM, so a `--cpu-prof` child writes its profile) and waits until it has exited. */
export async function stopChild(child: ChildProcess | undefined): Promise<void> {
  if (!child || child.exitCode !== null || child.signalCode !== null) return;
  const exited = once(child, 'exit');
  child.kill('SIGTERM');
  await exited;
}

/** Forks a bench child and waits for its first IPC message. */
export async function startChild<T>(
  file: string,
  argv: string[] = [],
  execArgv: string[] = [],
): Promise<{ child: ChildProcess; ready: T }> {
  const child = fork(join(HERE, file), argv, {
    execArgv,
    env: { ...process.env, ...childEnv() },
    stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
  });
  const [ready] = (await Promise.race([
    once(child, 'message'),
    once(child, 'exit').then(([code]) => Promise.reject(new Error(`${file} exited with ${String(code)}`))),
  ])) as [T];
  return { child, ready };
}

/** One raw gRPC call with pre-serialized bytes; resolves with the serialized response. */
export function grpcCall(target: string, request: Buffer): Promise<Buffer> {
  const client = new Client(target, credentials.createInsecure());
  const identity = (b: Buffer) => b;
  return new Promise<Buffer>((resolve, reject) => {
    client.makeUnaryRequest(MODEL_INFER_PATH, identity, identity, request, (error, response) => {
      client.close();
      if (error || !response) reject(error ?? new Error('no response'));
      else resolve(response);
    });
  });
}

export async function httpCall(url: string, body: HttpBody): Promise<Buffer> {
  const response = await fetch(`${url}${body.path}`, { method: 'POST', body: body.body, headers: body.headers });
  const bytes = Buffer.from(await response.arrayBuffer());
  if (response.status !== 200) throw new Error(`${body.path}: ${response.status} ${bytes.toString().slice(0, 200)}`);
  return bytes;
}
