/**
 * The descriptor of a hosted model version (format `hosted`): where the prediction service runs, which protocol it
 * speaks, the tensors it takes and gives, and how to call it. Registered as the version's file (YAML or JSON).
 *
 * ```yaml
 * url: https://models.example.com      # base URL (v2, v1, seldon) or the full endpoint (json)
 * protocol: v2                         # v2 | v1 | seldon | json. Default v2
 * model: fraud                         # the model's name on the remote side (v2, v1; default: none)
 * signature:                           # the tensors, as V2 metadata lists them
 *   inputs: [{ name: input, datatype: FP32, shape: [-1, 30] }]
 *   outputs: [{ name: probabilities, datatype: FP32, shape: [-1, 2] }]
 * auth: { header: Authorization, env: FRAUD_API_TOKEN, prefix: "Bearer " }   # value from the worker's env
 * timeout: 10s                         # per attempt, body included. Default 30s
 * retries: 2                           # extra attempts on connection errors and 502/503/504. Default 2
 * backoff: 100ms                       # first retry delay, doubling. Default 100ms
 * request: { template: { data: "$input" } }    # json only: "$<input>" strings become the input's rows
 * response: { probabilities: /predictions }    # json only: output name -> JSON pointer (RFC 6901) in the answer
 * ```
 */
import { readFile } from 'node:fs/promises';
import { parse } from 'yaml';
import { isDatatype, ModelportError, type ModelSignature, parseDuration, type TensorSpec } from '../../core/index.ts';

export const HOSTED_PROTOCOLS = ['v2', 'v1', 'seldon', 'json'] as const;
export type HostedProtocol = (typeof HOSTED_PROTOCOLS)[number];

/** A checked descriptor with defaults applied and durations in milliseconds. */
export interface HostedDescriptor {
  /** The URL each call goes to (built from `url`, `protocol` and `model`). */
  endpoint: string;
  protocol: HostedProtocol;
  model: string | undefined;
  signature: ModelSignature;
  auth: { header: string; env: string; prefix: string } | undefined;
  timeoutMs: number;
  retries: number;
  backoffMs: number;
  /** json only. */
  template: unknown;
  /** json only: output name -> JSON pointer. */
  response: Record<string, string>;
}

const bad = (field: string, message: string) =>
  new ModelportError('invalid_model', `hosted descriptor: ${field}: ${message}`, { field });

const isObject = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);

const KEYS = ['url', 'protocol', 'model', 'signature', 'auth', 'timeout', 'retries', 'backoff', 'request', 'response'];

/**
 * Checks a parsed descriptor and returns it compiled and frozen.
 *
 * @example compileHostedDescriptor({ url: 'https://m.example.com', model: 'fraud', signature })
 *   // -> { endpoint: 'https://m.example.com/v2/models/fraud/infer', protocol: 'v2', timeoutMs: 30000, retries: 2, ... }
 * @throws ModelportError `invalid_model` naming the field
 */
export function compileHostedDescriptor(raw: unknown): Readonly<HostedDescriptor> {
  if (!isObject(raw)) throw bad('descriptor', 'must be a YAML or JSON object');
  for (const key of Object.keys(raw)) if (!KEYS.includes(key)) throw bad(key, `unknown field; use ${KEYS.join(', ')}`);
  const protocol = raw['protocol'] ?? 'v2';
  if (!(HOSTED_PROTOCOLS as readonly unknown[]).includes(protocol)) {
    throw bad('protocol', `must be one of ${HOSTED_PROTOCOLS.join(', ')}`);
  }
  const p = protocol as HostedProtocol;
  const model = raw['model'];
  if (model !== undefined && (typeof model !== 'string' || model === '' || model.length > 256)) {
    throw bad('model', 'must be the model name on the remote side');
  }
  if ((p === 'v2' || p === 'v1') && model === undefined)
    throw bad('model', `the ${p} protocol needs the remote model name`);
  const signature = compileSignature(raw['signature']);
  if (p === 'seldon' && signature.inputs.length !== 1) throw bad('signature.inputs', 'seldon takes exactly one input');
  const base = parseUrl(raw['url']);
  const name = encodeURIComponent(model ?? '');
  const endpoint =
    p === 'v2'
      ? `${base}/v2/models/${name}/infer`
      : p === 'v1'
        ? `${base}/v1/models/${name}:predict`
        : p === 'seldon'
          ? `${base}/api/v1.0/predictions`
          : String(raw['url']);

  let template: unknown;
  let response: Record<string, string> = {};
  if (p === 'json') {
    const request = raw['request'];
    if (!isObject(request) || request['template'] === undefined) {
      throw bad('request.template', 'the json protocol needs a request template, e.g. { data: "$input" }');
    }
    template = request['template'];
    response = compileResponse(raw['response'], signature);
  } else if (raw['request'] !== undefined || raw['response'] !== undefined) {
    throw bad(raw['request'] !== undefined ? 'request' : 'response', 'applies to the json protocol only');
  }

  return Object.freeze({
    endpoint,
    protocol: p,
    model: model as string | undefined,
    signature,
    auth: compileAuth(raw['auth']),
    timeoutMs: duration(raw['timeout'], 'timeout', 30_000),
    retries: count(raw['retries'], 'retries', 2),
    backoffMs: duration(raw['backoff'], 'backoff', 100),
    template,
    response,
  });
}

/** Reads and compiles a descriptor file (YAML or JSON). */
export async function readHostedDescriptor(path: string): Promise<Readonly<HostedDescriptor>> {
  return compileHostedDescriptor(parseHostedDescriptor(await readFile(path, 'utf8')));
}

/** Parses descriptor text; `invalid_model` when it is not YAML or JSON. */
export function parseHostedDescriptor(text: string): unknown {
  try {
    return parse(text, { maxAliasCount: 100 });
  } catch (error) {
    throw bad('descriptor', `not valid YAML or JSON (${(error as Error).message})`);
  }
}

function parseUrl(value: unknown): string {
  if (typeof value !== 'string') throw bad('url', 'must be the http(s) URL of the service');
  let url: URL;
  try {
    url = new URL(value);
  } catch {
    throw bad('url', 'is not a valid URL');
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') throw bad('url', 'must start with http:// or https://');
  if (url.username || url.password) throw bad('url', 'must not carry credentials; use auth { header, env }');
  return value.replace(/\/+$/, '');
}

function compileSignature(raw: unknown): ModelSignature {
  if (!isObject(raw)) throw bad('signature', 'must be { inputs: [...], outputs: [...] } of { name, datatype, shape }');
  const specs = (list: unknown, field: string): TensorSpec[] => {
    if (!Array.isArray(list) || list.length === 0) throw bad(field, 'must be a non-empty list');
    const seen = new Set<string>();
    return list.map((item, i) => {
      const at = `${field}[${i}]`;
      if (!isObject(item)) throw bad(at, 'must be { name, datatype, shape }');
      const { name, datatype, shape } = item;
      if (typeof name !== 'string' || name === '' || seen.has(name)) throw bad(`${at}.name`, 'must be a unique name');
      seen.add(name);
      if (!isDatatype(datatype)) throw bad(`${at}.datatype`, 'must be a V2 datatype such as FP32, INT64 or BYTES');
      if (!Array.isArray(shape) || !shape.every((d) => Number.isSafeInteger(d) && d >= -1)) {
        throw bad(`${at}.shape`, 'must be a list of dimensions (-1 for any size)');
      }
      return { name, datatype, shape: shape as number[] };
    });
  };
  return { inputs: specs(raw['inputs'], 'signature.inputs'), outputs: specs(raw['outputs'], 'signature.outputs') };
}

function compileAuth(raw: unknown): HostedDescriptor['auth'] {
  if (raw === undefined) return undefined;
  if (!isObject(raw)) throw bad('auth', 'must be { header, env, prefix? }');
  const header = raw['header'] ?? 'Authorization';
  const env = raw['env'];
  const prefix = raw['prefix'] ?? '';
  if (typeof header !== 'string' || !/^[A-Za-z0-9!#$%&'*+.^_`|~-]+$/.test(header)) {
    throw bad('auth.header', 'must be an HTTP header name');
  }
  if (typeof env !== 'string' || !/^[A-Za-z_][A-Za-z0-9_]*$/.test(env)) {
    throw bad('auth.env', "must name the environment variable holding the value (a deployment's secret)");
  }
  if (typeof prefix !== 'string') throw bad('auth.prefix', 'must be a string such as "Bearer "');
  return { header, env, prefix };
}

function compileResponse(raw: unknown, signature: ModelSignature): Record<string, string> {
  if (!isObject(raw)) throw bad('response', 'the json protocol needs { <output>: <JSON pointer> } for every output');
  const out: Record<string, string> = {};
  for (const spec of signature.outputs) {
    const pointer = raw[spec.name];
    if (typeof pointer !== 'string' || (pointer !== '' && !pointer.startsWith('/'))) {
      throw bad(`response.${spec.name}`, 'must be a JSON pointer such as /predictions');
    }
    out[spec.name] = pointer;
  }
  for (const key of Object.keys(raw))
    if (!(key in out)) throw bad(`response.${key}`, 'is not an output of the signature');
  return out;
}

function duration(value: unknown, field: string, fallback: number): number {
  if (value === undefined) return fallback;
  const ms = typeof value === 'string' || typeof value === 'number' ? parseDuration(value) : undefined;
  if (ms === undefined || ms < 1 || ms > 600_000) throw bad(field, "must be a duration from 1ms to 10m, e.g. '5s'");
  return ms;
}

function count(value: unknown, field: string, fallback: number): number {
  if (value === undefined) return fallback;
  if (!Number.isSafeInteger(value) || (value as number) < 0 || (value as number) > 10) {
    throw bad(field, 'must be an integer from 0 to 10');
  }
  return value as number;
}
