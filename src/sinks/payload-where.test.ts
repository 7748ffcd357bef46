import assert from 'node:assert/strict';
import { test } from 'node:test';
import { ModelportError } from '../core/index.ts';
import { compileWhere } from './payload-where.ts';

test('filters compile to SQL over known columns, every literal bound', () => {
  assert.deepEqual(compileWhere("prediction = 'fraud'"), { sql: '("prediction" = $1)', params: ['fraud'] });
  assert.deepEqual(compileWhere("arm IN ('canary', 'shadow') AND total_ms >= 5.5 OR NOT (status != 'ok')", 3), {
    sql: '("arm" IN ($3, $4) AND "total_ms" >= $5 OR NOT (("status" != $6)))',
    params: ['canary', 'shadow', 5.5, 'ok'],
  });
  assert.deepEqual(compileWhere('caller IS NOT NULL and Revision <> -2'), {
    sql: '("caller" IS NOT NULL AND "revision" != $1)',
    params: [-2],
  });
  assert.deepEqual(compileWhere("request_id NOT LIKE 'a''b%'"), {
    sql: '(CAST("request_id" AS VARCHAR) NOT LIKE $1)',
    params: ["a'b%"],
  });
  assert.deepEqual(compileWhere("time > '2026-12-06T10:00:00Z'"), {
    sql: '("time" > CAST($1 AS TIMESTAMP))',
    params: ['2026-12-06T10:00:00Z'],
  });
});

test('anything but columns, literals and the listed operators is refused naming where', () => {
  for (const text of [
    '',
    "prediction = 'fraud'; DROP TABLE pending",
    "read_parquet('/etc/passwd') IS NULL",
    "deployment = 'other'",
    "project = 'x'",
    'total_ms > (SELECT 1)',
    "prediction = 'unclosed",
    'prediction = prediction',
    "prediction = 'a' --",
    "prediction = 'a' /* x */",
    'total_ms > 1 total_ms',
    "lower(prediction) = 'a'",
    "prediction = 'x' UNION SELECT 1",
    'x'.repeat(2001),
  ]) {
    assert.throws(
      () => compileWhere(text),
      (e: unknown) => e instanceof ModelportError && e.code === 'invalid_request' && e.field === 'where',
      text.slice(0, 60),
    );
  }
});
