/**
 * Signed control envelopes: every control message (stream requests and responses, discovery,
 * signalling, route queries) travels as SignedEnvelope bytes over NATS.
 *
 * Wire form: SignedEnvelope { envelope: Envelope bytes, signature } (proto/veilnet.proto). The
 * sender signs exactly the Envelope bytes with its per-run ML-DSA-65 key under the context
 * "veilnet/v1/envelope". The receiver checks, cheapest first: size and shape, version, type,
 * timestamp window, nonce replay, the sender certificate (once per sender, via CertificateCache),
 * then the signature; only then is the nonce recorded.
 *
 * @module
 */

import { create, toBinary } from "@bufbuild/protobuf";
import { EnvelopeSchema, MessageType, SignedEnvelopeSchema } from "./gen/veilnet_pb.ts";
import { MLDSA_SIGNATURE_LENGTH, sign, verify } from "../crypto/mldsa.ts";
import { constantTimeEqual } from "../crypto/compare.ts";
import { type CertificateFields, certificateHash } from "./certificate.ts";
import { type CachedCertificate, CertificateCache } from "./certificate_cache.ts";
import type { NonceFilter } from "./nonce_filter.ts";
import { WireError } from "./errors.ts";
import { decodeMessage, safeNumber } from "./protobuf.ts";

export { MessageType } from "./gen/veilnet_pb.ts";
export { CertificateCache } from "./certificate_cache.ts";
export type { CachedCertificate, CertificateCacheOptions } from "./certificate_cache.ts";

/** Envelope wire version this code speaks. */
export const ENVELOPE_VERSION = 1;
/** Largest accepted SignedEnvelope in bytes. */
export const MAX_ENVELOPE_BYTES = 64 * 1024;
/** Default accepted clock difference between sender and receiver, in ms. */
export const DEFAULT_MAX_SKEW_MS = 30_000;
/** Byte length of an envelope nonce. */
export const ENVELOPE_NONCE_LENGTH = 16;
/** Byte length of one affinity tag. */
export const AFFINITY_TAG_LENGTH = 16;
/** Most affinity tags one envelope may carry. */
export const MAX_AFFINITY_TAGS = 64;

/** What the sender puts in an envelope. */
export interface EnvelopeMessage {
  /** Kind of body. */
  type: MessageType;
  /** The sender's SignedCertificate bytes (always needed: its hash is sent even when omitted). */
  senderCertificate: Uint8Array;
  /** The sender's affinity tags (16 bytes each). */
  affinityTags: Uint8Array[];
  /** Protobuf-encoded body of `type`. */
  body: Uint8Array;
  /**
   * Send the full certificate (default true). Leave it out only for a peer that has already
   * accepted a message with it; if the peer answers "unknown-certificate", resend in full.
   */
  includeCertificate?: boolean;
}

/** Options of {@link sealEnvelope}. */
export interface SealEnvelopeOptions {
  /** Current time, ms since the Unix epoch. */
  now: number;
  /** 16 random bytes, fresh for every envelope. */
  nonce: Uint8Array;
  /** Optional 32 random bytes for a hedged signature. */
  random?: Uint8Array;
}

/** Signs and encodes a control message; returns SignedEnvelope bytes. Throws WireError. */
export function sealEnvelope(
  msg: EnvelopeMessage,
  secretKey: Uint8Array,
  opts: SealEnvelopeOptions,
): Uint8Array {
  if (!isKnownType(msg.type)) throw new WireError("unknown-type", `envelope: type ${msg.type}`);
  if (!(opts.nonce instanceof Uint8Array) || opts.nonce.length !== ENVELOPE_NONCE_LENGTH) {
    throw new WireError("malformed", "envelope: nonce must be 16 bytes");
  }
  checkTags(msg.affinityTags);
  if (!Number.isSafeInteger(opts.now)) throw new WireError("malformed", "envelope: bad time");
  const include = msg.includeCertificate ?? true;
  const envelope = toBinary(
    EnvelopeSchema,
    create(EnvelopeSchema, {
      version: ENVELOPE_VERSION,
      type: msg.type,
      senderCertificate: include ? msg.senderCertificate : new Uint8Array(0),
      senderCertificateHash: certificateHash(msg.senderCertificate),
      affinityTags: msg.affinityTags,
      timestamp: BigInt(opts.now),
      nonce: opts.nonce,
      body: msg.body,
    }),
  );
  // Checked before signing: a signature is the expensive part.
  if (envelope.length + MLDSA_SIGNATURE_LENGTH + 16 > MAX_ENVELOPE_BYTES) {
    throw new WireError("oversized", `envelope: ${envelope.length} bytes before signature`);
  }
  const signature = sign(secretKey, "veilnet/v1/envelope", envelope, opts.random);
  return toBinary(SignedEnvelopeSchema, create(SignedEnvelopeSchema, { envelope, signature }));
}

/** A verified control message. */
export interface OpenedEnvelope {
  /** Kind of body. */
  type: MessageType;
  /** The sender's verified certificate fields. */
  sender: CertificateFields;
  /** The sender's SignedCertificate bytes (from the message or from the cache). */
  senderCertificate: Uint8Array;
  /** SHA-256 of `senderCertificate`. */
  senderCertificateHash: Uint8Array;
  /** The sender's affinity tags; check them with hasAffinity before acting. */
  affinityTags: Uint8Array[];
  /** Sender's timestamp, ms since the Unix epoch. */
  timestamp: number;
  /** Protobuf-encoded body of `type`. */
  body: Uint8Array;
}

/** Options of {@link openEnvelope}. */
export interface OpenEnvelopeOptions {
  /** The Guardian's ML-DSA-65 public key that must have signed the sender certificate. */
  guardianPublicKey: Uint8Array;
  /** Current time, ms since the Unix epoch. */
  now: number;
  /** Accepted |timestamp − now| in ms (default 30,000). */
  maxSkewMs?: number;
  /** Verified certificates and seen nonces; share one per receiving node. */
  certificates: CertificateCache;
  /** Nonce memory to use instead of `certificates.nonces`. */
  nonces?: NonceFilter;
}

/**
 * Decodes and verifies SignedEnvelope bytes. Throws WireError: decoding codes, "version",
 * "unknown-type", "stale" (timestamp outside the window), "replay" (nonce seen),
 * "unknown-certificate" (named by hash, not cached), "expired"/"signature" (certificate), or
 * "signature" (envelope). Does not check affinity or the sender's realm: callers do.
 */
export function openEnvelope(bytes: Uint8Array, opts: OpenEnvelopeOptions): OpenedEnvelope {
  const maxSkew = opts.maxSkewMs ?? DEFAULT_MAX_SKEW_MS;
  const nonces = opts.nonces ?? opts.certificates.nonces;
  if (bytes instanceof Uint8Array && bytes.length === 0) {
    throw new WireError("truncated", "envelope: empty");
  }
  const outer = decodeMessage(SignedEnvelopeSchema, bytes, {
    maxBytes: MAX_ENVELOPE_BYTES,
    what: "SignedEnvelope",
  });
  if (outer.envelope.length === 0) throw new WireError("truncated", "envelope: no envelope");
  if (outer.signature.length !== MLDSA_SIGNATURE_LENGTH) {
    throw new WireError("malformed", "envelope: signature must be 3309 bytes");
  }
  const env = decodeMessage(EnvelopeSchema, outer.envelope, {
    maxBytes: MAX_ENVELOPE_BYTES,
    what: "Envelope",
  });
  if (env.version !== ENVELOPE_VERSION) {
    throw new WireError(
      "version",
      `envelope: version ${env.version}, expected ${ENVELOPE_VERSION}`,
    );
  }
  if (!isKnownType(env.type)) throw new WireError("unknown-type", `envelope: type ${env.type}`);
  if (env.nonce.length !== ENVELOPE_NONCE_LENGTH) {
    throw new WireError("malformed", "envelope: nonce must be 16 bytes");
  }
  checkTags(env.affinityTags);
  const timestamp = safeNumber("envelope timestamp", env.timestamp);
  if (Math.abs(timestamp - opts.now) > maxSkew) {
    throw new WireError("stale", "envelope: timestamp outside the accepted window");
  }
  if (nonces.seen(env.nonce, timestamp)) throw new WireError("replay", "envelope: nonce seen");

  const keyOpts = { guardianPublicKey: opts.guardianPublicKey, now: opts.now };
  let cert: CachedCertificate;
  if (env.senderCertificate.length > 0) {
    cert = opts.certificates.verify(env.senderCertificate, keyOpts);
    if (
      env.senderCertificateHash.length > 0 &&
      !constantTimeEqual(env.senderCertificateHash, cert.hash)
    ) {
      throw new WireError("malformed", "envelope: certificate hash does not match certificate");
    }
  } else {
    if (env.senderCertificateHash.length !== 32) {
      throw new WireError("malformed", "envelope: neither certificate nor its hash");
    }
    cert = opts.certificates.require(env.senderCertificateHash, keyOpts);
  }
  if (!verify(cert.fields.mldsaPublicKey, "veilnet/v1/envelope", outer.envelope, outer.signature)) {
    throw new WireError("signature", "envelope: sender signature does not verify");
  }
  nonces.record(env.nonce, timestamp, { now: opts.now, windowMs: maxSkew });
  return {
    type: env.type,
    sender: cert.fields,
    senderCertificate: cert.signed,
    senderCertificateHash: cert.hash,
    affinityTags: env.affinityTags,
    timestamp,
    body: env.body,
  };
}

/** What {@link peekEnvelope} reveals. */
export interface PeekedEnvelope {
  /** Kind of body. */
  type: MessageType;
  /** Claimed sender certificate hash (32 bytes), unverified. */
  senderCertificateHash: Uint8Array;
  /** Claimed timestamp, unverified. */
  timestamp: number;
  /** Body, unverified. */
  body: Uint8Array;
}

/**
 * Decodes SignedEnvelope bytes WITHOUT verifying anything, so a node can drop a broadcast that is
 * not about it before paying for a signature check. Never act on the result: call openEnvelope.
 * Throws WireError like openEnvelope's decoding steps.
 */
export function peekEnvelope(bytes: Uint8Array): PeekedEnvelope {
  if (bytes instanceof Uint8Array && bytes.length === 0) {
    throw new WireError("truncated", "envelope: empty");
  }
  const outer = decodeMessage(SignedEnvelopeSchema, bytes, {
    maxBytes: MAX_ENVELOPE_BYTES,
    what: "SignedEnvelope",
  });
  const env = decodeMessage(EnvelopeSchema, outer.envelope, {
    maxBytes: MAX_ENVELOPE_BYTES,
    what: "Envelope",
  });
  if (env.version !== ENVELOPE_VERSION) {
    throw new WireError(
      "version",
      `envelope: version ${env.version}, expected ${ENVELOPE_VERSION}`,
    );
  }
  if (!isKnownType(env.type)) throw new WireError("unknown-type", `envelope: type ${env.type}`);
  return {
    type: env.type,
    senderCertificateHash: env.senderCertificateHash,
    timestamp: safeNumber("envelope timestamp", env.timestamp),
    body: env.body,
  };
}

function isKnownType(type: number): type is MessageType {
  return type !== MessageType.UNSPECIFIED && typeof MessageType[type] === "string";
}

function checkTags(tags: Uint8Array[]): void {
  if (!Array.isArray(tags) || tags.length > MAX_AFFINITY_TAGS) {
    throw new WireError("malformed", `envelope: at most ${MAX_AFFINITY_TAGS} affinity tags`);
  }
  for (const tag of tags) {
    if (!(tag instanceof Uint8Array) || tag.length !== AFFINITY_TAG_LENGTH) {
      throw new WireError("malformed", "envelope: affinity tags must be 16 bytes");
    }
  }
}
