import assert from 'node:assert/strict';
import { test } from 'node:test';
import { ModelportError } from './errors.ts';
import { Semaphore } from './semaphore.ts';

test('runs at most `limit` tasks at once, in arrival order, and frees its slot on failure', async () => {
  const semaphore = new Semaphore(2);
  let running = 0;
  let peak = 0;
  const order: number[] = [];
  const releases: (() => void)[] = [];
  const tasks = Array.from({ length: 5 }, (_, i) =>
    semaphore.run(async () => {
      running++;
      peak = Math.max(peak, running);
      order.push(i);
      await new Promise<void>((resolve) => releases.push(resolve));
      running--;
      if (i === 1) throw new Error('boom');
      return i;
    }),
  );
  const settled = Promise.allSettled(tasks);
  while (order.length < 5) {
    await new Promise((r) => setImmediate(r));
    releases.shift()?.();
  }
  for (const release of releases) release();
  const results = await settled;
  assert.equal(peak, 2);
  assert.deepEqual(order, [0, 1, 2, 3, 4]);
  assert.equal(results[1]!.status, 'rejected');
  assert.deepEqual(
    results.filter((r) => r.status === 'fulfilled').map((r) => (r as PromiseFulfilledResult<number>).value),
    [0, 2, 3, 4],
  );
  assert.throws(() => new Semaphore(0), RangeError);
});

test('bounded: beyond maxWaiting a task is refused at once with overloaded, and the queue keeps working', async () => {
  const semaphore = new Semaphore(1, { maxWaiting: 1, what: 'model checks' });
  let release = () => {};
  const first = semaphore.run(() => new Promise<void>((resolve) => (release = resolve)));
  const second = semaphore.run(async () => 'second');
  assert.deepEqual(semaphore.stats(), { running: 1, waiting: 1 });
  let ran = false;
  await assert.rejects(
    semaphore.run(async () => {
      ran = true;
    }),
    (error: unknown) => {
      assert.ok(error instanceof ModelportError);
      assert.equal(error.code, 'overloaded');
      assert.equal(error.retryAfter, 1);
      assert.match(error.message, /too many model checks at once \(1 running, 1 waiting\)/);
      return true;
    },
  );
  assert.equal(ran, false);
  release();
  await first;
  assert.equal(await second, 'second');
  assert.deepEqual(semaphore.stats(), { running: 0, waiting: 0 });
  assert.equal(await semaphore.run(async () => 'after'), 'after');
  assert.throws(() => new Semaphore(1, { maxWaiting: -1 }), RangeError);
});
