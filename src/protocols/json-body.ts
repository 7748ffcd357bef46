/**
 * Parsing protocol JSON bodies fast, with the edge's depth limit.
 *
 * V8's JSON.parse is iterative, so depth only matters to the code that walks the result; the limit is still
 * enforced for every body (Triton does the same). A body with at most 100 opening brackets cannot nest deeper
 * than 100, and counting them with indexOf costs a tenth of a parse, so the full scan (`exceedsDepth`, more
 * expensive than the parse itself) only runs for bodies with many brackets, such as nested batches.
 */
import { ModelportError } from '../core/index.ts';
import { exceedsDepth } from '../http/index.ts';

export const MAX_JSON_DEPTH = 100;

/**
 * Parses a JSON body; throws `invalid_json` when it is malformed or nests deeper than 100 levels.
 * `what` names the body in messages (`'body'`, `'the JSON header'`).
 */
export function parseJsonBody(body: Buffer | string, what = 'body'): unknown {
  const text = typeof body === 'string' ? body : body.toString('utf8');
  if (manyBrackets(text) && exceedsDepth(text, MAX_JSON_DEPTH)) {
    throw new ModelportError('invalid_json', `${what} nests deeper than ${MAX_JSON_DEPTH} levels`);
  }
  try {
    return JSON.parse(text);
  } catch (error) {
    // JSON.parse quotes the body in its message; say only where it broke, so no value (a token, a record) is echoed.
    const at = /position (\d+)/.exec((error as Error).message)?.[1];
    throw new ModelportError('invalid_json', `${what} is not valid JSON${at ? ` (at character ${at})` : ''}`);
  }
}

/**
 * True when the body has more opening brackets than the depth limit (so it might nest too deep). On the decoded
 * text: String.prototype.indexOf is a V8 builtin, while each Buffer.indexOf call crosses into C++.
 */
function manyBrackets(body: string): boolean {
  if (body.length <= MAX_JSON_DEPTH) return false;
  let count = 0;
  for (const bracket of ['[', '{']) {
    for (let at = body.indexOf(bracket); at !== -1; at = body.indexOf(bracket, at + 1)) {
      if (++count > MAX_JSON_DEPTH) return true;
    }
  }
  return false;
}
