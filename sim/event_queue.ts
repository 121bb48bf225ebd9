/**
 * The simulator's clock: a binary min-heap of timed callbacks. Events at the same time run in
 * the order they were scheduled, so a run is fully determined by its seed.
 *
 * @module
 */

interface Event {
  at: number;
  seq: number;
  run: () => void;
}

/** A discrete-event queue with a virtual clock in ms. */
export class EventQueue {
  readonly #heap: Event[] = [];
  #seq = 0;
  #now = 0;

  /** Virtual time of the event being run (or of the last one run). */
  get now(): number {
    return this.#now;
  }

  /** Events waiting. */
  get size(): number {
    return this.#heap.length;
  }

  /** Schedules `run` at virtual time `at` (never earlier than now). */
  at(at: number, run: () => void): void {
    const e: Event = { at: Math.max(at, this.#now), seq: this.#seq++, run };
    const h = this.#heap;
    h.push(e);
    let i = h.length - 1;
    while (i > 0) {
      const p = (i - 1) >> 1;
      if (!before(h[i], h[p])) break;
      [h[i], h[p]] = [h[p], h[i]];
      i = p;
    }
  }

  /** Runs events in time order until none is left at or before `until`; returns how many ran. */
  runUntil(until: number): number {
    let count = 0;
    const h = this.#heap;
    while (h.length > 0 && h[0].at <= until) {
      const e = h[0];
      const last = h.pop()!;
      if (h.length > 0) {
        h[0] = last;
        let i = 0;
        for (;;) {
          const l = 2 * i + 1;
          const r = l + 1;
          let m = i;
          if (l < h.length && before(h[l], h[m])) m = l;
          if (r < h.length && before(h[r], h[m])) m = r;
          if (m === i) break;
          [h[i], h[m]] = [h[m], h[i]];
          i = m;
        }
      }
      this.#now = e.at;
      e.run();
      count++;
    }
    this.#now = Math.max(this.#now, until);
    return count;
  }
}

function before(a: Event, b: Event): boolean {
  return a.at < b.at || (a.at === b.at && a.seq < b.seq);
}
