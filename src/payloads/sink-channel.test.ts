import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { PayloadRecord, PayloadSink } from '../sinks/index.ts';
import { sampleRecords } from '../sinks/sink.conformance.ts';
import { SinkChannel } from './sink-channel.ts';

/** A sink whose writes wait until released (a slow destination), then fail or succeed. */
function slowSink() {
  const written: PayloadRecord[] = [];
  let release: (() => void) | undefined;
  let gate = new Promise<void>((resolve) => {
    release = resolve;
  });
  let fail = false;
  const sink: PayloadSink = {
    kind: 'slow',
    async write(records) {
      await gate;
      if (fail) throw new Error('down');
      written.push(...records);
      return { written: records.length };
    },
    async flush() {},
    async close() {},
  };
  return {
    sink,
    written,
    open: () => release?.(),
    setFailing: (value: boolean) => {
      fail = value;
    },
    hold: () => {
      gate = new Promise<void>((resolve) => {
        release = resolve;
      });
    },
  };
}

test('a slow sink never blocks push: past the capacity records are dropped and counted, by deployment', async () => {
  const slow = slowSink();
  const dropped = new Map<string, number>();
  let written = 0;
  const channel = new SinkChannel(slow.sink, {
    capacity: 10,
    batch: 4,
    written: (_d, n) => {
      written += n;
    },
    dropped: (deployment, n, reason) =>
      dropped.set(`${deployment}/${reason}`, (dropped.get(`${deployment}/${reason}`) ?? 0) + n),
  });
  const records = sampleRecords(30);
  channel.push(records[0]!);
  await new Promise((resolve) => setImmediate(resolve)); // the first batch is taken and waits on the sink
  for (const r of records.slice(1)) channel.push(r);
  // One record is in the sink's hands, 10 are buffered, the other 19 were dropped at once.
  assert.equal(channel.buffered, 10);
  assert.equal(dropped.get('fraud/buffer_full'), 19);
  slow.open();
  await channel.flush();
  assert.equal(written, 11);
  assert.equal(slow.written.length, 11);
});

test('a failing sink: its records are counted as sink_failed and the channel keeps going', async () => {
  const slow = slowSink();
  slow.open();
  slow.setFailing(true);
  const dropped: number[] = [];
  let written = 0;
  const channel = new SinkChannel(slow.sink, {
    written: (_d, n) => {
      written += n;
    },
    dropped: (_d, n, reason) => {
      assert.equal(reason, 'sink_failed');
      dropped.push(n);
    },
  });
  for (const r of sampleRecords(5)) channel.push(r);
  await channel.flush();
  assert.equal(
    dropped.reduce((a, b) => a + b, 0),
    5,
  );
  slow.setFailing(false);
  for (const r of sampleRecords(3)) channel.push(r);
  await channel.flush();
  assert.equal(written, 3);
});
