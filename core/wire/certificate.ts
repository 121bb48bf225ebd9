/**
 * Identity certificates: the Guardian's ML-DSA-65 signature binding a conflux id, realm, overlay IP
 * and the conflux's per-run ML-DSA-65 public key.
 *
 * Wire form: SignedCertificate { certificate: Certificate bytes, signature } (proto/veilnet.proto);
 * the signature (context "veilnet/v1/certificate") covers exactly the embedded Certificate bytes,
 * so receivers never re-encode before verifying.
 *
 * @module
 */

import { create, toBinary } from "@bufbuild/protobuf";
import { CertificateSchema, SignedCertificateSchema } from "./gen/veilnet_pb.ts";
import { MLDSA_PUBLIC_KEY_LENGTH, MLDSA_SIGNATURE_LENGTH, sign, verify } from "../crypto/mldsa.ts";
import { sha256 } from "../crypto/hash.ts";
import { WireError } from "./errors.ts";
import { decodeMessage, safeNumber } from "./protobuf.ts";
import { checkPortalSubnets } from "./portal_subnets.ts";

/** What a certificate states about one conflux for one Guardian session. */
export interface CertificateFields {
  /** Conflux id assigned by the Guardian. */
  confluxId: string;
  /** Realm (plane) id. */
  realmId: string;
  /** Realm subnet in CIDR notation, e.g. "100.64.0.0/10". */
  realmSubnet: string;
  /** Overlay IPv4 address, dotted quad. */
  overlayIp: string;
  /** The conflux's ML-DSA-65 public key for this run (1,952 bytes). */
  mldsaPublicKey: Uint8Array;
  /** Issue time, ms since the Unix epoch. */
  issuedAt: number;
  /** Expiry time, ms since the Unix epoch (exclusive). */
  expiresAt: number;
  /** Free-form label chosen at registration. */
  tag: string;
  /** Whether the conflux runs in portal mode. */
  portal: boolean;
  /**
   * IPv4 networks (canonical CIDR, host bits zero) the portal serves to its teammates; `[]` unless
   * `portal`. Rules: core/wire/portal_subnets.ts.
   */
  subnets: string[];
}

/** Largest accepted SignedCertificate in bytes (a real one is about 5.3 KB). */
export const MAX_CERTIFICATE_BYTES = 8192;
/** Clock skew tolerated on `issuedAt` when verifying, in ms. */
export const CERTIFICATE_SKEW_MS = 30_000;
const MAX_STRING = 256;

const IPV4 = /^(25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)(\.(25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)){3}$/;

function checkFields(fields: CertificateFields): void {
  const bad = (message: string): never => {
    throw new WireError("malformed", `certificate: ${message}`);
  };
  if (!fields.confluxId || fields.confluxId.length > MAX_STRING) bad("bad conflux id");
  if (!fields.realmId || fields.realmId.length > MAX_STRING) bad("bad realm id");
  if (typeof fields.tag !== "string" || fields.tag.length > MAX_STRING) bad("bad tag");
  if (!IPV4.test(fields.overlayIp)) bad("overlay ip is not a dotted quad");
  const [net, bits] = fields.realmSubnet.split("/");
  if (!IPV4.test(net ?? "") || !/^\d{1,2}$/.test(bits ?? "") || Number(bits) > 32) {
    bad("realm subnet is not IPv4 CIDR");
  }
  if (
    !(fields.mldsaPublicKey instanceof Uint8Array) ||
    fields.mldsaPublicKey.length !== MLDSA_PUBLIC_KEY_LENGTH
  ) {
    bad("ML-DSA public key must be 1952 bytes");
  }
  if (!Number.isSafeInteger(fields.issuedAt) || !Number.isSafeInteger(fields.expiresAt)) {
    bad("times must be integers");
  }
  if (fields.expiresAt <= fields.issuedAt) bad("expires before it is issued");
  if (!Array.isArray(fields.subnets)) bad("subnets must be a list");
  if (fields.subnets.length > 0 && fields.portal !== true) bad("subnets given but not a portal");
  const problem = checkPortalSubnets(fields.subnets, fields.realmSubnet);
  if (problem !== null) bad(`subnets: ${problem}`);
}

/**
 * Encodes `fields` and signs them with the Guardian's ML-DSA-65 secret key; returns the
 * SignedCertificate bytes. Throws WireError("malformed") on invalid fields.
 */
export function issueCertificate(
  fields: CertificateFields,
  guardianSecretKey: Uint8Array,
  random?: Uint8Array,
): Uint8Array {
  checkFields(fields);
  const certificate = toBinary(
    CertificateSchema,
    create(CertificateSchema, {
      confluxId: fields.confluxId,
      realmId: fields.realmId,
      realmSubnet: fields.realmSubnet,
      overlayIp: fields.overlayIp,
      mldsaPublicKey: fields.mldsaPublicKey,
      issuedAt: BigInt(fields.issuedAt),
      expiresAt: BigInt(fields.expiresAt),
      tag: fields.tag,
      portal: fields.portal,
      subnets: fields.subnets,
    }),
  );
  const signature = sign(guardianSecretKey, "veilnet/v1/certificate", certificate, random);
  return toBinary(
    SignedCertificateSchema,
    create(SignedCertificateSchema, { certificate, signature }),
  );
}

/** A decoded but NOT yet verified certificate. */
export interface ParsedCertificate {
  /** Decoded, well-formed fields. */
  fields: CertificateFields;
  /** The embedded Certificate bytes the signature covers. */
  certificate: Uint8Array;
  /** The Guardian's signature. */
  signature: Uint8Array;
}

/**
 * Decodes SignedCertificate bytes and checks the fields are well-formed, WITHOUT checking the
 * signature or validity period (for display; use verifyCertificate before trusting it).
 */
export function parseCertificate(signed: Uint8Array): ParsedCertificate {
  const outer = decodeMessage(SignedCertificateSchema, signed, {
    maxBytes: MAX_CERTIFICATE_BYTES,
    what: "SignedCertificate",
  });
  if (outer.certificate.length === 0) throw new WireError("truncated", "certificate: empty");
  if (outer.signature.length !== MLDSA_SIGNATURE_LENGTH) {
    throw new WireError("malformed", "certificate: signature must be 3309 bytes");
  }
  const inner = decodeMessage(CertificateSchema, outer.certificate, {
    maxBytes: MAX_CERTIFICATE_BYTES,
    what: "Certificate",
  });
  const fields: CertificateFields = {
    confluxId: inner.confluxId,
    realmId: inner.realmId,
    realmSubnet: inner.realmSubnet,
    overlayIp: inner.overlayIp,
    mldsaPublicKey: inner.mldsaPublicKey,
    issuedAt: safeNumber("certificate issued_at", inner.issuedAt),
    expiresAt: safeNumber("certificate expires_at", inner.expiresAt),
    tag: inner.tag,
    portal: inner.portal,
    subnets: inner.subnets,
  };
  checkFields(fields);
  return { fields, certificate: outer.certificate, signature: outer.signature };
}

/**
 * Verifies SignedCertificate bytes against the Guardian public key at time `now` (ms) and returns
 * its fields. Throws WireError: "signature" (not signed by this Guardian), "expired" (outside
 * issuedAt − 30 s … expiresAt), or a decoding code.
 */
export function verifyCertificate(
  signed: Uint8Array,
  guardianPublicKey: Uint8Array,
  now: number,
): CertificateFields {
  const parsed = parseCertificate(signed);
  const { fields } = parsed;
  if (now >= fields.expiresAt) throw new WireError("expired", "certificate: expired");
  if (now < fields.issuedAt - CERTIFICATE_SKEW_MS) {
    throw new WireError("expired", "certificate: not yet valid");
  }
  if (!verify(guardianPublicKey, "veilnet/v1/certificate", parsed.certificate, parsed.signature)) {
    throw new WireError("signature", "certificate: Guardian signature does not verify");
  }
  return fields;
}

/** SHA-256 of the SignedCertificate bytes: the name by which envelopes may refer to it. */
export function certificateHash(signed: Uint8Array): Uint8Array {
  return sha256(signed);
}
