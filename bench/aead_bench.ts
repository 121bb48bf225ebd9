/**
 * AES-256-GCM engines for the data path: `deno bench -A bench/aead_bench.ts`.
 *
 * Every benchmark in a group does the same work per iteration (64 packets of 1,400 B, or one
 * 64 KiB GSO super-packet, sealed and opened with a 20-byte frame header as AAD), so the
 * times compare directly: divide by 64 for µs per packet. Rows:
 * - node:crypto: PacketCipher with the default node:crypto engine (seal/open allocate);
 * - OpenSSL single: PacketCipher over ffi/aesgcm.ts, one FFI call per packet, seal/open
 *   allocating like the node row;
 * - OpenSSL single in place: sealInto/openInto into reused buffers (no allocation);
 * - OpenSSL batch: sealBatch/openBatch, one FFI call per 64 packets, in place.
 * When the OpenSSL library cannot be built or loaded the OpenSSL rows are skipped with a note.
 *
 * @module
 */

import { type AeadBatch, nodeAesGcm, PacketCipher, TAG_LENGTH } from "../core/crypto/aead.ts";
import { deriveStreamKeys } from "../core/crypto/kdf.ts";
import { tryLoadOpensslAesGcm } from "../ffi/aesgcm.ts";

const PACKET = 1400;
const BATCH = 64;
const AAD = 20;
const SUPER = 64 * 1024;
const keys = deriveStreamKeys(new Uint8Array(32).fill(1), new Uint8Array(32).fill(2), 0);
const aad = new Uint8Array(AAD).fill(3);
const packet = new Uint8Array(PACKET).fill(4);
const big = new Uint8Array(SUPER).fill(5);

const openssl = await tryLoadOpensslAesGcm({
  onUnavailable: (reason) => console.warn(`aead_bench: OpenSSL rows skipped: ${reason}`),
});
const ignore = openssl === null;

/** A sender/receiver pair and a running counter. */
function pair(engine: typeof nodeAesGcm | null) {
  const e = engine ?? nodeAesGcm;
  return {
    tx: PacketCipher.create(keys, { engine: e }),
    rx: PacketCipher.create(keys, { engine: e }),
    counter: 0n,
  };
}

function allocating(p: ReturnType<typeof pair>, data: Uint8Array, times: number): void {
  for (let i = 0; i < times; i++) {
    const c = p.counter++;
    if (p.rx.open(c, aad, p.tx.seal(c, aad, data)) === null) throw new Error("auth");
  }
}

const frame = new Uint8Array(SUPER + TAG_LENGTH);
const plainOut = new Uint8Array(SUPER);
function inPlace(p: ReturnType<typeof pair>, data: Uint8Array, times: number): void {
  const target = { out: frame, offset: 0 };
  const into = { out: plainOut, offset: 0 };
  for (let i = 0; i < times; i++) {
    const c = p.counter++;
    const n = p.tx.sealInto(c, aad, data, target);
    if (p.rx.openInto(c, aad, frame.subarray(0, n), into) < 0) throw new Error("auth");
  }
}

/** 64 frame-shaped slots (header as AAD, payload, tag room) in one strided buffer. */
function makeBatch(size: number, count: number): AeadBatch {
  const stride = AAD + size + TAG_LENGTH;
  const batch: AeadBatch = {
    buffer: new Uint8Array(stride * count),
    offsets: Int32Array.from({ length: count }, (_, i) => i * stride),
    lengths: new Int32Array(count),
    aadLength: AAD,
    count,
    counters: new Uint8Array(8 * count),
  };
  for (let i = 0; i < count; i++) batch.buffer.set(aad, i * stride);
  return batch;
}

function batched(p: ReturnType<typeof pair>, batch: AeadBatch, size: number): void {
  batch.lengths.fill(size, 0, batch.count);
  const first = p.counter;
  p.counter += BigInt(batch.count);
  p.tx.sealBatch(first, batch);
  if (p.rx.openBatch(batch) !== batch.count) throw new Error("auth");
}

const nodeSmall = pair(null);
Deno.bench(`node:crypto seal+open ${BATCH} x ${PACKET} B`, {
  group: "aead-1400",
  baseline: true,
}, () => allocating(nodeSmall, packet, BATCH));

const sslSmall = pair(openssl);
Deno.bench(`OpenSSL-FFI single seal+open ${BATCH} x ${PACKET} B`, {
  group: "aead-1400",
  ignore,
}, () => allocating(sslSmall, packet, BATCH));

const sslSmallInPlace = pair(openssl);
Deno.bench(`OpenSSL-FFI single in place ${BATCH} x ${PACKET} B`, {
  group: "aead-1400",
  ignore,
}, () => inPlace(sslSmallInPlace, packet, BATCH));

const sslBatch = pair(openssl);
const batch64 = makeBatch(PACKET, BATCH);
Deno.bench(`OpenSSL-FFI batch seal+open ${BATCH} x ${PACKET} B (2 calls)`, {
  group: "aead-1400",
  ignore,
}, () => batched(sslBatch, batch64, PACKET));

const nodeBig = pair(null);
Deno.bench(
  "node:crypto seal+open 64 KiB",
  { group: "aead-64k", baseline: true },
  () => allocating(nodeBig, big, 1),
);

const sslBig = pair(openssl);
Deno.bench(
  "OpenSSL-FFI single seal+open 64 KiB",
  { group: "aead-64k", ignore },
  () => allocating(sslBig, big, 1),
);

const sslBigInPlace = pair(openssl);
Deno.bench(
  "OpenSSL-FFI single in place 64 KiB",
  { group: "aead-64k", ignore },
  () => inPlace(sslBigInPlace, big, 1),
);

const sslBigBatch = pair(openssl);
const batchBig = makeBatch(SUPER, 1);
Deno.bench(
  "OpenSSL-FFI batch (1) seal+open 64 KiB",
  { group: "aead-64k", ignore },
  () => batched(sslBigBatch, batchBig, SUPER),
);
