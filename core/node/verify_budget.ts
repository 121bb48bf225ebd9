/**
 * VerifyBudget: how many signed control messages this node checks per second, and whose. ML-DSA
 * verification costs milliseconds, so a flood must cost bounded CPU — but one flooding member must
 * not starve everyone else's handshakes. Each message is charged, before any signature check, to
 * the certificate it claims (an unverified protobuf peek): every sender has its own bucket. Senders
 * whose messages verified before are known and need nothing more; unknown ones (a new teammate,
 * or a flood of made-up certificates) also share one bucket for all of them.
 *
 * A forger may claim a known member's certificate: it then competes only with that member's own
 * bucket, never with the others'.
 *
 * Under a flood of made-up certificates the shared bucket empties, and a new teammate would
 * compete with the flood. So before spending an ML-DSA check on an unknown sender, a cheap MAC
 * (in WireGuard's spirit: prove something cheap first) sorts it: its envelope's affinity tags are
 * HMACs of the public key in the certificate it presents under a team key, which only a holder of
 * one of our team keys can compute for a made-up key. An unknown sender whose tags match takes
 * from a bucket of its own ({@link VERIFY_UNKNOWN_TEAMMATES}) that no outsider can drain; the
 * others share {@link VERIFY_UNKNOWN}. The check is on unverified bytes: it only decides which
 * bucket pays, the signature check still decides everything else.
 *
 * @module
 */
import { fromBinary } from "@bufbuild/protobuf";
import { TokenBuckets } from "../limit/token_buckets.ts";
import { peekEnvelope } from "../wire/envelope.ts";
import {
  CertificateSchema,
  EnvelopeSchema,
  SignedCertificateSchema,
  SignedEnvelopeSchema,
} from "../wire/gen/veilnet_pb.ts";

/** Signed messages one sender may have checked per second (and its burst). */
export const VERIFY_PER_SENDER = 50;
/**
 * Signed messages of not-yet-known senders without matching tags checked per second, all of them
 * together (strangers: relay askers, a relay's far side; new teammates have their own bucket).
 * ML-DSA-65 checks cost a millisecond or more each: this bounds what a flood of made-up
 * certificates costs to a tenth of a core or so.
 */
export const VERIFY_UNKNOWN = 100;
/**
 * Signed messages of not-yet-known senders with matching affinity tags, per second: what every
 * unknown sender shared before strangers got a bucket of their own (a realm starting cold sends
 * every member dozens of discoveries at once; with 200 the 32-node lab reached fewer pairs, a
 * link not proven yet).
 */
export const VERIFY_UNKNOWN_TEAMMATES = 400;
/** Known senders remembered. */
const MAX_KNOWN = 4096;

/** Per-sender and shared verify budgets. */
export class VerifyBudget {
  readonly #senders: TokenBuckets;
  readonly #unknown: TokenBuckets;
  readonly #teammates: TokenBuckets;
  readonly #known = new Set<string>();
  readonly #affine?: (publicKey: Uint8Array, tags: Uint8Array[]) => boolean;

  /**
   * Rates per second (bursts are half of them); defaults the constants above. `affine` is the
   * tag check (Messenger.affine); without it every unknown sender shares one bucket.
   */
  constructor(
    rates: {
      perSender?: number;
      unknown?: number;
      unknownTeammates?: number;
      affine?: (publicKey: Uint8Array, tags: Uint8Array[]) => boolean;
    } = {},
  ) {
    const perSender = rates.perSender ?? VERIFY_PER_SENDER;
    const unknown = rates.unknown ?? VERIFY_UNKNOWN;
    const teammates = rates.unknownTeammates ?? VERIFY_UNKNOWN_TEAMMATES;
    this.#affine = rates.affine;
    this.#teammates = new TokenBuckets({
      ratePerSecond: teammates,
      burst: teammates / 2,
      maxKeys: 1,
    });
    this.#senders = new TokenBuckets({
      ratePerSecond: perSender,
      burst: perSender / 2,
      maxKeys: MAX_KNOWN,
    });
    this.#unknown = new TokenBuckets({ ratePerSecond: unknown, burst: unknown / 2, maxKeys: 1 });
  }

  /** Whether the message in `bytes` may be verified now; false also when it does not decode. */
  allow(bytes: Uint8Array, now: number): boolean {
    const sender = claimedSender(bytes);
    if (sender === null || !this.#senders.take(sender, now)) return false;
    if (this.#known.has(sender)) return true;
    if (this.#affine && claimsAffinity(bytes, this.#affine)) return this.#teammates.take("", now);
    return this.#unknown.take("", now);
  }

  /** A message of this certificate (hash) verified: its sender is known from now on. */
  verified(certificateHash: Uint8Array): void {
    const key = hex(certificateHash);
    if (this.#known.has(key)) return;
    if (this.#known.size >= MAX_KNOWN) this.#known.delete(this.#known.values().next().value!);
    this.#known.add(key);
  }
}

function claimedSender(bytes: Uint8Array): string | null {
  try {
    return hex(peekEnvelope(bytes).senderCertificateHash);
  } catch {
    return null;
  }
}

/** The cheap tag check on unverified bytes: the presented certificate's key and the tags. */
function claimsAffinity(
  bytes: Uint8Array,
  affine: (publicKey: Uint8Array, tags: Uint8Array[]) => boolean,
): boolean {
  try {
    const env = fromBinary(EnvelopeSchema, fromBinary(SignedEnvelopeSchema, bytes).envelope);
    if (env.senderCertificate.length === 0 || env.affinityTags.length === 0) return false;
    const signed = fromBinary(SignedCertificateSchema, env.senderCertificate);
    const cert = fromBinary(CertificateSchema, signed.certificate);
    return affine(cert.mldsaPublicKey, env.affinityTags);
  } catch {
    return false;
  }
}

function hex(bytes: Uint8Array): string {
  return Array.from(bytes, (b) => b.toString(16).padStart(2, "0")).join("");
}
