/**
 * Egresser: the outbound handler of one destination overlay address. It resolves the address to
 * its owner (discovery), holds the stream to it, and queues the first packets while the stream
 * and the tether come up. State only; the node runtime drives it.
 *
 * @module
 */
import type { StreamSender } from "../stream/session.ts";
import { formatIpv4 } from "./packet.ts";
import type { PeerRef } from "./peer_ref.ts";

export type { PeerRef } from "./peer_ref.ts";

/**
 * Why a destination has no stream: nobody answered discovery (offline, or no team in common),
 * the owner answered but no tether or relay reached it, or the peer refused or ended the stream.
 */
export type EgressProblem = "unanswered" | "no-path" | "refused";

/** Where an egresser is in its life. */
export type EgresserState = "idle" | "connecting" | "ready" | "backoff";

/** Most packets held while a destination is being connected. */
export const EGRESS_QUEUE_LIMIT = 64;
/** First retry delay after a failed connect; doubles up to EGRESS_BACKOFF_MAX_MS. */
export const EGRESS_BACKOFF_MIN_MS = 250;
/** Longest retry delay. */
export const EGRESS_BACKOFF_MAX_MS = 1000;

/** Outbound state for one destination address. */
export class Egresser {
  /** Destination overlay address. */
  readonly ip: number;
  /** The same in dotted form (the routing agent's name for it). */
  readonly ipText: string;
  /** Current state. */
  state: EgresserState = "idle";
  /** Destination conflux, once discovered and verified. */
  peer?: PeerRef;
  /** Relay the frames go through when no direct tether reaches the peer. */
  nextHop?: string;
  /** The stream's sending half, once established. */
  sender?: StreamSender;
  /** Packets waiting for the stream or tether (copies). */
  queue: Uint8Array[] = [];
  /** Earliest time of the next connect attempt in "backoff". */
  retryAt = 0;
  /** Consecutive failed connects. */
  failures = 0;
  /** Last time a packet for this destination arrived from the TUN. */
  lastPacketAt: number;
  /** Packets dropped (queue full, backoff, no tether). */
  dropped = 0;
  /** True while a replacement tether is being opened. */
  retethering = false;
  /** Why the last connect failed or the stream ended (ping and status say it). */
  problem?: EgressProblem;

  /** Creates an idle egresser for `ip` at `now`. */
  constructor(ip: number, now: number) {
    this.ip = ip;
    this.ipText = formatIpv4(ip);
    this.lastPacketAt = now;
  }

  /** Holds a copy of `packet` until the path is ready; false (dropped) when the queue is full. */
  hold(packet: Uint8Array): boolean {
    if (this.queue.length >= EGRESS_QUEUE_LIMIT) {
      this.dropped++;
      return false;
    }
    this.queue.push(packet.slice());
    return true;
  }

  /** Records a failed connect at `now` and schedules the retry. */
  fail(now: number): void {
    this.failures++;
    this.state = "backoff";
    this.sender = undefined;
    this.nextHop = undefined;
    this.queue.length = 0;
    const delay = Math.min(
      EGRESS_BACKOFF_MIN_MS * 2 ** (this.failures - 1),
      EGRESS_BACKOFF_MAX_MS,
    );
    this.retryAt = now + delay;
  }

  /** Forgets the stream (closed by the peer, lost affinity); the next packet reconnects. */
  reset(): void {
    this.state = "idle";
    this.sender = undefined;
    this.nextHop = undefined;
  }
}
