/**
 * The portals a node knows: which conflux serves which subnets, learnt from verified
 * announcements and forgotten when they stop coming. Pure: time is passed in.
 *
 * @module
 */

import { cidrContains, type Ipv4Cidr } from "../node/packet.ts";
import { formatCidr } from "./subnets.ts";

/** A portal as announced (its certificate names the subnets). */
export interface PortalEntry {
  /** Conflux id. */
  id: string;
  /** Overlay address. */
  ip: number;
  /** Subnets it serves. */
  subnets: Ipv4Cidr[];
  /** Last announcement, ms. */
  seenAt: number;
}

/** One subnet and the portal that carries it. */
export interface PortalRoute {
  subnet: Ipv4Cidr;
  /** "a.b.c.d/n". */
  text: string;
  portalId: string;
  portalIp: number;
}

/** Portals learnt from announcements; bounded, expiring. */
export class PortalTable {
  readonly #ttlMs: number;
  readonly #max: number;
  readonly #portals = new Map<string, PortalEntry>();

  /** `ttlMs`: a portal not heard for this long is forgotten; at most `maxPortals` are kept. */
  constructor(options: { ttlMs: number; maxPortals?: number }) {
    this.#ttlMs = options.ttlMs;
    this.#max = options.maxPortals ?? 1024;
  }

  /** Records an announcement; true when the set of routes changed. */
  learn(entry: PortalEntry): boolean {
    const old = this.#portals.get(entry.id);
    if (!old && this.#portals.size >= this.#max) return false;
    this.#portals.set(entry.id, entry);
    return !old || old.ip !== entry.ip || !sameSubnets(old.subnets, entry.subnets);
  }

  /** True when portal `id` is known. */
  has(id: string): boolean {
    return this.#portals.has(id);
  }

  /** Drops a portal (it said it stopped, or lost team affinity); true when it was known. */
  forget(id: string): boolean {
    return this.#portals.delete(id);
  }

  /** Forgets portals silent for longer than the TTL; true when any was forgotten. */
  expire(now: number): boolean {
    let changed = false;
    for (const [id, p] of this.#portals) {
      if (now - p.seenAt > this.#ttlMs) {
        this.#portals.delete(id);
        changed = true;
      }
    }
    return changed;
  }

  /** Every portal known. */
  portals(): PortalEntry[] {
    return [...this.#portals.values()];
  }

  /**
   * One route per distinct subnet; when two portals announce the same subnet, the lower
   * conflux id carries it, so every node of the realm picks the same one.
   */
  routes(): PortalRoute[] {
    const out = new Map<string, PortalRoute>();
    const ids = [...this.#portals.keys()].sort();
    for (const id of ids) {
      const p = this.#portals.get(id)!;
      for (const subnet of p.subnets) {
        const text = formatCidr(subnet);
        if (!out.has(text)) out.set(text, { subnet, text, portalId: id, portalIp: p.ip });
      }
    }
    return [...out.values()];
  }
}

/** The route of the longest prefix containing `ip` (routes sorted longest first), or null. */
export function longestMatch(routesLongestFirst: PortalRoute[], ip: number): PortalRoute | null {
  for (const r of routesLongestFirst) if (cidrContains(r.subnet, ip)) return r;
  return null;
}

function sameSubnets(a: Ipv4Cidr[], b: Ipv4Cidr[]): boolean {
  return a.length === b.length &&
    a.every((x, i) => x.network === b[i].network && x.prefix === b[i].prefix);
}
