import assert from "node:assert/strict";
import { generateSigningKeyPair } from "../crypto/mldsa.ts";
import { openTeamKeys, sealTeamKeys, type TeamKeysUpdate } from "./team_keys.ts";

const guardian = generateSigningKeyPair(new Uint8Array(32).fill(7));
const other = generateSigningKeyPair(new Uint8Array(32).fill(8));
const update: TeamKeysUpdate = {
  confluxId: "c0123456789abcdef",
  realmId: "r0123456789abcdef",
  issuedAt: 1_700_000_000_000,
  teams: [{ teamId: "t1", name: "dev", version: 3, key: new Uint8Array(32).fill(1) }],
};
const who = { confluxId: update.confluxId, realmId: update.realmId };

Deno.test("team keys: a sealed update opens with the Guardian key", () => {
  const bytes = sealTeamKeys(update, guardian.secretKey);
  assert.deepEqual(openTeamKeys(bytes, guardian.publicKey, who), update);
});

Deno.test("team keys: wrong signer, wrong addressee, tampering and garbage give null", () => {
  const bytes = sealTeamKeys(update, guardian.secretKey);
  assert.equal(openTeamKeys(bytes, other.publicKey, who), null);
  assert.equal(openTeamKeys(sealTeamKeys(update, other.secretKey), guardian.publicKey, who), null);
  assert.equal(openTeamKeys(bytes, guardian.publicKey, { ...who, confluxId: "cother" }), null);
  assert.equal(openTeamKeys(bytes, guardian.publicKey, { ...who, realmId: "rother" }), null);
  const outer = JSON.parse(new TextDecoder().decode(bytes));
  const payload = atob(outer.payload).replace('"version":3', '"version":4');
  outer.payload = btoa(payload);
  const tampered = new TextEncoder().encode(JSON.stringify(outer));
  assert.equal(openTeamKeys(tampered, guardian.publicKey, who), null);
  for (const junk of ["", "{}", "[]", "null", '{"payload":1,"signature":2}', "\xff"]) {
    assert.equal(openTeamKeys(new TextEncoder().encode(junk), guardian.publicKey, who), null);
  }
});

Deno.test("team keys: a key that is not 32 bytes makes the update invalid", () => {
  const bad = { ...update, teams: [{ ...update.teams[0], key: new Uint8Array(16) }] };
  assert.equal(openTeamKeys(sealTeamKeys(bad, guardian.secretKey), guardian.publicKey, who), null);
});

Deno.test("team keys: renew_session survives sealing and is absent unless asked for", () => {
  const renew = { ...update, renewSession: true };
  assert.deepEqual(
    openTeamKeys(sealTeamKeys(renew, guardian.secretKey), guardian.publicKey, who),
    renew,
  );
  const plain = openTeamKeys(sealTeamKeys(update, guardian.secretKey), guardian.publicKey, who);
  assert.equal(plain?.renewSession, undefined);
});
