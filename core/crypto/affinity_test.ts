import assert from "node:assert/strict";
import { bytesToHex } from "@noble/hashes/utils.js";
import { affinityTag, affinityTags, hasAffinity } from "./affinity.ts";
import { CryptoError } from "./errors.ts";

Deno.test("affinity: tag is HMAC-SHA-256 truncated to 16 bytes (RFC 4231 test case 1)", () => {
  const tag = affinityTag(new Uint8Array(20).fill(0x0b), new TextEncoder().encode("Hi There"));
  assert.equal(bytesToHex(tag), "b0344c61d8db38535ca8afceaf0bf12b");
});

const teamA = new Uint8Array(32).fill(0xa);
const teamB = new Uint8Array(32).fill(0xb);
const teamC = new Uint8Array(32).fill(0xc);
const alice = new Uint8Array(1952).fill(1);
const bob = new Uint8Array(1952).fill(2);

Deno.test("affinity: shared team matches, others do not", () => {
  const aliceTags = affinityTags([teamA, teamB], alice);
  assert.equal(aliceTags.length, 2);
  assert.ok(hasAffinity([teamB], alice, aliceTags));
  assert.ok(hasAffinity([teamC, teamA], alice, aliceTags));
  assert.equal(hasAffinity([teamC], alice, aliceTags), false);
  assert.equal(hasAffinity([], alice, aliceTags), false);
  assert.equal(hasAffinity([teamA], alice, []), false);
  // Tags are bound to the sender's key: replaying Alice's tags as Bob fails.
  assert.equal(hasAffinity([teamA, teamB], bob, aliceTags), false);
  assert.notDeepEqual(affinityTag(teamA, alice), affinityTag(teamA, bob));
});

Deno.test("affinity: malformed tags and keys", () => {
  const good = affinityTag(teamA, alice);
  assert.equal(hasAffinity([teamA], alice, [good.subarray(0, 15)]), false);
  assert.equal(hasAffinity([teamA], alice, [null as unknown as Uint8Array]), false);
  assert.throws(() => affinityTag(new Uint8Array(8), alice), CryptoError);
});
