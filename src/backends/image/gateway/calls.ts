/**
 * What a request to the gateway asks for: the deployment (or model) it names, in the path for V2 and V1, or in a
 * model-id header for Seldon, and the path to send upstream for the chosen target's model.
 */
import type { IncomingMessage } from 'node:http';
import { ModelportError } from '../../../core/index.ts';
import { splitTag } from '../../../deployments/index.ts';
import { HEADER_LENGTH_HEADER } from '../../../protocols/index.ts';
import type { Table } from './routing-table.ts';
import { firstHeader } from './upstream.ts';

const V2_MODEL = /^\/v2\/models\/([^/]+)(?:\/versions\/([^/]+))?(\/ready|\/infer)?\/?$/;
const V1_MODEL = /^\/v1\/models\/([^/:]+)(:predict)?\/?$/;
const SELDON = new Set(['/api/v1.0/predictions', '/predict']);

export interface Call {
  name: string;
  version?: string | undefined;
  /** The upstream path for the chosen target's model. */
  path: (model: string) => string;
  /** Whether it is an inference call (mirrored to a shadow). */
  infer: boolean;
  /** A V2 JSON infer call, whose answer a shadow's can be compared with. */
  v2Json: boolean;
}

function decodeName(segment: string): string {
  try {
    return decodeURIComponent(segment);
  } catch {
    throw new ModelportError('invalid_request', 'the model name in the path is not valid percent-encoding');
  }
}

/** The call a request makes, or undefined when its path is no inference route. */
export function parseCall(req: IncomingMessage, path: string, query: string, table: Table): Call | undefined {
  const v2 = V2_MODEL.exec(path);
  if (v2) {
    const action = v2[3] ?? '';
    return {
      name: decodeName(v2[1]!),
      version: v2[2] === undefined ? undefined : decodeName(v2[2]),
      path: (model) => `/v2/models/${encodeURIComponent(model)}${action}${query}`,
      infer: action === '/infer',
      v2Json: action === '/infer' && req.headers[HEADER_LENGTH_HEADER] === undefined,
    };
  }
  const v1 = V1_MODEL.exec(path);
  if (v1) {
    const predict = v1[2] ?? '';
    return {
      name: decodeName(v1[1]!),
      path: (model) => `/v1/models/${encodeURIComponent(model)}${predict}${query}`,
      infer: predict !== '',
      v2Json: false,
    };
  }
  if (SELDON.has(path)) {
    for (const header of table.modelIdHeaders) {
      const name = firstHeader(req, header);
      if (name === undefined || name === '') continue;
      const route = table.byName.get(splitTag(name).base);
      if (route === undefined || route.modelIdHeader === header) {
        return { name, path: () => `${path}${query}`, infer: true, v2Json: false };
      }
    }
    throw new ModelportError('invalid_request', `name the deployment in the '${[...table.modelIdHeaders][0]}' header`);
  }
  return undefined;
}
