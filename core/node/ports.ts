/**
 * The ports through which the node runtime reaches the world: the TUN device, the tethers, the
 * control channel, the clock and randomness. Production wires them to ffi/tun.ts, TetherPool
 * (WebRTC) and core/control's ControlClient; core/node/testing/ has in-memory ones, so egress,
 * ingress, relaying, affinity, rekey, idle teardown and failover run in unit tests without root,
 * a TUN device or a NATS server.
 *
 * @module
 */
import type { PacketBatch } from "../../ffi/packet_batch.ts";
import { controlSubject, discoverSubject } from "../control/subjects.ts";
import type { CandidatePair } from "../tether/engine.ts";
import type { Signal } from "../tether/signaler.ts";
import type { RtcEngineName, TetherStats } from "../tether/tether.ts";

/** One message received on a subscription. */
export interface ControlMessage {
  /** Subject it arrived on. */
  subject: string;
  /** Payload bytes (untrusted). */
  data: Uint8Array;
  /** Reply subject when the sender used request/reply. */
  reply?: string;
}

/** What the data plane needs from the control channel. */
export interface ControlPort {
  /** Publishes `data` on `subject` (fire and forget). */
  publish(subject: string, data: Uint8Array): void;
  /** Sends a request and resolves with the first reply; rejects on timeout or no responders. */
  request(subject: string, data: Uint8Array, timeoutMs: number): Promise<Uint8Array>;
  /**
   * Sends a request and yields every reply within `timeoutMs` (a broadcast request several may
   * answer); the caller may stop early.
   */
  requestMany(subject: string, data: Uint8Array, timeoutMs: number): AsyncIterable<Uint8Array>;
  /** Subscribes; the iterable ends when the subscription or the connection closes. */
  subscribe(subject: string): AsyncIterable<ControlMessage>;
}

/** NATS subjects of one realm, as PROTOCOL.md lists them (built by core/control/subjects.ts). */
export interface RealmSubjects {
  /** Direct control messages to `confluxId`. */
  control(confluxId: string): string;
  /** Realm-wide discovery. */
  readonly discover: string;
}

/** Subjects of realm `realmId`. */
export function realmSubjects(realmId: string): RealmSubjects {
  return {
    control: (confluxId: string) => controlSubject(realmId, confluxId),
    discover: discoverSubject(realmId),
  };
}

/**
 * The TUN device as the data path uses it: batches of packets in and out. `Tun` (ffi/tun.ts)
 * implements it; so does the in-memory MemoryTun.
 */
export interface TunPort {
  /** Interface name (portal routes are added on it). */
  readonly name: string;
  /** True when packets carry a virtio_net_hdr (TSO/USO offloads). */
  readonly vnetHeader: boolean;
  /** True once the device is closed. */
  readonly closed: boolean;
  /** A batch whose slots fit what this device returns. */
  newBatch(capacity?: number): PacketBatch;
  /** Fills `batch` with waiting packets; resolves with the count (0 after `timeoutMs`). */
  readBatch(batch: PacketBatch, options?: { timeoutMs?: number }): Promise<number>;
  /** Writes every packet of `batch`; returns how many the device took. */
  writeBatch(batch: PacketBatch): number;
}

/** What the node reads of one open tether (status output, queue delay). */
export interface TetherView {
  /** The peer conflux id. */
  readonly peerId: string;
  /** The engine running it ("memory" in tests). */
  readonly engine: RtcEngineName | "memory";
  /** Data channels in use. */
  readonly channelCount: number;
  /** Bytes queued and not yet sent. */
  readonly bufferedAmount: number;
  /** Current measurements. */
  stats(): TetherStats;
  /** The selected candidate pair, null if unknown. */
  selectedPair(): CandidatePair | null;
}

/** What the tethers tell the node. */
export interface TetherEvents {
  /** Carries a tether signal to a peer (the node seals it into a SIGNAL envelope). */
  sendSignal(peerId: string, signal: Signal): Promise<void>;
  /** Every data message of every tether, unvalidated. */
  onMessage(peerId: string, message: Uint8Array): void;
  /** A tether opened (either side offered). */
  onOpen(peerId: string): void;
  /** A tether closed. */
  onClose(peerId: string, reason: string): void;
}

/** The node's tethers, one per peer conflux id (core/node/tether_pool.ts is the real one). */
export interface TetherPort {
  /** Addresses new tethers gather host candidates on; undefined = every interface. */
  readonly hostAddresses: readonly string[] | undefined;
  /** Changes them; closes tethers whose local address went; returns those peers. */
  setHostAddresses(addresses: readonly string[]): string[];
  /** True while we offer a tether to `peerId` (its answer is expected). */
  offering(peerId: string): boolean;
  /** The open tether to `peerId`, if any. */
  tether(peerId: string): TetherView | undefined;
  /** When the open tether to `peerId` came up. */
  openedAt(peerId: string): number | undefined;
  /** Every open tether. */
  tethers(): TetherView[];
  /**
   * Queues a copy of one frame on `lane` (one data channel per lane keeps a flow in order);
   * false when no tether is open or its queue is full (dropped).
   */
  send(peerId: string, frame: Uint8Array, lane?: number): boolean;
  /**
   * Room for one frame of `length` bytes on `lane` in the message being built for `peerId`, to be
   * written completely before the next call; null when it would be dropped.
   */
  slot(peerId: string, length: number, lane?: number): Uint8Array | null;
  /** Resolves once a tether to `peerId` is open (offering one if needed). */
  ensure(peerId: string): Promise<unknown>;
  /** A verified signal from `peerId`. */
  onSignal(peerId: string, signal: Signal): void;
  /** Closes the tether to `peerId`. */
  close(peerId: string, reason: string): void;
  /** Closes every tether and refuses new ones. */
  closeAll(): void;
}

/** Makes the node's tether port; `events` is how the tethers reach the node. */
export type TetherPortFactory = (events: TetherEvents) => TetherPort;

/** Time as the runtime reads it (ms since the epoch); timers stay the host's. */
export type Clock = () => number;

/** Cryptographic randomness: `n` fresh bytes. */
export type RandomSource = (n: number) => Uint8Array;

/** The host's clock. */
export const systemClock: Clock = () => Date.now();

/** The host's CSPRNG. */
export const systemRandom: RandomSource = (n) => crypto.getRandomValues(new Uint8Array(n));

/**
 * A UDP socket for datagram lanes (ffi/udp.ts is the real one): datagrams written in place and
 * sent in batches, received in batches.
 */
export interface DatagramPort {
  /** The local port peers send to. */
  readonly localPort: number;
  /**
   * Room for one datagram of `length` bytes to `address:port` (IPv4 as a number), sent with the
   * others of this turn; written completely before the next call; null when it would be dropped.
   */
  slot(address: number, port: number, length: number): Uint8Array | null;
  /** Every datagram received: a view valid during the call, and its source. */
  onReceive(cb: (data: Uint8Array, address: number, port: number) => void): void;
  /** Closes the socket. */
  close(): void;
}
