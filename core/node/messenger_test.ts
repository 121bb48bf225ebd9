import assert from "node:assert/strict";
import { generateSigningKeyPair } from "../crypto/mldsa.ts";
import { type CertificateFields, issueCertificate } from "../wire/certificate.ts";
import { WireError } from "../wire/errors.ts";
import { MessageType } from "../wire/gen/veilnet_pb.ts";
import { Messenger, MessengerError, peekEnvelope } from "./messenger.ts";

const guardian = generateSigningKeyPair(new Uint8Array(32).fill(1));
const now = Date.now();

function member(id: string, realmId: string, teamKeys: Uint8Array[], seed: number): Messenger {
  const keys = generateSigningKeyPair(new Uint8Array(32).fill(seed));
  const fields: CertificateFields = {
    confluxId: id,
    realmId,
    realmSubnet: "100.64.0.0/24",
    overlayIp: `100.64.0.${seed}`,
    mldsaPublicKey: keys.publicKey,
    issuedAt: now - 1000,
    expiresAt: now + 600_000,
    tag: id,
    portal: false,
    subnets: [],
  };
  return new Messenger({
    fields,
    certificate: issueCertificate(fields, guardian.secretKey),
    secretKey: keys.secretKey,
    guardianPublicKey: guardian.publicKey,
  }, teamKeys);
}

const dev = new Uint8Array(32).fill(7);
const ops = new Uint8Array(32).fill(8);

Deno.test("messenger: a teammate's envelope opens with affinity; a stranger's without", () => {
  const a = member("ca", "r1", [dev], 2);
  const b = member("cb", "r1", [dev, ops], 3);
  const c = member("cc", "r1", [ops], 4);
  const env = a.seal(MessageType.DISCOVER, new Uint8Array([1, 2, 3]), now);
  const opened = b.open(env, now);
  assert.equal(opened.sender.confluxId, "ca");
  assert.deepEqual(opened.body, new Uint8Array([1, 2, 3]));
  assert.equal(b.affine(opened.sender.mldsaPublicKey, opened.affinityTags), true);
  const fromC = b.open(c.seal(MessageType.DISCOVER, new Uint8Array(), now), now);
  assert.equal(b.affine(fromC.sender.mldsaPublicKey, fromC.affinityTags), true);
  const atA = a.open(c.seal(MessageType.DISCOVER, new Uint8Array(), now), now);
  assert.equal(a.affine(atA.sender.mldsaPublicKey, atA.affinityTags), false);
});

Deno.test("messenger: team changes apply to tags and checks at once", () => {
  const a = member("ca", "r1", [dev], 2);
  const b = member("cb", "r1", [], 3);
  const opened = b.open(a.seal(MessageType.DISCOVER, new Uint8Array(), now), now);
  assert.equal(b.affine(opened.sender.mldsaPublicKey, opened.affinityTags), false);
  b.setTeamKeys([dev]);
  assert.equal(b.affine(opened.sender.mldsaPublicKey, opened.affinityTags), true);
  a.setTeamKeys([]);
  const again = b.open(a.seal(MessageType.DISCOVER, new Uint8Array(), now), now);
  assert.equal(b.affine(again.sender.mldsaPublicKey, again.affinityTags), false);
});

Deno.test("messenger: other realms, own messages, replays and garbage are refused", () => {
  const a = member("ca", "r1", [dev], 2);
  const b = member("cb", "r1", [dev], 3);
  const x = member("cx", "r2", [dev], 5);
  assert.throws(
    () => b.open(x.seal(MessageType.DISCOVER, new Uint8Array(), now), now),
    MessengerError,
  );
  assert.throws(
    () => b.open(b.seal(MessageType.DISCOVER, new Uint8Array(), now), now),
    MessengerError,
  );
  const env = a.seal(MessageType.STREAM_CLOSE, new Uint8Array(), now);
  b.open(env, now);
  assert.throws(() => b.open(env, now), WireError);
  for (const junk of [new Uint8Array(0), new Uint8Array(100).fill(0xff), env.slice(0, 500)]) {
    assert.throws(() => b.open(junk, now), WireError);
  }
});

Deno.test("messenger: peek reads type and body without verifying, null on junk", () => {
  const a = member("ca", "r1", [dev], 2);
  const env = a.seal(MessageType.DISCOVER, new Uint8Array([9]), now);
  assert.deepEqual(peekEnvelope(env), { type: MessageType.DISCOVER, body: new Uint8Array([9]) });
  assert.equal(peekEnvelope(new Uint8Array([0xff, 0xff, 0xff])), null);
  assert.equal(peekEnvelope(new Uint8Array(70_000)), null);
});
