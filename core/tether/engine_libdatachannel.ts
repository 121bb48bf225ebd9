/**
 * The libdatachannel engine, through node-datachannel's low-level PeerConnection API (its
 * WebRTC polyfill adds an event-object layer per message that the hot path does not need).
 *
 * Limitation (node-datachannel 0.33.4 in Deno 2.9.6): only one isolate per process may create
 * data channels. A second isolate (a Worker, or the next file of a `deno test` run) that does so
 * after the first made Deno abort with "access Handle hosted by disposed Isolate".
 *
 * SCTP settings (usrsctp sysctls, process-wide) are applied once, before the first
 * PeerConnection: `LIBDATACHANNEL_SCTP_DEFAULTS` unless the environment variable `VEILNET_SCTP`
 * says otherwise: `default` keeps libdatachannel's own values (for comparison), a list such as
 * `sendBufferSize=4194304,delayedSackTime=0` sets those fields instead (benchmarks).
 *
 * @module
 */

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

type Ndc = typeof import("node-datachannel").default;
type NdcPeer = import("node-datachannel").PeerConnection;
type NdcChannel = import("node-datachannel").DataChannel;

const encoder = new TextEncoder();

/** SCTP fields node-datachannel passes to libdatachannel (`rtc::SctpSettings`). */
export interface SctpSettings {
  /** usrsctp receive window per association, bytes (libdatachannel default 1 MiB). */
  recvBufferSize?: number;
  /** usrsctp send buffer per association, bytes (default 1 MiB). */
  sendBufferSize?: number;
  /** Most chunks queued per association (default 10,240). */
  maxChunksOnQueue?: number;
  /** Initial congestion window in MTUs (default 10). */
  initialCongestionWindow?: number;
  /** 0 RFC 4960, 1 HighSpeed TCP, 2 H-TCP, 3 RTCC (default 0). */
  congestionControlModule?: number;
  /** Delayed SACK timer in ms (default 20). */
  delayedSackTime?: number;
}

/**
 * The SCTP settings our tethers use unless `VEILNET_SCTP` overrides them; null keeps
 * libdatachannel's defaults (see bench/README.md for the A/B that chose this).
 */
export const LIBDATACHANNEL_SCTP_DEFAULTS: SctpSettings | null = null;

const SCTP_FIELDS: readonly (keyof SctpSettings)[] = [
  "recvBufferSize",
  "sendBufferSize",
  "maxChunksOnQueue",
  "initialCongestionWindow",
  "congestionControlModule",
  "delayedSackTime",
];

/**
 * Parses a `VEILNET_SCTP` value: undefined/empty → `fallback`, "default" → null (library
 * defaults), else comma-separated `field=integer` pairs. Throws TetherError "engine-unavailable"
 * on an unknown field or a bad number.
 */
export function parseSctpSettings(
  value: string | undefined,
  fallback: SctpSettings | null,
): SctpSettings | null {
  const v = value?.trim();
  if (!v) return fallback;
  if (v === "default") return null;
  const out: SctpSettings = {};
  for (const part of v.split(",")) {
    const [key, raw] = part.split("=").map((x) => x.trim());
    const n = Number(raw);
    if (!(SCTP_FIELDS as readonly string[]).includes(key) || !Number.isInteger(n) || n < 0) {
      throw new TetherError(
        "engine-unavailable",
        `VEILNET_SCTP: bad entry "${part}" (expected FIELD=INTEGER, FIELD one of ${
          SCTP_FIELDS.join(", ")
        }, or "default")`,
      );
    }
    out[key as keyof SctpSettings] = n;
  }
  return out;
}

function envVar(name: string): string | undefined {
  try {
    return Deno.env.get(name);
  } catch {
    return undefined; // no --allow-env: our defaults apply
  }
}

/** Loads node-datachannel; throws TetherError "engine-unavailable" when it cannot. */
export async function loadLibdatachannel(): Promise<RawPeerFactory> {
  let ndc: Ndc;
  const sctp = parseSctpSettings(envVar("VEILNET_SCTP"), LIBDATACHANNEL_SCTP_DEFAULTS);
  try {
    ndc = (await import("node-datachannel")).default;
    ndc.preload();
    // usrsctp sysctls, process-wide, read when an association is created: set them once, before
    // the first PeerConnection. Fields left out get libdatachannel's defaults.
    if (sctp && !sctpApplied) ndc.setSctpSettings(sctp);
    sctpApplied = true;
  } catch (e) {
    throw new TetherError("engine-unavailable", "node-datachannel failed to load", { cause: e });
  }
  return (config) => new LibdatachannelPeer(ndc, config);
}

let sctpApplied = false;

let peerCounter = 0;

class LibdatachannelPeer extends PeerBase implements RawPeer {
  readonly engine = "libdatachannel" as const;
  readonly #pc: NdcPeer;
  #descriptionWaiters: ((sdp: string) => void)[] = [];

  constructor(ndc: Ndc, config: RawPeerConfig) {
    super(config);
    const iceServers = parseStunServers(config.iceServers).map((s) => `stun:${s.host}:${s.port}`);
    this.#pc = new ndc.PeerConnection(`tether-${++peerCounter}`, {
      iceServers,
      bindAddress: bindAddressOf(config.hostAddresses),
      disableAutoNegotiation: true,
      maxMessageSize: config.maxMessageSize,
      mtu: config.mtu,
    });
    this.#pc.onLocalDescription((sdp) => {
      for (const w of this.#descriptionWaiters.splice(0)) w(sdp);
    });
    this.#pc.onStateChange((state) => this.connectionState(state));
  }

  protected openChannel(label: string, id: number): RawChannel {
    return wrap(
      this.#pc.createDataChannel(label, {
        negotiated: true,
        id,
        unordered: true,
        maxRetransmits: 0,
      }),
    );
  }

  #localDescription(type?: "offer" | "answer"): Promise<string> {
    const p = new Promise<string>((resolve) => this.#descriptionWaiters.push(resolve));
    this.#pc.setLocalDescription(type);
    return p;
  }

  createOffer(): Promise<string> {
    this.createChannels(this.config.channels);
    return this.#localDescription("offer");
  }

  acceptOffer(sdp: string, channels: number): Promise<string> {
    this.remoteDescription(sdp);
    this.createChannels(Math.min(channels, this.config.channels));
    this.#pc.setRemoteDescription(sdp, "offer");
    return this.#localDescription("answer");
  }

  acceptAnswer(sdp: string): Promise<void> {
    this.remoteDescription(sdp);
    this.#pc.setRemoteDescription(sdp, "answer");
    return Promise.resolve();
  }

  addCandidate(candidate: string, mid: string): Promise<void> {
    this.#pc.addRemoteCandidate(candidate, mid);
    return Promise.resolve();
  }

  onCandidate(cb: (candidate: string, mid: string) => void): void {
    this.#pc.onLocalCandidate(cb);
  }

  onIceConnected(cb: () => void): void {
    this.#pc.onIceStateChange((state) => {
      if (state === "connected" || state === "completed") cb();
    });
  }

  selectedPair(): CandidatePair | null {
    try {
      const p = this.#pc.getSelectedCandidatePair();
      if (!p) return null;
      return {
        local: { address: p.local.address, port: p.local.port, type: p.local.type },
        remote: { address: p.remote.address, port: p.remote.port, type: p.remote.type },
      };
    } catch {
      return null; // closed
    }
  }

  close(): void {
    this.fireDown("closed");
    this.#pc.close();
  }
}

/**
 * libjuice gathers on every interface from one socket unless bound to one address, and a bound
 * socket gathers on that address only. So bind only when exactly one address is wanted (a host
 * with one underlay address, tests on loopback); otherwise bind none and let the candidate
 * policy (core/tether/candidates.ts) keep the advertised set to the underlay addresses.
 */
export function bindAddressOf(hosts: readonly string[] | undefined): string | undefined {
  return hosts?.length === 1 ? hosts[0] : undefined;
}

function wrap(dc: NdcChannel): RawChannel {
  return {
    send: (data) => {
      dc.sendMessageBinary(data);
    },
    bufferedAmount: () => dc.bufferedAmount(),
    setLowWater: (bytes) => dc.setBufferedAmountLowThreshold(bytes),
    isOpen: () => dc.isOpen(),
    onOpen: (cb) => dc.onOpen(cb),
    onMessage: (cb) =>
      dc.onMessage((msg) => {
        if (typeof msg === "string") cb(encoder.encode(msg));
        else if (msg instanceof ArrayBuffer) cb(new Uint8Array(msg));
        else cb(msg);
      }),
    onLowWater: (cb) => dc.onBufferedAmountLow(cb),
    onClose: (cb) => dc.onClosed(cb),
  };
}
