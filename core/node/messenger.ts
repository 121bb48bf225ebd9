/**
 * Signed control messages of the data plane: seals bodies into SignedEnvelopes with this node's
 * identity and current affinity tags, and opens incoming ones against the Guardian key.
 *
 * @module
 */
import { affinityTags, hasAffinity } from "../crypto/affinity.ts";
import { CertificateCache } from "../wire/certificate_cache.ts";
import {
  type OpenedEnvelope,
  openEnvelope,
  peekEnvelope as peekWireEnvelope,
  sealEnvelope,
} from "../wire/envelope.ts";
import type { MessageType } from "../wire/gen/veilnet_pb.ts";
import { type CertificateFields, certificateHash } from "../wire/certificate.ts";

/** Everything that identifies this node for one Guardian session. */
export interface NodeIdentity {
  /** Verified fields of our own certificate. */
  fields: CertificateFields;
  /** Our SignedCertificate bytes. */
  certificate: Uint8Array;
  /** Our ML-DSA-65 secret key (memory only). */
  secretKey: Uint8Array;
  /** The Guardian's ML-DSA-65 public key. */
  guardianPublicKey: Uint8Array;
}

/** Seals and opens envelopes; holds the team keys that decide affinity. */
export class Messenger {
  /** Verified certificates and seen nonces of every sender. */
  readonly certificates: CertificateCache = new CertificateCache();
  #identity: NodeIdentity;
  #teamKeys: Uint8Array[] = [];
  #tags: Uint8Array[] = [];
  #ownHash: Uint8Array;

  /** Creates a messenger for `identity` with team keys `teamKeys`. */
  constructor(identity: NodeIdentity, teamKeys: Uint8Array[]) {
    this.#identity = identity;
    this.#ownHash = certificateHash(identity.certificate);
    this.setTeamKeys(teamKeys);
  }

  /** SHA-256 of our SignedCertificate. */
  get ownCertificateHash(): Uint8Array {
    return this.#ownHash;
  }

  /** Our identity. */
  get identity(): NodeIdentity {
    return this.#identity;
  }

  /** Replaces the identity after a session refresh (new certificate). */
  setIdentity(identity: NodeIdentity): void {
    this.#identity = identity;
    this.#ownHash = certificateHash(identity.certificate);
    this.setTeamKeys(this.#teamKeys);
  }

  /** Replaces the team keys (live team change) and recomputes our tags. */
  setTeamKeys(teamKeys: Uint8Array[]): void {
    this.#teamKeys = teamKeys.slice();
    this.#tags = affinityTags(this.#teamKeys, this.#identity.fields.mldsaPublicKey);
  }

  /** Current team keys. */
  get teamKeys(): readonly Uint8Array[] {
    return this.#teamKeys;
  }

  /** True when a sender with `publicKey` presenting `tags` shares a team with us now. */
  affine(publicKey: Uint8Array, tags: Uint8Array[]): boolean {
    return this.#teamKeys.length > 0 && hasAffinity(this.#teamKeys, publicKey, tags);
  }

  /** Signs `body` as a `type` message with our certificate and tags. */
  seal(type: MessageType, body: Uint8Array, now: number): Uint8Array {
    return sealEnvelope(
      {
        type,
        senderCertificate: this.#identity.certificate,
        affinityTags: this.#tags,
        body,
      },
      this.#identity.secretKey,
      { now, nonce: crypto.getRandomValues(new Uint8Array(16)) },
    );
  }

  /**
   * Verifies an envelope (certificate, signature, freshness, nonce) and that its sender belongs
   * to our realm. Throws WireError or MessengerError; affinity is the caller's check.
   */
  open(bytes: Uint8Array, now: number): OpenedEnvelope {
    const opened = openEnvelope(bytes, {
      guardianPublicKey: this.#identity.guardianPublicKey,
      now,
      certificates: this.certificates,
    });
    if (opened.sender.realmId !== this.#identity.fields.realmId) {
      throw new MessengerError("envelope from another realm");
    }
    if (opened.sender.confluxId === this.#identity.fields.confluxId) {
      throw new MessengerError("envelope from ourselves");
    }
    return opened;
  }
}

/** Thrown by Messenger.open for a verified envelope that this node must still not act on. */
export class MessengerError extends Error {
  /** Creates the error. */
  constructor(message: string) {
    super(message);
    this.name = "MessengerError";
  }
}

/**
 * Reads type and body of SignedEnvelope bytes WITHOUT verifying anything, so that a node can
 * ignore a realm-wide broadcast that is not about it before paying for a signature check.
 * Returns null on any decoding problem.
 */
export function peekEnvelope(bytes: Uint8Array): { type: MessageType; body: Uint8Array } | null {
  try {
    const { type, body } = peekWireEnvelope(bytes);
    return { type, body };
  } catch {
    return null;
  }
}
