import { fc, test } from '@fast-check/vitest';
import { describe, expect, it } from 'vitest';
import { EventHeap } from '../../src/events/index.js';

type Op = { op: 'push'; time: number; tie: number } | { op: 'pop' } | { op: 'replace'; time: number; tie: number };

// Few distinct times and ties, so that equal times (and equal ties) are common.
const time = fc.integer({ min: 0, max: 12 }).map((t) => t / 4);
const tie = fc.integer({ min: 0, max: 5 });
const ops = fc.array(
  fc.oneof(
    fc.record({ op: fc.constant('push' as const), time, tie }),
    fc.record({ op: fc.constant('pop' as const) }),
    fc.record({ op: fc.constant('replace' as const), time, tie }),
  ),
  { maxLength: 400 },
);

describe('EventHeap', () => {
  test.prop([ops])('pops in (time, tie, slot) order under any mix of push, pop and replaceTop', (program) => {
    const heap = new EventHeap();
    // Reference: a plain array, searched for its minimum.
    let model: { time: number; tie: number; slot: number }[] = [];
    let next = 0;
    const less = (a: { time: number; tie: number; slot: number }, b: typeof a) =>
      a.time < b.time || (a.time === b.time && (a.tie < b.tie || (a.tie === b.tie && a.slot < b.slot)));
    const popModel = () => {
      let best = 0;
      for (let i = 1; i < model.length; i++) if (less(model[i]!, model[best]!)) best = i;
      return model.splice(best, 1)[0]!.slot;
    };
    for (const o of program) {
      // Ties are made unique per entry (as the kernel's sequence numbers make them).
      if (o.op === 'push') {
        const slot = next++;
        heap.push(o.time, o.tie * 1000 + slot, slot);
        model.push({ time: o.time, tie: o.tie * 1000 + slot, slot });
      } else if (o.op === 'pop') {
        expect(heap.pop()).toBe(model.length ? popModel() : -1);
      } else {
        const slot = next++;
        if (model.length) popModel();
        heap.replaceTop(o.time, o.tie * 1000 + slot, slot);
        model.push({ time: o.time, tie: o.tie * 1000 + slot, slot });
      }
      expect(heap.size).toBe(model.length);
      expect(heap.topTime()).toBe(model.length ? Math.min(...model.map((m) => m.time)) : Infinity);
    }
    const rest: number[] = [];
    while (heap.size) rest.push(heap.pop());
    const expected: number[] = [];
    while (model.length) expected.push(popModel());
    expect(rest).toEqual(expected);
    model = [];
  });

  it('grows past its initial capacity without losing order', () => {
    const heap = new EventHeap();
    const n = 5000;
    for (let i = 0; i < n; i++) heap.push((i * 7919) % n, i, i);
    let last = -1;
    for (let i = 0; i < n; i++) {
      const t = heap.topTime();
      expect(t).toBeGreaterThan(last);
      last = t;
      heap.pop();
    }
    expect(heap.pop()).toBe(-1);
    expect(heap.topSlot()).toBe(-1);
  });
});
