/**
 * `SlotList`: an unordered collection of items that each know their slot, for things that come and go once per call
 * (calls in flight, requests awaiting a deadline). Adding pushes; removing moves the last item into the hole.
 *
 * Not a Set or Map: V8 keeps a replaced Set or Map table's entries for the iterators that may still walk it, linked
 * to the table that replaced it, so a long-lived Set that gains and loses an entry per call chains its tables from
 * the old generation, and every item that went through it (with all it holds) outlives the scavenges until the next
 * mark-compact. The batcher's requests awaiting their deadline, in a Set, promoted 2.1-2.2 KB per V2 JSON answer
 * (2.5 mark-compacts per 10,000 answers); in this list, 28-52 bytes (0.1-0.2), counted by bench/gc-probe.ts.
 *
 * Example:
 *   const calls = new SlotList<{ slot: number; id: string }>();
 *   const call = { slot: -1, id: 'a' };
 *   calls.add(call);
 *   calls.delete(call); // call.slot is -1 again
 */
export class SlotList<T extends { slot: number }> {
  readonly #items: T[] = [];

  get size(): number {
    return this.#items.length;
  }

  add(item: T): void {
    item.slot = this.#items.length;
    this.#items.push(item);
  }

  /** Removes the item if it is listed (once: a second delete does nothing). */
  delete(item: T): void {
    if (item.slot < 0 || this.#items[item.slot] !== item) return;
    const last = this.#items.pop() as T;
    if (last !== item) {
      this.#items[item.slot] = last;
      last.slot = item.slot;
    }
    item.slot = -1;
  }

  /** A copy, in no particular order: removing items while walking it is safe. */
  list(): T[] {
    return [...this.#items];
  }
}
