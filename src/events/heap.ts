/**
 * A 4-ary min-heap of event slots keyed by (time, tie), stored in parallel typed arrays so that
 * sifting moves numbers, not objects. `tie` orders equal times: priority first, then the
 * insertion sequence (SimPy's rule), so runs are reproducible. Four children per node halve the
 * depth of a binary heap.
 */
export class EventHeap {
  private times = new Float64Array(1024);
  private ties = new Float64Array(1024);
  private slots = new Int32Array(1024);
  size = 0;

  /** Time of the earliest entry (Infinity when empty). */
  topTime(): number {
    return this.size > 0 ? this.times[0]! : Infinity;
  }

  topSlot(): number {
    return this.size > 0 ? this.slots[0]! : -1;
  }

  push(time: number, tie: number, slot: number): void {
    if (this.size === this.times.length) this.grow();
    const times = this.times;
    const ties = this.ties;
    const slots = this.slots;
    let i = this.size++;
    while (i > 0) {
      const p = (i - 1) >> 2;
      const pt = times[p]!;
      if (pt < time || (pt === time && ties[p]! < tie)) break;
      times[i] = pt;
      ties[i] = ties[p]!;
      slots[i] = slots[p]!;
      i = p;
    }
    times[i] = time;
    ties[i] = tie;
    slots[i] = slot;
  }

  /** Removes the earliest entry and returns its slot (-1 when empty). */
  pop(): number {
    if (this.size === 0) return -1;
    const times = this.times;
    const ties = this.ties;
    const slots = this.slots;
    const top = slots[0]!;
    const n = --this.size;
    if (n === 0) return top;
    const t = times[n]!;
    const k = ties[n]!;
    const s = slots[n]!;
    let i = 0;
    for (;;) {
      const first = 4 * i + 1;
      if (first >= n) break;
      let c = first;
      let ct = times[first]!;
      let ck = ties[first]!;
      const end = first + 4 < n ? first + 4 : n;
      for (let j = first + 1; j < end; j++) {
        const jt = times[j]!;
        if (jt < ct || (jt === ct && ties[j]! < ck)) {
          c = j;
          ct = jt;
          ck = ties[j]!;
        }
      }
      if (t < ct || (t === ct && k < ck)) break;
      times[i] = ct;
      ties[i] = ck;
      slots[i] = slots[c]!;
      i = c;
    }
    times[i] = t;
    ties[i] = k;
    slots[i] = s;
    return top;
  }

  private grow(): void {
    const cap = this.times.length * 2;
    const grow = <T extends Float64Array | Int32Array>(a: T, b: T): T => {
      b.set(a);
      return b;
    };
    this.times = grow(this.times, new Float64Array(cap));
    this.ties = grow(this.ties, new Float64Array(cap));
    this.slots = grow(this.slots, new Int32Array(cap));
  }
}
