/**
 * The werift engine (pure TypeScript WebRTC). Never uses werift's default public STUN server
 * (see disablePublicStunDefault); survives both ends closing at once and repeated handshake chunks (see restartTimers). SCTP MTU raised so a 1,200–1,400-byte message is one DATA
 * chunk. Note: werift 0.25.2 treats `maxRetransmits: 0` as unset when deciding to abandon a chunk
 * (`!!chunk.maxRetransmits`), so its own sends are in effect retransmitted until acknowledged.
 *
 * @module
 */

import { Buffer } from "node:buffer";
import type {
  CandidatePair,
  RawChannel,
  RawPeer,
  RawPeerConfig,
  RawPeerFactory,
} from "./engine.ts";
import { PeerBase } from "./peer_base.ts";
import { TetherError } from "./errors.ts";
import { parseStunServers } from "./candidates.ts";

type Werift = typeof import("werift");
type WPeer = import("werift").RTCPeerConnection;
type WChannel = import("werift").RTCDataChannel;

const encoder = new TextEncoder();

/** Loads werift; throws TetherError "engine-unavailable" when it cannot. */
export async function loadWerift(): Promise<RawPeerFactory> {
  let werift: Werift;
  try {
    werift = await import("werift");
  } catch (e) {
    throw new TetherError("engine-unavailable", "werift failed to load", { cause: e });
  }
  disablePublicStunDefault(werift);
  restartTimers(werift);
  return (config) => new WeriftPeer(werift, config);
}

interface IceConnectionInternals {
  options: { stunServer?: unknown };
  stunServer?: unknown;
  applyStunTurnServersFromOptions(): void;
}

/**
 * werift 0.25.2's ICE Connection falls back to stun.l.google.com:19302 whenever no STUN server is
 * configured, even with `iceServers: []` (seen as DNS lookups for it). A tether must never contact
 * a public server, so without a configured STUN server the fallback is removed.
 */
function disablePublicStunDefault(werift: Werift): void {
  const connection = (werift as unknown as { Connection?: { prototype: IceConnectionInternals } })
    .Connection;
  const proto = connection?.prototype;
  if (!proto || typeof proto.applyStunTurnServersFromOptions !== "function") {
    throw new TetherError(
      "engine-unavailable",
      "werift: cannot disable its public STUN default (unknown werift version)",
    );
  }
  const patched = proto as IceConnectionInternals & { veilnetPatched?: boolean };
  if (patched.veilnetPatched) return;
  const original = proto.applyStunTurnServersFromOptions;
  proto.applyStunTurnServersFromOptions = function (this: IceConnectionInternals) {
    original.call(this);
    if (!this.options.stunServer) this.stunServer = undefined;
  };
  patched.veilnetPatched = true;
}

/** The parts of werift's (unexported) SCTP association this module touches. */
export interface WeriftSctpInternals {
  timer1Start(chunk: unknown): void;
  timer1Cancel(): void;
  t2Start(chunk: unknown): void;
  timer2Cancel(): void;
  timer1Chunk?: unknown;
  timer2Chunk?: unknown;
}

/**
 * An SCTP association of werift, reached through the exported RTCSctpTransport (the SCTP class is
 * not exported): a transport given an inert DTLS transport builds one without starting anything.
 */
export function weriftSctp(werift: Werift): WeriftSctpInternals {
  type Transport = { setDtlsTransport(d: unknown): void; sctp?: WeriftSctpInternals };
  const Ctor = (werift as unknown as { RTCSctpTransport?: new () => Transport }).RTCSctpTransport;
  const transport = Ctor ? new Ctor() : undefined;
  const inert = { subscribe: () => ({ unSubscribe: () => {} }) };
  transport?.setDtlsTransport({
    id: "veilnet-probe",
    sendData: () => Promise.resolve(),
    onStateChange: inert,
  });
  const sctp = transport?.sctp;
  if (
    !sctp || typeof sctp.t2Start !== "function" || typeof sctp.timer1Start !== "function" ||
    typeof sctp.timer1Cancel !== "function" || typeof sctp.timer2Cancel !== "function"
  ) {
    throw new TetherError("engine-unavailable", "werift: unknown SCTP internals (version?)");
  }
  return sctp;
}

/**
 * werift 0.25.2 throws from `timer1Start` and `t2Start` when that timer already runs. Both are
 * called after an `await` in its receive loop, so a chunk that arrives twice meanwhile (a
 * retransmitted INIT ACK; a SHUTDOWN while a shutdown is in flight, i.e. both ends closing at once,
 * seen in tests) starts the timer twice, and the throw is an unhandled rejection that ends the whole
 * process. RFC 9260 restarts T1-init and T2-shutdown with the latest chunk; so does the patch.
 */
function restartTimers(werift: Werift): void {
  const proto = Object.getPrototypeOf(weriftSctp(werift)) as WeriftSctpInternals & {
    veilnetTimersPatched?: boolean;
  };
  if (proto.veilnetTimersPatched) return;
  const t1 = proto.timer1Start, t2 = proto.t2Start;
  proto.timer1Start = function (this: WeriftSctpInternals, chunk: unknown) {
    this.timer1Cancel();
    t1.call(this, chunk);
  };
  proto.t2Start = function (this: WeriftSctpInternals, chunk: unknown) {
    this.timer2Cancel();
    t2.call(this, chunk);
  };
  proto.veilnetTimersPatched = true;
}

class WeriftPeer extends PeerBase implements RawPeer {
  readonly engine = "werift" as const;
  readonly #pc: WPeer;

  constructor(werift: Werift, config: RawPeerConfig) {
    super(config);
    const hosts = config.hostAddresses;
    const iceServers = parseStunServers(config.iceServers).map((s) => ({
      urls: `stun:${s.host}:${s.port}`,
    }));
    this.#pc = new werift.RTCPeerConnection({
      iceServers,
      iceUseIpv6: hosts?.some((h) => h.includes(":")) ?? false,
      iceUseTcp: false,
      // werift skips loopback and some interfaces unless listed as additional host addresses.
      // No iceInterfaceAddresses: werift binds every candidate's socket to that one address, so a
      // candidate on a second interface would be advertised but never answer.
      iceAdditionalHostAddresses: hosts ? [...hosts] : undefined,
      iceFilterCandidatePair: hosts
        ? (pair) => hosts.includes(pair.localCandidate.host)
        : undefined,
      sctp: { mtu: config.mtu },
      maxMessageSize: config.maxMessageSize,
    });
    this.#pc.connectionStateChange.subscribe((state) => this.connectionState(state));
  }

  protected openChannel(label: string, id: number): RawChannel {
    return wrap(
      this.#pc.createDataChannel(label, {
        negotiated: true,
        id,
        ordered: false,
        maxRetransmits: 0,
      }),
    );
  }

  async createOffer(): Promise<string> {
    this.createChannels(this.config.channels);
    const offer = await this.#pc.createOffer();
    await this.#pc.setLocalDescription(offer);
    return this.#pc.localDescription?.sdp ?? offer.sdp;
  }

  async acceptOffer(sdp: string, channels: number): Promise<string> {
    this.remoteDescription(sdp);
    await this.#pc.setRemoteDescription({ type: "offer", sdp });
    this.createChannels(Math.min(channels, this.config.channels));
    const answer = await this.#pc.createAnswer();
    await this.#pc.setLocalDescription(answer);
    return this.#pc.localDescription?.sdp ?? answer.sdp;
  }

  async acceptAnswer(sdp: string): Promise<void> {
    this.remoteDescription(sdp);
    await this.#pc.setRemoteDescription({ type: "answer", sdp });
  }

  async addCandidate(candidate: string, mid: string): Promise<void> {
    await this.#pc.addIceCandidate({ candidate, sdpMid: mid });
  }

  onCandidate(cb: (candidate: string, mid: string) => void): void {
    this.#pc.onIceCandidate.subscribe((c) => {
      if (c?.candidate) cb(c.candidate, c.sdpMid ?? "0");
    });
  }

  onIceConnected(cb: () => void): void {
    this.#pc.iceConnectionStateChange.subscribe((state) => {
      if (state === "connected" || state === "completed") cb();
    });
  }

  selectedPair(): CandidatePair | null {
    const pair = this.#pc.iceTransports[0]?.connection?.nominated;
    if (!pair) return null;
    const l = pair.localCandidate, r = pair.remoteCandidate;
    return {
      local: { address: l.host, port: l.port, type: l.type },
      remote: { address: r.host, port: r.port, type: r.type },
    };
  }

  close(): void {
    this.fireDown("closed");
    this.#pc.close().catch(() => {});
  }
}

function wrap(dc: WChannel): RawChannel {
  return {
    send: (data) => dc.send(Buffer.from(data.buffer, data.byteOffset, data.byteLength)),
    bufferedAmount: () => dc.bufferedAmount,
    setLowWater: (bytes) => {
      dc.bufferedAmountLowThreshold = bytes;
    },
    isOpen: () => dc.readyState === "open",
    onOpen: (cb) => {
      dc.stateChanged.subscribe((s) => {
        if (s === "open") cb();
      });
    },
    onMessage: (cb) => {
      dc.onMessage.subscribe((msg) => cb(typeof msg === "string" ? encoder.encode(msg) : msg));
    },
    onLowWater: (cb) => {
      dc.bufferedAmountLow.subscribe(cb);
    },
    onClose: (cb) => {
      dc.stateChanged.subscribe((s) => {
        if (s === "closed") cb();
      });
    },
  };
}
