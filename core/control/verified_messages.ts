/**
 * Verification of control messages on receipt: every message on the control channel is a
 * SignedEnvelope; this filter yields only those whose sender certificate (Guardian-signed, same
 * realm, unexpired), envelope signature, timestamp window and nonce check out, and drops
 * everything else silently (a debug line, never an answer).
 *
 * @module
 */

import type { Msg } from "@nats-io/nats-core";
import { type CertificateCache, type OpenedEnvelope, openEnvelope } from "../wire/envelope.ts";
import { WireError } from "../wire/errors.ts";
import type { Logger } from "../log/logger.ts";

/** A control message that passed verification. */
export interface VerifiedMessage {
  /** The NATS message (subject, reply, raw bytes; `respond()` answers a request). */
  msg: Msg;
  /** The verified envelope: sender certificate fields, tags, type and body. */
  envelope: OpenedEnvelope;
}

/** Options of {@link verifiedMessages}. */
export interface VerifyOptions {
  /** The Guardian's ML-DSA-65 public key (from the session). */
  guardianPublicKey: Uint8Array;
  /** Only senders of this realm are accepted. */
  realmId: string;
  /** Verified certificates and seen nonces; share one per node. */
  certificates: CertificateCache;
  /** Accepted clock skew in ms (default that of openEnvelope, 30 s). */
  maxSkewMs?: number;
  /** Clock; default Date.now. */
  now?: () => number;
  /** Where drops are noted at debug level. */
  log?: Logger;
}

/** Yields the messages of `source` that verify; drops the rest silently. */
export async function* verifiedMessages(
  source: AsyncIterable<Msg>,
  options: VerifyOptions,
): AsyncGenerator<VerifiedMessage> {
  const now = options.now ?? Date.now;
  for await (const msg of source) {
    let envelope: OpenedEnvelope;
    try {
      envelope = openEnvelope(msg.data, {
        guardianPublicKey: options.guardianPublicKey,
        now: now(),
        maxSkewMs: options.maxSkewMs,
        certificates: options.certificates,
      });
    } catch (err) {
      const code = err instanceof WireError ? err.code : "error";
      options.log?.debug("dropped control message", { subject: msg.subject, reason: code });
      continue;
    }
    if (envelope.sender.realmId !== options.realmId) {
      options.log?.debug("dropped control message", { subject: msg.subject, reason: "realm" });
      continue;
    }
    yield { msg, envelope };
  }
}
