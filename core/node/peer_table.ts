/**
 * PeerTable: everything this node knows about one other conflux, in one record, found by conflux
 * id, by overlay address (a number, the frame header's destination) or by the dotted name the
 * routing agent uses for neighbours. Nothing else in the runtime keeps per-peer maps, so a tether
 * closing or an address going stale is one call here, not a walk over many maps.
 *
 * @module
 */
import type { PeerRef } from "./peer_ref.ts";
import { formatIpv4 } from "./packet.ts";

/** Most peers remembered; the oldest without a tether go first beyond it. */
export const MAX_PEERS = 65_536;
/** How long a failed direct tether sends new streams straight to relays. */
export const DIRECT_RETRY_MS = 60_000;

/** What the node knows of one conflux. */
export interface Peer {
  /** Conflux id (from a verified envelope or certificate). */
  readonly id: string;
  /** Overlay address, as a 32-bit number and as the routing agent names it. */
  ip: number;
  ipText: string;
  /** Certificate facts and affinity tags checked at discovery or handshake, and when. */
  verified?: PeerRef;
  verifiedAt?: number;
  /** True while a tether to it is open and the routing agent probes it as a neighbour. */
  neighbour: boolean;
  /** Last time its tether carried data frames (probes do not count: they keep tethers alive). */
  dataAt?: number;
  /** When a direct tether to it last failed. */
  directFailedAt?: number;
  /** When we last told it about a stream we do not know (rate limit). */
  closeSentAt?: number;
  /** The tether peer its authenticated frames last came through: the way back to it. */
  heardVia?: string;
}

/** Peers by conflux id, overlay address and routing name. */
export class PeerTable {
  #byId = new Map<string, Peer>();
  #byIp = new Map<number, Peer>();
  #byName = new Map<string, Peer>();

  /** Number of peers known. */
  get size(): number {
    return this.#byId.size;
  }

  /** The peer with conflux id `id`. */
  get(id: string): Peer | undefined {
    return this.#byId.get(id);
  }

  /** The peer whose overlay address is `ip`. */
  byIp(ip: number): Peer | undefined {
    return this.#byIp.get(ip);
  }

  /** The conflux id of the open-tether neighbour the routing agent calls `name`. */
  neighbourId(name: string): string | undefined {
    const p = this.#byName.get(name);
    return p?.neighbour ? p.id : undefined;
  }

  /** Every peer (for sweeps and status). */
  all(): IterableIterator<Peer> {
    return this.#byId.values();
  }

  /**
   * Records that a verified message of conflux `id` named overlay address `ip` (its certificate
   * did): the address → id mapping every frame and relay decision uses.
   */
  learn(id: string, ip: number): Peer {
    let p = this.#byId.get(id);
    if (p && p.ip === ip) return p;
    if (p) {
      this.#unindex(p);
      p.ip = ip;
      p.ipText = formatIpv4(ip);
    } else {
      if (this.#byId.size >= MAX_PEERS) this.#evict();
      p = { id, ip, ipText: formatIpv4(ip), neighbour: false };
      this.#byId.set(id, p);
    }
    const previous = this.#byIp.get(ip);
    if (previous && previous !== p) this.#unindex(previous);
    this.#byIp.set(ip, p);
    this.#byName.set(p.ipText, p);
    return p;
  }

  /** Stores what discovery or a handshake verified about `ref.id` at `now`. */
  verify(ref: PeerRef, now: number): Peer {
    const p = this.learn(ref.id, ref.ip);
    p.verified = ref;
    p.verifiedAt = now;
    return p;
  }

  /**
   * Forgets who owns `ip` (a connect failed: the mapping may be stale, and the next attempt
   * discovers afresh). The peer itself stays while it has a tether.
   */
  forgetAddress(ip: number): void {
    const p = this.#byIp.get(ip);
    if (!p) return;
    p.verified = undefined;
    p.verifiedAt = undefined;
    if (p.neighbour) return;
    this.#unindex(p);
    this.#byId.delete(p.id);
  }

  /** Whether a direct tether to `id` failed within {@link DIRECT_RETRY_MS} of `now`. */
  directFailedRecently(id: string, now: number): boolean {
    const at = this.#byId.get(id)?.directFailedAt;
    return at !== undefined && now - at <= DIRECT_RETRY_MS;
  }

  /**
   * The tether to `id` closed: it is no neighbour, and no way back leads through it any more.
   */
  tetherClosed(id: string): void {
    const gone = this.#byId.get(id);
    if (gone) {
      gone.neighbour = false;
      gone.dataAt = undefined;
      gone.closeSentAt = undefined;
    }
    for (const p of this.#byId.values()) {
      if (p.heardVia === id) p.heardVia = undefined;
    }
  }

  /** Drops what is older than `idleMs` at `now`: verified facts and old failures. */
  sweep(now: number, idleMs: number): void {
    for (const p of this.#byId.values()) {
      if (p.verifiedAt !== undefined && now - p.verifiedAt >= idleMs) {
        p.verified = undefined;
        p.verifiedAt = undefined;
      }
      if (p.directFailedAt !== undefined && now - p.directFailedAt > DIRECT_RETRY_MS) {
        p.directFailedAt = undefined;
      }
    }
  }

  #unindex(p: Peer): void {
    if (this.#byIp.get(p.ip) === p) this.#byIp.delete(p.ip);
    if (this.#byName.get(p.ipText) === p) this.#byName.delete(p.ipText);
  }

  /** Makes room: the oldest peer without a tether goes. */
  #evict(): void {
    for (const p of this.#byId.values()) {
      if (p.neighbour) continue;
      this.#unindex(p);
      this.#byId.delete(p.id);
      return;
    }
  }
}
