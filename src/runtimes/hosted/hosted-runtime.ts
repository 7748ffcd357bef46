/**
 * The `hosted` runtime: serves a model that runs elsewhere by calling its prediction service (V2, V1, Seldon or
 * plain JSON; see hosted-descriptor.ts) for each batch. It runs in a worker process like any runtime, so the
 * gateway's protocols, batching, metrics and scaling apply unchanged.
 *
 * - Every call goes through an `EgressGuard` built from the server's allow list (`egressAllowHosts`): loopback,
 *   private and metadata addresses, and redirects to them, are refused unless an administrator allowed the host.
 * - One attempt lasts at most `timeout` (body included); connection errors and 502/503/504 are retried up to
 *   `retries` times after `backoff`, doubling. A 4xx is never retried, and neither is a timeout (the request's own
 *   deadline is the caller's; retrying would overrun it).
 * - The auth header's value is read from the worker's environment (the deployment's secrets), never logged.
 *
 * Example: `const rt = new HostedRuntime({ env }); await rt.load({ path: 'fraud.hosted.yaml', egressAllowHosts: [] });`
 */
import { setTimeout as sleep } from 'node:timers/promises';
import type { ModelSignature, Tensor } from '../../core/index.ts';
import { ModelportError } from '../../core/index.ts';
import { EgressGuard, type LookupAll } from '../../egress/index.ts';
import { type ModelRuntime, notLoaded, type RuntimeLoadOptions } from '../runtime.ts';
import { decodeHostedResponse, encodeHostedRequest } from './hosted-codecs.ts';
import { type HostedDescriptor, readHostedDescriptor } from './hosted-descriptor.ts';

export interface HostedRuntimeOptions {
  /** The worker's environment: where `auth.env` is looked up. Default: empty. */
  env?: Readonly<Record<string, string | undefined>>;
  /** DNS resolution for the guard; injectable for tests. */
  lookup?: LookupAll;
}

const RETRYABLE_STATUS = new Set([502, 503, 504]);
const CLIENT_ERRORS = new Set([400, 404, 409, 413, 422]);

export class HostedRuntime implements ModelRuntime {
  readonly #env: Readonly<Record<string, string | undefined>>;
  readonly #lookup: LookupAll | undefined;
  #descriptor: Readonly<HostedDescriptor> | undefined;
  #guard: EgressGuard | undefined;
  #headers: Record<string, string> = {};
  /** Attempts made since load (for tests and logs). */
  attempts = 0;

  constructor(options: HostedRuntimeOptions = {}) {
    this.#env = options.env ?? {};
    this.#lookup = options.lookup;
  }

  async load(options: RuntimeLoadOptions, signal?: AbortSignal): Promise<void> {
    const descriptor = await readHostedDescriptor(options.path);
    const headers: Record<string, string> = { 'content-type': 'application/json', accept: 'application/json' };
    if (descriptor.auth) {
      const value = this.#env[descriptor.auth.env];
      if (value === undefined || value === '') {
        throw new ModelportError(
          'invalid_config',
          `the hosted model's auth reads the environment variable ${descriptor.auth.env}, which is not set; add a secret to the deployment: secrets: [{ env: ${descriptor.auth.env}, secret: <name> }]`,
          { field: 'auth.env' },
        );
      }
      headers[descriptor.auth.header.toLowerCase()] = `${descriptor.auth.prefix}${value}`;
    }
    const guard = new EgressGuard({
      allowHosts: [...(options.egressAllowHosts ?? [])],
      timeoutMs: descriptor.timeoutMs,
      ...(this.#lookup ? { lookup: this.#lookup } : {}),
    });
    try {
      // Refuse a forbidden endpoint at load time rather than on the first request.
      await guard.check(descriptor.endpoint);
      signal?.throwIfAborted();
    } catch (error) {
      await guard.close();
      throw error;
    }
    this.#descriptor = descriptor;
    this.#guard = guard;
    this.#headers = headers;
  }

  signature(): ModelSignature {
    if (!this.#descriptor) throw notLoaded();
    return this.#descriptor.signature;
  }

  async predict(batch: Tensor[], outputs?: string[]): Promise<Tensor[]> {
    const descriptor = this.#descriptor;
    const guard = this.#guard;
    if (!descriptor || !guard) throw notLoaded();
    const body = JSON.stringify(encodeHostedRequest(descriptor, batch, outputs));
    const answer = await this.#call(descriptor, guard, body);
    return decodeHostedResponse(descriptor, answer, outputs);
  }

  async unload(): Promise<void> {
    const guard = this.#guard;
    this.#guard = undefined;
    this.#descriptor = undefined;
    await guard?.close();
  }

  /** POSTs with retries; returns the parsed JSON answer. Messages never name the host: clients read them. */
  async #call(descriptor: HostedDescriptor, guard: EgressGuard, body: string): Promise<unknown> {
    for (let attempt = 0; ; attempt++) {
      const last = attempt >= descriptor.retries;
      this.attempts++;
      let response: Response;
      try {
        response = await guard.fetch(descriptor.endpoint, { method: 'POST', headers: this.#headers, body });
      } catch (error) {
        // `not_ready` is the guard's "cannot reach" (refused, reset, DNS); anything else is final.
        if (!(error instanceof ModelportError) || error.code !== 'not_ready' || last) throw unreachable(error);
        await sleep(descriptor.backoffMs * 2 ** attempt);
        continue;
      }
      if (response.ok) {
        const text = await response.text();
        try {
          return JSON.parse(text);
        } catch {
          throw new ModelportError('internal', `the hosted service answered with a body that is not JSON`);
        }
      }
      await response.body?.cancel().catch(() => {});
      if (RETRYABLE_STATUS.has(response.status) && !last) {
        await sleep(descriptor.backoffMs * 2 ** attempt);
        continue;
      }
      throw statusError(response.status, attempt + 1);
    }
  }
}

function unreachable(error: unknown): unknown {
  if (error instanceof ModelportError && error.code === 'not_ready') {
    return new ModelportError('not_ready', `the hosted service cannot be reached; retry later`, {
      retryAfter: 1,
      cause: error,
    });
  }
  return error;
}

function statusError(status: number, attempts: number): ModelportError {
  if (CLIENT_ERRORS.has(status)) {
    return new ModelportError('invalid_input', `the hosted service refused the request (HTTP ${status})`);
  }
  if (RETRYABLE_STATUS.has(status)) {
    return new ModelportError(
      'not_ready',
      `the hosted service is unavailable (HTTP ${status} after ${attempts} attempt${attempts > 1 ? 's' : ''})`,
      { retryAfter: 1 },
    );
  }
  return new ModelportError('internal', `the hosted service answered HTTP ${status}`);
}
