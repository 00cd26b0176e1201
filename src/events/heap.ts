/**
 * A binary min-heap of scheduled events ordered by (time, priority, sequence): equal-time events
 * run by priority, then in the order they were scheduled (SimPy's rule), so runs are reproducible.
 */
export interface HeapEvent {
  time: number;
  priority: number;
  seq: number;
  /** Index in the heap array, -1 once popped or removed. */
  index: number;
}

function before(a: HeapEvent, b: HeapEvent): boolean {
  return a.time < b.time || (a.time === b.time && (a.priority < b.priority || (a.priority === b.priority && a.seq < b.seq)));
}

export class EventHeap<E extends HeapEvent> {
  private items: E[] = [];

  get size(): number {
    return this.items.length;
  }

  peek(): E | undefined {
    return this.items[0];
  }

  push(e: E): void {
    const items = this.items;
    let i = items.length;
    items.push(e);
    // Sift up, moving parents down instead of swapping.
    while (i > 0) {
      const parent = (i - 1) >> 1;
      const p = items[parent]!;
      if (!before(e, p)) break;
      items[i] = p;
      p.index = i;
      i = parent;
    }
    items[i] = e;
    e.index = i;
  }

  pop(): E | undefined {
    const items = this.items;
    const top = items[0];
    if (top === undefined) return undefined;
    const last = items.pop()!;
    if (items.length > 0) this.siftDown(last, 0);
    top.index = -1;
    return top;
  }

  /** Removes an event anywhere in the heap in O(log n). */
  remove(e: E): boolean {
    const i = e.index;
    const items = this.items;
    if (i < 0 || items[i] !== e) return false;
    const last = items.pop()!;
    e.index = -1;
    if (i === items.length) return true;
    if (i > 0 && before(last, items[(i - 1) >> 1]!)) {
      items[i] = last;
      last.index = i;
      // Re-insert by sifting up from i.
      let j = i;
      while (j > 0) {
        const parent = (j - 1) >> 1;
        const p = items[parent]!;
        if (!before(last, p)) break;
        items[j] = p;
        p.index = j;
        j = parent;
      }
      items[j] = last;
      last.index = j;
    } else this.siftDown(last, i);
    return true;
  }

  private siftDown(e: E, i: number): void {
    const items = this.items;
    const n = items.length;
    for (;;) {
      const l = 2 * i + 1;
      if (l >= n) break;
      const r = l + 1;
      const c = r < n && before(items[r]!, items[l]!) ? r : l;
      const child = items[c]!;
      if (!before(child, e)) break;
      items[i] = child;
      child.index = i;
      i = c;
    }
    items[i] = e;
    e.index = i;
  }
}
