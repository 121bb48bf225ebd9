import assert from "node:assert/strict";
import { bytesToHex, hexToBytes } from "@noble/hashes/utils.js";
import {
  type AeadBatch,
  defaultAesGcmEngine,
  nodeAesGcm,
  PacketCipher,
  setDefaultAesGcmEngine,
  TAG_LENGTH,
} from "../core/crypto/aead.ts";
import { CryptoError } from "../core/crypto/errors.ts";
import { deriveStreamKeys } from "../core/crypto/kdf.ts";
import {
  AESGCM_LIBRARY,
  AesGcmError,
  loadOpensslAesGcm,
  opensslAesGcm,
  useOpensslAesGcmByDefault,
} from "./aesgcm.ts";
import { compileLibrary, librarySourceHash, locateLibrary } from "./shim.ts";

async function hasCompiler(): Promise<boolean> {
  try {
    return (await new Deno.Command("cc", { args: ["--version"], stdout: "null", stderr: "null" })
      .output()).success;
  } catch {
    return false;
  }
}

// Needs cc and libssl-dev (headers) to build; without cc the binding is skipped by design.
const haveCc = Deno.build.os === "linux" && await hasCompiler();
if (!haveCc) console.warn("aesgcm_test: ignored, no C compiler (apt gcc libc6-dev libssl-dev)");
const ignore = !haveCc;

const keys = deriveStreamKeys(new Uint8Array(32).fill(5), new Uint8Array(32).fill(6), 0);
const SIZES = [0, 1, 15, 16, 17, 100, 1400, 1500, 9000, 65_535];

function bytes(length: number, seed: number): Uint8Array {
  return new Uint8Array(length).map((_, i) => (i * 31 + seed * 7 + (i >> 8)) & 0xff);
}

function openssl(k = keys): PacketCipher {
  return PacketCipher.create(k, { engine: opensslAesGcm });
}

function node(k = keys): PacketCipher {
  return PacketCipher.create(k, { engine: nodeAesGcm });
}

Deno.test({
  name: "aesgcm: library builds into the cache keyed by its source hash, then is found there",
  ignore,
  async fn() {
    const dir = await Deno.makeTempDir({ prefix: "vn-aesgcm-" });
    try {
      const hash = await librarySourceHash(AESGCM_LIBRARY);
      assert.match(hash ?? "", /^[0-9a-f]{16}$/);
      const first = await locateLibrary(AESGCM_LIBRARY, { cacheDir: dir });
      assert.deepEqual(first, { path: `${dir}/libaesgcm-${hash}.so`, origin: "built" });
      const second = await locateLibrary(AESGCM_LIBRARY, { cacheDir: dir });
      assert.deepEqual(second, { path: first.path, origin: "cache" });
    } finally {
      await Deno.remove(dir, { recursive: true });
    }
  },
});

Deno.test({
  name: "aesgcm: a missing library or failed build is AesGcmError unavailable",
  ignore,
  async fn() {
    const dir = await Deno.makeTempDir({ prefix: "vn-aesgcm-" });
    try {
      await assert.rejects(
        () => locateLibrary(AESGCM_LIBRARY, { library: `${dir}/missing.so` }),
        (e) =>
          e instanceof AesGcmError && e.code === "unavailable" && /missing\.so/.test(e.message),
      );
      await assert.rejects(
        () => compileLibrary(AESGCM_LIBRARY, `${dir}/x.so`, { cc: "/nonexistent/cc" }),
        (e) => e instanceof AesGcmError && e.code === "unavailable",
      );
      await assert.rejects(
        () => locateLibrary(AESGCM_LIBRARY, { cacheDir: dir, build: false }),
        (e) => e instanceof AesGcmError && /libssl-dev/.test(e.message),
      );
    } finally {
      await Deno.remove(dir, { recursive: true });
    }
  },
});

Deno.test({
  name: "aesgcm: loads and reports the libcrypto version; default engine switches to OpenSSL",
  ignore,
  async fn() {
    const info = await loadOpensslAesGcm();
    assert.ok(info.opensslVersion >= 0x1010_0000, info.opensslVersion.toString(16));
    assert.ok(info.location.path.endsWith(".so"));
    const before = defaultAesGcmEngine();
    try {
      assert.deepEqual(await useOpensslAesGcmByDefault(), { engine: "openssl" });
      assert.equal(defaultAesGcmEngine(), opensslAesGcm);
      // A cipher made without options now interoperates with an explicit OpenSSL one.
      const sealed = PacketCipher.create(keys).seal(1n, new Uint8Array(3), bytes(50, 1));
      assert.deepEqual(openssl().open(1n, new Uint8Array(3), sealed), bytes(50, 1));
    } finally {
      setDefaultAesGcmEngine(before);
    }
    assert.equal(defaultAesGcmEngine(), before);
  },
});

Deno.test({
  name: "aesgcm: GCM spec test cases 13-16 (AES-256) through salt || counter",
  ignore,
  async fn() {
    await loadOpensslAesGcm();
    const zero = { key: new Uint8Array(32), salt: new Uint8Array(4) };
    assert.equal(
      bytesToHex(openssl(zero).seal(0n, new Uint8Array(), new Uint8Array())), // TC13
      "530f8afbc74536b9a963b4f1c4cb738b",
    );
    assert.equal(
      bytesToHex(openssl(zero).seal(0n, new Uint8Array(), new Uint8Array(16))), // TC14
      "cea7403d4d606b6e074ec5d3baf39d18d0d1c8a799996bf0265b98b5d48ab919",
    );
    const k = {
      key: hexToBytes("feffe9928665731c6d6a8f9467308308feffe9928665731c6d6a8f9467308308"),
      salt: hexToBytes("cafebabe"),
    };
    const p64 = hexToBytes(
      "d9313225f88406e5a55909c5aff5269a86a7a9531534f7da2e4c303d8a318a721c3c0c95956809532fcf0e24" +
        "49a6b525b16aedf5aa0de657ba637b391aafd255",
    );
    const c60 = "522dc1f099567d07f47f37a32a84427d643a8cdcbfe5c0c97598a2bd2555d1aa8cb08e48590dbb3" +
      "da7b08b1056828838c5f61e6393ba7a0abcc9f662";
    const tc15 = openssl(k).seal(0xfacedbaddecaf888n, new Uint8Array(), p64);
    assert.equal(bytesToHex(tc15), c60 + "898015adb094dac5d93471bdec1a502270e3cc6c");
    const aad = hexToBytes("feedfacedeadbeeffeedfacedeadbeefabaddad2");
    const tc16 = openssl(k).seal(0xfacedbaddecaf888n, aad, p64.subarray(0, 60));
    assert.equal(bytesToHex(tc16), c60 + "76fc6ece0f4e1768cddf8853bb2d551b");
    assert.deepEqual(openssl(k).open(0xfacedbaddecaf888n, aad, tc16), p64.subarray(0, 60));
  },
});

Deno.test({
  name: "aesgcm: interoperates with the node:crypto engine both ways, byte for byte",
  ignore,
  async fn() {
    await loadOpensslAesGcm();
    const [a, n, ra, rn] = [openssl(), node(), openssl(), node()];
    let counter = 0n;
    for (const size of SIZES) {
      for (const aadLength of [0, 20, 33]) {
        const aad = bytes(aadLength, size);
        const plain = bytes(size, aadLength);
        const fromOpenssl = a.seal(counter, aad, plain);
        const fromNode = n.seal(counter, aad, plain);
        assert.deepEqual(fromOpenssl, fromNode, `size ${size} aad ${aadLength}`);
        assert.deepEqual(rn.open(counter, aad, fromOpenssl), plain);
        assert.deepEqual(ra.open(counter, aad, fromNode), plain);
        counter += 3n;
      }
    }
  },
});

Deno.test({
  name: "aesgcm: sealInto/openInto at offsets inside larger buffers",
  ignore,
  async fn() {
    await loadOpensslAesGcm();
    const aad = bytes(20, 9);
    const plain = bytes(1400, 2);
    const frame = new Uint8Array(20 + 1400 + TAG_LENGTH + 7);
    assert.equal(openssl().sealInto(7n, aad, plain, { out: frame, offset: 20 }), 1416);
    const sealed = frame.subarray(20, 20 + 1416);
    assert.deepEqual(sealed, node().seal(7n, aad, plain));
    const slot = new Uint8Array(2048).fill(0xee);
    assert.equal(openssl().openInto(7n, aad, sealed, { out: slot, offset: 100 }), 1400);
    assert.deepEqual(slot.subarray(100, 1500), plain);
    assert.equal(slot[99], 0xee);
    assert.equal(slot[1500], 0xee);
    // Node's engine has no openInto: PacketCipher falls back and gives the same.
    const slot2 = new Uint8Array(2048);
    assert.equal(node().openInto(7n, aad, sealed, { out: slot2, offset: 100 }), 1400);
    assert.deepEqual(slot2.subarray(100, 1500), plain);
    // Too small a target: −1, nothing written past the buffer.
    assert.equal(openssl().openInto(7n, aad, sealed, { out: new Uint8Array(1399), offset: 0 }), -1);
    assert.throws(
      () => openssl().sealInto(8n, aad, plain, { out: new Uint8Array(1415), offset: 0 }),
      (e) => e instanceof CryptoError && e.code === "length",
    );
  },
});

Deno.test({
  name: "aesgcm: tampering and truncation give null / −1, never a throw or crash",
  ignore,
  async fn() {
    await loadOpensslAesGcm();
    const aad = bytes(20, 4);
    const plain = bytes(1400, 5);
    const sealed = openssl().seal(42n, aad, plain);
    const r = openssl();
    for (const index of [0, 700, 1399, 1400, sealed.length - 1]) {
      const bad = sealed.slice();
      bad[index] ^= 0x80;
      assert.equal(r.open(42n, aad, bad), null, `byte ${index}`);
      assert.equal(r.openInto(42n, aad, bad, { out: new Uint8Array(2048), offset: 0 }), -1);
    }
    const badAad = aad.slice();
    badAad[19] ^= 1;
    assert.equal(r.open(42n, badAad, sealed), null);
    assert.equal(r.open(42n, aad.subarray(0, 19), sealed), null);
    assert.equal(r.open(43n, aad, sealed), null);
    assert.equal(openssl({ key: keys.key, salt: new Uint8Array(4) }).open(42n, aad, sealed), null);
    for (const cut of [0, 1, 15, 16, 17, sealed.length - 1]) {
      assert.equal(r.open(42n, aad, sealed.subarray(0, cut)), null, `cut to ${cut}`);
    }
    assert.equal(r.open(42n, aad, sealed.subarray(1)), null);
    // A 16-byte input is an empty plaintext's tag: valid only when it is one.
    assert.deepEqual(r.open(9n, aad, openssl().seal(9n, aad, new Uint8Array())), new Uint8Array());
    // The engine itself refuses bad nonces and short inputs without throwing on open.
    const engine = opensslAesGcm(keys.key);
    assert.equal(engine.open(new Uint8Array(11), aad, sealed), null);
    assert.equal(engine.open(new Uint8Array(12), aad, new Uint8Array(15)), null);
    assert.throws(() => opensslAesGcm(new Uint8Array(16)), CryptoError);
    // Nothing unauthenticated is handed back: the original still opens afterwards.
    assert.deepEqual(r.open(42n, aad, sealed), plain);
  },
});

/** `count` packets of the given sizes at a stride, each with `aadLength` bytes of AAD. */
function makeBatch(sizes: number[], aadLength: number, stride: number): AeadBatch {
  const count = sizes.length;
  const batch: AeadBatch = {
    buffer: new Uint8Array(count * stride),
    offsets: new Int32Array(count),
    lengths: new Int32Array(count),
    aadLength,
    count,
    counters: new Uint8Array(8 * count),
  };
  sizes.forEach((size, i) => {
    batch.offsets[i] = i * stride;
    batch.lengths[i] = size;
    batch.buffer.set(bytes(aadLength, i + 100), i * stride);
    batch.buffer.set(bytes(size, i), i * stride + aadLength);
  });
  return batch;
}

Deno.test({
  name: "aesgcm: batch seal/open equals single-packet results, OpenSSL and node fallback",
  ignore,
  async fn() {
    await loadOpensslAesGcm();
    const sizes = Array.from({ length: 64 }, (_, i) => [0, 1, 17, 576, 1400][i % 5] + (i >> 3));
    const stride = 20 + 1500 + TAG_LENGTH;
    for (const make of [openssl, node]) {
      const batch = makeBatch(sizes, 20, stride);
      const sender = make();
      sender.sealBatch(1000n, batch);
      assert.equal(sender.lastSealedCounter, 1063n);
      const single = node();
      for (let i = 0; i < sizes.length; i++) {
        assert.equal(batch.lengths[i], sizes[i] + TAG_LENGTH);
        const counter = new DataView(batch.counters.buffer).getBigUint64(8 * i);
        assert.equal(counter, 1000n + BigInt(i));
        const aad = bytes(20, i + 100);
        const start = i * stride + 20;
        const sealed = batch.buffer.subarray(start, start + batch.lengths[i]);
        assert.deepEqual(
          sealed,
          single.seal(counter, aad, bytes(sizes[i], i)),
          `${make.name} ${i}`,
        );
      }
      // Tamper with two packets; the others open, those two come back −1 and zeroed.
      batch.buffer[3 * stride + 20] ^= 1;
      batch.buffer[10 * stride + 5] ^= 1; // inside the AAD
      for (const open of [openssl, node]) {
        const copy = { ...batch, buffer: batch.buffer.slice(), lengths: batch.lengths.slice() };
        assert.equal(open().openBatch(copy), 62, `${make.name} → ${open.name}`);
        for (let i = 0; i < sizes.length; i++) {
          const start = i * stride + 20;
          if (i === 3 || i === 10) {
            assert.equal(copy.lengths[i], -1);
            const len = sizes[i] + TAG_LENGTH;
            assert.ok(copy.buffer.subarray(start, start + len).every((x) => x === 0));
          } else {
            assert.equal(copy.lengths[i], sizes[i]);
            assert.deepEqual(copy.buffer.subarray(start, start + sizes[i]), bytes(sizes[i], i));
          }
        }
      }
    }
  },
});

Deno.test({
  name: "aesgcm: bad batches are refused with CryptoError before anything is touched",
  ignore,
  async fn() {
    await loadOpensslAesGcm();
    for (const make of [openssl, node]) {
      const c = make();
      const batch = makeBatch([100, 100], 20, 200);
      const before = batch.buffer.slice();
      batch.offsets[1] = 300; // second packet runs past the end
      assert.throws(() => c.sealBatch(1n, batch), CryptoError);
      assert.throws(() => c.openBatch(batch), CryptoError);
      batch.offsets[1] = -1;
      assert.throws(() => c.sealBatch(1n, batch), CryptoError);
      batch.offsets[1] = 200;
      batch.lengths[1] = 5; // shorter than a tag: cannot be opened
      assert.throws(() => c.openBatch(batch), CryptoError);
      batch.lengths[1] = 100;
      assert.throws(() => c.sealBatch(1n, { ...batch, counters: new Uint8Array(8) }), CryptoError);
      assert.throws(() => c.sealBatch(1n, { ...batch, count: 3 }), CryptoError);
      assert.deepEqual(batch.buffer, before);
      assert.deepEqual(batch.lengths, Int32Array.from([100, 100]));
      // Counter discipline holds for batches too.
      c.sealBatch(5n, batch);
      assert.throws(
        () => c.sealBatch(6n, makeBatch([1], 0, 64)),
        (e) => e instanceof CryptoError && e.code === "range",
      );
      c.sealBatch(7n, makeBatch([], 0, 64)); // empty batch: no-op
    }
    // The engine's own batch call also checks array sizes it cannot see from C.
    const engine = opensslAesGcm(keys.key);
    const batch = makeBatch([10], 20, 64);
    assert.throws(() => engine.sealBatch!(new Uint8Array(3), batch), CryptoError);
    assert.throws(() => engine.sealBatch!(keys.salt, { ...batch, count: 2 }), CryptoError);
    // And the C side checks every packet against the buffer on its own.
    const outside = { ...batch, offsets: Int32Array.of(60) };
    assert.throws(() => engine.sealBatch!(keys.salt, outside), CryptoError);
    assert.throws(
      () => engine.openBatch!(keys.salt, { ...batch, lengths: Int32Array.of(3) }),
      CryptoError,
    );
  },
});

Deno.test({
  name: "aesgcm: a disposed engine refuses to seal and opens nothing",
  ignore,
  async fn() {
    await loadOpensslAesGcm();
    const c = openssl();
    const sealed = c.seal(1n, new Uint8Array(), bytes(10, 1));
    c.dispose();
    c.dispose(); // twice is harmless
    assert.throws(
      () => c.seal(2n, new Uint8Array(), bytes(10, 1)),
      (e) => e instanceof AesGcmError && e.code === "closed",
    );
    assert.equal(c.open(1n, new Uint8Array(), sealed), null);
    assert.equal(
      c.openInto(1n, new Uint8Array(), sealed, { out: new Uint8Array(10), offset: 0 }),
      -1,
    );
  },
});
