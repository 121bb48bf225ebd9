import assert from "node:assert/strict";
import { bytesToHex, hexToBytes } from "@noble/hashes/utils.js";
import {
  type AeadBatch,
  type AesGcmEngineFactory,
  defaultAesGcmEngine,
  MAX_COUNTER,
  nodeAesGcm,
  PacketCipher,
  setDefaultAesGcmEngine,
  TAG_LENGTH,
} from "./aead.ts";
import { deriveStreamKeys } from "./kdf.ts";
import { CryptoError } from "./errors.ts";

Deno.test("aead: AES-256-GCM known answer (GCM spec test case 16) through salt || counter", () => {
  // IV cafebabefacedbaddecaf888 splits exactly into our 4-byte salt and 8-byte counter.
  const cipher = PacketCipher.create({
    key: hexToBytes("feffe9928665731c6d6a8f9467308308feffe9928665731c6d6a8f9467308308"),
    salt: hexToBytes("cafebabe"),
  });
  const plaintext = hexToBytes(
    "d9313225f88406e5a55909c5aff5269a86a7a9531534f7da2e4c303d8a318a721c3c0c95956809532fcf0e2449a6b525b16aedf5aa0de657ba637b39",
  );
  const aad = hexToBytes("feedfacedeadbeeffeedfacedeadbeefabaddad2");
  const sealed = cipher.seal(0xfacedbaddecaf888n, aad, plaintext);
  assert.equal(
    bytesToHex(sealed),
    "522dc1f099567d07f47f37a32a84427d643a8cdcbfe5c0c97598a2bd2555d1aa8cb08e48590dbb3da7b08b1056828838c5f61e6393ba7a0abcc9f662" +
      "76fc6ece0f4e1768cddf8853bb2d551b",
  );
  assert.deepEqual(cipher.open(0xfacedbaddecaf888n, aad, sealed), plaintext);
});

const keys = deriveStreamKeys(new Uint8Array(32).fill(1), new Uint8Array(32).fill(2), 0);
const aad = new Uint8Array(20).fill(9);
const packet = new Uint8Array(1400).map((_, i) => i & 0xff);

Deno.test("aead: round trip and independent receiver", () => {
  const sender = PacketCipher.create(keys);
  const receiver = PacketCipher.create(keys);
  for (const counter of [0n, 1n, 2n, 1000n, MAX_COUNTER]) {
    const sealed = sender.seal(counter, aad, packet);
    assert.equal(sealed.length, packet.length + TAG_LENGTH);
    assert.notDeepEqual(sealed.subarray(0, 64), packet.subarray(0, 64));
    assert.deepEqual(receiver.open(counter, aad, sealed), packet);
  }
  assert.equal(sender.lastSealedCounter, MAX_COUNTER);
});

Deno.test("aead: tampering with ciphertext, tag, aad, counter or key gives null", () => {
  const sender = PacketCipher.create(keys);
  const sealed = sender.seal(42n, aad, packet);
  const receiver = PacketCipher.create(keys);
  for (const index of [0, 700, packet.length - 1, sealed.length - 1]) {
    const bad = sealed.slice();
    bad[index] ^= 1;
    assert.equal(receiver.open(42n, aad, bad), null, `byte ${index}`);
  }
  const badAad = aad.slice();
  badAad[0] ^= 1;
  assert.equal(receiver.open(42n, badAad, sealed), null);
  assert.equal(receiver.open(43n, aad, sealed), null);
  const otherKeys = deriveStreamKeys(new Uint8Array(32).fill(1), new Uint8Array(32).fill(2), 1);
  assert.equal(PacketCipher.create(otherKeys).open(42n, aad, sealed), null);
  assert.equal(
    PacketCipher.create({ key: keys.key, salt: otherKeys.salt }).open(42n, aad, sealed),
    null,
  );
  // Still opens untouched afterwards: a failed open leaves no state behind.
  assert.deepEqual(receiver.open(42n, aad, sealed), packet);
});

Deno.test("aead: truncated or malformed input gives null, never an exception", () => {
  const sender = PacketCipher.create(keys);
  const sealed = sender.seal(1n, aad, packet);
  const receiver = PacketCipher.create(keys);
  for (const length of [0, 1, TAG_LENGTH - 1, TAG_LENGTH, sealed.length - 1]) {
    assert.equal(receiver.open(1n, aad, sealed.subarray(0, length)), null, `length ${length}`);
  }
  assert.equal(receiver.open(-1n, aad, sealed), null);
  assert.equal(receiver.open(MAX_COUNTER + 1n, aad, sealed), null);
  assert.equal(receiver.open(1 as unknown as bigint, aad, sealed), null);
  assert.equal(receiver.open(1n, aad, "x" as unknown as Uint8Array), null);
});

Deno.test("aead: a counter can never be sealed twice (no nonce reuse)", () => {
  const sender = PacketCipher.create(keys);
  sender.seal(10n, aad, packet);
  const isRange = (e: unknown) => e instanceof CryptoError && e.code === "range";
  assert.throws(() => sender.seal(10n, aad, packet), isRange);
  assert.throws(() => sender.seal(9n, aad, packet), isRange);
  assert.throws(() => sender.seal(MAX_COUNTER + 1n, aad, packet), isRange);
  assert.equal(sender.lastSealedCounter, 10n);
  sender.seal(11n, aad, packet);
});

Deno.test("aead: sealInto writes after a header and matches seal", () => {
  const a = PacketCipher.create(keys);
  const b = PacketCipher.create(keys);
  const out = new Uint8Array(20 + packet.length + TAG_LENGTH);
  const written = a.sealInto(3n, aad, packet, { out, offset: 20 });
  assert.equal(written, packet.length + TAG_LENGTH);
  assert.deepEqual(out.subarray(20), b.seal(3n, aad, packet));
  assert.throws(() => a.sealInto(4n, aad, packet, { out, offset: 21 }), CryptoError);
});

Deno.test("aead: bad key material is refused", () => {
  assert.throws(() => PacketCipher.create({ key: new Uint8Array(16), salt: new Uint8Array(4) }));
  assert.throws(() => PacketCipher.create({ key: new Uint8Array(32), salt: new Uint8Array(12) }));
});

Deno.test("aead: a plugged-in engine gets the salt || counter nonce and the AAD", () => {
  const seen: { nonce: string; aad: number }[] = [];
  const cipher = PacketCipher.create(keys, {
    engine: (key) => {
      const inner = nodeAesGcm(key);
      return {
        seal(nonce, aadBytes, plaintext, out, offset) {
          seen.push({ nonce: bytesToHex(nonce), aad: aadBytes.length });
          inner.seal(nonce, aadBytes, plaintext, out, offset);
        },
        open: (nonce, aadBytes, sealed) => inner.open(nonce, aadBytes, sealed),
      };
    },
  });
  const sealed = cipher.seal(0x0102n, aad, packet);
  assert.deepEqual(seen, [{ nonce: bytesToHex(keys.salt) + "0000000000000102", aad: 20 }]);
  assert.deepEqual(PacketCipher.create(keys).open(0x0102n, aad, sealed), packet);
});

Deno.test("aead: setDefaultAesGcmEngine changes what create() uses, null restores node:crypto", () => {
  let made = 0;
  const counting: AesGcmEngineFactory = (key) => {
    made++;
    return nodeAesGcm(key);
  };
  const before = setDefaultAesGcmEngine(counting);
  try {
    assert.equal(before, nodeAesGcm);
    assert.equal(defaultAesGcmEngine(), counting);
    const sealed = PacketCipher.create(keys).seal(1n, aad, packet);
    PacketCipher.create(keys, { engine: nodeAesGcm });
    assert.equal(made, 1);
    assert.deepEqual(
      PacketCipher.create(keys, { engine: nodeAesGcm }).open(1n, aad, sealed),
      packet,
    );
  } finally {
    assert.equal(setDefaultAesGcmEngine(null), counting);
  }
  assert.equal(defaultAesGcmEngine(), nodeAesGcm);
});

Deno.test("aead: sealBatch/openBatch/openInto without engine support equal single calls", () => {
  const stride = 20 + 300 + TAG_LENGTH;
  const sizes = [0, 1, 100, 300];
  const batch: AeadBatch = {
    buffer: new Uint8Array(stride * sizes.length),
    offsets: Int32Array.from(sizes, (_, i) => i * stride),
    lengths: Int32Array.from(sizes),
    aadLength: 20,
    count: sizes.length,
    counters: new Uint8Array(8 * sizes.length),
  };
  sizes.forEach((size, i) => {
    batch.buffer.set(aad, i * stride);
    batch.buffer.set(packet.subarray(0, size), i * stride + 20);
  });
  const sender = PacketCipher.create(keys);
  sender.sealBatch(10n, batch);
  assert.equal(sender.lastSealedCounter, 13n);
  const single = PacketCipher.create(keys);
  sizes.forEach((size, i) => {
    const sealed = batch.buffer.subarray(i * stride + 20, i * stride + 20 + size + TAG_LENGTH);
    assert.equal(batch.lengths[i], size + TAG_LENGTH);
    assert.deepEqual(sealed, single.seal(10n + BigInt(i), aad, packet.subarray(0, size)));
    const out = new Uint8Array(400);
    assert.equal(single.openInto(10n + BigInt(i), aad, sealed, { out, offset: 50 }), size);
    assert.deepEqual(out.subarray(50, 50 + size), packet.subarray(0, size));
  });
  batch.buffer[2 * stride + 20] ^= 1;
  assert.equal(PacketCipher.create(keys).openBatch(batch), 3);
  assert.deepEqual(Array.from(batch.lengths), [0, 1, -1, 300]);
  assert.deepEqual(
    batch.buffer.subarray(3 * stride + 20, 3 * stride + 320),
    packet.subarray(0, 300),
  );
  assert.throws(() => sender.sealBatch(13n, batch), CryptoError);
});
