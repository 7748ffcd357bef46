/**
 * The `--where` filter of `payloads list`: a small SQL-like language parsed here, never passed to DuckDB as text.
 * Only the record's columns, literals and a fixed set of operators are accepted; every literal becomes a bound
 * parameter, so a filter cannot call a function, read a file or reach another deployment's records.
 *
 *   prediction = 'fraud' AND total_ms > 5
 *   arm IN ('canary', 'shadow') OR status != 'ok'
 *   caller IS NOT NULL AND NOT (protocol LIKE 'v2%')
 */
import { ModelportError } from '../core/index.ts';

/** Columns a filter may name, with their DuckDB types (the store sink's table). */
export const WHERE_COLUMNS: Readonly<Record<string, 'text' | 'number' | 'time'>> = {
  request_id: 'text',
  time: 'time',
  revision: 'number',
  arm: 'text',
  model: 'text',
  model_version: 'number',
  protocol: 'text',
  status: 'text',
  error: 'text',
  caller: 'text',
  queue_ms: 'number',
  compute_ms: 'number',
  total_ms: 'number',
  prediction: 'text',
  inputs: 'text',
  outputs: 'text',
};

export interface CompiledWhere {
  /** SQL with `$n` placeholders numbered from `firstParam`. */
  sql: string;
  params: (string | number | null)[];
}

type Token =
  | { kind: 'ident'; value: string; at: number }
  | { kind: 'string'; value: string; at: number }
  | { kind: 'number'; value: number; at: number }
  | { kind: 'op'; value: string; at: number }
  | { kind: 'punct'; value: '(' | ')' | ','; at: number }
  | { kind: 'end'; at: number };

const MAX_LENGTH = 2000;
const KEYWORDS = new Set(['AND', 'OR', 'NOT', 'IN', 'IS', 'NULL', 'LIKE', 'ILIKE', 'TRUE', 'FALSE']);

function fail(message: string, at?: number): never {
  const where = at === undefined ? '' : ` (at character ${at + 1})`;
  throw new ModelportError(
    'invalid_request',
    `where: ${message}${where}; write e.g. prediction = 'fraud' AND total_ms > 5 (columns: ${Object.keys(WHERE_COLUMNS).join(', ')})`,
    { field: 'where' },
  );
}

function tokenize(text: string): Token[] {
  const tokens: Token[] = [];
  let i = 0;
  while (i < text.length) {
    const c = text[i]!;
    if (/\s/.test(c)) {
      i++;
      continue;
    }
    const at = i;
    if (c === "'") {
      let value = '';
      i++;
      for (;;) {
        if (i >= text.length) fail('a string is not closed', at);
        if (text[i] === "'") {
          if (text[i + 1] === "'") {
            value += "'";
            i += 2;
            continue;
          }
          i++;
          break;
        }
        value += text[i];
        i++;
      }
      tokens.push({ kind: 'string', value, at });
      continue;
    }
    const number = /^-?(\d+(\.\d*)?|\.\d+)([eE][-+]?\d+)?/.exec(text.slice(i));
    if (number && (c !== '-' || tokens.at(-1)?.kind === 'op' || tokens.at(-1)?.kind === 'punct')) {
      tokens.push({ kind: 'number', value: Number(number[0]), at });
      i += number[0].length;
      continue;
    }
    const op = /^(<=|>=|<>|!=|=|<|>)/.exec(text.slice(i));
    if (op) {
      tokens.push({ kind: 'op', value: op[0] === '<>' ? '!=' : op[0], at });
      i += op[0].length;
      continue;
    }
    if (c === '(' || c === ')' || c === ',') {
      tokens.push({ kind: 'punct', value: c, at });
      i++;
      continue;
    }
    const word = /^[A-Za-z_][A-Za-z0-9_]*/.exec(text.slice(i));
    if (word) {
      tokens.push({ kind: 'ident', value: word[0], at });
      i += word[0].length;
      continue;
    }
    fail(`unexpected '${c}'`, at);
  }
  tokens.push({ kind: 'end', at: text.length });
  return tokens;
}

/** Parses `text` into SQL over the store's columns; placeholders start at `$firstParam`. */
export function compileWhere(text: string, firstParam = 1): CompiledWhere {
  if (text.length > MAX_LENGTH) fail(`longer than ${MAX_LENGTH} characters`);
  const tokens = tokenize(text);
  const params: (string | number | null)[] = [];
  let pos = 0;
  const peek = () => tokens[pos]!;
  const keyword = (word: string) => {
    const t = peek();
    return t.kind === 'ident' && t.value.toUpperCase() === word;
  };
  const expectKeyword = (word: string) => {
    if (!keyword(word)) fail(`expected ${word}`, peek().at);
    pos++;
  };
  const param = (value: string | number | null) => {
    params.push(value);
    return `$${firstParam + params.length - 1}`;
  };
  const literal = (): string => {
    const t = peek();
    if (t.kind === 'string' || t.kind === 'number') {
      pos++;
      return param(t.value);
    }
    if (t.kind === 'ident' && (t.value.toUpperCase() === 'TRUE' || t.value.toUpperCase() === 'FALSE')) {
      pos++;
      return t.value.toUpperCase();
    }
    return fail('expected a value: a quoted string or a number', t.at);
  };
  const column = (): { sql: string; type: string } => {
    const t = peek();
    if (t.kind !== 'ident' || KEYWORDS.has(t.value.toUpperCase())) return fail('expected a column name', t.at);
    const type = WHERE_COLUMNS[t.value.toLowerCase()];
    if (!type) return fail(`unknown column '${t.value}'`, t.at);
    pos++;
    return { sql: `"${t.value.toLowerCase()}"`, type };
  };
  const comparison = (): string => {
    if (peek().kind === 'punct' && (peek() as { value: string }).value === '(') {
      pos++;
      const inner = or();
      const close = peek();
      if (close.kind !== 'punct' || close.value !== ')') fail("expected ')'", close.at);
      pos++;
      return `(${inner})`;
    }
    const col = column();
    // A time compared with a string: the string is read as a timestamp (ISO 8601).
    const value = () => {
      const sqlValue = literal();
      return col.type === 'time' && params.length > 0 && sqlValue.startsWith('$')
        ? `CAST(${sqlValue} AS TIMESTAMP)`
        : sqlValue;
    };
    const t = peek();
    if (t.kind === 'op') {
      pos++;
      return `${col.sql} ${t.value} ${value()}`;
    }
    if (keyword('IS')) {
      pos++;
      const not = keyword('NOT');
      if (not) pos++;
      expectKeyword('NULL');
      return `${col.sql} IS ${not ? 'NOT ' : ''}NULL`;
    }
    const not = keyword('NOT');
    if (not) pos++;
    if (keyword('LIKE') || keyword('ILIKE')) {
      const op = (peek() as { value: string }).value.toUpperCase();
      pos++;
      return `CAST(${col.sql} AS VARCHAR) ${not ? 'NOT ' : ''}${op} ${literal()}`;
    }
    if (keyword('IN')) {
      pos++;
      const open = peek();
      if (open.kind !== 'punct' || open.value !== '(') fail("expected '(' after IN", open.at);
      pos++;
      const values = [value()];
      while (peek().kind === 'punct' && (peek() as { value: string }).value === ',') {
        pos++;
        values.push(value());
      }
      const close = peek();
      if (close.kind !== 'punct' || close.value !== ')') fail("expected ')' to close IN", close.at);
      pos++;
      return `${col.sql} ${not ? 'NOT ' : ''}IN (${values.join(', ')})`;
    }
    return fail('expected an operator (=, !=, <, <=, >, >=, LIKE, IN, IS NULL)', peek().at);
  };
  const unary = (): string => {
    if (keyword('NOT')) {
      pos++;
      return `NOT (${unary()})`;
    }
    return comparison();
  };
  const and = (): string => {
    let sql = unary();
    while (keyword('AND')) {
      pos++;
      sql = `${sql} AND ${unary()}`;
    }
    return sql;
  };
  const or = (): string => {
    let sql = and();
    while (keyword('OR')) {
      pos++;
      sql = `${sql} OR ${and()}`;
    }
    return sql;
  };
  if (tokens.length === 1) fail('the filter is empty');
  const sql = or();
  if (peek().kind !== 'end') fail('unexpected text after the filter', peek().at);
  return { sql: `(${sql})`, params };
}
