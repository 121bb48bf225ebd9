/**
 * In-memory tethers. A tether still starts with a signal carried by the node's control channel
 * (a signed SIGNAL envelope, so the node's affinity and relay checks decide as they do for
 * WebRTC), but the link itself is a pair of queues: frames sent in one task arrive in one batch
 * message on a later one, as with FrameBatcher over a data channel. Tests cut and heal links
 * between two nodes, watch every frame, and inject their own bytes.
 *
 * @module
 */
import { encodeBatch, MAX_BATCH_FRAMES } from "../../wire/frame.ts";
import type { Signal } from "../../tether/signaler.ts";
import type { TetherStats } from "../../tether/tether.ts";
import type { TetherEvents, TetherPort, TetherView } from "../ports.ts";

/** Largest batch message built (FrameBatcher's size on a data channel). */
const MAX_MESSAGE_BYTES = 16 * 1024;
/** How long an offer waits for the other end before `ensure` fails. */
export const MEMORY_TETHER_TIMEOUT_MS = 1500;

/** One frame as the net carried it. */
export interface WireFrame {
  from: string;
  to: string;
  frame: Uint8Array;
}

function pairKey(a: string, b: string): string {
  return a < b ? `${a}|${b}` : `${b}|${a}`;
}

/** The links between the nodes of one test. */
export class MemoryTetherNet {
  #ports = new Map<string, MemoryTetherPort>();
  #cut = new Set<string>();
  /** Called with every frame carried (tests read or count traffic). */
  tap?: (f: WireFrame) => void;
  /** When set, a frame for which it returns false is lost on the wire. */
  filter?: (f: WireFrame) => boolean;

  /**
   * The tether port of node `id`; pass it as NodeRuntimeOptions.tethers. `address` (dotted) is
   * the host address its tethers report as their local candidate.
   */
  port(id: string, address = "198.18.0.1"): (events: TetherEvents) => TetherPort {
    return (events) => {
      const port = new MemoryTetherPort(this, id, events, address);
      this.#ports.set(id, port);
      return port;
    };
  }

  /** No tether can form between `a` and `b`; an open one closes (as when a path fails). */
  cut(a: string, b: string): void {
    this.#cut.add(pairKey(a, b));
    this.#ports.get(a)?.close(b, "link cut");
  }

  /** Lets `a` and `b` tether again. */
  heal(a: string, b: string): void {
    this.#cut.delete(pairKey(a, b));
  }

  /** Whether a tether between `a` and `b` may form. */
  reachable(a: string, b: string): boolean {
    return !this.#cut.has(pairKey(a, b)) && this.#ports.has(a) && this.#ports.has(b);
  }

  /** Delivers raw `message` bytes to `to` as if sent by `from` over their open tether. */
  inject(from: string, to: string, message: Uint8Array): boolean {
    const port = this.#ports.get(to);
    if (!port?.isOpen(from)) return false;
    port.receive(from, message.slice());
    return true;
  }

  /** @internal */
  get(id: string): MemoryTetherPort | undefined {
    return this.#ports.get(id);
  }

  /** @internal */
  carry(f: WireFrame): boolean {
    this.tap?.(f);
    return !this.filter || this.filter(f);
  }
}

interface Link {
  peerId: string;
  openedAt: number;
  outbox: Uint8Array[];
  scheduled: boolean;
  stats: TetherStats;
}

interface Offer {
  session: string;
  resolve: () => void;
  reject: (e: Error) => void;
  timer: ReturnType<typeof setTimeout>;
}

function newStats(now: number): TetherStats {
  return {
    rttMs: NaN,
    rttP50Ms: NaN,
    loss: 0,
    probesSent: 0,
    probesAnswered: 0,
    messagesSent: 0,
    messagesReceived: 0,
    bytesSent: 0,
    bytesReceived: 0,
    backpressured: 0,
    lastActivityAt: now,
    setupMs: 0,
  };
}

/** One node's tethers on a MemoryTetherNet. */
export class MemoryTetherPort implements TetherPort {
  readonly #net: MemoryTetherNet;
  readonly #id: string;
  readonly #events: TetherEvents;
  #links = new Map<string, Link>();
  #offers = new Map<string, Offer>();
  #hostAddresses: readonly string[] | undefined = undefined;
  #closed = false;
  #sessions = 0;
  /** The host address tethers report as their local candidate. */
  readonly address: string;

  constructor(net: MemoryTetherNet, id: string, events: TetherEvents, address: string) {
    this.#net = net;
    this.#id = id;
    this.#events = events;
    this.address = address;
  }

  get hostAddresses(): readonly string[] | undefined {
    return this.#hostAddresses;
  }

  setHostAddresses(addresses: readonly string[]): string[] {
    this.#hostAddresses = addresses.slice();
    return [];
  }

  offering(peerId: string): boolean {
    return this.#offers.has(peerId);
  }

  /** Whether a tether to `peerId` is open. */
  isOpen(peerId: string): boolean {
    return this.#links.has(peerId);
  }

  tether(peerId: string): TetherView | undefined {
    return this.#links.has(peerId) ? this.#view(peerId) : undefined;
  }

  openedAt(peerId: string): number | undefined {
    return this.#links.get(peerId)?.openedAt;
  }

  tethers(): TetherView[] {
    return [...this.#links.keys()].map((id) => this.#view(id));
  }

  send(peerId: string, frame: Uint8Array): boolean {
    const s = this.slot(peerId, frame.length);
    if (!s) return false;
    s.set(frame);
    return true;
  }

  slot(peerId: string, length: number): Uint8Array | null {
    const link = this.#links.get(peerId);
    if (!link || link.outbox.length >= 1024) return null;
    const frame = new Uint8Array(length);
    link.outbox.push(frame);
    link.stats.messagesSent++;
    link.stats.bytesSent += frame.length;
    if (!link.scheduled) {
      link.scheduled = true;
      setTimeout(() => this.#flush(link), 0);
    }
    return frame;
  }

  ensure(peerId: string): Promise<unknown> {
    if (this.#closed) return Promise.reject(new Error("tether pool closed"));
    if (this.#links.has(peerId)) return Promise.resolve();
    const pending = this.#offers.get(peerId);
    if (pending) return new Promise((resolve, reject) => this.#follow(peerId, resolve, reject));
    return new Promise<void>((resolve, reject) => {
      const session = `${this.#id}-${++this.#sessions}`;
      const timer = setTimeout(() => {
        this.#offers.delete(peerId);
        reject(new Error(`no tether to ${peerId}`));
      }, MEMORY_TETHER_TIMEOUT_MS);
      this.#offers.set(peerId, { session, resolve, reject, timer });
      const offer: Signal = { kind: "offer", session, sdp: "memory" };
      this.#events.sendSignal(peerId, offer).catch(() => {});
    });
  }

  onSignal(peerId: string, signal: Signal): void {
    if (this.#closed) return;
    if (signal.kind === "answer") {
      // Our offer was answered (a verified SIGNAL, so the node knows the answerer by now).
      if (this.#offers.get(peerId)?.session === signal.session) this.#open(peerId);
      return;
    }
    if (signal.kind !== "offer" || !this.#net.reachable(this.#id, peerId)) return;
    // The answerer's end opens now; the offerer's when the answer arrives, as with WebRTC.
    this.#open(peerId);
    const answer: Signal = { kind: "answer", session: signal.session, sdp: "memory" };
    this.#events.sendSignal(peerId, answer).catch(() => {});
  }

  close(peerId: string, reason: string): void {
    if (!this.#links.has(peerId)) return;
    this.#drop(peerId, reason);
    const other = this.#net.get(peerId);
    if (other) other.#drop(this.#id, "closed by peer");
  }

  closeAll(): void {
    this.#closed = true;
    for (const id of [...this.#links.keys()]) this.close(id, "shutdown");
    for (const [id, o] of this.#offers) {
      clearTimeout(o.timer);
      o.reject(new Error("tether pool closed"));
      this.#offers.delete(id);
    }
  }

  /** @internal A message arrived from `peerId`. */
  receive(peerId: string, message: Uint8Array): void {
    const link = this.#links.get(peerId);
    if (!link) return;
    link.stats.messagesReceived++;
    link.stats.bytesReceived += message.length;
    this.#events.onMessage(peerId, message);
  }

  #follow(peerId: string, resolve: (v: unknown) => void, reject: (e: Error) => void): void {
    const o = this.#offers.get(peerId)!;
    const first = { resolve: o.resolve, reject: o.reject };
    o.resolve = () => {
      first.resolve();
      resolve(undefined);
    };
    o.reject = (e) => {
      first.reject(e);
      reject(e);
    };
  }

  #open(peerId: string): void {
    if (this.#closed || this.#links.has(peerId) || !this.#net.reachable(this.#id, peerId)) return;
    const now = Date.now();
    this.#links.set(peerId, {
      peerId,
      openedAt: now,
      outbox: [],
      scheduled: false,
      stats: newStats(now),
    });
    const offer = this.#offers.get(peerId);
    if (offer) {
      this.#offers.delete(peerId);
      clearTimeout(offer.timer);
      offer.resolve();
    }
    this.#events.onOpen(peerId);
  }

  #drop(peerId: string, reason: string): void {
    if (!this.#links.delete(peerId)) return;
    this.#events.onClose(peerId, reason);
  }

  #flush(link: Link): void {
    link.scheduled = false;
    const frames = link.outbox.splice(0);
    if (this.#links.get(link.peerId) !== link) return;
    const carried = frames.filter((frame) =>
      this.#net.carry({ from: this.#id, to: link.peerId, frame })
    );
    let chunk: Uint8Array[] = [];
    let bytes = 2;
    const send = () => {
      if (chunk.length === 0) return;
      this.#net.inject(this.#id, link.peerId, chunk.length === 1 ? chunk[0] : encodeBatch(chunk));
      chunk = [];
      bytes = 2;
    };
    for (const frame of carried) {
      if (chunk.length === MAX_BATCH_FRAMES || bytes + 2 + frame.length > MAX_MESSAGE_BYTES) send();
      chunk.push(frame);
      bytes += 2 + frame.length;
    }
    send();
  }

  #view(peerId: string): TetherView {
    const link = this.#links.get(peerId)!;
    return {
      peerId,
      engine: "memory",
      channelCount: 1,
      bufferedAmount: link.outbox.length * 1500,
      stats: () => ({ ...link.stats }),
      selectedPair: () => ({
        local: { type: "host", address: this.address, port: 1 },
        remote: { type: "host", address: this.#net.get(peerId)?.address ?? "", port: 1 },
      }),
    };
  }
}
