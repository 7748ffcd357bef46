/**
 * The one behaviour suite every `PayloadSink` runs (store-sink.test.ts, cloudevents-sink.test.ts). A harness opens
 * the sink on its real destination and reads back what the destination holds, not what the sink buffers.
 *
 * It checks: every field of every record arrives (a failed call without outputs, a redacted tensor, a null caller,
 * a shadow arm included); an empty batch writes nothing; concurrent batches land each record exactly once; a
 * destination that is down is reported (fewer written, or a rejection) within a bounded time, never as success,
 * and records written after it recovers arrive; a closed sink refuses writes.
 */
import assert from 'node:assert/strict';
import { after, describe, test } from 'node:test';
import type { PayloadRecord, PayloadSink } from './sink.ts';

export interface SinkHarness {
  sink: PayloadSink;
  /** Every record the destination holds now, read from the destination itself (after `sink.flush()`). */
  received(): Promise<PayloadRecord[]>;
  /** Makes the destination fail (true) or work again (false). */
  setDown(down: boolean): Promise<void>;
  /** Removes what the harness made (after `sink.close()`). */
  cleanup(): Promise<void>;
}

let serial = 0;

/** Records covering every field's shapes: ok calls, a failed one, a redacted input, a shadow, callers or none. */
export function sampleRecords(count: number, prefix = `r${++serial}`): PayloadRecord[] {
  const base = Date.UTC(2026, 11, 6, 10, 0, 0, 0);
  return Array.from({ length: count }, (_, i): PayloadRecord => {
    const failed = i % 7 === 3;
    return {
      requestId: `${prefix}-${i}`,
      time: new Date(base + i * 1000 + (i % 1000)).toISOString(),
      project: 'default',
      deployment: 'fraud',
      revision: 1 + (i % 3),
      arm: i % 5 === 0 ? 'shadow' : i % 2 === 0 ? 'canary' : 'primary',
      model: 'fraud',
      modelVersion: 1 + (i % 2),
      protocol: ['v2-json', 'v1', 'grpc'][i % 3]!,
      status: failed ? 'invalid_input' : 'ok',
      error: failed ? "input 'input': shape [1, 3] does not match [-1, 30]" : null,
      caller: i % 4 === 0 ? null : `token-${i % 3}`,
      queueMs: (i % 10) / 4,
      computeMs: 0.125 + i / 8,
      totalMs: 1.5 + i / 2,
      inputs: [
        { name: 'input', datatype: 'FP32', shape: [1, 3], data: [i, 0.5, null], redacted: ['email'] },
        { name: 'note', datatype: 'BYTES', shape: [1], data: [`caf\u00e9 "quoted", line\nbreak ${i}`] },
        { name: 'secret', datatype: 'FP32', shape: [1, 2], data: null, redacted: true },
      ],
      outputs: failed
        ? null
        : [
            { name: 'label', datatype: 'INT64', shape: [1], data: [i % 2] },
            { name: 'probabilities', datatype: 'FP32', shape: [1, 2], data: [0.25, 0.75] },
          ],
      prediction: failed ? null : i % 2 === 0 ? 'legit' : 'fraud',
    };
  });
}

const key = (r: PayloadRecord) => `${r.requestId}|${r.arm}`;
const sorted = (records: readonly PayloadRecord[]) => [...records].sort((a, b) => (key(a) < key(b) ? -1 : 1));

/** Runs within this bound, or fails the test (a sink must never hang on a destination that is down). */
async function within<T>(ms: number, promise: Promise<T>, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`${what} did not settle within ${ms} ms`)), ms);
  });
  try {
    return await Promise.race([promise, timeout]);
  } finally {
    clearTimeout(timer);
  }
}

export function sinkConformance(name: string, open: () => Promise<SinkHarness>): void {
  describe(`payload sink conformance: ${name}`, () => {
    const opened: SinkHarness[] = [];
    const fresh = async () => {
      const harness = await open();
      opened.push(harness);
      return harness;
    };
    after(async () => {
      for (const h of opened) {
        await h.sink.close().catch(() => {});
        await h.cleanup();
      }
    });

    test('every field of every record arrives', async () => {
      const h = await fresh();
      const records = sampleRecords(40);
      assert.deepEqual(await h.sink.write(records), { written: records.length });
      await h.sink.flush();
      assert.deepEqual(sorted(await h.received()), sorted(records));
    });

    test('an empty batch writes nothing', async () => {
      const h = await fresh();
      assert.deepEqual(await h.sink.write([]), { written: 0 });
      await h.sink.flush();
      assert.deepEqual(await h.received(), []);
    });

    test('concurrent batches land each record exactly once', async () => {
      const h = await fresh();
      const batches = Array.from({ length: 8 }, (_, b) => sampleRecords(50, `batch${b}`));
      const results = await Promise.all(batches.map((batch) => h.sink.write(batch)));
      assert.deepEqual(
        results.map((r) => r.written),
        batches.map((b) => b.length),
      );
      await h.sink.flush();
      const received = await h.received();
      assert.equal(received.length, 400);
      assert.equal(new Set(received.map(key)).size, 400);
    });

    test('a destination that is down is reported within a bounded time; records after it recovers arrive', async () => {
      const h = await fresh();
      await h.setDown(true);
      const down = sampleRecords(10, 'down');
      const outcome = await within(
        30_000,
        h.sink.write(down).then(
          async (result) => {
            await h.sink.flush();
            return result.written;
          },
          () => -1,
        ),
        'a write to a destination that is down',
      ).catch((error: Error) => {
        // flush rejected: the records were not made durable, which is what must be reported.
        if (/did not settle/.test(error.message)) throw error;
        return -1;
      });
      assert.ok(outcome < down.length, `a write while down was reported as fully written (${outcome})`);
      await h.setDown(false);
      const later = sampleRecords(5, 'later');
      const result = await h.sink.write(later);
      assert.equal(result.written, later.length);
      await h.sink.flush();
      const keys = new Set((await h.received()).map(key));
      for (const r of later) assert.ok(keys.has(key(r)), `${r.requestId} arrived after recovery`);
    });

    test('a closed sink refuses writes', async () => {
      const h = await fresh();
      await h.sink.write(sampleRecords(3, 'before-close'));
      await h.sink.close();
      await assert.rejects(h.sink.write(sampleRecords(1, 'after-close')));
      const received = await h.received();
      assert.equal(received.length, 3, 'what was written before close arrived');
    });
  });
}
