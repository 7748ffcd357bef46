import assert from 'node:assert/strict';
import { test } from 'node:test';
import { SlotList } from './slot-list.ts';

test('SlotList removes any item, once, and keeps the others listed', () => {
  const list = new SlotList<{ slot: number; name: string }>();
  const items = ['a', 'b', 'c', 'd'].map((name) => ({ slot: -1, name }));
  for (const item of items) list.add(item);
  list.delete(items[1]!);
  list.delete(items[1]!);
  assert.equal(list.size, 3);
  assert.equal(items[1]!.slot, -1);
  assert.deepEqual(
    list
      .list()
      .map((i) => i.name)
      .sort(),
    ['a', 'c', 'd'],
  );
  list.delete(items[3]!);
  list.delete(items[0]!);
  assert.deepEqual(
    list.list().map((i) => i.name),
    ['c'],
  );
  list.add(items[1]!);
  assert.deepEqual(
    list
      .list()
      .map((i) => i.name)
      .sort(),
    ['b', 'c'],
  );
  for (const item of list.list()) list.delete(item);
  assert.equal(list.size, 0);
});

test('SlotList ignores an item it does not hold, even one with a slot number of another list', () => {
  const list = new SlotList<{ slot: number }>();
  const held = { slot: -1 };
  list.add(held);
  const stranger = { slot: 0 };
  list.delete(stranger);
  assert.equal(list.size, 1);
  assert.equal(held.slot, 0);
});
