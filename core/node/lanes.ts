/**
 * Lanes: a UDP path beside each tether for data frames (issue 16). When a tether opens, each end
 * sends a Lane hello over it (DTLS-authenticated): "put this token on datagrams to me, send them
 * here". Each end then probes the other's lane address; a probe with the right token is answered
 * to wherever it came from (so a NAT in front of the prober is fine), and a probe or ack with the
 * right token proves a path. Once a path is proven, data frames (ours and relayed) go over the lane;
 * probes and route messages stay on the tether, which keeps setup, control and fallback. A lane
 * that hears nothing for {@link LANE_SILENT_MS} goes down and frames go back to the tether at once;
 * probing goes on, and the lane comes back when answered. A large probe (fragmented on the way)
 * decides whether frames above {@link LANE_SMALL_FRAME} may use the lane.
 *
 * @module
 */
import {
  decodeLaneHello,
  encodeLaneHelloFrame,
  LANE_PREFIX_LENGTH,
  LANE_TOKEN_LENGTH,
  LaneKind,
  writeLanePrefix,
} from "../wire/lane.ts";
import type { Frame } from "../wire/frame.ts";
import type { NodeContext } from "./context.ts";
import type { DatagramPort } from "./ports.ts";

/** Probes while a lane is being set up or is down. */
export const LANE_PROBE_MS = 200;
/** Probes (keepalives) while it is up. */
export const LANE_KEEPALIVE_MS = 500;
/** Silence after which a lane is down. */
export const LANE_SILENT_MS = 2000;
/** Frames up to this size use a lane whose large probe went unanswered. */
export const LANE_SMALL_FRAME = 1400;
/** Size of the large probe (several IP fragments on a 1,500-byte path). */
const BIG_PROBE = 8000;
/** Largest frame a lane carries (a UDP datagram's payload minus our prefix). */
const MAX_LANE_FRAME = 65_507 - LANE_PREFIX_LENGTH;

/** What `info` says of a tether's lane. */
export type LaneState = "off" | "probing" | "up" | "down";

interface Lane {
  peerId: string;
  /** Token we gave the peer: its datagrams to us start with it. */
  ours: Uint8Array;
  /** Token the peer gave us, and where it asked us to send (unset until its hello). */
  theirs?: Uint8Array;
  helloAddress?: number;
  helloPort?: number;
  /** The proven path (source of an authenticated probe or ack). */
  address?: number;
  port?: number;
  /** Our address for the peer's datagrams, told in our hello. */
  local: number;
  big: boolean;
  lastHeard: number;
  nextProbe: number;
  /** Hellos are repeated until the lane is up (one may cross the tether's opening). */
  nextHello: number;
  up: boolean;
  nonce: number;
}

/** Hello repeat interval while a lane is not up. */
const HELLO_REPEAT_MS = 1000;

/** The lanes of one node. */
export class Lanes {
  readonly #ctx: NodeContext;
  readonly #port: DatagramPort | null;
  readonly #deliver: (peerId: string, frame: Uint8Array) => void;
  readonly #lanes = new Map<string, Lane>();
  /** Lanes by the first 4 bytes of our token (the rest is compared). */
  readonly #byToken = new Map<number, Lane>();
  /** Hellos that arrived before our end of the tether said it was open. */
  readonly #early = new Map<string, Frame>();

  /** `port` null: lanes are off (frames use the tethers). */
  constructor(
    ctx: NodeContext,
    port: DatagramPort | null,
    deliver: (peerId: string, frame: Uint8Array) => void,
  ) {
    this.#ctx = ctx;
    this.#port = port;
    this.#deliver = deliver;
    port?.onReceive((data, address, p) => this.#receive(data, address, p));
  }

  /** The lane's state toward `peerId`. */
  state(peerId: string): LaneState {
    if (!this.#port) return "off";
    const l = this.#lanes.get(peerId);
    if (!l) return "off";
    if (l.up) return "up";
    return l.address === undefined ? "probing" : "down";
  }

  /**
   * A tether to `peerId` opened; `localAddress` is the address (IPv4 number) its selected pair
   * uses here, if known: we tell the peer to send lane datagrams there.
   */
  tetherOpen(peerId: string, localAddress: number | undefined): void {
    const port = this.#port;
    if (!port || localAddress === undefined || this.#lanes.has(peerId)) return;
    const ours = this.#ctx.random(LANE_TOKEN_LENGTH);
    const lane: Lane = {
      peerId,
      ours,
      local: localAddress,
      big: false,
      lastHeard: 0,
      nextProbe: 0,
      nextHello: this.#ctx.now() + HELLO_REPEAT_MS,
      up: false,
      nonce: 0,
    };
    this.#lanes.set(peerId, lane);
    this.#byToken.set(tokenKey(ours), lane);
    this.#hello(lane);
    const early = this.#early.get(peerId);
    if (early) {
      this.#early.delete(peerId);
      this.onFrame(peerId, early);
    }
  }

  #hello(l: Lane): void {
    this.#ctx.send(
      l.peerId,
      encodeLaneHelloFrame({ token: l.ours, address: l.local, port: this.#port!.localPort }),
    );
  }

  /** The tether to `peerId` closed: its lane goes with it. */
  tetherClosed(peerId: string): void {
    this.#early.delete(peerId);
    const l = this.#lanes.get(peerId);
    if (!l) return;
    this.#lanes.delete(peerId);
    this.#byToken.delete(tokenKey(l.ours));
  }

  /** A Lane frame from tether peer `peerId`: its hello. */
  onFrame(peerId: string, frame: Frame): void {
    const l = this.#lanes.get(peerId);
    if (!l) {
      if (this.#port && this.#early.size < 1024) this.#early.set(peerId, frame);
      return;
    }
    let hello;
    try {
      hello = decodeLaneHello(frame.payload);
    } catch {
      this.#ctx.counters.drops.bad_frame++;
      return;
    }
    l.theirs = hello.token;
    l.helloAddress = hello.address;
    l.helloPort = hello.port;
    l.nextProbe = 0;
    this.tick(this.#ctx.now());
  }

  /**
   * Room for a frame of `length` bytes to `peerId` on its lane, when the lane is up and may carry
   * a frame that large; null otherwise (the caller uses the tether).
   */
  slot(peerId: string, length: number): Uint8Array | null {
    const l = this.#lanes.get(peerId);
    if (!l?.up || !this.#port || length > (l.big ? MAX_LANE_FRAME : LANE_SMALL_FRAME)) {
      return null;
    }
    const out = this.#port.slot(l.address!, l.port!, LANE_PREFIX_LENGTH + length);
    if (!out) return null;
    writeLanePrefix(out, l.theirs!, LaneKind.Frame);
    return out.subarray(LANE_PREFIX_LENGTH);
  }

  /** Probes and keepalives that are due; lanes silent too long go down. */
  tick(now: number): void {
    for (const l of this.#lanes.values()) {
      if (l.up && now - l.lastHeard > LANE_SILENT_MS) {
        l.up = false;
        this.#ctx.log.info("lane down: frames go over the tether", { peer: l.peerId });
      }
      if (!l.up && now >= l.nextHello) {
        l.nextHello = now + HELLO_REPEAT_MS;
        this.#hello(l);
      }
      if (!l.theirs || now < l.nextProbe) continue;
      l.nextProbe = now + (l.up ? LANE_KEEPALIVE_MS : LANE_PROBE_MS);
      // The proven path if there is one, else where the hello said.
      const address = l.address ?? l.helloAddress!;
      const port = l.port ?? l.helloPort!;
      this.#probe(l, address, port, 32);
      if (!l.big) this.#probe(l, address, port, BIG_PROBE);
    }
  }

  /** Closes the socket. */
  close(): void {
    this.#port?.close();
    this.#lanes.clear();
    this.#byToken.clear();
    this.#early.clear();
  }

  #probe(l: Lane, address: number, port: number, size: number): void {
    const out = this.#port!.slot(address, port, LANE_PREFIX_LENGTH + size);
    if (!out) return;
    writeLanePrefix(out, l.theirs!, LaneKind.Probe);
    const v = new DataView(out.buffer, out.byteOffset, out.byteLength);
    v.setUint32(LANE_PREFIX_LENGTH, ++l.nonce);
    v.setUint32(LANE_PREFIX_LENGTH + 4, size);
    out.fill(0, LANE_PREFIX_LENGTH + 8);
  }

  #receive(data: Uint8Array, address: number, port: number): void {
    if (data.length < LANE_PREFIX_LENGTH) return;
    const l = this.#byToken.get(tokenKey(data));
    if (!l || !sameToken(l.ours, data)) return;
    const now = this.#ctx.now();
    const kind = data[LANE_TOKEN_LENGTH];
    if (kind === LaneKind.Frame) {
      l.lastHeard = now;
      this.#deliver(l.peerId, data.subarray(LANE_PREFIX_LENGTH));
      return;
    }
    if (data.length < LANE_PREFIX_LENGTH + 8) return;
    const v = new DataView(data.buffer, data.byteOffset, data.byteLength);
    if (kind === LaneKind.Probe) {
      if (!l.theirs) return;
      // Answer where it came from (a NAT in front of the prober is fine), small.
      const out = this.#port!.slot(address, port, LANE_PREFIX_LENGTH + 10);
      if (out) {
        writeLanePrefix(out, l.theirs, LaneKind.ProbeAck);
        out.set(data.subarray(LANE_PREFIX_LENGTH, LANE_PREFIX_LENGTH + 8), LANE_PREFIX_LENGTH);
        new DataView(out.buffer, out.byteOffset).setUint16(LANE_PREFIX_LENGTH + 8, 0);
      }
      this.#proven(l, address, port, now, false);
    } else if (kind === LaneKind.ProbeAck) {
      const size = v.getUint32(LANE_PREFIX_LENGTH + 4);
      this.#proven(l, address, port, now, size >= BIG_PROBE);
    }
  }

  /** An authenticated datagram of `l`'s peer came from `address:port`. */
  #proven(l: Lane, address: number, port: number, now: number, big: boolean): void {
    l.lastHeard = now;
    l.address = address;
    l.port = port;
    if (big) l.big = true;
    if (l.up || !l.theirs) return;
    l.up = true;
    this.#ctx.log.info("lane up", { peer: l.peerId, port, large_frames: l.big });
  }
}

function tokenKey(bytes: Uint8Array): number {
  return ((bytes[0] << 24) | (bytes[1] << 16) | (bytes[2] << 8) | bytes[3]) >>> 0;
}

function sameToken(token: Uint8Array, data: Uint8Array): boolean {
  for (let i = 0; i < LANE_TOKEN_LENGTH; i++) if (token[i] !== data[i]) return false;
  return true;
}
