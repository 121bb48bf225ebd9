import assert from "node:assert/strict";
import { create, toBinary } from "@bufbuild/protobuf";
import { generateSigningKeyPair, sign } from "../crypto/mldsa.ts";
import { sha256 } from "../crypto/hash.ts";
import {
  type CertificateFields,
  certificateHash,
  issueCertificate,
  parseCertificate,
  verifyCertificate,
} from "./certificate.ts";
import { WireError } from "./errors.ts";
import { CertificateSchema, SignedCertificateSchema } from "./gen/veilnet_pb.ts";

const guardian = generateSigningKeyPair(new Uint8Array(32).fill(1));
const impostor = generateSigningKeyPair(new Uint8Array(32).fill(2));
const conflux = generateSigningKeyPair(new Uint8Array(32).fill(3));
const now = 1_800_000_000_000;
const fields: CertificateFields = {
  confluxId: "c-1",
  realmId: "r-1",
  realmSubnet: "100.64.0.0/10",
  overlayIp: "100.64.0.7",
  mldsaPublicKey: conflux.publicKey,
  issuedAt: now - 1000,
  expiresAt: now + 3_600_000,
  tag: "laptop",
  portal: true,
  subnets: ["198.18.0.0/16", "198.19.4.0/24"],
};
const signed = issueCertificate(fields, guardian.secretKey);

const code = (c: string) => (e: unknown) => e instanceof WireError && e.code === c;

Deno.test("certificate: issue and verify round trip", () => {
  assert.deepEqual(verifyCertificate(signed, guardian.publicKey, now), fields);
  assert.deepEqual(parseCertificate(signed).fields, fields);
  assert.deepEqual(certificateHash(signed), sha256(signed));
  assert.ok(signed.length < 8192);
});

Deno.test("certificate: another Guardian's key or a tampered byte fails with 'signature'", () => {
  assert.throws(() => verifyCertificate(signed, impostor.publicKey, now), code("signature"));
  const forged = issueCertificate(fields, impostor.secretKey);
  assert.throws(() => verifyCertificate(forged, guardian.publicKey, now), code("signature"));
  // Flip a byte inside the signed Certificate (the overlay IP's last digit: 7 -> 6).
  const text = new TextDecoder("latin1").decode(signed);
  const at = text.indexOf("100.64.0.7") + 9;
  const tampered = signed.slice();
  tampered[at] ^= 1;
  assert.throws(() => verifyCertificate(tampered, guardian.publicKey, now), code("signature"));
});

Deno.test("certificate: validity window", () => {
  assert.throws(
    () => verifyCertificate(signed, guardian.publicKey, fields.expiresAt),
    code("expired"),
  );
  assert.throws(
    () => verifyCertificate(signed, guardian.publicKey, fields.issuedAt - 60_000),
    code("expired"),
  );
  // Small clock skew towards the past is tolerated.
  assert.ok(verifyCertificate(signed, guardian.publicKey, fields.issuedAt - 10_000));
});

Deno.test("certificate: truncated, oversized, garbage input gives WireError", () => {
  for (const length of [0, 1, 10, 100, signed.length - 1]) {
    assert.throws(
      () => verifyCertificate(signed.subarray(0, length), guardian.publicKey, now),
      WireError,
    );
  }
  assert.throws(
    () => verifyCertificate(new Uint8Array(9000), guardian.publicKey, now),
    code("oversized"),
  );
  assert.throws(
    () => verifyCertificate(new Uint8Array([0xff, 0xff, 0xff]), guardian.publicKey, now),
    WireError,
  );
});

Deno.test("certificate: issuing refuses malformed fields", () => {
  const bad: Partial<CertificateFields>[] = [
    { confluxId: "" },
    { overlayIp: "100.64.0.256" },
    { overlayIp: "10.0.0" },
    { realmSubnet: "100.64.0.0" },
    { realmSubnet: "100.64.0.0/33" },
    { mldsaPublicKey: new Uint8Array(10) },
    { expiresAt: fields.issuedAt },
    { issuedAt: 1.5 },
    { portal: false },
    { subnets: ["198.18.0.1/16"] },
    { subnets: ["198.18.0.0/16", "198.18.0.0/16"] },
    { subnets: ["100.64.0.0/16"] },
    { subnets: ["127.0.0.0/8"] },
    { subnets: Array.from({ length: 33 }, (_, i) => `198.18.${i}.0/24`) },
  ];
  for (const patch of bad) {
    assert.throws(
      () => issueCertificate({ ...fields, ...patch }, guardian.secretKey),
      code("malformed"),
      JSON.stringify(Object.keys(patch)),
    );
  }
});

Deno.test("certificate: a non-portal certificate round-trips with no subnets", () => {
  const plain: CertificateFields = { ...fields, portal: false, subnets: [] };
  const cert = issueCertificate(plain, guardian.secretKey);
  assert.deepEqual(verifyCertificate(cert, guardian.publicKey, now).subnets, []);
  assert.equal(parseCertificate(cert).fields.portal, false);
});

Deno.test("certificate: parsing rejects Guardian-signed certificates with bad subnets", () => {
  // Built by hand (issueCertificate would refuse them): receivers must refuse them too, even when
  // the signature is genuine.
  const cases: { portal: boolean; subnets: string[] }[] = [
    { portal: false, subnets: ["198.18.0.0/16"] },
    { portal: true, subnets: ["198.18.0.0/8"] },
    { portal: true, subnets: ["100.64.0.0/9"] },
    { portal: true, subnets: ["224.0.0.0/8"] },
    { portal: true, subnets: ["198.18.0.0/16", "198.18.0.0/16"] },
  ];
  for (const { portal, subnets } of cases) {
    const certificate = toBinary(
      CertificateSchema,
      create(CertificateSchema, {
        ...fields,
        issuedAt: BigInt(fields.issuedAt),
        expiresAt: BigInt(fields.expiresAt),
        portal,
        subnets,
      }),
    );
    const signature = sign(guardian.secretKey, "veilnet/v1/certificate", certificate);
    const bytes = toBinary(
      SignedCertificateSchema,
      create(SignedCertificateSchema, { certificate, signature }),
    );
    assert.throws(() => parseCertificate(bytes), code("malformed"), JSON.stringify(subnets));
    assert.throws(
      () => verifyCertificate(bytes, guardian.publicKey, now),
      code("malformed"),
      JSON.stringify(subnets),
    );
  }
});
