import assert from 'node:assert/strict';
import { test } from 'node:test';
import { examplesOfEveryEntry, NAMED_IN_THE_ISSUE } from '../core/env-policy.fixture.ts';
import { ModelportError } from '../core/index.ts';
import { checkSpec, parseSpec } from './spec.ts';

test('defaults: one replica, no scale to zero, local backend', () => {
  const spec = parseSpec({ traffic: [{ model: 'fraud', weight: 100 }] });
  assert.equal(spec.backend, 'local');
  assert.deepEqual(checkSpec(spec), {
    minReplicas: 1,
    maxReplicas: 1,
    targetConcurrency: 16,
    scaleDownDelayMs: 30_000,
    idleTimeoutMs: 300_000,
  });
});

test('errors name the field', () => {
  const cases: [unknown, string][] = [
    [{}, 'spec.traffic'],
    [{ traffic: [] }, 'spec.traffic'],
    [{ traffic: [{ model: 'a', weight: 50 }] }, 'spec.traffic'],
    [{ traffic: [{ model: 'a', weight: 101 }] }, 'spec.traffic[0].weight'],
    [{ traffic: [{ model: 'A B', weight: 100 }] }, 'spec.traffic[0].model'],
    [
      {
        traffic: [
          { model: 'a', weight: 50, tag: 'x' },
          { model: 'b', weight: 50, tag: 'x' },
        ],
      },
      'spec.traffic',
    ],
    [{ traffic: [{ model: 'a', weight: 100 }], shadow: { model: 'b@', percent: 5 } }, 'spec.shadow.model'],
    [{ traffic: [{ model: 'a', weight: 100 }], scaling: { minReplicas: -1 } }, 'spec.scaling.minReplicas'],
    [{ traffic: [{ model: 'a', weight: 100 }], scaling: { idleTimeout: 'later' } }, 'spec.scaling.idleTimeout'],
    [{ traffic: [{ model: 'a', weight: 100 }], resources: { memory: 'lots' } }, 'spec.resources.memory'],
    [{ traffic: [{ model: 'a', weight: 100 }], replicas: 3 }, 'spec.replicas'],
    [{ traffic: [{ model: 'a', weight: 100 }], backend: 'mainframe' }, 'spec.backend'],
    [
      { traffic: [{ model: 'a', weight: 100 }], runtime: { batching: { minBatchDelay: 'soon' } } },
      'spec.runtime.batching.minBatchDelay',
    ],
    [
      { traffic: [{ model: 'a', weight: 100 }], runtime: { batching: { minBatchDelay: '5ms', maxQueueDelay: '2ms' } } },
      'spec.runtime.batching.minBatchDelay',
    ],
  ];
  for (const [input, field] of cases) {
    assert.throws(
      () => parseSpec(input),
      (e: unknown) => e instanceof ModelportError && e.field === field && e.message.startsWith(field),
      JSON.stringify(input),
    );
  }
});

test('every reserved environment name is refused in spec.env and spec.secrets, naming the field', () => {
  const names = [...examplesOfEveryEntry(), ...NAMED_IN_THE_ISSUE];
  assert.ok(names.length >= 60, `${names.length} names`);
  for (const base of names) {
    for (const name of [base, base.toLowerCase()]) {
      const traffic = [{ model: 'fraud', weight: 100 }];
      assert.throws(
        () => parseSpec({ traffic, env: { LOG_LEVEL: 'info', [name]: 'x' } }),
        (e: unknown) =>
          e instanceof ModelportError &&
          e.code === 'invalid_request' &&
          e.field === `spec.env.${name}` &&
          e.message.startsWith(`spec.env.${name}: ${name} may not be set`),
        name,
      );
      if (!/^[A-Za-z_][A-Za-z0-9_]*$/.test(name)) continue; // a secret's env name has its own syntax check
      assert.throws(
        () =>
          parseSpec({
            traffic,
            secrets: [
              { env: 'API_TOKEN', secret: 'A' },
              { env: name, secret: 'B' },
            ],
          }),
        (e: unknown) => e instanceof ModelportError && e.field === 'spec.secrets[1].env',
        name,
      );
    }
  }
});

test('a name set twice (env and a secret) is refused; ordinary names pass', () => {
  const traffic = [{ model: 'fraud', weight: 100 }];
  assert.throws(
    () => parseSpec({ traffic, env: { API_TOKEN: 'x' }, secrets: [{ env: 'API_TOKEN', secret: 'A' }] }),
    (e: unknown) => e instanceof ModelportError && e.field === 'spec.secrets[0].env',
  );
  const spec = parseSpec({
    traffic,
    env: { LOG_LEVEL: 'info', NODE_ENV: 'production' },
    secrets: [{ env: 'API_TOKEN', secret: 'A' }],
  });
  assert.deepEqual(spec.env, { LOG_LEVEL: 'info', NODE_ENV: 'production' });
});
