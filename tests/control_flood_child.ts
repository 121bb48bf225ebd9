/**
 * Test helper process (not a test): a realm member without the target's team that floods the
 * target's control subject and the realm's discover subject, run in a lab namespace by
 * control_flood_test.ts:
 *
 *   deno run -A tests/control_flood_child.ts GUARDIAN_URL CONFLUX_TOKEN TARGET_ID RATE SECONDS
 *
 * Sends RATE messages per second for SECONDS seconds (bounded: at most 20,000 messages), a mix of
 * garbage (up to 60 KB), envelopes with made-up certificates (each a certificate never seen
 * before, as a forger rotating identities would send) and signed junk of its own, then prints
 * `{"done":true,"sent":N}` and waits to be stopped.
 *
 * @module
 */
import { create, fromBinary, toBinary } from "@bufbuild/protobuf";
import { controlSubject, discoverSubject } from "../core/control/subjects.ts";
import { loginAsConflux, randomBytes } from "./helpers/control_login.ts";
import { sealEnvelope } from "../core/wire/envelope.ts";
import {
  DiscoverSchema,
  MessageType,
  SignedCertificateSchema,
} from "../core/wire/gen/veilnet_pb.ts";

const [guardianUrl, token, targetId, rateText, secondsText] = Deno.args;
const rate = Math.min(2000, Number(rateText));
const seconds = Math.min(30, Number(secondsText));
const rnd = randomBytes;
const { keys, control } = await loginAsConflux(guardianUrl, token, "flooder");
const s = control.session;
const ctl = controlSubject(s.realmId, targetId);
const discover = discoverSubject(s.realmId);

// Made-up certificates: ours with the Guardian's signature changed (each hashes differently and
// fails only at the Guardian signature check, the expensive part).
const forged: Uint8Array[] = [];
const own = fromBinary(SignedCertificateSchema, s.certificate);
for (let i = 0; i < 200; i++) {
  const sig = own.signature.slice();
  sig[i % sig.length] ^= 1 + (i >> 8);
  sig[(i * 7 + 3) % sig.length] ^= 0x55;
  const cert = toBinary(
    SignedCertificateSchema,
    create(SignedCertificateSchema, { certificate: own.certificate, signature: sig }),
  );
  const type = [MessageType.STREAM_REQUEST, MessageType.SIGNAL, MessageType.DISCOVER][i % 3];
  const body = type === MessageType.DISCOVER
    ? toBinary(DiscoverSchema, create(DiscoverSchema, { overlayIp: "100.64.0.1" }))
    : rnd(64);
  forged.push(sealEnvelope(
    { type, senderCertificate: cert, affinityTags: [rnd(16)], body },
    keys.secretKey,
    { now: Date.now(), nonce: rnd(16) },
  ));
}
console.log(JSON.stringify({ flooding: true }));

let sent = 0;
const total = Math.min(20_000, rate * seconds);
const started = performance.now();
while (sent < total) {
  // 10 ms ticks of rate/100 messages each.
  const due = Math.min(total, Math.floor(((performance.now() - started) / 1000) * rate));
  for (; sent < due; sent++) {
    const pick = sent % 10;
    const subject = pick === 9 ? discover : ctl;
    if (pick < 4) control.publish(subject, forged[sent % forged.length]);
    else if (pick < 8) control.publish(subject, rnd(sent % 50 === 0 ? 60_000 : 1 + (sent % 900)));
    else control.publish(subject, forged[(sent * 13) % forged.length].slice(0, 500));
  }
  await new Promise((r) => setTimeout(r, 10));
}
await control.flush?.();
console.log(JSON.stringify({ done: true, sent, ms: Math.round(performance.now() - started) }));
await new Promise(() => {});
