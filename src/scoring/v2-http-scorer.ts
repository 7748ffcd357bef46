/**
 * `V2HttpScorer`: scores through a served model's Open Inference Protocol (KServe V2) REST endpoint, sending each
 * batch with the binary tensor extension and asking for binary outputs. The signature comes from the endpoint's
 * model metadata (`GET /v2/models/{name}`), with the feature names and labels of its friendly signature when it
 * reports one. `429` and `503` answers are retried (Retry-After honoured, at most 6 tries); other failures stop the
 * run with the server's message.
 *
 * Example: `const scorer = await V2HttpScorer.open('http://127.0.0.1:8080', 'fraud', { concurrency: 4 });`
 */

import {
  DATATYPE_SIZE,
  type Datatype,
  isDatatype,
  ModelportError,
  type Tensor,
  type TensorData,
} from '../core/index.ts';
import type { BatchScorer } from './scorer.ts';
import type { ScoringSignature } from './signature.ts';

export interface V2HttpScorerOptions {
  /** Model version to address (`/versions/{v}`); absent: whatever the endpoint routes to. */
  version?: string;
  /** Batches in flight at once; default 4. */
  concurrency?: number;
  token?: string;
  fetch?: typeof fetch;
  /** Per-request timeout in milliseconds; default 60 s. */
  timeoutMs?: number;
}

/** The parts of a friendly signature (`parameters.friendly_signature` in V2 metadata) that scoring reads. */
interface MetadataFriendly {
  features?: { name?: unknown }[];
  outputs?: { labels?: unknown };
}

const isStrings = (v: unknown): v is string[] => Array.isArray(v) && v.every((s) => typeof s === 'string');

/** Feature names and labels from the endpoint's friendly signature, when it reports one. */
function friendlyParts(parameters: { friendly_signature?: MetadataFriendly } | undefined): Partial<ScoringSignature> {
  const friendly = parameters?.friendly_signature;
  const names = Array.isArray(friendly?.features) ? friendly.features.map((f) => f?.name) : undefined;
  const labels = friendly?.outputs?.labels;
  return {
    ...(isStrings(names) && names.length > 0 ? { featureNames: names } : {}),
    ...(isStrings(labels) ? { labels } : {}),
  };
}

const HEADER_LENGTH = 'inference-header-content-length';
const MAX_TRIES = 6;

interface MetadataTensor {
  name: string;
  datatype: string;
  shape: number[];
}

export class V2HttpScorer implements BatchScorer {
  readonly signature: ScoringSignature;
  readonly concurrency: number;
  readonly #path: string;
  readonly #options: V2HttpScorerOptions;
  readonly #fetch: typeof fetch;

  constructor(signature: ScoringSignature, modelPath: string, options: V2HttpScorerOptions) {
    this.signature = signature;
    this.#path = modelPath;
    this.#options = options;
    this.#fetch = options.fetch ?? fetch;
    this.concurrency = options.concurrency ?? 4;
  }

  /** Reads the model's metadata from `baseUrl` and returns a scorer for it. */
  static async open(baseUrl: string, model: string, options: V2HttpScorerOptions = {}): Promise<V2HttpScorer> {
    const base = baseUrl.replace(/\/+$/, '');
    const path = `${base}/v2/models/${encodeURIComponent(model)}${options.version ? `/versions/${encodeURIComponent(options.version)}` : ''}`;
    const probe = new V2HttpScorer({ inputs: [], outputs: [] }, path, options);
    const response = await probe.#send(path, { method: 'GET' });
    const metadata = (await response.json()) as {
      inputs?: MetadataTensor[];
      outputs?: MetadataTensor[];
      parameters?: { friendly_signature?: MetadataFriendly };
    };
    const specs = (list: MetadataTensor[] | undefined) =>
      (list ?? []).map((t) => {
        if (!isDatatype(t.datatype)) {
          throw new ModelportError(
            'invalid_model',
            `the endpoint reports tensor '${t.name}' with datatype ${t.datatype}`,
          );
        }
        return { name: t.name, datatype: t.datatype, shape: t.shape };
      });
    return new V2HttpScorer(
      { inputs: specs(metadata.inputs), outputs: specs(metadata.outputs), ...friendlyParts(metadata.parameters) },
      path,
      options,
    );
  }

  async score(input: Tensor, outputs: readonly string[]): Promise<Tensor[]> {
    const data = input.data as Float32Array | Float64Array;
    const bytes = Buffer.from(data.buffer, data.byteOffset, data.byteLength);
    const header = Buffer.from(
      JSON.stringify({
        inputs: [
          {
            name: input.name,
            datatype: input.datatype,
            shape: input.shape,
            parameters: { binary_data_size: bytes.length },
          },
        ],
        outputs: outputs.map((name) => ({ name, parameters: { binary_data: true } })),
      }),
    );
    const response = await this.#send(`${this.#path}/infer`, {
      method: 'POST',
      headers: { 'content-type': 'application/octet-stream', [HEADER_LENGTH]: String(header.length) },
      body: Buffer.concat([header, bytes]),
    });
    const body = Buffer.from(await response.arrayBuffer());
    return decodeResponse(body, response.headers.get(HEADER_LENGTH), outputs);
  }

  async close(): Promise<void> {}

  async #send(url: string, init: RequestInit): Promise<Response> {
    const headers = { ...(init.headers as Record<string, string>) };
    if (this.#options.token) headers['authorization'] = `Bearer ${this.#options.token}`;
    for (let attempt = 1; ; attempt++) {
      let response: Response;
      try {
        response = await this.#fetch(url, {
          ...init,
          headers,
          signal: AbortSignal.timeout(this.#options.timeoutMs ?? 60_000),
        });
      } catch (error) {
        throw new ModelportError('not_ready', `the inference endpoint ${new URL(url).origin} is not reachable`, {
          field: 'url',
          cause: error,
        });
      }
      if (response.ok) return response;
      const text = await response.text();
      if ((response.status === 429 || response.status === 503) && attempt < MAX_TRIES) {
        const retryAfter = Number(response.headers.get('retry-after'));
        const seconds = Number.isFinite(retryAfter) && retryAfter > 0 ? Math.min(retryAfter, 5) : 0.05 * 2 ** attempt;
        await new Promise((resolve) => setTimeout(resolve, seconds * 1000));
        continue;
      }
      let message = text.slice(0, 300);
      try {
        const parsed = JSON.parse(text) as { error?: string | { message?: string } };
        message = typeof parsed.error === 'string' ? parsed.error : (parsed.error?.message ?? message);
      } catch {}
      const code = response.status === 404 ? 'not_found' : response.status < 500 ? 'invalid_input' : 'worker_failed';
      throw new ModelportError(code, `the inference endpoint answered ${response.status}: ${message}`, {
        field: 'url',
      });
    }
  }
}

function decodeResponse(body: Buffer, headerLength: string | null, names: readonly string[]): Tensor[] {
  const jsonEnd = headerLength === null ? body.length : Number(headerLength);
  const header = JSON.parse(body.toString('utf8', 0, jsonEnd)) as {
    outputs?: (MetadataTensor & { data?: unknown[]; parameters?: { binary_data_size?: number } })[];
  };
  let offset = jsonEnd;
  const decoded = new Map<string, Tensor>();
  for (const output of header.outputs ?? []) {
    if (!isDatatype(output.datatype) || output.datatype === 'BYTES') {
      throw new ModelportError(
        'invalid_model',
        `output '${output.name}' is ${output.datatype}; score reads numeric outputs`,
      );
    }
    const size = output.parameters?.binary_data_size;
    let data: TensorData;
    if (size !== undefined) {
      data = typedArray(output.datatype, body.subarray(offset, offset + size));
      offset += size;
    } else {
      data = fromJson(output.datatype, (output.data ?? []).flat(Number.POSITIVE_INFINITY) as number[]);
    }
    decoded.set(output.name, { name: output.name, datatype: output.datatype, shape: output.shape, data });
  }
  return names.map((name) => {
    const tensor = decoded.get(name);
    if (!tensor) throw new ModelportError('invalid_model', `the endpoint did not return output '${name}'`);
    return tensor;
  });
}

/** A typed array over a copy of `bytes` (copied so that its offset is aligned for the element size). */
function typedArray(datatype: Exclude<Datatype, 'BYTES'>, bytes: Buffer): TensorData {
  const buffer = new Uint8Array(bytes).buffer;
  const n = bytes.length / DATATYPE_SIZE[datatype];
  switch (datatype) {
    case 'FP32':
      return new Float32Array(buffer, 0, n);
    case 'FP64':
      return new Float64Array(buffer, 0, n);
    case 'INT64':
      return new BigInt64Array(buffer, 0, n);
    case 'UINT64':
      return new BigUint64Array(buffer, 0, n);
    case 'INT32':
      return new Int32Array(buffer, 0, n);
    case 'UINT32':
      return new Uint32Array(buffer, 0, n);
    case 'INT16':
      return new Int16Array(buffer, 0, n);
    case 'UINT16':
    case 'FP16':
      return new Uint16Array(buffer, 0, n);
    case 'INT8':
      return new Int8Array(buffer, 0, n);
    case 'UINT8':
    case 'BOOL':
      return new Uint8Array(buffer, 0, n);
  }
}

function fromJson(datatype: Exclude<Datatype, 'BYTES'>, values: number[]): TensorData {
  if (datatype === 'INT64') return BigInt64Array.from(values, (v) => BigInt(v));
  if (datatype === 'UINT64') return BigUint64Array.from(values, (v) => BigInt(v));
  if (datatype === 'FP32') return Float32Array.from(values);
  return Float64Array.from(values);
}
