/**
 * The small surface each WebRTC engine adapter provides; the shared negotiation and the
 * ChannelTether build on it.
 *
 * @module
 */

import type { RtcEngineName } from "./tether.ts";

/** One data channel as the tether sees it. */
export interface RawChannel {
  /** Queues bytes on the channel; may throw if the channel is closed. */
  send(data: Uint8Array): void;
  /** Bytes queued and not yet handed to the transport. */
  bufferedAmount(): number;
  /** Sets the threshold below which `onLowWater` fires. */
  setLowWater(bytes: number): void;
  /** Whether the channel is open. */
  isOpen(): boolean;
  /** Fires when the channel opens (negotiated channels open with the association). */
  onOpen(cb: () => void): void;
  /** Every message received, as bytes (text messages are UTF-8 encoded). */
  onMessage(cb: (data: Uint8Array) => void): void;
  /** Fires when bufferedAmount falls to the low-water threshold. */
  onLowWater(cb: () => void): void;
  /** Fires when the channel closes. */
  onClose(cb: () => void): void;
}

/** One end of the candidate pair ICE selected. */
export interface SelectedCandidate {
  /** IP address as the candidate states it. */
  address: string;
  port: number;
  /** "host", "srflx", "prflx" or "relay". */
  type: string;
}

/** The candidate pair a connected tether runs over (shown by `info`, checked on address loss). */
export interface CandidatePair {
  local: SelectedCandidate;
  remote: SelectedCandidate;
}

/** Settings every engine adapter receives. */
export interface RawPeerConfig {
  /** STUN servers as "stun:host:port"; empty means host candidates only. */
  iceServers: readonly string[];
  /**
   * Host addresses to gather candidates on (core/tether/underlay.ts chooses them); undefined
   * means every interface. Engines gather on all of them, never on the first only.
   */
  hostAddresses?: readonly string[];
  /** Number of data channels (a control channel is added). */
  channels: number;
  /** Largest message advertised and accepted. */
  maxMessageSize: number;
  /** SCTP/DTLS payload MTU. */
  mtu: number;
}

/** One peer connection as the tether sees it. */
export interface RawPeer {
  /** The engine behind it. */
  readonly engine: RtcEngineName;
  /** Creates the channels and the offer, sets it locally, returns its SDP. */
  createOffer(): Promise<string>;
  /**
   * Applies a remote offer, creates `channels` data channels (fewer than configured when the
   * offerer has fewer) and the answer, returns the answer's SDP.
   */
  acceptOffer(sdp: string, channels: number): Promise<string>;
  /** Applies the remote answer. */
  acceptAnswer(sdp: string): Promise<void>;
  /** Adds a remote candidate (`candidate:…`). */
  addCandidate(candidate: string, mid: string): Promise<void>;
  /** Every local candidate as it is gathered. */
  onCandidate(cb: (candidate: string, mid: string) => void): void;
  /** Fires once when the connection fails or closes. */
  onDown(cb: (why: string) => void): void;
  /** Fires (at least once) when ICE has a working candidate pair. */
  onIceConnected(cb: () => void): void;
  /** The control channel (probes), available after createOffer/acceptOffer. */
  readonly control: RawChannel;
  /** The data channels, available after createOffer/acceptOffer. */
  readonly channels: readonly RawChannel[];
  /** Largest message the remote end accepts (from its SDP), capped by our own setting. */
  remoteMaxMessageSize(): number;
  /** The candidate pair ICE selected, once connected; null before or when unknown. */
  selectedPair(): CandidatePair | null;
  /** Closes the peer connection. */
  close(): void;
}

/** Creates a RawPeer for one engine. */
export type RawPeerFactory = (config: RawPeerConfig) => RawPeer;

/** Negotiated stream ids: control channel first, data channels after it. */
export const CONTROL_CHANNEL_ID = 0;

/** Reads `a=max-message-size:N` from an SDP; `fallback` when absent (0 in SDP means unlimited). */
export function sdpMaxMessageSize(sdp: string, fallback: number): number {
  const m = /a=max-message-size:(\d+)/.exec(sdp);
  if (!m) return fallback;
  const n = Number(m[1]);
  return n === 0 ? Number.MAX_SAFE_INTEGER : n;
}
