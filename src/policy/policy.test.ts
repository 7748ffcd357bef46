import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { ModelportError } from '../core/index.ts';
import { compilePolicy, type PolicyVariable } from './index.ts';

const VARS: PolicyVariable[] = [
  { name: 'metrics', type: 'map<string, double>', description: 'candidate metrics' },
  { name: 'baseline', type: 'map<string, double>', description: 'serving metrics' },
  { name: 'data', type: 'map', description: 'the commit' },
];

describe('compilePolicy', () => {
  test('a passing rule says so with the values it read', () => {
    const gate = compilePolicy('metrics.auc >= 0.95 && metrics.recall >= 0.7', VARS, 'gate');
    assert.deepEqual(
      gate.reads.map((r) => [r.path, r.column]),
      [
        ['metrics.auc', 1],
        ['metrics.recall', 24],
      ],
    );
    const result = gate.evaluate({ metrics: { auc: 0.97, recall: 0.8 }, baseline: {}, data: {} });
    assert.equal(result.passed, true);
    assert.equal(
      result.explanation,
      'passed: metrics.auc >= 0.95 && metrics.recall >= 0.7; read metrics.auc = 0.97, metrics.recall = 0.8',
    );
  });

  test('a failing rule names the failed clause and every value read', () => {
    const gate = compilePolicy('metrics.auc >= 0.95 && metrics.recall >= 0.7', VARS, 'gate');
    const result = gate.evaluate({ metrics: { auc: 0.97, recall: 0.61 }, baseline: {}, data: {} });
    assert.equal(result.passed, false);
    assert.deepEqual(result.failed, ['metrics.recall >= 0.7']);
    assert.match(
      result.explanation,
      /^failed: metrics.recall >= 0.7 \(metrics.recall = 0.61\); read metrics.auc = 0.97, metrics.recall = 0.61$/,
    );
  });

  test('a missing field fails the rule and says which', () => {
    const gate = compilePolicy('metrics.auc >= baseline.auc - 0.005', VARS, 'gate');
    const result = gate.evaluate({ metrics: { auc: 0.9 }, baseline: {}, data: {} });
    assert.equal(result.passed, false);
    assert.match(result.error ?? '', /auc/);
    assert.match(result.explanation, /baseline.auc = missing/);
  });

  test('refuses an unknown variable, a syntax error and a non-bool, with the column and field', () => {
    const refused = (expression: string) => {
      try {
        compilePolicy(expression, VARS, 'steps[2].gate');
      } catch (error) {
        assert.ok(error instanceof ModelportError);
        assert.equal(error.field, 'steps[2].gate');
        return error.message;
      }
      assert.fail(`accepted ${expression}`);
    };
    assert.match(refused('metrics.auc > 0.9 && metricz.recall > 0.5'), /column 22.*metricz/);
    assert.match(refused('metrics.auc >= '), /does not compile at column 16/);
    assert.match(refused('metrics.auc + 1.0'), /gives a double/);
  });
});
