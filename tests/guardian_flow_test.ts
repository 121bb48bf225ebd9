// The whole flow against a real Guardian and a real nats-server: signup → login → realm →
// registration token → register → session login → NATS connect, then control messages between
// two confluxes (request/reply on ctl subjects, discovery, verified envelopes).
import assert from "node:assert/strict";
import { decode } from "@nats-io/jwt";
import { createUser } from "@nats-io/nkeys";
import { generateSigningKeyPair } from "../core/crypto/mldsa.ts";
import { verifyCertificate } from "../core/wire/certificate.ts";
import {
  CertificateCache,
  MessageType,
  openEnvelope,
  sealEnvelope,
} from "../core/wire/envelope.ts";
import { ControlClient } from "../core/control/control_client.ts";
import { controlSubject, discoverSubject } from "../core/control/subjects.ts";
import { formatIpv4, isHostAddress, parseCidr, parseIpv4 } from "../guardian/ip_pool.ts";
import { createRealm, registerConflux, startGuardian } from "./helpers/guardian.ts";

const enc = new TextEncoder();
const dec = new TextDecoder();

function keyPair() {
  return generateSigningKeyPair(crypto.getRandomValues(new Uint8Array(32)));
}

Deno.test("guardian flow: signup to NATS, ctl request/reply, discovery, verified envelopes", async () => {
  const g = await startGuardian({ sessionTtlSec: 60 });
  const clients: ControlClient[] = [];
  try {
    // Signup: the first user is admin, the second is not.
    const realm = await createRealm(g, { subnet: "100.64.5.0/24" });
    const second = await g.client.signup("second@example.test", "another long password");
    assert.equal(second.isAdmin, false);
    const profile = await g.client.call("GET", "/auth/profile", { bearer: realm.accessToken }) as {
      email: string;
      is_admin: boolean;
    };
    assert.equal(profile.email, realm.email);
    assert.equal(profile.is_admin, true);

    const a = await registerConflux(g, realm, { tag: "alpha" });
    const b = await registerConflux(g, realm, { tag: "beta" });
    const keysA = keyPair();
    const keysB = keyPair();
    const ca = await ControlClient.connect({
      guardian: g.client,
      confluxToken: a.token,
      mldsaPublicKey: keysA.publicKey,
    });
    clients.push(ca);
    const cb = await ControlClient.connect({
      guardian: g.client,
      confluxToken: b.token,
      mldsaPublicKey: keysB.publicKey,
      portal: true,
    });
    clients.push(cb);

    // Session contents: ids, distinct overlay IPs from the realm subnet, verifiable certificate.
    const sa = ca.session;
    assert.equal(sa.confluxId, a.confluxId);
    assert.equal(sa.realmId, realm.realmId);
    assert.equal(sa.inboxPrefix, `_INBOX.${a.confluxId}`);
    assert.deepEqual(sa.natsUrls, g.natsUrls);
    const subnet = parseCidr(sa.realmSubnet)!;
    assert.ok(isHostAddress(subnet, parseIpv4(sa.overlayIp)!));
    assert.ok(isHostAddress(subnet, parseIpv4(cb.session.overlayIp)!));
    assert.notEqual(sa.overlayIp, cb.session.overlayIp);
    const cert = verifyCertificate(sa.certificate, sa.guardianPublicKey, Date.now());
    assert.equal(cert.confluxId, a.confluxId);
    assert.equal(cert.overlayIp, sa.overlayIp);
    assert.equal(cert.tag, "alpha");
    assert.equal(cert.portal, false);
    assert.deepEqual(cert.mldsaPublicKey, keysA.publicKey);
    assert.equal(cert.expiresAt, sa.expiresAt);
    assert.equal(
      verifyCertificate(cb.session.certificate, sa.guardianPublicKey, Date.now()).portal,
      true,
    );

    // The JWT carries exactly the conflux's permissions and expires with the session.
    const claims = decode<{ pub: { allow: string[] }; sub: { allow: string[] } }>(sa.natsJwt);
    assert.equal(claims.exp! * 1000, sa.expiresAt);
    assert.deepEqual(claims.nats.pub?.allow, [`vn.${realm.realmId}.>`]);
    assert.deepEqual(claims.nats.sub?.allow, [
      `vn.${realm.realmId}.c.${a.confluxId}.>`,
      `vn.${realm.realmId}.discover`,
      `vn.${realm.realmId}.portals`,
      `_INBOX.${a.confluxId}.>`,
    ]);

    // Request/reply on A's ctl subject: B asks, A answers (reply goes to B's own inbox).
    const ctlA = ca.subscribe(controlSubject(realm.realmId, a.confluxId));
    const answering = (async () => {
      for await (const m of ctlA) {
        m.respond(enc.encode(`pong:${dec.decode(m.data)}`));
        break;
      }
    })();
    await ca.flush();
    const reply = await cb.request(
      controlSubject(realm.realmId, a.confluxId),
      enc.encode("ping"),
      5000,
    );
    assert.equal(dec.decode(reply.data), "pong:ping");
    assert.ok(reply.subject.startsWith(`_INBOX.${b.confluxId}.`));
    await answering;

    // Discovery: B listens realm-wide, A asks, B answers by reply.
    const disc = cb.subscribe(discoverSubject(realm.realmId));
    const discovering = (async () => {
      for await (const m of disc) {
        m.respond(enc.encode(cb.session.overlayIp));
        break;
      }
    })();
    await cb.flush();
    const found = await ca.request(discoverSubject(realm.realmId), enc.encode("who"), 5000);
    assert.equal(dec.decode(found.data), cb.session.overlayIp);
    await discovering;

    // Verified envelopes: garbage and a forged certificate are dropped, a real one is delivered.
    const ctlB = cb.subscribe(controlSubject(realm.realmId, b.confluxId));
    const certificates = new CertificateCache();
    const received = (async () => {
      for await (const m of ctlB) {
        try {
          const envelope = openEnvelope(m.data, {
            guardianPublicKey: cb.session.guardianPublicKey,
            now: Date.now(),
            certificates,
          });
          if (envelope.sender.realmId === realm.realmId) return { envelope };
        } catch {
          // garbage and forgeries: dropped
        }
      }
    })();
    await cb.flush();
    ca.publish(controlSubject(realm.realmId, b.confluxId), enc.encode("not an envelope"));
    const forger = keyPair();
    const forged = sealEnvelope(
      {
        type: MessageType.DISCOVER,
        senderCertificate: sa.certificate,
        affinityTags: [],
        body: enc.encode("forged"),
      },
      forger.secretKey,
      { now: Date.now(), nonce: crypto.getRandomValues(new Uint8Array(16)) },
    );
    ca.publish(controlSubject(realm.realmId, b.confluxId), forged);
    const genuine = sealEnvelope(
      {
        type: MessageType.DISCOVER,
        senderCertificate: sa.certificate,
        affinityTags: [],
        body: enc.encode("genuine"),
      },
      keysA.secretKey,
      { now: Date.now(), nonce: crypto.getRandomValues(new Uint8Array(16)) },
    );
    ca.publish(controlSubject(realm.realmId, b.confluxId), genuine);
    const v = await received;
    assert.ok(v);
    assert.equal(dec.decode(v.envelope.body), "genuine");
    assert.equal(v.envelope.sender.confluxId, a.confluxId);

    // A second login of the same conflux keeps its overlay IP.
    const again = await g.client.sessionLogin({
      token: a.token,
      mldsaPublicKey: keyPair().publicKey,
      nkey: createUser().getPublicKey(),
    });
    assert.equal(again.overlayIp, sa.overlayIp);
    assert.ok(formatIpv4(parseIpv4(again.overlayIp)!) === sa.overlayIp);
  } finally {
    for (const c of clients) await c.close();
    await g.stop();
  }
});

Deno.test("guardian flow: the subprocess Guardian serves the same API", async () => {
  const g = await startGuardian({ mode: "subprocess", sessionTtlSec: 30 });
  try {
    assert.ok(g.pid !== null && g.pid > 0);
    const realm = await createRealm(g);
    const c = await registerConflux(g, realm);
    const client = await ControlClient.connect({
      guardian: g.client,
      confluxToken: c.token,
      mldsaPublicKey: keyPair().publicKey,
    });
    try {
      assert.equal(client.session.confluxId, c.confluxId);
      const health = await g.client.call("GET", "/health") as { status: string; nats: boolean };
      assert.deepEqual(health, { status: "ok", nats: true });
    } finally {
      await client.close();
    }
  } finally {
    await g.stop();
  }
});
