/**
 * Team affinity tags (DESIGN.md, "Access control"): tag = HMAC-SHA-256(team key, sender's ML-DSA
 * public key) truncated to 16 bytes. A tag reveals nothing about the team, differs per sender, and
 * cannot be made without the team key.
 *
 * @module
 */

import { hmac } from "@noble/hashes/hmac.js";
import { sha256 } from "@noble/hashes/sha2.js";
import { constantTimeEqual } from "./compare.ts";
import { CryptoError } from "./errors.ts";

/** Byte length of an affinity tag. */
export const AFFINITY_TAG_LENGTH = 16;

/** The affinity tag of the holder of `publicKey` for the team whose key is `teamKey`. */
export function affinityTag(teamKey: Uint8Array, publicKey: Uint8Array): Uint8Array {
  if (!(teamKey instanceof Uint8Array) || teamKey.length < 16) {
    throw new CryptoError("length", "team key: expected at least 16 bytes");
  }
  if (!(publicKey instanceof Uint8Array)) {
    throw new CryptoError("input", "public key: expected bytes");
  }
  return hmac(sha256, teamKey, publicKey).slice(0, AFFINITY_TAG_LENGTH);
}

/** One tag per team key, in the same order. */
export function affinityTags(teamKeys: Uint8Array[], publicKey: Uint8Array): Uint8Array[] {
  return teamKeys.map((key) => affinityTag(key, publicKey));
}

/**
 * True when one of the sender's tags equals the tag of one of our teams over the sender's public
 * key, i.e. sender and receiver share a team. Tags are compared in constant time.
 */
export function hasAffinity(
  ownTeamKeys: Uint8Array[],
  senderPublicKey: Uint8Array,
  senderTags: Uint8Array[],
): boolean {
  let match = false;
  for (const key of ownTeamKeys) {
    const expected = affinityTag(key, senderPublicKey);
    for (const tag of senderTags) {
      // No early exit: the time taken does not reveal which pair matched.
      if (tag instanceof Uint8Array && constantTimeEqual(expected, tag)) match = true;
    }
  }
  return match;
}
