/**
 * The libdatachannel engine, through node-datachannel's low-level PeerConnection API (its
 * WebRTC polyfill adds an event-object layer per message that the hot path does not need).
 *
 * Limitation (node-datachannel 0.33.4 in Deno 2.9.6): only one isolate per process may create
 * data channels. A second isolate (a Worker, or the next file of a `deno test` run) that does so
 * after the first made Deno abort with "access Handle hosted by disposed Isolate".
 *
 * @module
 */

import type { RawChannel, RawPeer, RawPeerConfig, RawPeerFactory } from "./engine.ts";
import { CONTROL_CHANNEL_ID, sdpMaxMessageSize } from "./engine.ts";
import { TetherError } from "./errors.ts";
import { parseStunServers } from "./candidates.ts";

type Ndc = typeof import("node-datachannel").default;
type NdcPeer = import("node-datachannel").PeerConnection;
type NdcChannel = import("node-datachannel").DataChannel;

const encoder = new TextEncoder();

/** Loads node-datachannel; throws TetherError "engine-unavailable" when it cannot. */
export async function loadLibdatachannel(): Promise<RawPeerFactory> {
  let ndc: Ndc;
  try {
    ndc = (await import("node-datachannel")).default;
    ndc.preload();
  } catch (e) {
    throw new TetherError("engine-unavailable", "node-datachannel failed to load", { cause: e });
  }
  return (config) => new LibdatachannelPeer(ndc, config);
}

let peerCounter = 0;

class LibdatachannelPeer implements RawPeer {
  readonly engine = "libdatachannel" as const;
  readonly #pc: NdcPeer;
  readonly #config: RawPeerConfig;
  #control: RawChannel | undefined;
  #channels: RawChannel[] = [];
  #remoteMax = 65536;
  #downCbs: ((why: string) => void)[] = [];
  #down = false;
  #descriptionWaiters: ((sdp: string) => void)[] = [];

  constructor(ndc: Ndc, config: RawPeerConfig) {
    this.#config = config;
    const iceServers = parseStunServers(config.iceServers).map((s) => `stun:${s.host}:${s.port}`);
    this.#pc = new ndc.PeerConnection(`tether-${++peerCounter}`, {
      iceServers,
      bindAddress: config.hostAddresses?.[0],
      disableAutoNegotiation: true,
      maxMessageSize: config.maxMessageSize,
      mtu: config.mtu,
    });
    this.#pc.onLocalDescription((sdp) => {
      for (const w of this.#descriptionWaiters.splice(0)) w(sdp);
    });
    this.#pc.onStateChange((state) => {
      if (state === "failed" || state === "closed" || state === "disconnected") {
        this.#fireDown(`peer connection ${state}`);
      }
    });
  }

  get control(): RawChannel {
    if (!this.#control) throw new TetherError("negotiation", "channels not created yet");
    return this.#control;
  }

  get channels(): readonly RawChannel[] {
    return this.#channels;
  }

  #createChannels(count: number): void {
    const make = (label: string, id: number) =>
      wrap(
        this.#pc.createDataChannel(label, {
          negotiated: true,
          id,
          unordered: true,
          maxRetransmits: 0,
        }),
      );
    this.#control = make("ctl", CONTROL_CHANNEL_ID);
    for (let i = 1; i <= count; i++) this.#channels.push(make(`d${i}`, i));
  }

  #localDescription(type?: "offer" | "answer"): Promise<string> {
    const p = new Promise<string>((resolve) => this.#descriptionWaiters.push(resolve));
    this.#pc.setLocalDescription(type);
    return p;
  }

  createOffer(): Promise<string> {
    this.#createChannels(this.#config.channels);
    return this.#localDescription("offer");
  }

  acceptOffer(sdp: string, channels: number): Promise<string> {
    this.#remoteMax = sdpMaxMessageSize(sdp, 65536);
    this.#createChannels(Math.min(channels, this.#config.channels));
    this.#pc.setRemoteDescription(sdp, "offer");
    return this.#localDescription("answer");
  }

  acceptAnswer(sdp: string): Promise<void> {
    this.#remoteMax = sdpMaxMessageSize(sdp, 65536);
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

  onDown(cb: (why: string) => void): void {
    if (this.#down) queueMicrotask(() => cb("closed"));
    else this.#downCbs.push(cb);
  }

  remoteMaxMessageSize(): number {
    return Math.min(this.#remoteMax, this.#config.maxMessageSize);
  }

  close(): void {
    this.#fireDown("closed");
    this.#pc.close();
  }

  #fireDown(why: string): void {
    if (this.#down) return;
    this.#down = true;
    for (const cb of this.#downCbs.splice(0)) cb(why);
  }
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
