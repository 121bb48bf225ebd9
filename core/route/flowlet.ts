/**
 * Flowlet switching: keeps each flow on its next hop so that one TCP flow is never sprayed
 * across paths of different delay (reordering collapses TCP throughput).
 *
 * A flow (keyed by a hash of its 5-tuple at the source, or of the stream id at a relay, which
 * cannot read the 5-tuple) moves only when
 * - its next hop failed (the path's delay is infinite): it moves at once, or
 * - it was idle longer than the delay difference between the old and the new path plus a
 *   margin: every packet sent on the old path has then arrived before the first packet on the
 *   new path can, so the move cannot reorder the flow.
 * Different flows to the same destination may sit on different next hops (multi-link).
 *
 * Pure: time is passed in; the table asks a {@link FlowletPaths} for choices and delays.
 *
 * @module
 */

import { RouteError } from "./errors.ts";

/** Where the table gets path choices and delays (typically a RouteAgent for one destination). */
export interface FlowletPaths {
  /** The next hop a new flowlet should take now, or null if there is no route. */
  choose(): string | null;
  /** Current estimated one-way delay through `nextHop` in ms; Infinity if it failed. */
  delayMs(nextHop: string): number;
}

/** Tuning of a {@link FlowletTable}. */
export interface FlowletOptions {
  /** Most flows remembered; the oldest-inserted is forgotten beyond it (default 65,536). */
  maxFlows?: number;
  /** Gaps shorter than this never move a flow, and skip the choice entirely (default 1 ms). */
  minGapMs?: number;
  /** Safety margin added to the delay difference, for estimate error (default 2 ms). */
  marginMs?: number;
  /** A flow idle this long is forgotten by {@link FlowletTable.sweep} (default 60 s). */
  idleTimeoutMs?: number;
}

interface Flow {
  nextHop: string;
  lastSeen: number;
}

/** Per-flow next-hop pinning with flowlet moves. See the module documentation. */
export class FlowletTable {
  readonly #flows = new Map<number, Flow>();
  readonly #max: number;
  readonly #minGap: number;
  readonly #margin: number;
  readonly #idle: number;
  #moves = 0;

  /** Creates an empty table; throws {@link RouteError} `options` on negative tuning. */
  constructor(options: FlowletOptions = {}) {
    const check = (v: number, name: string) => {
      if (!Number.isFinite(v) || v < 0) throw new RouteError("options", `${name} must be >= 0`);
      return v;
    };
    this.#max = Math.max(1, Math.floor(check(options.maxFlows ?? 65_536, "maxFlows")));
    this.#minGap = check(options.minGapMs ?? 1, "minGapMs");
    this.#margin = check(options.marginMs ?? 2, "marginMs");
    this.#idle = check(options.idleTimeoutMs ?? 60_000, "idleTimeoutMs");
  }

  /** Flows currently remembered. */
  get size(): number {
    return this.#flows.size;
  }

  /** How many times a remembered flow changed next hop. */
  get moves(): number {
    return this.#moves;
  }

  /** The next hop `flow` is pinned to, if any (no side effects). */
  current(flow: number): string | null {
    return this.#flows.get(flow)?.nextHop ?? null;
  }

  /**
   * The next hop for a packet of `flow` sent at `now`: the pinned one unless the path failed or
   * the idle gap allows a move to what `paths` chooses now. Null when there is no route.
   */
  pick(flow: number, now: number, paths: FlowletPaths): string | null {
    const f = this.#flows.get(flow);
    if (f) {
      const gap = now - f.lastSeen;
      const current = paths.delayMs(f.nextHop);
      if (Number.isFinite(current) && gap <= this.#minGap) {
        f.lastSeen = Math.max(f.lastSeen, now);
        return f.nextHop;
      }
      const next = paths.choose();
      if (next === null) {
        if (!Number.isFinite(current)) this.#flows.delete(flow);
        return null;
      }
      if (next !== f.nextHop) {
        const failed = !Number.isFinite(current);
        const diff = Math.max(0, current - paths.delayMs(next));
        if (failed || gap > diff + this.#margin) {
          f.nextHop = next;
          this.#moves++;
        }
      }
      f.lastSeen = Math.max(f.lastSeen, now);
      return f.nextHop;
    }
    const next = paths.choose();
    if (next === null) return null;
    if (this.#flows.size >= this.#max) {
      const oldest = this.#flows.keys().next().value;
      if (oldest !== undefined) this.#flows.delete(oldest);
    }
    this.#flows.set(flow, { nextHop: next, lastSeen: now });
    return next;
  }

  /** Forgets flows idle longer than the idle timeout; returns how many were removed. */
  sweep(now: number): number {
    let removed = 0;
    for (const [key, f] of this.#flows) {
      if (now - f.lastSeen > this.#idle) {
        this.#flows.delete(key);
        removed++;
      }
    }
    return removed;
  }
}

/**
 * A 32-bit FNV-1a hash of a flow key (e.g. the IPv4 5-tuple bytes), for {@link FlowletTable}
 * keys. Not collision-resistant against an adversary; a collision only shares a path.
 */
export function flowHash(bytes: Uint8Array): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < bytes.length; i++) {
    h ^= bytes[i];
    h = Math.imul(h, 0x01000193);
  }
  return h >>> 0;
}
