/**
 * Shadows behind the gateway: a sampled `percent` of a deployment's inference calls is sent again to its shadow
 * after the primary answered, bounded in flight (more are dropped and counted), and V2 JSON answers are compared
 * with deployments/shadow.ts.
 */
import type { IncomingMessage } from 'node:http';
import { outputsAgree } from '../../../deployments/index.ts';
import type { Logger } from '../../../logging/index.ts';
import type { Counter } from '../../../metrics/index.ts';
import { readInferRequest } from '../../../protocols/index.ts';
import type { Call } from './calls.ts';
import type { Route, Upstream } from './routing-table.ts';
import type { UpstreamClient } from './upstream.ts';

export interface ShadowMirrorOptions {
  client: UpstreamClient;
  counter: Counter;
  maxInFlight: number;
  maxBytes: number;
  headers: (req: IncomingMessage, model: string) => Record<string, string | string[]>;
  log: Logger;
}

export class ShadowMirror {
  readonly #o: ShadowMirrorOptions;
  #inFlight = 0;

  constructor(options: ShadowMirrorOptions) {
    this.#o = options;
  }

  /** The shadow this call goes to as well, if sampled and there is room; a sampled call without room is dropped. */
  pick(route: Route, call: Call): Upstream | undefined {
    const sampled = call.infer && route.shadow && Math.random() * 100 < route.shadow.percent ? route.shadow : undefined;
    const shadow = sampled && this.#inFlight < this.#o.maxInFlight ? sampled : undefined;
    if (sampled && !shadow) this.#o.counter.inc({ deployment: route.deployment, outcome: 'dropped' });
    return shadow;
  }

  /** Calls the shadow with the primary's request and counts whether the answers agree. Never throws. */
  async mirror(
    route: Route,
    shadow: Upstream,
    req: IncomingMessage,
    call: Call,
    body: Buffer,
    primary: Buffer | undefined,
  ): Promise<void> {
    const { client, counter, maxBytes, log } = this.#o;
    this.#inFlight++;
    let outcome = 'error';
    try {
      const headers = this.#o.headers(req, shadow.model);
      const res = await client.send(shadow, req.method ?? 'POST', call.path(shadow.model), headers, body).answer;
      const chunks: Buffer[] = [];
      let size = 0;
      for await (const chunk of res as AsyncIterable<Buffer>) {
        size += chunk.length;
        if (size > maxBytes) throw new Error('the shadow answer is larger than the body limit');
        chunks.push(chunk);
      }
      if (res.statusCode !== 200) throw new Error(`the shadow answered ${res.statusCode}`);
      if (!call.v2Json || primary === undefined) {
        outcome = 'uncompared';
        return;
      }
      const outputs = (text: Buffer) =>
        readInferRequest({ inputs: (JSON.parse(text.toString('utf8')) as { outputs?: unknown }).outputs }, undefined)
          .inputs;
      outcome = outputsAgree(outputs(primary), outputs(Buffer.concat(chunks))) ? 'agree' : 'disagree';
    } catch (error) {
      log.warn('shadow call failed', { deployment: route.deployment, shadow: shadow.label, err: error });
    } finally {
      this.#inFlight--;
      counter.inc({ deployment: route.deployment, outcome });
    }
  }
}
