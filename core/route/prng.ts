/**
 * Seeded pseudo-random numbers for the routing agent, its tests and the simulator.
 *
 * The agent never draws randomness itself: callers pass a {@link Random} so that tests and the
 * simulator replay exactly. A runtime may pass `Math.random` or a generator seeded from
 * `crypto.getRandomValues`; routing randomness is not security-sensitive.
 *
 * @module
 */

/** A source of uniform numbers in [0, 1). */
export type Random = () => number;

/**
 * Returns mulberry32, a small, fast 32-bit generator: good enough for exploration and
 * simulation, not for cryptography. The same seed always yields the same sequence.
 */
export function mulberry32(seed: number): Random {
  let state = seed >>> 0;
  return () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}
