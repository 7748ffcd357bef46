import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';

const MODULE = new URL('./child-env.ts', import.meta.url).href;

/** childEnv({ A: '1' }) as seen by a fresh Node process with `env` as its whole environment. */
function childEnvIn(env: Record<string, string>): Record<string, string> {
  const script = `const { childEnv } = await import(${JSON.stringify(MODULE)}); console.log(JSON.stringify(childEnv({ A: '1' })));`;
  return JSON.parse(execFileSync(process.execPath, ['--input-type=module', '-e', script], { env, encoding: 'utf8' }));
}

test('childEnv passes only the given variables, plus the compile cache root when the parent has one', async (t) => {
  const cache = await mkdtemp(join(tmpdir(), 'modelport-compile-cache-'));
  t.after(() => rm(cache, { recursive: true, force: true }));
  assert.deepEqual(childEnvIn({ SECRET_TOKEN: 'x' }), { A: '1' });
  assert.deepEqual(childEnvIn({ SECRET_TOKEN: 'x', NODE_COMPILE_CACHE: cache }), { A: '1', NODE_COMPILE_CACHE: cache });
});
