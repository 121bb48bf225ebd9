/**
 * The Tether interface: one WebRTC peer connection to a next hop carrying several negotiated,
 * unordered, no-retransmit data channels used together.
 *
 * @module
 */
import type { CandidatePair } from "./engine.ts";

/** Names of the WebRTC engines a tether can run on. */
export type RtcEngineName = "werift" | "libdatachannel";

/** Engine choice as configured: "auto" picks libdatachannel when it loads, else werift. */
export type RtcEngineChoice = "auto" | RtcEngineName;

/** Default per-channel high-water mark: above it a channel takes no more messages. */
export const DEFAULT_HIGH_WATER = 64 * 1024;
/** Default per-channel low-water mark: crossing below it fires the drain event. */
export const DEFAULT_LOW_WATER = 16 * 1024;
/**
 * Default number of data channels per tether. Measured here, more channels in one association
 * brought no throughput (1 channel was as fast or faster than 4 with both engines); 2 keeps the
 * spreading in use at little cost.
 */
export const DEFAULT_CHANNELS = 2;
/** Largest message a tether sends by default (a batch of frames fits well below it). */
export const DEFAULT_MAX_MESSAGE_SIZE = 64 * 1024;

/** Measurements of one tether (status output, idle timer); cumulative counters since it opened. */
export interface TetherStats {
  /** Smoothed round-trip time of liveness probes in ms; NaN until the first reply. */
  rttMs: number;
  /** Median of the recent probe RTT samples in ms; NaN until the first reply. */
  rttP50Ms: number;
  /** Fraction of recent probes that got no reply in time, 0..1. */
  loss: number;
  /** Probes sent and probes that got a reply. */
  probesSent: number;
  probesAnswered: number;
  /** Data messages and payload bytes sent and received (probes excluded). */
  messagesSent: number;
  messagesReceived: number;
  bytesSent: number;
  bytesReceived: number;
  /** Number of times `send` refused a message because every channel was above high water. */
  backpressured: number;
  /** Wall-clock ms of the last data message sent or received; the caller's idle timer reads it. */
  lastActivityAt: number;
  /** Time from the start of negotiation to all channels open, in ms. */
  setupMs: number;
}

/**
 * One peer connection to a next hop.
 *
 * `send` never queues beyond the per-channel high-water mark: when every channel is full it
 * returns false, keeps nothing, and `onDrain` fires once a channel falls below low water. A
 * caller that retries after `onDrain` loses nothing to back-pressure (the channels themselves are
 * unreliable, like UDP).
 */
export interface Tether {
  /** The peer this tether leads to (as given by the caller). */
  readonly peerId: string;
  /** The engine that runs it. */
  readonly engine: RtcEngineName;
  /** Number of data channels messages are spread across. */
  readonly channelCount: number;
  /** Largest message `send` accepts. */
  readonly maxMessageSize: number;
  /** Sum of the channels' buffered bytes. */
  readonly bufferedAmount: number;
  /** True until the tether closes. */
  readonly open: boolean;
  /**
   * Sends one message (one or several frames). Returns false when back-pressured or closed (the
   * message was not taken). Throws TetherError "oversized" above `maxMessageSize` and "empty"
   * for a zero-length message. With `lane`, the message goes on channel `lane % channelCount`
   * (so one flow's messages stay in order); without, on the next channel with room.
   */
  send(message: Uint8Array, lane?: number): boolean;
  /** Registers the receiver of every incoming data message, delivered as bytes, unvalidated. */
  onMessage(cb: (message: Uint8Array) => void): void;
  /** Registers a callback fired when the tether has room again after `send` returned false. */
  onDrain(cb: () => void): void;
  /** Registers a callback fired once when the tether closes, locally or remotely. */
  onClose(cb: (reason: string) => void): void;
  /** Current measurements. */
  stats(): TetherStats;
  /** The candidate pair ICE selected (host/srflx, local and remote address); null if unknown. */
  selectedPair(): CandidatePair | null;
  /** Closes the peer connection and tells the other end. Idempotent. */
  close(reason?: string): void;
}
