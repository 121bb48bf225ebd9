/**
 * PeerRef: a peer's identity as a verified exchange (discovery, a handshake, a stream request)
 * showed it: certificate key, affinity tags, certificate hash and the networks it serves.
 *
 * @module
 */
import type { CertificateFields } from "../wire/certificate.ts";
import type { OpenedEnvelope } from "../wire/envelope.ts";
import { type Ipv4Cidr, parseCidr } from "./packet.ts";

/** A peer as this node knows it after a verified exchange. */
export interface PeerRef {
  /** Conflux id. */
  id: string;
  /** Overlay address as a 32-bit number. */
  ip: number;
  /** ML-DSA-65 public key from its certificate. */
  publicKey: Uint8Array;
  /** Affinity tags it presented last. */
  tags: Uint8Array[];
  /** SHA-256 of its SignedCertificate. */
  certificateHash: Uint8Array;
  /** Networks it serves as a portal (from its certificate; empty unless it is one). */
  subnets: Ipv4Cidr[];
}

/** The sender of a verified envelope, whose certificate names overlay address `ip`. */
export function peerOf(opened: OpenedEnvelope, ip: number): PeerRef {
  return {
    id: opened.sender.confluxId,
    ip,
    publicKey: opened.sender.mldsaPublicKey,
    tags: opened.affinityTags,
    certificateHash: opened.senderCertificateHash,
    subnets: servedSubnetsOf(opened.sender),
  };
}

/**
 * A peer known only by a verified message that named its address: the handshake fills in the
 * rest (and checks affinity).
 */
export function unverifiedPeer(id: string, ip: number): PeerRef {
  return {
    id,
    ip,
    publicKey: new Uint8Array(0),
    tags: [],
    certificateHash: new Uint8Array(0),
    subnets: [],
  };
}

/** The networks a certificate says its conflux serves as a portal (none unless it is one). */
export function servedSubnetsOf(c: CertificateFields): Ipv4Cidr[] {
  if (!c.portal) return [];
  return (c.subnets ?? []).map((s) => parseCidr(s)).filter((x): x is Ipv4Cidr => x !== null);
}
