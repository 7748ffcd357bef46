import assert from 'node:assert/strict';
import { readFile } from 'node:fs/promises';
import { test } from 'node:test';
import { EXAMPLES, examplesOfEveryEntry, NAMED_IN_THE_ISSUE } from './env-policy.fixture.ts';
import { RESERVED_ENV, reservedEnvReason, reservedEnvTable, withoutReservedEnv } from './env-policy.ts';

test('every entry has an example, and every example is refused in both cases', () => {
  for (const entry of RESERVED_ENV) {
    if (entry.name.endsWith('*')) assert.ok(EXAMPLES[entry.name], `an example for ${entry.name}`);
  }
  for (const name of [...examplesOfEveryEntry(), ...NAMED_IN_THE_ISSUE]) {
    assert.ok(reservedEnvReason(name), name);
    assert.ok(reservedEnvReason(name.toLowerCase()), name.toLowerCase());
  }
});

test('ordinary names pass, including NODE_ENV and names that only start like a reserved one', () => {
  for (const name of ['LOG_LEVEL', 'API_TOKEN', 'NODE_ENV', 'PATHWAY', 'HOMEPAGE', 'SCALE', 'TZ', 'PROXY_MODE']) {
    assert.equal(reservedEnvReason(name), undefined, name);
  }
});

test('withoutReservedEnv keeps only the allowed names', () => {
  assert.deepEqual(withoutReservedEnv({ NODE_OPTIONS: '--import=x', LD_PRELOAD: 'x', LOG_LEVEL: 'info' }), {
    LOG_LEVEL: 'info',
  });
});

test('the README lists every reserved name (generated table, checked for drift)', async () => {
  const readme = await readFile(new URL('../../README.md', import.meta.url), 'utf8');
  assert.ok(readme.includes(reservedEnvTable()), 'README.md: paste reservedEnvTable() (npm run docs prints it)');
});
