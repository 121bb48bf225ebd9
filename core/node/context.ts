/**
 * NodeContext: what every part of the runtime shares — our identity and realm, the ports, the
 * peer table, the router, counters, the control verify budget and timers that end with stop().
 * The parts (egress, ingress, streams, path finding, relay search, control inbox, sweeper) each
 * take one and know nothing of each other beyond the methods they call.
 *
 * @module
 */
import type { Logger } from "../log/logger.ts";
import type { OpenedEnvelope } from "../wire/envelope.ts";
import type { MessageType } from "../wire/gen/veilnet_pb.ts";
import { VERIFY_UNKNOWN, VerifyBudget } from "./verify_budget.ts";
import type { Messenger } from "./messenger.ts";
import { cidrContains, type Ipv4Cidr } from "./packet.ts";
import type { PeerTable } from "./peer_table.ts";
import type {
  Clock,
  ControlPort,
  RandomSource,
  RealmSubjects,
  TetherPort,
  TunPort,
} from "./ports.ts";
import type { Router } from "./router.ts";

/**
 * Signed control messages of not-yet-known senders this node verifies per second, all together
 * (ML-DSA-65 verification costs milliseconds); each sender also has its own budget (VerifyBudget).
 */
export const CONTROL_VERIFY_RATE = VERIFY_UNKNOWN;

/** Data-path and control counters (status output and tests). */
export interface NodeCounters {
  framesIn: number;
  framesDropped: number;
  framesRelayed: number;
  packetsIn: number;
  packetsOut: number;
  controlDropped: number;
  /** Packets lost on the way out, by cause (see {@link DropCause}). */
  drops: Record<DropCause, number>;
}

/** Why a packet or frame was lost (reported in `info`). */
export type DropCause =
  | "queue_full"
  | "backoff"
  | "no_tether"
  | "tether_full"
  | "bad_frame"
  | "unknown_stream"
  | "auth"
  | "source"
  | "relay_refused"
  | "tun_write";

/** Fresh zeroed counters. */
export function newCounters(): NodeCounters {
  return {
    framesIn: 0,
    framesDropped: 0,
    framesRelayed: 0,
    packetsIn: 0,
    packetsOut: 0,
    controlDropped: 0,
    drops: {
      queue_full: 0,
      backoff: 0,
      no_tether: 0,
      tether_full: 0,
      bad_frame: 0,
      unknown_stream: 0,
      auth: 0,
      source: 0,
      relay_refused: 0,
      tun_write: 0,
    },
  };
}

/** The realm's address range. */
export class Realm {
  /** The realm subnet. */
  readonly cidr: Ipv4Cidr;
  /** Its broadcast address (belongs to nobody). */
  readonly broadcast: number;

  constructor(cidr: Ipv4Cidr) {
    this.cidr = cidr;
    this.broadcast = (cidr.network | (cidr.prefix === 32 ? 0 : (0xffff_ffff >>> cidr.prefix))) >>>
      0;
  }

  /** Whether `ip` is inside the realm. */
  contains(ip: number): boolean {
    return cidrContains(this.cidr, ip);
  }

  /** Whether `ip` can be a conflux's address: inside, and neither network nor broadcast. */
  isHost(ip: number): boolean {
    return this.contains(ip) && ip !== this.cidr.network && ip !== this.broadcast;
  }
}

/** Parts of a context the node assembles. */
export interface NodeContextParts {
  id: string;
  ip: number;
  ipText: string;
  realm: Realm;
  messenger: Messenger;
  control: ControlPort;
  subjects: RealmSubjects;
  peers: PeerTable;
  tun: TunPort;
  relay: boolean;
  idleTimeoutMs: number;
  clock: Clock;
  random: RandomSource;
  log: Logger;
}

/** Shared state and services of one running node. */
export class NodeContext {
  readonly id: string;
  readonly ip: number;
  readonly ipText: string;
  readonly realm: Realm;
  readonly messenger: Messenger;
  readonly control: ControlPort;
  readonly subjects: RealmSubjects;
  readonly peers: PeerTable;
  readonly tun: TunPort;
  readonly relay: boolean;
  readonly idleTimeoutMs: number;
  readonly log: Logger;
  readonly random: RandomSource;
  readonly counters: NodeCounters = newCounters();
  /** Set by the node once the tether port and router exist (they call back into the parts). */
  tethers!: TetherPort;
  router!: Router;
  /** Queues a copy of a frame for a tether peer (the port, or a test's delay line in front). */
  send: (peerId: string, frame: Uint8Array, lane?: number) => boolean = () => false;
  /** Room for one frame of `length` bytes to a tether peer, written before the next call. */
  slot: (peerId: string, length: number, lane?: number) => Uint8Array | null = () => null;
  readonly #clock: Clock;
  // Unknown senders whose affinity tags match (a cheap MAC) have a verify bucket of their own.
  readonly #verify = new VerifyBudget({
    affine: (publicKey, tags) => this.messenger.affine(publicKey, tags),
  });
  #timers = new Set<ReturnType<typeof setTimeout>>();
  #sleepers = new Set<() => void>();
  #stopped = false;

  constructor(p: NodeContextParts) {
    this.id = p.id;
    this.ip = p.ip;
    this.ipText = p.ipText;
    this.realm = p.realm;
    this.messenger = p.messenger;
    this.control = p.control;
    this.subjects = p.subjects;
    this.peers = p.peers;
    this.tun = p.tun;
    this.relay = p.relay;
    this.idleTimeoutMs = p.idleTimeoutMs;
    this.log = p.log;
    this.random = p.random;
    this.#clock = p.clock;
  }

  /** Current time (ms). */
  now(): number {
    return this.#clock();
  }

  /** True once stop() began. */
  get stopped(): boolean {
    return this.#stopped;
  }

  /** Marks the node stopped and clears every pending one-shot timer. */
  stop(): void {
    this.#stopped = true;
    for (const t of this.#timers) clearTimeout(t);
    this.#timers.clear();
    for (const wake of this.#sleepers) wake();
    this.#sleepers.clear();
  }

  /**
   * Whether the signed message `data` may be verified now (its sender's budget and, for a sender
   * not verified before, the shared one; see VerifyBudget); false is counted as dropped. Checked
   * before any signature verification.
   */
  mayVerify(data: Uint8Array): boolean {
    if (this.#verify.allow(data, this.now())) return true;
    this.counters.controlDropped++;
    return false;
  }

  /** Verifies and opens the signed message `data` (after mayVerify); its sender becomes known. */
  open(data: Uint8Array): OpenedEnvelope {
    const opened = this.messenger.open(data, this.now());
    this.#verify.verified(opened.senderCertificateHash);
    return opened;
  }

  /** Signs a control message of `type` now. */
  seal(type: MessageType, body: Uint8Array): Uint8Array {
    return this.messenger.seal(type, body, this.now());
  }

  /** A one-shot timer that stop() clears. */
  after(ms: number, fn: () => void): ReturnType<typeof setTimeout> {
    const t = setTimeout(() => {
      this.#timers.delete(t);
      fn();
    }, ms);
    this.#timers.add(t);
    return t;
  }

  /** Cancels a timer from {@link after}. */
  cancel(t: ReturnType<typeof setTimeout>): void {
    clearTimeout(t);
    this.#timers.delete(t);
  }

  /** Resolves after `ms`, or at once when the node stops (callers then check `stopped`). */
  sleep(ms: number): Promise<void> {
    return new Promise((resolve) => {
      if (this.#stopped) return resolve();
      const wake = () => {
        this.#sleepers.delete(wake);
        resolve();
      };
      this.#sleepers.add(wake);
      this.after(ms, wake);
    });
  }

  /**
   * Publishes without throwing: the control channel may have closed under us (a revoked token),
   * and a throw from a timer or a promise callback would end the process before cleanup.
   */
  publish(subject: string, data: Uint8Array): void {
    try {
      this.control.publish(subject, data);
    } catch (e) {
      this.log.debug("control message not sent", { subject, error: String(e) });
    }
  }

  /** Whether a verified peer shares a team with us now. */
  affine(peer: { publicKey: Uint8Array; tags: Uint8Array[] }): boolean {
    return this.messenger.affine(peer.publicKey, peer.tags);
  }
}

/** A conflux id as the Guardian issues them; anything else never becomes a NATS subject. */
export function isConfluxId(id: string): boolean {
  return /^[A-Za-z0-9_-]{1,64}$/.test(id);
}

/** Lowercase hex of `bytes`. */
export function hex(bytes: Uint8Array): string {
  return Array.from(bytes, (b) => b.toString(16).padStart(2, "0")).join("");
}
