// Session lifetime against a real nats-server: an expired JWT is disconnected by the server;
// ControlClient renews over HTTP before expiry and keeps its subscriptions; a revoked conflux
// token gets no new session and the client ends.
import assert from "node:assert/strict";
import { connect } from "@nats-io/transport-node";
import { jwtAuthenticator } from "@nats-io/nats-core";
import { createUser } from "@nats-io/nkeys";
import { generateSigningKeyPair } from "../core/crypto/mldsa.ts";
import { ControlClient, type ControlClientOptions } from "../core/control/control_client.ts";
import { GuardianApiError, type Session } from "../core/control/guardian_client.ts";
import { controlSubject } from "../core/control/subjects.ts";
import { verifyCertificate } from "../core/wire/certificate.ts";
import { mintUserJwt } from "../guardian/nats_auth.ts";
import { startGuardianServer } from "../guardian/server.ts";
import { createRealm, registerConflux, startGuardian } from "./helpers/guardian.ts";
import { type NatsServer, startNatsServer } from "./helpers/nats_server.ts";

// These tests stop and restart nats-server under live NATS clients (the in-process Guardian's
// too): nats.js can then flush its queue onto a socket that already ended, which Deno raises as an
// uncaught "write after end"; nats.js reconnects by itself (the node contains such errors, see
// core/process/stray_errors.ts). Only that error is let pass; any other still fails the file.
globalThis.addEventListener("error", (e: ErrorEvent) => {
  if ((e.error as Error | undefined)?.message === "write after end") e.preventDefault();
});

const enc = new TextEncoder();
const dec = new TextDecoder();

function publicKey(): Uint8Array {
  return generateSigningKeyPair(crypto.getRandomValues(new Uint8Array(32))).publicKey;
}

/** A ControlClient for the conflux token `token` on the test Guardian `g`. */
function connectClient(
  g: Awaited<ReturnType<typeof startGuardian>>,
  token: string,
  extra: Partial<ControlClientOptions> = {},
): Promise<ControlClient> {
  return ControlClient.connect({
    guardian: g.client,
    confluxToken: token,
    mldsaPublicKey: publicKey(),
    ...extra,
  });
}

/** `p`, or a rejection naming `what` after `ms` (a hang guard, not a timing assertion). */
async function within<T>(p: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  try {
    return await Promise.race([
      p,
      new Promise<never>((_, reject) => {
        timer = setTimeout(() => reject(new Error(`${what}: not within ${ms} ms`)), ms);
      }),
    ]);
  } finally {
    clearTimeout(timer);
  }
}

Deno.test("refresh: nats-server disconnects a client whose JWT expired", async () => {
  const g = await startGuardian({ sessionTtlSec: 2 });
  try {
    const realm = await createRealm(g);
    const c = await registerConflux(g, realm);
    const nkey = createUser();
    const session = await g.client.sessionLogin({
      token: c.token,
      mldsaPublicKey: publicKey(),
      nkey: nkey.getPublicKey(),
    });
    const nc = await connect({
      servers: session.natsUrls,
      inboxPrefix: session.inboxPrefix,
      authenticator: jwtAuthenticator(session.natsJwt, nkey.getSeed()),
      reconnect: false,
    });
    const errors: string[] = [];
    (async () => {
      for await (const s of nc.status()) if (s.type === "error") errors.push(s.error.message);
    })().catch(() => {});
    const reason = await within(nc.closed(), 15_000, "expired connection closed");
    const text = [String(reason), ...errors].join(" ");
    assert.match(text, /expired/i);
  } finally {
    await g.stop();
  }
});

Deno.test("refresh: ControlClient renews before expiry and keeps its subscriptions", async () => {
  const g = await startGuardian({ sessionTtlSec: 2 });
  const clients: ControlClient[] = [];
  try {
    const realm = await createRealm(g);
    const a = await registerConflux(g, realm);
    const b = await registerConflux(g, realm);
    const ca = await connectClient(g, a.token);
    clients.push(ca);
    const first = ca.session;
    const renewed: Session[] = [];
    const twoRenewals = new Promise<void>((resolve) => {
      ca.onSession((s) => {
        renewed.push(s);
        if (renewed.length >= 2 && Date.now() > first.expiresAt) resolve();
      });
    });
    const sub = ca.subscribe(controlSubject(realm.realmId, a.confluxId));
    const got: string[] = [];
    const reading = (async () => {
      for await (const m of sub) {
        got.push(dec.decode(m.data));
        if (got.length === 2) break;
      }
    })();
    await ca.flush();

    const cb = await connectClient(g, b.token);
    clients.push(cb);
    cb.publish(controlSubject(realm.realmId, a.confluxId), enc.encode("before"));
    await cb.flush();

    await within(twoRenewals, 20_000, "two session renewals past the first expiry");
    assert.ok(renewed.every((s) => s.confluxId === a.confluxId));
    assert.ok(renewed[renewed.length - 1].expiresAt > first.expiresAt);
    assert.notEqual(renewed[0].natsJwt, first.natsJwt);
    assert.equal(renewed[0].overlayIp, first.overlayIp);

    // The subscription made under the first (now expired) JWT still delivers. Core NATS may
    // lose a message published during the reconnect gap, so publish until one arrives.
    const delivered = (async () => {
      while (got.length < 2) {
        cb.publish(controlSubject(realm.realmId, a.confluxId), enc.encode("after"));
        await new Promise((r) => setTimeout(r, 100));
      }
    })();
    await within(Promise.all([reading, delivered]), 10_000, "delivery after renewal");
    assert.deepEqual(got, ["before", "after"]);
    assert.equal(ca.revoked, false);
  } finally {
    for (const c of clients) await c.close();
    await g.stop();
  }
});

Deno.test("refresh: a revoked conflux token gets no new session and the client ends", async () => {
  const g = await startGuardian({ sessionTtlSec: 2 });
  try {
    const realm = await createRealm(g);
    const a = await registerConflux(g, realm);
    const ca = await connectClient(g, a.token);
    try {
      await g.client.unregister(a.token);
      const reason = await within(ca.closed(), 15_000, "revoked client closed");
      assert.equal(reason.reason, "revoked");
      assert.equal(ca.revoked, true);
      const refused = await g.client.sessionLogin({
        token: a.token,
        mldsaPublicKey: publicKey(),
        nkey: createUser().getPublicKey(),
      }).then(() => null, (err) => err);
      assert.ok(refused instanceof GuardianApiError);
      assert.equal(refused.status, 401);
      assert.equal(refused.message, "conflux token revoked");
      await assert.rejects(
        connectClient(g, a.token),
        (err: unknown) => err instanceof GuardianApiError && err.status === 401,
      );
    } finally {
      await ca.close();
    }
  } finally {
    await g.stop();
  }
});

Deno.test("refresh: revoking a conflux cuts its NATS connection at once, not at JWT expiry", async () => {
  // A 10-minute session: without the Guardian's account update the revoked client would keep
  // its connection for that long.
  const g = await startGuardian({ sessionTtlSec: 600 });
  const clients: ControlClient[] = [];
  try {
    await g.server!.revoker!.ready();
    const realm = await createRealm(g);
    const [a, b] = [await registerConflux(g, realm), await registerConflux(g, realm)];
    const ca = await connectClient(g, a.token);
    const cb = await connectClient(g, b.token);
    clients.push(ca, cb);
    assert.ok(ca.online && cb.online);
    const started = Date.now();
    await g.client.unregister(a.token);
    const reason = await within(ca.closed(), 10_000, "revoked client cut off");
    assert.equal(reason.reason, "revoked");
    console.log(`revoked client cut off after ${Date.now() - started} ms`);
    assert.equal(g.server!.store.natsRevocations(Date.now()).length, 1);
    // The other conflux keeps its connection and can still talk.
    await cb.flush();
    assert.ok(cb.online, "a conflux that was not revoked lost its connection");
  } finally {
    for (const c of clients) await c.close();
    await g.stop();
  }
});

Deno.test("refresh: a restarted nats-server still refuses a revoked session (the Guardian re-pushes)", async () => {
  const g = await startGuardian({ sessionTtlSec: 600 });
  let restarted: NatsServer | null = null;
  try {
    await g.server!.revoker!.ready();
    const realm = await createRealm(g);
    const a = await registerConflux(g, realm);
    const user = createUser();
    const session = await g.client.sessionLogin({
      token: a.token,
      mldsaPublicKey: publicKey(),
      nkey: user.getPublicKey(),
    });
    const dial = () =>
      connect({
        servers: g.natsUrls,
        authenticator: jwtAuthenticator(session.natsJwt, user.getSeed()),
        maxReconnectAttempts: 0,
        timeout: 2000,
      });
    const first = await dial();
    await g.client.unregister(a.token);
    await within(first.closed(), 10_000, "revoked session disconnected");

    // The server forgets pushed account updates when it restarts; its config has none. The
    // session's JWT is still valid for ten minutes, so only the Guardian's re-push refuses it.
    await g.nats!.stop();
    restarted = await startNatsServer(g.nats!.configPath);
    let refused = false;
    for (let i = 0; i < 50 && !refused; i++) {
      try {
        const nc = await dial();
        await nc.close();
        await new Promise((r) => setTimeout(r, 200));
      } catch (err) {
        refused = /authorization violation|revoked/i.test((err as Error).message);
      }
    }
    assert.ok(refused, "the restarted server accepted a revoked session");
  } finally {
    await restarted?.stop();
    await g.stop();
  }
});

Deno.test("refresh: a portal's subnets reach the certificate; setSubnets changes the next one", async () => {
  const g = await startGuardian({ sessionTtlSec: 2 });
  const clients: ControlClient[] = [];
  try {
    // The realm approves these networks in advance (portal networks need an approval).
    const realm = await createRealm(g, { subnet: "100.64.0.0/24", autoApprove: ["198.18.0.0/15"] });
    const a = await registerConflux(g, realm);
    const certified = (s: Session) =>
      verifyCertificate(s.certificate, s.guardianPublicKey, Date.now()).subnets;
    const first = ["198.18.0.0/16"];
    const ca = await connectClient(g, a.token, { portal: true, subnets: first });
    clients.push(ca);
    assert.deepEqual(ca.session.subnets, first);
    assert.deepEqual(certified(ca.session), first);

    // Lists the Guardian would refuse are refused at once and change nothing.
    assert.throws(() => ca.setSubnets(["100.64.0.0/25"]), /overlaps the realm subnet/);
    assert.throws(() => ca.setSubnets(["198.18.0.1/16"]), /host bits set/);
    const next = ["198.19.4.0/24", "198.18.128.0/17"];
    const renewed = new Promise<Session>((resolve) => ca.onSession(resolve));
    ca.setSubnets(next);
    const session = await within(renewed, 15_000, "session renewal");
    assert.deepEqual(session.subnets, next);
    assert.deepEqual(certified(session), next);

    // A non-portal cannot take subnets.
    const b = await registerConflux(g, realm);
    const cb = await connectClient(g, b.token);
    clients.push(cb);
    assert.deepEqual(cb.session.subnets, []);
    assert.throws(() => cb.setSubnets(["198.18.0.0/16"]), RangeError);
    cb.setSubnets([]);
  } finally {
    for (const c of clients) await c.close();
    await g.stop();
  }
});

Deno.test("refresh: after a Guardian outage past expiry the client comes back with its subscriptions", async () => {
  const g = await startGuardian({ sessionTtlSec: 2 });
  const silent = { debug() {}, info() {}, warn() {}, error() {} };
  let restarted: Awaited<ReturnType<typeof startGuardianServer>> | null = null;
  let ca: ControlClient | null = null;
  let sender: Awaited<ReturnType<typeof connect>> | null = null;
  try {
    const realm = await createRealm(g);
    const a = await registerConflux(g, realm);
    ca = await connectClient(g, a.token);
    const got: string[] = [];
    const sub = ca.subscribe(controlSubject(realm.realmId, a.confluxId));
    (async () => {
      for await (const m of sub) got.push(dec.decode(m.data));
    })().catch(() => {});
    await ca.flush();

    // A long-lived publisher of the realm, independent of the Guardian being up.
    const nkey = createUser();
    const jwt = await mintUserJwt(g.server!.keys, {
      nkey: nkey.getPublicKey(),
      name: "test-sender",
      permissions: { pub: { allow: ["vn.>"] }, sub: { deny: [">"] } },
    });
    sender = await connect({
      servers: g.natsUrls,
      authenticator: jwtAuthenticator(jwt, nkey.getSeed()),
    });

    // Outage: the Guardian goes away until well after A's session expired.
    const port = g.server!.port;
    const expiry = ca.session.expiresAt;
    await g.server!.close();
    while (Date.now() < expiry + 1500) await new Promise((r) => setTimeout(r, 100));
    assert.equal(ca.online, false, "the client took its connection down at expiry");
    const renewed = new Promise<Session>((resolve) => ca!.onSession(resolve));
    restarted = await startGuardianServer({
      dataDir: g.dataDir,
      port,
      natsUrls: g.natsUrls,
      sessionTtlSec: 2,
      log: silent,
    });
    const s = await within(renewed, 30_000, "renewal after the outage");
    assert.ok(s.expiresAt > expiry);
    const delivered = (async () => {
      while (!got.includes("after outage")) {
        sender!.publish(controlSubject(realm.realmId, a.confluxId), enc.encode("after outage"));
        await new Promise((r) => setTimeout(r, 100));
      }
    })();
    await within(delivered, 15_000, "delivery after the outage");
    assert.equal(ca.revoked, false);
  } finally {
    await ca?.close();
    await sender?.close();
    await restarted?.close();
    await g.stop();
  }
});

Deno.test("refresh: setSubnets with renewNow renews the session at once", async () => {
  // Sessions of 120 s: the scheduled renewal is ~72 s away, so one within 10 s is renewNow's.
  const g = await startGuardian({ sessionTtlSec: 120 });
  let client: ControlClient | undefined;
  try {
    const realm = await createRealm(g, { subnet: "100.64.0.0/24", autoApprove: ["198.18.0.0/15"] });
    client = await connectClient(g, (await registerConflux(g, realm)).token, { portal: true });
    const renewed = new Promise<Session>((resolve) => client!.onSession(resolve));
    client.setSubnets(["198.19.9.0/24"], { renewNow: true });
    const session = await within(renewed, 10_000, "renewal after setSubnets");
    assert.deepEqual(session.subnets, ["198.19.9.0/24"]);
  } finally {
    await client?.close();
    await g.stop();
  }
});

Deno.test("refresh: status() follows the channel through a nats-server restart and a revocation", async () => {
  const g = await startGuardian({ sessionTtlSec: 600 });
  let restarted: NatsServer | null = null;
  let client: ControlClient | null = null;
  const waitState = async (want: string, what: string) => {
    for (let i = 0; i < 150 && client!.status().state !== want; i++) {
      await new Promise((r) => setTimeout(r, 100));
    }
    assert.equal(client!.status().state, want, what);
  };
  try {
    const realm = await createRealm(g);
    const a = await registerConflux(g, realm);
    client = await connectClient(g, a.token);
    const up = client.status();
    assert.equal(up.state, "connected");
    assert.ok(up.session_expires_at > Date.now() + 500_000, JSON.stringify(up));
    assert.ok(up.last_guardian_contact_at <= Date.now());
    assert.equal(up.last_renewal_error, undefined);
    await g.nats!.stop();
    await waitState("reconnecting", "nats-server stopped");
    const down = client.status();
    assert.ok(down.since >= up.since);
    restarted = await startNatsServer(g.nats!.configPath);
    await waitState("connected", "nats-server back");
    await g.client.unregister(a.token);
    // The revocation cuts the connection; the renewal it triggers is refused.
    for (let i = 0; i < 150 && !client.status().revoked; i++) {
      await new Promise((r) => setTimeout(r, 100));
    }
    assert.equal(client.status().revoked, true, JSON.stringify(client.status()));
    assert.match(client.status().last_renewal_error ?? "", /HTTP 40[134]/);
  } finally {
    await client?.close();
    await restarted?.stop();
    await g.stop();
  }
});
