import assert from 'node:assert/strict';
import { test } from 'node:test';
import { ModelportError } from './errors.ts';

test('withoutStack: the same error (code, message, Retry-After, status) with no stack frames; the limit is restored', () => {
  const before = Error.stackTraceLimit;
  const fast = ModelportError.withoutStack('overloaded', 'the queue is full', { retryAfter: 1 });
  assert.ok(fast instanceof ModelportError);
  assert.equal(fast.code, 'overloaded');
  assert.equal(fast.message, 'the queue is full');
  assert.equal(fast.retryAfter, 1);
  assert.equal(fast.httpStatus, 429);
  assert.doesNotMatch(fast.stack ?? '', /\n\s+at /);
  assert.equal(Error.stackTraceLimit, before);
  // An ordinary one still has its frames.
  assert.match(new ModelportError('overloaded', 'x').stack ?? '', /\n\s+at /);
});
