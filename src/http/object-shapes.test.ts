/**
 * Settled HTTP object shapes: a gateway whose first requests arrive one at a time, with a full collection between
 * them, still builds every later request and response with fast properties (not as a dictionary). Each case runs
 * object-shapes.fixture.ts in a fresh process, since the shapes are settled once per process.
 */
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { describe, test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { childEnv } from '../core/index.ts';

const FIXTURE = fileURLToPath(new URL('./object-shapes.fixture.ts', import.meta.url));

type Shapes = { request: boolean; response: boolean };

function shapesAfterTrickle(mode: 'none' | 'settle' | 'plain-server' | 'server'): Shapes {
  const out = execFileSync(process.execPath, ['--allow-natives-syntax', '--expose-gc', FIXTURE, mode], {
    env: { ...process.env, ...childEnv() },
    encoding: 'utf8',
  });
  return JSON.parse(out.trim()) as Shapes;
}

describe('HTTP object shapes', { timeout: 60_000 }, () => {
  test('without settling, requests that trickle in leave later requests and responses in dictionary mode', () => {
    // The control: the fixture reproduces what the settling prevents (if V8 stops doing this, the case says so).
    assert.deepEqual(shapesAfterTrickle('none'), { request: false, response: false });
  });

  test('settled first, later requests and responses keep fast properties', () => {
    assert.deepEqual(shapesAfterTrickle('settle'), { request: true, response: true });
  });

  test("over loopback: Node's own server degrades, createHttpServer's does not", () => {
    assert.deepEqual(shapesAfterTrickle('plain-server'), { request: false, response: false });
    assert.deepEqual(shapesAfterTrickle('server'), { request: true, response: true });
  });
});
