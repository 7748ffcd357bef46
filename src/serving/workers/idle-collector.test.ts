import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { IdleCollector } from './idle-collector.ts';

describe('IdleCollector', () => {
  const make = () => {
    let now = 0;
    let collected = 0;
    const collector = new IdleCollector({
      collect: () => {
        collected++;
      },
      minBatches: 3,
      minIntervalMs: 1_000,
      now: () => now,
    });
    return {
      collector,
      advance: (ms: number) => {
        now += ms;
      },
      collected: () => collected,
    };
  };

  test('collects once enough batches ran and enough time passed, at a moment no batch is running', () => {
    const c = make();
    c.advance(5_000);
    c.collector.batchDone(0);
    c.collector.batchDone(0);
    assert.equal(c.collected(), 0, 'two batches are not enough');
    c.collector.batchDone(2);
    assert.equal(c.collected(), 0, 'never while other batches run');
    c.collector.batchDone(1);
    assert.equal(c.collected(), 0);
    c.collector.batchDone(0);
    assert.equal(c.collected(), 1, 'the first idle moment after enough batches');
    assert.equal(c.collector.collections, 1);
  });

  test('never twice within the interval, however many batches; an idle worker never collects', () => {
    const c = make();
    c.advance(1_000);
    for (let i = 0; i < 3; i++) c.collector.batchDone(0);
    assert.equal(c.collected(), 1);
    for (let i = 0; i < 100; i++) c.collector.batchDone(0);
    assert.equal(c.collected(), 1, 'within the interval');
    c.advance(999);
    c.collector.batchDone(0);
    assert.equal(c.collected(), 1);
    c.advance(1);
    c.collector.batchDone(0);
    assert.equal(c.collected(), 2, 'the interval passed and batches ran since');
    c.advance(60_000);
    assert.equal(c.collected(), 2, 'time alone, with no batch, collects nothing');
  });
});
