/**
 * ChannelTether: the engine-independent Tether built on a connected RawPeer. Spreads messages
 * round-robin over the data channels, enforces the water marks, runs liveness probes on the
 * control channel and keeps the stats.
 *
 * @module
 */

import type { Logger } from "../log/logger.ts";
import type { CandidatePair, RawChannel, RawPeer } from "./engine.ts";
import { TetherError } from "./errors.ts";
import {
  decodeProbe,
  encodeProbe,
  PROBE_BYE,
  PROBE_PING,
  PROBE_PONG,
  ProbeTracker,
} from "./probe.ts";
import type { RtcEngineName, Tether, TetherStats } from "./tether.ts";

/** Settings of a ChannelTether. */
export interface ChannelTetherOptions {
  peerId: string;
  /** How many of the peer's data channels to use (both ends agreed on it); default all. */
  channels?: number;
  highWater: number;
  lowWater: number;
  maxMessageSize: number;
  /** Interval between liveness probes; 0 disables probing. */
  probeIntervalMs: number;
  /** A probe without reply after this long counts as lost. */
  probeTimeoutMs: number;
  setupMs: number;
  log?: Logger;
  /** Clock for stats and probes (ms). */
  now?: () => number;
}

/** A Tether over the channels of a connected RawPeer. */
export class ChannelTether implements Tether {
  readonly peerId: string;
  readonly engine: RtcEngineName;
  readonly maxMessageSize: number;

  readonly #peer: RawPeer;
  /** The data channels still open: losing one moves its lane to the others. */
  #channels: RawChannel[];
  readonly #high: number;
  readonly #now: () => number;
  readonly #log?: Logger;
  readonly #probes: ProbeTracker;
  #probeTimer: ReturnType<typeof setInterval> | undefined;
  #next = 0;
  #blocked = false;
  #open = true;
  #messageCbs: ((m: Uint8Array) => void)[] = [];
  #drainCbs: (() => void)[] = [];
  #closeCbs: ((reason: string) => void)[] = [];
  #stats = {
    messagesSent: 0,
    messagesReceived: 0,
    bytesSent: 0,
    bytesReceived: 0,
    backpressured: 0,
    lastActivityAt: 0,
  };
  readonly #setupMs: number;

  /** Wraps a RawPeer whose channels are all open. */
  constructor(peer: RawPeer, options: ChannelTetherOptions) {
    this.peerId = options.peerId;
    this.engine = peer.engine;
    this.#peer = peer;
    this.#channels = peer.channels.slice(0, options.channels ?? peer.channels.length);
    this.maxMessageSize = Math.min(options.maxMessageSize, peer.remoteMaxMessageSize());
    this.#high = options.highWater;
    this.#now = options.now ?? (() => performance.timeOrigin + performance.now());
    this.#log = options.log;
    this.#setupMs = options.setupMs;
    this.#stats.lastActivityAt = this.#now();
    this.#probes = new ProbeTracker({ timeoutMs: options.probeTimeoutMs });

    for (const ch of this.#channels) {
      ch.setLowWater(options.lowWater);
      ch.onLowWater(() => this.#lowWater());
      ch.onMessage((data) => this.#deliver(data));
      ch.onClose(() => this.#channelClosed(ch));
    }
    peer.control.onMessage((data) => this.#control(data));
    peer.control.onClose(() => this.#shutdown("control channel closed", false));
    peer.onDown((why) => this.#shutdown(why, false));
    if (options.probeIntervalMs > 0) {
      this.#probeTimer = setInterval(() => this.#sendProbe(), options.probeIntervalMs);
      // Probing must not keep a process alive on its own.
      Deno.unrefTimer(this.#probeTimer);
    }
  }

  get channelCount(): number {
    return this.#channels.length;
  }

  get bufferedAmount(): number {
    let sum = 0;
    for (const ch of this.#channels) sum += ch.bufferedAmount();
    return sum;
  }

  get open(): boolean {
    return this.#open;
  }

  send(message: Uint8Array, lane?: number): boolean {
    if (!this.#open) return false;
    if (message.byteLength === 0) {
      // werift silently drops empty messages while libdatachannel sends them: refuse both ways.
      throw new TetherError("empty", "empty message");
    }
    if (message.byteLength > this.maxMessageSize) {
      throw new TetherError(
        "oversized",
        `message of ${message.byteLength} bytes exceeds ${this.maxMessageSize}`,
      );
    }
    const channels = this.#channels;
    const n = channels.length;
    if (lane !== undefined) return this.#sendOn(channels[lane % n], message);
    for (let i = 0; i < n; i++) {
      const idx = (this.#next + i) % n;
      const ch = channels[idx];
      if (ch.bufferedAmount() >= this.#high) continue;
      try {
        ch.send(message);
      } catch (e) {
        this.#log?.debug("tether send failed", { peer: this.peerId, error: String(e) });
        this.#shutdown("send failed", false);
        return false;
      }
      this.#next = idx + 1;
      this.#stats.messagesSent++;
      this.#stats.bytesSent += message.byteLength;
      this.#stats.lastActivityAt = this.#now();
      return true;
    }
    this.#blocked = true;
    this.#stats.backpressured++;
    return false;
  }

  /** Sends on one channel (a pinned lane): false, and a drain event later, when it is full. */
  #sendOn(ch: RawChannel, message: Uint8Array): boolean {
    if (ch.bufferedAmount() >= this.#high) {
      this.#blocked = true;
      this.#stats.backpressured++;
      return false;
    }
    try {
      ch.send(message);
    } catch (e) {
      this.#log?.debug("tether send failed", { peer: this.peerId, error: String(e) });
      this.#shutdown("send failed", false);
      return false;
    }
    this.#stats.messagesSent++;
    this.#stats.bytesSent += message.byteLength;
    this.#stats.lastActivityAt = this.#now();
    return true;
  }

  /** One data channel closed: the tether goes on over the others, or ends with the last. */
  #channelClosed(ch: RawChannel): void {
    if (!this.#open) return;
    const rest = this.#channels.filter((c) => c !== ch);
    if (rest.length === this.#channels.length) return;
    if (rest.length === 0) return this.#shutdown("channel closed", false);
    this.#channels = rest;
    this.#log?.info("tether lost a data channel; going on over the others", {
      peer: this.peerId,
      channels: rest.length,
    });
  }

  onMessage(cb: (message: Uint8Array) => void): void {
    this.#messageCbs.push(cb);
  }

  onDrain(cb: () => void): void {
    this.#drainCbs.push(cb);
  }

  onClose(cb: (reason: string) => void): void {
    if (!this.#open) {
      queueMicrotask(() => cb("closed"));
      return;
    }
    this.#closeCbs.push(cb);
  }

  selectedPair(): CandidatePair | null {
    return this.#open ? this.#peer.selectedPair() : null;
  }

  stats(): TetherStats {
    this.#probes.expire(this.#now());
    return {
      rttMs: this.#probes.srtt,
      rttP50Ms: this.#probes.rttP50,
      loss: this.#probes.loss,
      probesSent: this.#probes.sent,
      probesAnswered: this.#probes.answered,
      ...this.#stats,
      setupMs: this.#setupMs,
    };
  }

  close(reason = "closed locally"): void {
    this.#shutdown(reason, true);
  }

  #deliver(data: Uint8Array): void {
    this.#stats.messagesReceived++;
    this.#stats.bytesReceived += data.byteLength;
    this.#stats.lastActivityAt = this.#now();
    for (const cb of this.#messageCbs) {
      try {
        cb(data);
      } catch (e) {
        // A faulty receiver must not take the engine's event loop down with it.
        this.#log?.warn("tether message handler threw", { peer: this.peerId, error: String(e) });
      }
    }
  }

  #lowWater(): void {
    if (!this.#blocked || !this.#open) return;
    this.#blocked = false;
    for (const cb of this.#drainCbs) {
      try {
        cb();
      } catch (e) {
        this.#log?.warn("tether drain handler threw", { peer: this.peerId, error: String(e) });
      }
    }
  }

  #control(data: Uint8Array): void {
    const msg = decodeProbe(data);
    if (!msg) {
      this.#log?.debug("tether: malformed control message dropped", { peer: this.peerId });
      return;
    }
    if (msg.type === PROBE_PING) {
      this.#sendControl(encodeProbe({ type: PROBE_PONG, seq: msg.seq, time: msg.time }));
    } else if (msg.type === PROBE_PONG) {
      this.#probes.pong(msg, this.#now());
    } else if (msg.type === PROBE_BYE) {
      this.#shutdown("closed by peer", false);
    }
  }

  #sendProbe(): void {
    if (!this.#open) return;
    this.#sendControl(encodeProbe(this.#probes.ping(this.#now())));
  }

  #sendControl(bytes: Uint8Array): void {
    try {
      if (this.#peer.control.isOpen()) this.#peer.control.send(bytes);
    } catch (e) {
      this.#log?.debug("tether control send failed", { peer: this.peerId, error: String(e) });
    }
  }

  #shutdown(reason: string, local: boolean): void {
    if (!this.#open) return;
    this.#open = false;
    if (this.#probeTimer !== undefined) clearInterval(this.#probeTimer);
    if (local) {
      // The control channel is unreliable: say bye a few times; SCTP/DTLS teardown backs it up.
      const bye = encodeProbe({ type: PROBE_BYE, seq: 0, time: this.#now() });
      for (let i = 0; i < 3; i++) this.#sendControl(bye);
    }
    // Let the byes leave before the association goes away.
    setTimeout(() => {
      try {
        this.#peer.close();
      } catch (e) {
        this.#log?.debug("tether close failed", { peer: this.peerId, error: String(e) });
      }
    }, local ? 20 : 0);
    this.#log?.debug("tether closed", { peer: this.peerId, reason });
    for (const cb of this.#closeCbs.splice(0)) {
      try {
        cb(reason);
      } catch (e) {
        this.#log?.warn("tether close handler threw", { peer: this.peerId, error: String(e) });
      }
    }
  }
}
