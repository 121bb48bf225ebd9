/**
 * Constant-time byte comparison, for tags and MACs whose timing must not leak a prefix match.
 *
 * @module
 */

/** True when `a` and `b` have equal length and contents; time depends only on the lengths. */
export function constantTimeEqual(a: Uint8Array, b: Uint8Array): boolean {
  if (a.length !== b.length) return false;
  let diff = 0;
  for (let i = 0; i < a.length; i++) diff |= a[i] ^ b[i];
  return diff === 0;
}
