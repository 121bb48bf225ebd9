/**
 * Sliding anti-replay window for 64-bit packet counters (RFC 6479).
 *
 * A ring of 32-bit blocks covers at least `size` counters below the highest one seen. Moving the
 * window forward clears only the blocks it passes (at most the whole ring), so a far jump costs
 * the same as a small one and there is no bit shifting of the whole bitmap.
 *
 * @module
 */

const BLOCK_BITS = 32;
const BLOCK_SHIFT = 5n;
const BIT_MASK = 31n;
const MAX_COUNTER = 0xffff_ffff_ffff_ffffn;

/** Replay filter of one stream epoch; counters run from 0 to 2^64 − 1. */
export class ReplayWindow {
  /** Counters at least this far below the highest accepted one are always rejected. */
  readonly size: number;
  readonly #ring: Uint32Array;
  readonly #blockMask: bigint;
  readonly #blocks: number;
  #last = -1n;

  /** Creates a window of at least `size` counters (minimum and default 2,048). */
  constructor(size = 2048) {
    if (!Number.isInteger(size) || size < 2048 || size > 1 << 24) {
      throw new RangeError("replay window size must be an integer in 2048 … 2^24");
    }
    // One spare block: the block holding `last` is partly in the future.
    let blocks = 1;
    while ((blocks - 1) * BLOCK_BITS < size) blocks <<= 1;
    this.#blocks = blocks;
    this.#ring = new Uint32Array(blocks);
    this.#blockMask = BigInt(blocks - 1);
    this.size = (blocks - 1) * BLOCK_BITS;
  }

  /** Highest counter accepted so far, or −1n. */
  get highest(): bigint {
    return this.#last;
  }

  /** True when `counter` would be accepted (new and not too old); records nothing. */
  check(counter: bigint): boolean {
    if (typeof counter !== "bigint" || counter < 0n || counter > MAX_COUNTER) return false;
    if (counter > this.#last) return true;
    if (this.#last - counter >= BigInt(this.size)) return false;
    const block = Number((counter >> BLOCK_SHIFT) & this.#blockMask);
    const bit = 1 << Number(counter & BIT_MASK);
    return (this.#ring[block] & bit) === 0;
  }

  /**
   * Accepts and records `counter` if it is new and inside the window; returns whether it was
   * accepted. Call only after the packet authenticated, so forged counters cannot move the window.
   */
  update(counter: bigint): boolean {
    if (typeof counter !== "bigint" || counter < 0n || counter > MAX_COUNTER) return false;
    if (counter > this.#last) {
      const current = this.#last < 0n ? -1n : this.#last >> BLOCK_SHIFT;
      const target = counter >> BLOCK_SHIFT;
      let diff = target - current;
      if (diff > BigInt(this.#blocks)) diff = BigInt(this.#blocks);
      let index = Number((current + 1n) & this.#blockMask);
      for (let i = Number(diff); i > 0; i--) {
        this.#ring[index] = 0;
        index = (index + 1) & (this.#blocks - 1);
      }
      this.#last = counter;
    } else if (this.#last - counter >= BigInt(this.size)) {
      return false;
    }
    const block = Number((counter >> BLOCK_SHIFT) & this.#blockMask);
    const bit = 1 << Number(counter & BIT_MASK);
    const old = this.#ring[block];
    if ((old & bit) !== 0) return false;
    this.#ring[block] = old | bit;
    return true;
  }

  /** Forgets everything (e.g. at a rekey, when counters restart). */
  reset(): void {
    this.#ring.fill(0);
    this.#last = -1n;
  }
}
