/**
 * Policies as code: a CEL expression (@marcbachmann/cel-js) over named variables, compiled and type-checked once
 * (so a mistake is refused when the spec is applied, with the column), then evaluated with an explanation in words:
 * the result, the clause that failed, and every value the expression read.
 *
 * ```ts
 * const gate = compilePolicy('metrics.auc >= 0.95 && metrics.recall >= 0.7', GATE_VARIABLES, 'steps[1].gate');
 * const result = gate.evaluate({ metrics: { auc: 0.97, recall: 0.61 } });
 * // result.passed === false; result.explanation ===
 * //   'failed: metrics.recall >= 0.7 (metrics.recall = 0.61); read metrics.auc = 0.97, metrics.recall = 0.61'
 * ```
 *
 * Pipelines' `gate` steps use it, and the canary auto-promote rule of their `deploy` steps; `deployments promote`
 * can take the same rules.
 */
import type { Environment } from '@marcbachmann/cel-js';
import { lazyPackage, ModelportError } from '../core/index.ts';

const loadCel = lazyPackage<typeof import('@marcbachmann/cel-js')>('@marcbachmann/cel-js');

/** A variable an expression may name, with its CEL type (`map<string, double>`, `map`, `string`...). */
export interface PolicyVariable {
  name: string;
  type: string;
  description: string;
}

/** A value the expression reads: a variable, or a field path below one (`metrics.auc`). */
export interface PolicyRead {
  path: string;
  /** 1-based column in the expression where the read starts. */
  column: number;
}

export interface PolicyResult {
  passed: boolean;
  /** The expression, as written. */
  expression: string;
  /** Every value read, in the order written; `undefined` when the field is missing. */
  values: { path: string; value: unknown }[];
  /** The top-level `&&` clauses that were not true (the whole expression when it is not a conjunction). */
  failed: string[];
  /** Why the expression could not be evaluated (a missing field, a type error), else null. */
  error: string | null;
  /** One sentence: what passed or failed, with the values read. */
  explanation: string;
}

export interface CompiledPolicy {
  readonly expression: string;
  readonly reads: readonly PolicyRead[];
  evaluate(context: Record<string, unknown>): PolicyResult;
}

const MAX_EXPRESSION = 4096;

interface AstNode {
  op: string;
  args: unknown;
  pos: number;
  start: number;
  end: number;
}

const isNode = (value: unknown): value is AstNode =>
  typeof value === 'object' && value !== null && 'op' in value && 'pos' in value;

/** `metrics.auc`, `metrics["auc"]`: the segments of a select chain rooted at a variable, else undefined. */
function selectPath(node: AstNode): string[] | undefined {
  if (node.op === 'id' && typeof node.args === 'string') return [node.args];
  if ((node.op === '.' || node.op === '.?') && Array.isArray(node.args) && isNode(node.args[0])) {
    const base = selectPath(node.args[0]);
    return base === undefined || typeof node.args[1] !== 'string' ? undefined : [...base, node.args[1]];
  }
  if (node.op === '[]' && Array.isArray(node.args) && isNode(node.args[0]) && isNode(node.args[1])) {
    const key = node.args[1];
    const base = selectPath(node.args[0]);
    if (base !== undefined && key.op === 'value' && typeof key.args === 'string') return [...base, key.args];
  }
  return undefined;
}

/** Segments as written in CEL: `data.profile["rows.csv"].rows`. */
function showPath(segments: readonly string[]): string {
  return segments
    .map((part, i) =>
      i === 0 ? part : /^[A-Za-z_][A-Za-z0-9_]*$/.test(part) ? `.${part}` : `[${JSON.stringify(part)}]`,
    )
    .join('');
}

interface Read extends PolicyRead {
  segments: string[];
}

function collectReads(node: unknown, out: Read[], names: ReadonlySet<string>): void {
  if (Array.isArray(node)) {
    for (const child of node) collectReads(child, out, names);
    return;
  }
  if (!isNode(node)) return;
  const segments = selectPath(node);
  if (segments !== undefined && names.has(segments[0]!)) {
    const path = showPath(segments);
    if (!out.some((r) => r.path === path)) out.push({ path, segments, column: node.start + 1 });
    return;
  }
  collectReads(node.args, out, names);
}

function conjuncts(node: AstNode): AstNode[] {
  if (node.op === '&&' && Array.isArray(node.args)) return node.args.filter(isNode).flatMap(conjuncts);
  return [node];
}

function lookup(context: Record<string, unknown>, segments: readonly string[]): unknown {
  let value: unknown = context;
  for (const part of segments) {
    if (value instanceof Map) value = value.get(part);
    else if (typeof value === 'object' && value !== null && Object.hasOwn(value, part))
      value = (value as Record<string, unknown>)[part];
    else return undefined;
  }
  return value;
}

/** A value in words: numbers with up to 6 significant decimals, strings quoted, missing fields said so. */
export function describeValue(value: unknown): string {
  if (value === undefined) return 'missing';
  if (typeof value === 'number') return Number.isInteger(value) ? String(value) : String(Number(value.toPrecision(6)));
  if (typeof value === 'bigint') return value.toString();
  if (typeof value === 'string') return JSON.stringify(value.length > 80 ? `${value.slice(0, 77)}...` : value);
  if (value instanceof Map) return `{${value.size} fields}`;
  if (Array.isArray(value)) return `[${value.length} items]`;
  if (typeof value === 'object' && value !== null) return `{${Object.keys(value).length} fields}`;
  return String(value);
}

function firstLine(message: string): string {
  return message.split('\n')[0]!.trim();
}

/**
 * Compiles and type-checks `expression` over `variables`; refuses (invalid_request, `field`) an expression that
 * does not parse, names an unknown variable, or does not give a bool, with the column of the mistake.
 */
export function compilePolicy(expression: string, variables: readonly PolicyVariable[], field: string): CompiledPolicy {
  if (typeof expression !== 'string' || expression.trim() === '' || expression.length > MAX_EXPRESSION) {
    throw new ModelportError('invalid_request', `${field}: write a CEL expression of 1-${MAX_EXPRESSION} characters`, {
      field,
    });
  }
  const env = new (loadCel().Environment)({
    homogeneousAggregateLiterals: false,
    limits: { maxAstNodes: 2000, maxDepth: 64 },
  });
  for (const v of variables) env.registerVariable(v.name, v.type);
  const refuse = (error: unknown): never => {
    const pos = (error as { node?: { pos?: number } }).node?.pos;
    const where = typeof pos === 'number' ? ` at column ${pos + 1}` : '';
    const names = variables.map((v) => v.name).join(', ');
    throw new ModelportError(
      'invalid_request',
      `${field}: the expression does not compile${where}: ${firstLine((error as Error).message)} (variables: ${names})`,
      { field },
    );
  };
  let evaluate: ReturnType<Environment['parse']>;
  try {
    evaluate = env.parse(expression);
  } catch (error) {
    return refuse(error);
  }
  const checked = evaluate.check();
  if (!checked.valid) return refuse(checked.error);
  if (checked.type !== 'bool' && checked.type !== 'dyn') {
    throw new ModelportError(
      'invalid_request',
      `${field}: the expression gives a ${checked.type}; a policy must give a bool (true passes)`,
      { field },
    );
  }
  const ast = evaluate.ast as unknown as AstNode;
  const names = new Set(variables.map((v) => v.name));
  const reads: Read[] = [];
  collectReads(ast, reads, names);
  const clauses = conjuncts(ast).map((node) => ({
    text: expression.slice(node.start, node.end).trim(),
    run: node === ast ? evaluate : env.parse(expression.slice(node.start, node.end)),
  }));

  return Object.freeze({
    expression,
    reads: reads.map(({ path, column }) => ({ path, column })),
    evaluate(context: Record<string, unknown>): PolicyResult {
      const values = reads.map((r) => ({ path: r.path, segments: r.segments, value: lookup(context, r.segments) }));
      let passed = false;
      let error: string | null = null;
      try {
        const value = evaluate(context);
        if (typeof value !== 'boolean') error = `the expression gave ${describeValue(value)}, not a bool`;
        else passed = value;
      } catch (e) {
        error = firstLine((e as Error).message);
      }
      const failed = passed
        ? []
        : clauses
            .filter((clause) => {
              try {
                return clause.run(context) !== true;
              } catch {
                return true;
              }
            })
            .map((clause) => clause.text);
      const read = values.map((v) => `${v.path} = ${describeValue(v.value)}`).join(', ');
      const readText = read === '' ? '' : `; read ${read}`;
      const explanation = passed
        ? `passed: ${expression}${readText}`
        : `failed: ${(failed.length > 0 ? failed : [expression])
            .map((clause) => {
              const used = values.filter((v) => clause.includes(v.segments.at(-1)!) && clause.includes(v.segments[0]!));
              return used.length > 0
                ? `${clause} (${used.map((v) => `${v.path} = ${describeValue(v.value)}`).join(', ')})`
                : clause;
            })
            .join(' and ')}${error ? ` [${error}]` : ''}${readText}`;
      return {
        passed,
        expression,
        values: values.map(({ path, value }) => ({ path, value })),
        failed,
        error,
        explanation,
      };
    },
  });
}
