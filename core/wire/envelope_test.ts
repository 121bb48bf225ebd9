import assert from "node:assert/strict";
import { create, toBinary } from "@bufbuild/protobuf";
import { generateSigningKeyPair, sign } from "../crypto/mldsa.ts";
import { affinityTags, hasAffinity } from "../crypto/affinity.ts";
import { type CertificateFields, certificateHash, issueCertificate } from "./certificate.ts";
import {
  CertificateCache,
  MAX_ENVELOPE_BYTES,
  MessageType,
  openEnvelope,
  type OpenEnvelopeOptions,
  peekEnvelope,
  sealEnvelope,
} from "./envelope.ts";
import { NonceFilter } from "./nonce_filter.ts";
import { EnvelopeSchema, SignedEnvelopeSchema } from "./gen/veilnet_pb.ts";
import { WireError } from "./errors.ts";

const guardian = generateSigningKeyPair(new Uint8Array(32).fill(1));
const alice = generateSigningKeyPair(new Uint8Array(32).fill(2));
const mallory = generateSigningKeyPair(new Uint8Array(32).fill(3));
const now = 1_800_000_000_000;
const team = new Uint8Array(32).fill(7);

function certFor(publicKey: Uint8Array, patch: Partial<CertificateFields> = {}): Uint8Array {
  return issueCertificate({
    confluxId: "alice",
    realmId: "realm",
    realmSubnet: "100.64.0.0/10",
    overlayIp: "100.64.0.2",
    mldsaPublicKey: publicKey,
    issuedAt: now - 60_000,
    expiresAt: now + 3_600_000,
    tag: "",
    portal: false,
    subnets: [],
    ...patch,
  }, guardian.secretKey);
}
const aliceCert = certFor(alice.publicKey);
const body = new TextEncoder().encode("hello");
let nonceCounter = 0;
function nonce(): Uint8Array {
  const n = new Uint8Array(16);
  new DataView(n.buffer).setUint32(0, ++nonceCounter);
  return n;
}
function seal(patch: { includeCertificate?: boolean; now?: number; nonce?: Uint8Array } = {}) {
  return sealEnvelope(
    {
      type: MessageType.STREAM_REQUEST,
      senderCertificate: aliceCert,
      affinityTags: affinityTags([team], alice.publicKey),
      body,
      includeCertificate: patch.includeCertificate,
    },
    alice.secretKey,
    { now: patch.now ?? now, nonce: patch.nonce ?? nonce() },
  );
}
function opts(certificates = new CertificateCache(), patch: Partial<OpenEnvelopeOptions> = {}) {
  return { guardianPublicKey: guardian.publicKey, now, certificates, ...patch };
}
const code = (c: string) => (e: unknown) => e instanceof WireError && e.code === c;

Deno.test("envelope: seal and open round trip", () => {
  const opened = openEnvelope(seal(), opts());
  assert.equal(opened.type, MessageType.STREAM_REQUEST);
  assert.equal(opened.sender.confluxId, "alice");
  assert.deepEqual(opened.sender.mldsaPublicKey, alice.publicKey);
  assert.deepEqual(opened.senderCertificate, aliceCert);
  assert.deepEqual(opened.senderCertificateHash, certificateHash(aliceCert));
  assert.deepEqual(opened.body, body);
  assert.equal(opened.timestamp, now);
  assert.ok(hasAffinity([team], opened.sender.mldsaPublicKey, opened.affinityTags));
});

Deno.test("envelope: certificate by hash after the first message, typed error when unknown", () => {
  const cache = new CertificateCache();
  const short = seal({ includeCertificate: false });
  assert.ok(short.length < 4000, `${short.length} bytes without certificate`);
  assert.throws(() => openEnvelope(short, opts(cache)), code("unknown-certificate"));
  openEnvelope(seal(), opts(cache));
  assert.equal(cache.size, 1);
  const opened = openEnvelope(seal({ includeCertificate: false }), opts(cache));
  assert.deepEqual(opened.senderCertificate, aliceCert);
  // The earlier hash-only envelope was refused before its nonce was recorded: it opens now.
  assert.equal(openEnvelope(short, opts(cache)).sender.confluxId, "alice");
});

Deno.test("envelope: a certificate is verified once per sender", () => {
  const cache = new CertificateCache();
  const first = cache.verify(aliceCert, { guardianPublicKey: guardian.publicKey, now });
  const again = cache.verify(aliceCert, { guardianPublicKey: guardian.publicKey, now });
  assert.equal(again, first, "second call returns the cached entry itself");
  // A cached certificate is not accepted under a different Guardian key.
  assert.throws(
    () => cache.verify(aliceCert, { guardianPublicKey: mallory.publicKey, now }),
    code("signature"),
  );
  assert.equal(cache.lookup(first.hash, { guardianPublicKey: mallory.publicKey, now }), undefined);
  // Expired entries are dropped on lookup.
  assert.equal(
    cache.lookup(first.hash, { guardianPublicKey: guardian.publicKey, now: now + 7_200_000 }),
    undefined,
  );
  assert.equal(cache.size, 0);
});

Deno.test("envelope: the certificate cache is bounded (least recently used goes)", () => {
  const cache = new CertificateCache({ maxEntries: 2 });
  const certs = [1, 2, 3].map((n) => certFor(alice.publicKey, { confluxId: `c${n}` }));
  const key = { guardianPublicKey: guardian.publicKey, now };
  cache.verify(certs[0], key);
  cache.verify(certs[1], key);
  cache.lookup(certificateHash(certs[0]), key);
  cache.verify(certs[2], key);
  assert.equal(cache.size, 2);
  assert.ok(cache.lookup(certificateHash(certs[0]), key));
  assert.equal(cache.lookup(certificateHash(certs[1]), key), undefined);
});

Deno.test("envelope: replayed nonce is refused", () => {
  const cache = new CertificateCache();
  const bytes = seal();
  openEnvelope(bytes, opts(cache));
  assert.throws(() => openEnvelope(bytes, opts(cache)), code("replay"));
  assert.throws(() => openEnvelope(bytes, opts(cache, { now: now + 10_000 })), code("replay"));
});

Deno.test("envelope: nonce memory is bounded and forgotten nonces cannot be replayed", () => {
  const nonces = new NonceFilter({ maxEntries: 2 });
  const cache = new CertificateCache();
  const first = seal({ now: now - 3 });
  openEnvelope(first, opts(cache, { nonces }));
  openEnvelope(seal({ now: now - 2 }), opts(cache, { nonces }));
  openEnvelope(seal({ now: now - 1 }), opts(cache, { nonces }));
  assert.equal(nonces.size, 2);
  // `first` was evicted; the floor now refuses it (and anything as old) as a possible replay.
  assert.throws(() => openEnvelope(first, opts(cache, { nonces })), code("replay"));
  assert.throws(
    () => openEnvelope(seal({ now: now - 3 }), opts(cache, { nonces })),
    code("replay"),
  );
  assert.ok(openEnvelope(seal({ now }), opts(cache, { nonces })));
});

Deno.test("envelope: timestamps outside the window are stale", () => {
  assert.throws(() => openEnvelope(seal({ now: now - 31_000 }), opts()), code("stale"));
  assert.throws(() => openEnvelope(seal({ now: now + 31_000 }), opts()), code("stale"));
  assert.ok(openEnvelope(seal({ now: now - 29_000 }), opts()));
  assert.throws(
    () => openEnvelope(seal({ now: now - 5_000 }), opts(undefined, { maxSkewMs: 1_000 })),
    code("stale"),
  );
});

Deno.test("envelope: forged signatures and certificates fail with typed errors", () => {
  // Mallory signs with her key but presents Alice's certificate.
  const forged = sealEnvelope(
    {
      type: MessageType.SIGNAL,
      senderCertificate: aliceCert,
      affinityTags: [],
      body,
    },
    mallory.secretKey,
    { now, nonce: nonce() },
  );
  assert.throws(() => openEnvelope(forged, opts()), code("signature"));
  // A certificate not signed by the Guardian.
  const selfMade = issueCertificate({
    confluxId: "m",
    realmId: "realm",
    realmSubnet: "100.64.0.0/10",
    overlayIp: "100.64.0.9",
    mldsaPublicKey: mallory.publicKey,
    issuedAt: now - 1,
    expiresAt: now + 10_000,
    tag: "",
    portal: false,
    subnets: [],
  }, mallory.secretKey);
  const withSelfMade = sealEnvelope(
    {
      type: MessageType.SIGNAL,
      senderCertificate: selfMade,
      affinityTags: [],
      body,
    },
    mallory.secretKey,
    { now, nonce: nonce() },
  );
  assert.throws(() => openEnvelope(withSelfMade, opts()), code("signature"));
  // Expired certificate.
  const old = certFor(alice.publicKey, { issuedAt: now - 20_000, expiresAt: now - 10_000 });
  const withOld = sealEnvelope(
    {
      type: MessageType.SIGNAL,
      senderCertificate: old,
      affinityTags: [],
      body,
    },
    alice.secretKey,
    { now, nonce: nonce() },
  );
  assert.throws(() => openEnvelope(withOld, opts()), code("expired"));
});

Deno.test("envelope: tampering with any signed field breaks the signature", () => {
  const bytes = seal();
  const outerMsg = (b: Uint8Array) => {
    const text = new TextDecoder("latin1").decode(b);
    return text.indexOf("hello");
  };
  const at = outerMsg(bytes);
  assert.ok(at > 0);
  const bad = bytes.slice();
  bad[at] ^= 0x20; // "hello" -> "Hello"
  assert.throws(() => openEnvelope(bad, opts()), code("signature"));
});

Deno.test("envelope: version, type and shape checks", () => {
  const cache = new CertificateCache();
  const build = (patch: Record<string, unknown>) => {
    const envelope = toBinary(
      EnvelopeSchema,
      create(EnvelopeSchema, {
        version: 1,
        type: MessageType.DISCOVER,
        senderCertificate: aliceCert,
        senderCertificateHash: certificateHash(aliceCert),
        affinityTags: [],
        timestamp: BigInt(now),
        nonce: nonce(),
        body,
        ...patch,
      }),
    );
    const signature = sign(alice.secretKey, "veilnet/v1/envelope", envelope);
    return toBinary(SignedEnvelopeSchema, create(SignedEnvelopeSchema, { envelope, signature }));
  };
  assert.ok(openEnvelope(build({}), opts(cache)));
  assert.throws(() => openEnvelope(build({ version: 2 }), opts(cache)), code("version"));
  assert.throws(() => openEnvelope(build({ type: 99 }), opts(cache)), code("unknown-type"));
  assert.throws(() => openEnvelope(build({ type: 0 }), opts(cache)), code("unknown-type"));
  assert.throws(
    () => openEnvelope(build({ nonce: new Uint8Array(8) }), opts(cache)),
    code("malformed"),
  );
  assert.throws(
    () => openEnvelope(build({ affinityTags: [new Uint8Array(15)] }), opts(cache)),
    code("malformed"),
  );
  assert.throws(
    () => openEnvelope(build({ senderCertificateHash: new Uint8Array(32) }), opts(cache)),
    code("malformed"),
  );
  assert.throws(
    () =>
      openEnvelope(
        build({ senderCertificate: new Uint8Array(0), senderCertificateHash: new Uint8Array(0) }),
        opts(cache),
      ),
    code("malformed"),
  );
  assert.throws(() => openEnvelope(new Uint8Array(0), opts(cache)), code("truncated"));
  assert.throws(
    () => openEnvelope(new Uint8Array(MAX_ENVELOPE_BYTES + 1), opts(cache)),
    code("oversized"),
  );
  const full = build({});
  assert.throws(() => openEnvelope(full.subarray(0, full.length - 1), opts(cache)), WireError);
});

Deno.test("envelope: sealing refuses bad input", () => {
  const msg = { type: MessageType.SIGNAL, senderCertificate: aliceCert, affinityTags: [], body };
  assert.throws(
    () => sealEnvelope(msg, alice.secretKey, { now, nonce: new Uint8Array(4) }),
    code("malformed"),
  );
  assert.throws(
    () =>
      sealEnvelope({ ...msg, type: 42 as MessageType }, alice.secretKey, { now, nonce: nonce() }),
    code("unknown-type"),
  );
  assert.throws(
    () =>
      sealEnvelope({ ...msg, body: new Uint8Array(MAX_ENVELOPE_BYTES) }, alice.secretKey, {
        now,
        nonce: nonce(),
      }),
    code("oversized"),
  );
  assert.throws(
    () =>
      sealEnvelope({ ...msg, affinityTags: [new Uint8Array(3)] }, alice.secretKey, {
        now,
        nonce: nonce(),
      }),
    code("malformed"),
  );
});

Deno.test("envelope: peek reads type and body without verifying", () => {
  const peeked = peekEnvelope(seal());
  assert.equal(peeked.type, MessageType.STREAM_REQUEST);
  assert.deepEqual(peeked.body, body);
  assert.deepEqual(peeked.senderCertificateHash, certificateHash(aliceCert));
  assert.throws(() => peekEnvelope(new Uint8Array([1, 2, 3])), WireError);
});
