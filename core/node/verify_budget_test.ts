import assert from "node:assert/strict";
import { generateSigningKeyPair } from "../crypto/mldsa.ts";
import { type CertificateFields, issueCertificate } from "../wire/certificate.ts";
import { MessageType } from "../wire/gen/veilnet_pb.ts";
import { Messenger } from "./messenger.ts";
import { VERIFY_PER_SENDER, VerifyBudget } from "./verify_budget.ts";

const guardian = generateSigningKeyPair(new Uint8Array(32).fill(9));
const now = Date.now();

function member(
  n: number,
  teamKeys: Uint8Array[] = [],
): { messenger: Messenger; hash: Uint8Array } {
  const keys = generateSigningKeyPair(new Uint8Array(32).fill(n));
  const fields: CertificateFields = {
    confluxId: `c${n}`,
    realmId: "r",
    realmSubnet: "100.64.0.0/24",
    overlayIp: `100.64.0.${n}`,
    mldsaPublicKey: keys.publicKey,
    issuedAt: now - 1000,
    expiresAt: now + 600_000,
    tag: `c${n}`,
    portal: false,
    subnets: [],
  };
  const messenger = new Messenger({
    fields,
    certificate: issueCertificate(fields, guardian.secretKey),
    secretKey: keys.secretKey,
    guardianPublicKey: guardian.publicKey,
  }, teamKeys);
  return { messenger, hash: messenger.ownCertificateHash };
}

Deno.test("verify budget: one flooding sender empties its own bucket, not the others'", () => {
  const budget = new VerifyBudget();
  const flooder = member(2);
  const known = member(3);
  const fresh = member(4);
  const flood = flooder.messenger.seal(MessageType.STREAM_CLOSE, new Uint8Array(), now);
  budget.verified(known.hash);
  let allowed = 0;
  for (let i = 0; i < 1000; i++) if (budget.allow(flood, now)) allowed++;
  assert.equal(allowed, VERIFY_PER_SENDER / 2, "the flooder gets its burst and no more");
  // At the same instant, a known sender and one never seen before still get through.
  assert.equal(
    budget.allow(known.messenger.seal(MessageType.SIGNAL, new Uint8Array(), now), now),
    true,
  );
  assert.equal(
    budget.allow(fresh.messenger.seal(MessageType.STREAM_REQUEST, new Uint8Array(), now), now),
    true,
  );
  // A second later the flooder has its rate again.
  assert.equal(budget.allow(flood, now + 1000), true);
});

Deno.test("verify budget: senders never seen share one bucket; known senders are outside it", () => {
  const budget = new VerifyBudget({ unknown: 10 });
  const known = member(5);
  budget.verified(known.hash);
  let allowed = 0;
  for (let n = 10; n < 30; n++) {
    if (
      budget.allow(member(n).messenger.seal(MessageType.STREAM_CLOSE, new Uint8Array(), now), now)
    ) {
      allowed++;
    }
  }
  assert.equal(allowed, 5, "twenty new senders at once: the shared burst of 5");
  assert.equal(
    budget.allow(known.messenger.seal(MessageType.SIGNAL, new Uint8Array(), now), now),
    true,
  );
  assert.equal(budget.allow(new Uint8Array([1, 2, 3]), now), false, "undecodable: never checked");
});

Deno.test("verify budget: a flood of made-up certificates does not starve a new teammate (tag check first)", () => {
  const team = new Uint8Array(32).fill(7);
  const self = member(50, [team]);
  const budget = new VerifyBudget({
    affine: (publicKey, tags) => self.messenger.affine(publicKey, tags),
  });
  // 2,000 messages, each with a certificate never seen before, from holders of no team key.
  let flooded = 0;
  for (let i = 0; i < 2000; i++) {
    const forger = member(100 + (i % 150));
    const m = forger.messenger.seal(MessageType.STREAM_REQUEST, new Uint8Array([i & 255]), now);
    if (budget.allow(m, now)) flooded++;
    if (i === 200) break; // enough to drain the shared bucket (burst 200)
  }
  assert.ok(flooded <= 200, `flood got ${flooded}`);
  const teammate = member(60, [team]);
  const request = teammate.messenger.seal(MessageType.STREAM_REQUEST, new Uint8Array(), now);
  assert.equal(budget.allow(request, now), true, "the new teammate is refused under the flood");
  // Tags copied from the teammate onto another key do not match that key.
  const stranger = member(61);
  const strangerMsg = stranger.messenger.seal(MessageType.STREAM_REQUEST, new Uint8Array(), now);
  assert.equal(budget.allow(strangerMsg, now), false, "a stranger shares the flooded bucket");
});
