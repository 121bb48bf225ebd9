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
 * @module
 */
import { TokenBuckets } from "../limit/token_buckets.ts";
import { peekEnvelope } from "../wire/envelope.ts";

/** Signed messages one sender may have checked per second (and its burst). */
export const VERIFY_PER_SENDER = 50;
/** Signed messages of not-yet-known senders checked per second, all of them together. */
export const VERIFY_UNKNOWN = 400;
/** Known senders remembered. */
const MAX_KNOWN = 4096;

/** Per-sender and shared verify budgets. */
export class VerifyBudget {
  readonly #senders: TokenBuckets;
  readonly #unknown: TokenBuckets;
  readonly #known = new Set<string>();

  /** Rates per second (bursts are half of them); defaults the constants above. */
  constructor(rates: { perSender?: number; unknown?: number } = {}) {
    const perSender = rates.perSender ?? VERIFY_PER_SENDER;
    const unknown = rates.unknown ?? VERIFY_UNKNOWN;
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
    return this.#known.has(sender) || this.#unknown.take("", now);
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

function hex(bytes: Uint8Array): string {
  return Array.from(bytes, (b) => b.toString(16).padStart(2, "0")).join("");
}
