/**
 * Stream ids: 32-bit, non-zero, chosen by the receiving end so that it can find the ingresser of
 * a data frame with one map lookup.
 *
 * @module
 */
import { StreamError } from "./errors.ts";

/** Largest stream id. */
export const MAX_STREAM_ID = 0xffff_ffff;

/**
 * Picks a stream id from `random` (at least 4 bytes per attempt) that `inUse` does not hold.
 * Random rather than sequential so that ids say nothing about how many streams a node serves.
 * Throws StreamError("stream-id") if `random` runs out before a free id is found.
 */
export function allocateStreamId(
  inUse: { has(id: number): boolean },
  random: Uint8Array,
): number {
  for (let off = 0; off + 4 <= random.length; off += 4) {
    const id = ((random[off] << 24) | (random[off + 1] << 16) | (random[off + 2] << 8) |
      random[off + 3]) >>> 0;
    if (id !== 0 && !inUse.has(id)) return id;
  }
  throw new StreamError("stream-id", "no free stream id in the supplied randomness");
}

/** True when `id` is a valid stream id (1 … 2^32−1, an integer). */
export function isStreamId(id: number): boolean {
  return Number.isInteger(id) && id > 0 && id <= MAX_STREAM_ID;
}
