import assert from "node:assert/strict";
import { bytesToHex, hexToBytes } from "@noble/hashes/utils.js";
import { deriveStreamKeys, hkdfSha256 } from "./kdf.ts";
import { CryptoError } from "./errors.ts";

Deno.test("kdf: HKDF-SHA-256 RFC 5869 test cases 1 and 3", () => {
  const okm1 = hkdfSha256(
    new Uint8Array(22).fill(0x0b),
    hexToBytes("000102030405060708090a0b0c"),
    hexToBytes("f0f1f2f3f4f5f6f7f8f9"),
    42,
  );
  assert.equal(
    bytesToHex(okm1),
    "3cb25f25faacd57a90434f64d0362f2a2d2d0a90cf1a5a4c5db02d56ecc4c5bf34007208d5b887185865",
  );
  const okm3 = hkdfSha256(new Uint8Array(22).fill(0x0b), new Uint8Array(0), new Uint8Array(0), 42);
  assert.equal(
    bytesToHex(okm3),
    "8da4e775a563c18f715f802a063c5a31b8a11f5c5ee1879ec3454e5f3c738d2d9d201395faa4b61a96c8",
  );
  assert.throws(() => hkdfSha256(new Uint8Array(1), new Uint8Array(0), new Uint8Array(0), 0));
  assert.throws(() => hkdfSha256(new Uint8Array(1), new Uint8Array(0), new Uint8Array(0), 8161));
});

Deno.test("kdf: stream keys follow the documented schedule and differ per epoch", () => {
  const secret = new Uint8Array(32).fill(1);
  const transcript = new Uint8Array(32).fill(2);
  const k0 = deriveStreamKeys(secret, transcript, 0);
  assert.equal(k0.key.length, 32);
  assert.equal(k0.salt.length, 4);
  // PROTOCOL.md: OKM = HKDF(ikm = secret, salt = transcript, info = label || u32be(epoch), 36).
  const info = new Uint8Array([...new TextEncoder().encode("veilnet/v1/stream-keys"), 0, 0, 0, 7]);
  const okm = hkdfSha256(secret, transcript, info, 36);
  const k7 = deriveStreamKeys(secret, transcript, 7);
  assert.deepEqual(k7.key, okm.subarray(0, 32));
  assert.deepEqual(k7.salt, okm.subarray(32, 36));
  assert.notDeepEqual(k7.key, k0.key);
  assert.deepEqual(deriveStreamKeys(secret, transcript, 0), k0);
  assert.notDeepEqual(deriveStreamKeys(secret, new Uint8Array(32).fill(3), 0).key, k0.key);
});

Deno.test("kdf: stream key inputs are validated", () => {
  const ok = new Uint8Array(32);
  const isError = (code: string) => (e: unknown) => e instanceof CryptoError && e.code === code;
  assert.throws(() => deriveStreamKeys(ok.subarray(1), ok, 0), isError("length"));
  assert.throws(() => deriveStreamKeys(ok, ok.subarray(1), 0), isError("length"));
  assert.throws(() => deriveStreamKeys(ok, ok, -1), isError("range"));
  assert.throws(() => deriveStreamKeys(ok, ok, 2 ** 32), isError("range"));
  assert.throws(() => deriveStreamKeys(ok, ok, 1.5), isError("range"));
});
