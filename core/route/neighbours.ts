/**
 * The node's own view of its tethers: smoothed probe measurements and the one-way cost they give
 * (cost(y) in Q(d, y) = cost(y) + R(d, y)). Only a noticeable move of a cost counts as news, so
 * probe noise does not make every route through a tether be re-evaluated at each probe.
 *
 * @module
 */

/** One liveness-probe result for a tether (the node's own measurement). */
export interface LinkSample {
  /** Round-trip time of the probe in ms. */
  rttMs: number;
  /** Fraction of probes lost recently, 0..1. */
  loss?: number;
  /** Current send-queue delay on the tether in ms (buffered bytes / send rate). */
  queueMs?: number;
}

/** One tether as this node measures it. */
export interface Link {
  srttMs: number;
  loss: number;
  queueMs: number;
  up: boolean;
  /** Cost when routes through this link were last re-evaluated. */
  announcedCost: number;
}

/** What a probe result changed: see {@link Neighbours.measure}. */
export type LinkChange = "up" | "recovered" | "moved" | null;

const MIN_DELIVERY_PROBABILITY = 0.1;

/** One-way delivery time over a tether, inflated by loss (retransmissions). */
export function linkCost(l: Link): number {
  return (l.srttMs / 2 + l.queueMs) / Math.max(MIN_DELIVERY_PROBABILITY, 1 - l.loss);
}

/** The tethers of one node, in the order they first came up. */
export class Neighbours {
  readonly #links = new Map<string, Link>();
  readonly #smoothing: number;
  readonly #change: number;
  #version = 0;

  /**
   * `smoothing` is the weight of a new RTT sample; `change` the relative move of an estimate
   * that is worth a report (half of it is enough to re-evaluate routes through a tether).
   */
  constructor(smoothing: number, change: number) {
    this.#smoothing = smoothing;
    this.#change = change;
  }

  /**
   * Bumped whenever a cost moved noticeably or a tether went up or down, so a subscriber that was
   * evaluated at this version with nothing to send need not be evaluated again.
   */
  get version(): number {
    return this.#version;
  }

  /** One-way cost to `neighbour`, Infinity if its tether is not up. */
  cost(neighbour: string): number {
    const l = this.#links.get(neighbour);
    return l && l.up ? linkCost(l) : Infinity;
  }

  /** True when the tether to `neighbour` is up. */
  isUp(neighbour: string): boolean {
    return this.#links.get(neighbour)?.up === true;
  }

  /** Ids of neighbours whose tether is up, in the order they first came up. */
  up(): string[] {
    const out: string[] = [];
    for (const [n, l] of this.#links) if (l.up) out.push(n);
    return out;
  }

  /**
   * Takes a probe result. Returns `up` for a tether never seen, `recovered` for one back after a
   * failure, `moved` when its cost moved enough to re-evaluate routes through it, null otherwise
   * (also for an unusable sample).
   */
  measure(neighbour: string, sample: LinkSample): LinkChange {
    const rtt = Number.isFinite(sample.rttMs) && sample.rttMs >= 0 ? sample.rttMs : NaN;
    if (Number.isNaN(rtt)) return null;
    const loss = Math.min(1, Math.max(0, sample.loss ?? 0));
    const queueMs = Math.max(0, sample.queueMs ?? 0);
    const link = this.#links.get(neighbour);
    let change: LinkChange;
    if (!link || !link.up) {
      // Re-setting a known key keeps its place in the map, so iteration order stays put.
      this.#links.set(neighbour, { srttMs: rtt, loss, queueMs, up: true, announcedCost: 0 });
      change = link ? "recovered" : "up";
    } else {
      link.srttMs += this.#smoothing * (rtt - link.srttMs);
      link.loss = loss;
      link.queueMs = queueMs;
      // Slow drift adds up until it crosses the threshold, as the comparison is with the cost
      // last announced, not the previous sample.
      const cost = this.cost(neighbour);
      const moved = Math.abs(cost - link.announcedCost);
      if (moved <= Math.max(0.05, (this.#change / 2) * link.announcedCost)) return null;
      change = "moved";
    }
    this.#links.get(neighbour)!.announcedCost = this.cost(neighbour);
    this.#version++;
    return change;
  }

  /**
   * Marks the tether to `neighbour` down. Returns its cost just before (what routes through it
   * were worth), or null if it was not up.
   */
  down(neighbour: string): number | null {
    const link = this.#links.get(neighbour);
    if (!link || !link.up) return null;
    link.up = false;
    this.#version++;
    return linkCost(link);
  }
}
