/**
 * One tether per next hop, shared by every stream that goes there: opened on demand (this node
 * offers), accepted when a peer offers, negotiated over signed control messages, batched with
 * the tether's FrameBatcher, and closed when idle.
 *
 * Glare (both ends offer at once): the offer of the conflux with the smaller id wins; the other
 * end abandons its own attempt and answers.
 *
 * @module
 */
import type { Logger } from "../log/logger.ts";
import { FrameBatcher } from "../tether/batcher.ts";
import { openTether } from "../tether/open.ts";
import {
  type OfferSignal,
  type Signal as TetherSignal,
  type Signaler,
  SignalQueue,
} from "../tether/signaler.ts";
import type { RtcEngineChoice, Tether } from "../tether/tether.ts";

/** Most tethers (open or being negotiated) one node holds. */
export const MAX_TETHERS = 256;
/** Most of them answered for confluxes without a shared team (relaying for others). */
export const MAX_STRANGER_TETHERS = 32;

/** Sends one tether signal to a peer (the node seals it into a SIGNAL envelope). */
export type SignalSender = (peerId: string, signal: TetherSignal) => Promise<void>;

/** Options of a TetherPool. */
export interface TetherPoolOptions {
  /** This node's conflux id (glare tie-break). */
  ownId: string;
  /** Engine for tethers this node opens or answers. */
  engine: RtcEngineChoice;
  /** STUN servers from the session. */
  iceServers: readonly string[];
  /** Local addresses to gather host candidates on; undefined = all. */
  hostAddresses?: readonly string[];
  /** Carries signals to peers. */
  sendSignal: SignalSender;
  /** Receives every data message of every tether. */
  onMessage: (peerId: string, message: Uint8Array) => void;
  /** Told when a tether opens (either side offered); routing starts probing it. */
  onOpen?: (peerId: string) => void;
  /** Told when a tether closes (streams over it need another). */
  onClose?: (peerId: string, reason: string) => void;
  /**
   * Data channels per tether; default 1. Messages are spread round-robin over channels and
   * each channel's messages reach JavaScript through its own callback queue, so more than one
   * reorders the packets of a TCP flow (measured: thousands of spurious retransmits).
   */
  channels?: number;
  /** Negotiation timeout (ms); default 10,000. */
  timeoutMs?: number;
  log: Logger;
}

interface Link {
  peerId: string;
  session: string;
  role: "offerer" | "answerer";
  signals: SignalQueue;
  abort: AbortController;
  opening: Promise<Tether>;
  tether?: Tether;
  batcher?: FrameBatcher;
  openedAt?: number;
  /** Answered for a conflux without a shared team. */
  stranger: boolean;
}

/** The tethers of one node, by peer conflux id. */
export class TetherPool {
  #links = new Map<string, Link>();
  #options: TetherPoolOptions;
  #hostAddresses: readonly string[] | undefined;
  #closed = false;

  /** Creates an empty pool. */
  constructor(options: TetherPoolOptions) {
    this.#options = options;
    this.#hostAddresses = options.hostAddresses;
  }

  /** The addresses new tethers gather host candidates on. */
  get hostAddresses(): readonly string[] | undefined {
    return this.#hostAddresses;
  }

  /**
   * The host's underlay addresses changed (DHCP, a NIC down, Wi-Fi to cable): tethers opened from
   * now on gather on `addresses`, and open tethers whose selected local address is gone are
   * closed at once (their streams move to another route, or a fresh tether over what is left)
   * rather than waiting for their probes to time out. Returns the peers whose tethers closed.
   */
  setHostAddresses(addresses: readonly string[]): string[] {
    this.#hostAddresses = addresses.slice();
    const kept = new Set(addresses);
    const closed: string[] = [];
    for (const link of [...this.#links.values()]) {
      const local = link.tether?.selectedPair()?.local;
      // A server-reflexive local candidate names the NAT's address; its base is not known here.
      if (!local || local.type !== "host" || kept.has(local.address)) continue;
      closed.push(link.peerId);
      this.#drop(link, `local address ${local.address} gone`);
    }
    return closed;
  }

  /** True while we are offering a tether to `peerId` (its answer and candidates are expected). */
  offering(peerId: string): boolean {
    const link = this.#links.get(peerId);
    return link !== undefined && !link.tether && link.role === "offerer";
  }

  /** The open tether to `peerId`, if any. */
  tether(peerId: string): Tether | undefined {
    const t = this.#links.get(peerId)?.tether;
    return t?.open ? t : undefined;
  }

  /** Last time the tether to `peerId` carried data (or opened); undefined if none is open. */
  lastActivity(peerId: string): number | undefined {
    const link = this.#links.get(peerId);
    if (!link?.tether?.open) return undefined;
    return Math.max(link.openedAt ?? 0, link.tether.stats().lastActivityAt);
  }

  /** When the open tether to `peerId` came up; undefined if none is open. */
  openedAt(peerId: string): number | undefined {
    const link = this.#links.get(peerId);
    return link?.tether?.open ? link.openedAt : undefined;
  }

  /** Every open tether. */
  tethers(): Tether[] {
    const out: Tether[] = [];
    for (const link of this.#links.values()) if (link.tether?.open) out.push(link.tether);
    return out;
  }

  /**
   * Queues one encoded frame on the tether to `peerId`; false when there is no open tether or its
   * queue is full (the frame is dropped, like a full UDP socket buffer).
   */
  send(peerId: string, frame: Uint8Array, lane = 0): boolean {
    const link = this.#links.get(peerId);
    if (!link?.batcher || !link.tether?.open) return false;
    return link.batcher.push(frame, lane % link.tether.channelCount);
  }

  /** Room for one frame on the tether to `peerId` (see FrameBatcher.slot); null if none. */
  slot(peerId: string, length: number, lane = 0): Uint8Array | null {
    const link = this.#links.get(peerId);
    if (!link?.batcher || !link.tether?.open) return null;
    return link.batcher.slot(length, lane % link.tether.channelCount);
  }

  /** Resolves with an open tether to `peerId`, offering one if none is open or being opened. */
  async ensure(peerId: string): Promise<Tether> {
    if (this.#closed) throw new Error("tether pool closed");
    // An attempt may be replaced by the peer's own offer (glare) or a newer one: follow it.
    for (let round = 0; round < 4; round++) {
      let link = this.#links.get(peerId);
      if (link?.tether?.open) return link.tether;
      if (!link && this.#links.size >= MAX_TETHERS) {
        throw new Error(`tether pool full (${MAX_TETHERS})`);
      }
      if (!link || link.tether) link = this.#start(peerId, "offerer", crypto.randomUUID());
      try {
        return await link.opening;
      } catch (e) {
        const current = this.#links.get(peerId);
        if (this.#closed || !current || current === link) throw e;
      }
    }
    throw new Error(`tether to ${peerId} kept being replaced`);
  }

  /** Feeds a verified signal from `peerId`. */
  onSignal(peerId: string, signal: TetherSignal): void {
    if (this.#closed) return;
    const link = this.#links.get(peerId);
    if (signal.kind === "offer") {
      if (link && link.session === signal.session) return;
      if (link && !link.tether && link.role === "offerer" && this.#options.ownId < peerId) {
        // Glare: our offer wins; the peer will answer it.
        this.#options.log.debug("tether glare: keeping own offer", { peer: peerId });
        return;
      }
      if (!link && !this.#room(signal.stranger === true)) {
        this.#options.log.debug("tether offer refused: pool full", {
          peer: peerId,
          stranger: signal.stranger === true,
        });
        return;
      }
      if (link) this.#drop(link, "replaced by a new offer");
      this.#start(peerId, "answerer", signal.session, signal);
      return;
    }
    if (!link || link.session !== signal.session) return;
    link.signals.push(signal);
  }

  /** Links held, and those answered for strangers (tests, info). */
  get size(): { all: number; strangers: number } {
    let strangers = 0;
    for (const l of this.#links.values()) if (l.stranger) strangers++;
    return { all: this.#links.size, strangers };
  }

  /** Whether a new answered link fits: the pool's bound, and the strangers' share of it. */
  #room(stranger: boolean): boolean {
    const { all, strangers } = this.size;
    return all < MAX_TETHERS && (!stranger || strangers < MAX_STRANGER_TETHERS);
  }

  /** Closes the tether to `peerId` (idle, lost affinity, shutdown). */
  close(peerId: string, reason: string): void {
    const link = this.#links.get(peerId);
    if (link) this.#drop(link, reason);
  }

  /** Closes every tether and refuses new ones. */
  closeAll(): void {
    this.#closed = true;
    for (const link of [...this.#links.values()]) this.#drop(link, "shutdown");
  }

  #start(peerId: string, role: "offerer" | "answerer", session: string, offer?: OfferSignal): Link {
    const signals = new SignalQueue(64);
    const abort = new AbortController();
    const opts = this.#options;
    const signaler: Signaler = {
      send: (s) => opts.sendSignal(peerId, s),
      incoming: signals,
    };
    const stranger = role === "answerer" && offer?.stranger === true;
    const link: Link = {
      peerId,
      session,
      role,
      stranger,
      signals,
      abort,
      opening: Promise.resolve() as unknown as Promise<Tether>,
    };
    link.opening = openTether({
      peerId,
      role,
      signaler,
      session,
      offer,
      engine: opts.engine,
      channels: opts.channels ?? 1,
      iceServers: opts.iceServers,
      hostAddresses: this.#hostAddresses,
      // To a conflux without a shared team (we relay for others): no host candidates.
      advertiseHost: !stranger,
      timeoutMs: opts.timeoutMs ?? 10_000,
      // The router probes every tether (and info shows its RTT): no second probe here.
      probeIntervalMs: 0,
      signal: abort.signal,
      log: opts.log,
    }).then((tether) => {
      signals.close();
      if (this.#links.get(peerId) !== link || this.#closed) {
        tether.close("superseded");
        throw new Error("tether superseded");
      }
      link.tether = tether;
      link.openedAt = Date.now();
      // 16 KB messages: werift's SCTP is fastest there (FIELD-NOTES); 60 KB for libdatachannel
      // measured no better on this machine.
      link.batcher = new FrameBatcher(tether, { maxBatchBytes: 16 * 1024 });
      tether.onMessage((m) => opts.onMessage(peerId, m));
      tether.onClose((reason) => {
        if (this.#links.get(peerId) === link) this.#links.delete(peerId);
        opts.log.debug("tether closed", { peer: peerId, reason });
        opts.onClose?.(peerId, reason);
      });
      opts.log.debug("tether up", { peer: peerId, engine: tether.engine, role });
      opts.onOpen?.(peerId);
      return tether;
    }, (e) => {
      signals.close();
      if (this.#links.get(peerId) === link) this.#links.delete(peerId);
      throw e;
    });
    // Nobody may be waiting (an answered tether); keep a failure from going unhandled.
    link.opening.catch((e) => opts.log.debug("tether failed", { peer: peerId, error: String(e) }));
    this.#links.set(peerId, link);
    return link;
  }

  #drop(link: Link, reason: string): void {
    if (this.#links.get(link.peerId) === link) this.#links.delete(link.peerId);
    link.abort.abort();
    link.signals.close();
    link.tether?.close(reason);
  }
}
