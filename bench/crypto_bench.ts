/**
 * Micro-benchmarks of the crypto core and wire codecs: `deno bench -A bench/crypto_bench.ts`.
 *
 * The AES-GCM groups compare our PacketCipher (node:crypto, synchronous) with WebCrypto (async)
 * for 1,400-byte packets, one at a time and in batches of 64 (WebCrypto batches run concurrently,
 * its best case).
 *
 * @module
 */

import { PacketCipher } from "../core/crypto/aead.ts";
import { deriveStreamKeys } from "../core/crypto/kdf.ts";
import { mlkem768, xwing } from "../core/crypto/kem.ts";
import { generateSigningKeyPair, sign, verify } from "../core/crypto/mldsa.ts";
import { affinityTags, hasAffinity } from "../core/crypto/affinity.ts";
import { ReplayWindow } from "../core/replay/window.ts";
import { issueCertificate } from "../core/wire/certificate.ts";
import {
  CertificateCache,
  MessageType,
  openEnvelope,
  sealEnvelope,
} from "../core/wire/envelope.ts";
import {
  decodeBatch,
  decodeFrame,
  encodeBatch,
  FRAME_HEADER_LENGTH,
  frameAad,
  FrameType,
  writeFrameHeader,
} from "../core/wire/frame.ts";

const PACKET = 1400;
const BATCH = 64;
const keys = deriveStreamKeys(new Uint8Array(32).fill(1), new Uint8Array(32).fill(2), 0);
const aad = new Uint8Array(FRAME_HEADER_LENGTH).fill(3);
const packet = new Uint8Array(PACKET).fill(4);
const sender = PacketCipher.create(keys);
const receiver = PacketCipher.create(keys);
let counter = 0n;

Deno.bench("AES-256-GCM seal+open 1400 B, node:crypto (PacketCipher)", {
  group: "aead-single",
  baseline: true,
}, () => {
  const c = counter++;
  if (receiver.open(c, aad, sender.seal(c, aad, packet)) === null) throw new Error("auth");
});

const webKey = await crypto.subtle.importKey("raw", keys.key as BufferSource, "AES-GCM", false, [
  "encrypt",
  "decrypt",
]);
function webIv(c: bigint): Uint8Array<ArrayBuffer> {
  const iv = new Uint8Array(12);
  iv.set(keys.salt);
  new DataView(iv.buffer).setBigUint64(4, c);
  return iv;
}
const webAad = new Uint8Array(aad);
const webPacket = new Uint8Array(packet);

Deno.bench("AES-256-GCM seal+open 1400 B, WebCrypto", { group: "aead-single" }, async () => {
  const iv = webIv(counter++);
  const sealed = await crypto.subtle.encrypt(
    { name: "AES-GCM", iv, additionalData: webAad },
    webKey,
    webPacket,
  );
  await crypto.subtle.decrypt({ name: "AES-GCM", iv, additionalData: webAad }, webKey, sealed);
});

const frameBuffer = new Uint8Array(FRAME_HEADER_LENGTH + PACKET + 16);
const scratch = new Uint8Array(FRAME_HEADER_LENGTH);
Deno.bench(`AES-256-GCM seal+open ${BATCH} x 1400 B frames, node:crypto`, {
  group: "aead-batch",
  baseline: true,
}, () => {
  for (let i = 0; i < BATCH; i++) {
    const c = counter++;
    writeFrameHeader({
      type: FrameType.Data,
      hopLimit: 8,
      flags: 0,
      destination: 1,
      streamId: 2,
      counter: c,
    }, { out: frameBuffer, offset: 0 });
    sender.sealInto(c, frameAad(frameBuffer, scratch), packet, {
      out: frameBuffer,
      offset: FRAME_HEADER_LENGTH,
    });
    const f = decodeFrame(frameBuffer);
    if (receiver.open(f.counter, frameAad(frameBuffer, scratch), f.payload) === null) {
      throw new Error("auth");
    }
  }
});

Deno.bench(`AES-256-GCM seal+open ${BATCH} x 1400 B, WebCrypto concurrent`, {
  group: "aead-batch",
}, async () => {
  await Promise.all(Array.from({ length: BATCH }, async () => {
    const iv = webIv(counter++);
    const sealed = await crypto.subtle.encrypt(
      { name: "AES-GCM", iv, additionalData: webAad },
      webKey,
      webPacket,
    );
    await crypto.subtle.decrypt({ name: "AES-GCM", iv, additionalData: webAad }, webKey, sealed);
  }));
});

const mlkemKeys = mlkem768.generateKeyPair(new Uint8Array(64).fill(5));
const xwingKeys = xwing.generateKeyPair(new Uint8Array(32).fill(5));
const random32 = new Uint8Array(32).fill(6);
const random64 = new Uint8Array(64).fill(6);

Deno.bench("ML-KEM-768 keygen", { group: "kem" }, () => {
  mlkem768.generateKeyPair(random32);
});
Deno.bench("ML-KEM-768 encaps+decaps", { group: "kem", baseline: true }, () => {
  const { cipherText } = mlkem768.encapsulate(mlkemKeys.publicKey, random32);
  mlkem768.decapsulate(cipherText, mlkemKeys.secretKey);
});
Deno.bench("X-Wing keygen", { group: "kem" }, () => {
  xwing.generateKeyPair(random32);
});
Deno.bench("X-Wing encaps+decaps", { group: "kem" }, () => {
  const { cipherText } = xwing.encapsulate(xwingKeys.publicKey, random64);
  xwing.decapsulate(cipherText, xwingKeys.secretKey);
});

const signer = generateSigningKeyPair(new Uint8Array(32).fill(7));
const message = new Uint8Array(512).fill(8);
const signature = sign(signer.secretKey, "veilnet/v1/envelope", message);
Deno.bench("ML-DSA-65 keygen", { group: "mldsa" }, () => {
  generateSigningKeyPair(random32);
});
Deno.bench("ML-DSA-65 sign (512 B, hedged)", { group: "mldsa", baseline: true }, () => {
  sign(signer.secretKey, "veilnet/v1/envelope", message, random32);
});
Deno.bench("ML-DSA-65 verify (512 B)", { group: "mldsa" }, () => {
  if (!verify(signer.publicKey, "veilnet/v1/envelope", message, signature)) throw new Error("bad");
});

const guardian = generateSigningKeyPair(new Uint8Array(32).fill(9));
const now = 1_800_000_000_000;
const cert = issueCertificate({
  confluxId: "bench",
  realmId: "realm",
  realmSubnet: "100.64.0.0/10",
  overlayIp: "100.64.0.5",
  mldsaPublicKey: signer.publicKey,
  issuedAt: now - 1,
  expiresAt: now + 3_600_000,
  tag: "",
  portal: false,
  subnets: [],
}, guardian.secretKey);
const team = new Uint8Array(32).fill(10);
const tags = affinityTags([team], signer.publicKey);
const cache = new CertificateCache();
let nonceCounter = 0;
function nextNonce(): Uint8Array {
  const n = new Uint8Array(16);
  new DataView(n.buffer).setUint32(0, ++nonceCounter);
  return n;
}
Deno.bench("envelope seal (certificate by hash)", { group: "envelope" }, () => {
  sealEnvelope(
    {
      type: MessageType.SIGNAL,
      senderCertificate: cert,
      affinityTags: tags,
      body: message,
      includeCertificate: false,
    },
    signer.secretKey,
    { now, nonce: nextNonce() },
  );
});
const prepared = Array.from({ length: 2000 }, () =>
  sealEnvelope(
    {
      type: MessageType.SIGNAL,
      senderCertificate: cert,
      affinityTags: tags,
      body: message,
    },
    signer.secretKey,
    { now, nonce: nextNonce() },
  ));
let preparedIndex = 0;
Deno.bench("envelope open (certificate cached) + affinity check", {
  group: "envelope",
  baseline: true,
}, () => {
  const opened = openEnvelope(prepared[preparedIndex++ % prepared.length], {
    guardianPublicKey: guardian.publicKey,
    now,
    certificates: cache,
    // A fresh nonce memory per call: the prepared envelopes are reused across iterations.
    nonces: new CertificateCache().nonces,
  });
  if (!hasAffinity([team], opened.sender.mldsaPublicKey, opened.affinityTags)) throw new Error();
});

const frames = Array.from({ length: BATCH }, (_, i) => {
  const out = new Uint8Array(FRAME_HEADER_LENGTH + PACKET + 16);
  writeFrameHeader({
    type: FrameType.Data,
    hopLimit: 8,
    flags: 0,
    destination: 1,
    streamId: 2,
    counter: BigInt(i),
  }, { out, offset: 0 });
  return out;
});
Deno.bench(`frame batch encode+decode (${BATCH} x 1436 B)`, { group: "wire" }, () => {
  for (const f of decodeBatch(encodeBatch(frames))) decodeFrame(f);
});
const window = new ReplayWindow();
let replayCounter = 0n;
Deno.bench("replay window update x64", { group: "wire" }, () => {
  for (let i = 0; i < 64; i++) window.update(replayCounter++);
});
