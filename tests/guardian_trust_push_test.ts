// Issue 19 (trust) against a real Guardian and nats-server: an approval or denial of portal
// networks reaches the running portal at once; removing a conflux by its owner cuts its NATS
// session and rotates its teams; team-key pushes stay in order across a Guardian restarted with
// its clock behind; a client pinned to another Guardian key gets no session.
import assert from "node:assert/strict";
import { ControlClient } from "../core/control/control_client.ts";
import {
  GuardianClient,
  guardianKeyFingerprint,
  GuardianKeyMismatchError,
  type Session,
} from "../core/control/guardian_client.ts";
import { controlSubject } from "../core/control/subjects.ts";
import type { TeamKey } from "../core/control/team_keys.ts";
import { generateSigningKeyPair } from "../core/crypto/mldsa.ts";
import { verifyCertificate } from "../core/wire/certificate.ts";
import { startGuardianServer } from "../guardian/server.ts";
import { createRealm, registerConflux, startGuardian } from "./helpers/guardian.ts";

const silent = { debug() {}, info() {}, warn() {}, error() {} };

function publicKey(): Uint8Array {
  return generateSigningKeyPair(crypto.getRandomValues(new Uint8Array(32))).publicKey;
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

/**
 * The next session `client` renews to, once its NATS connection is back with the new JWT (a
 * renewal reconnects; core NATS drops what is published to a conflux in that 10–20 ms gap).
 */
async function nextSession(client: ControlClient): Promise<Session> {
  const session = await new Promise<Session>((resolve) => {
    const off = client.onSession((s) => {
      off();
      resolve(s);
    });
  });
  await reconnected(client);
  return session;
}

/** Resolves once `client` receives what it publishes to its own ctl subject (connection up). */
async function reconnected(client: ControlClient): Promise<void> {
  const subject = controlSubject(client.session.realmId, client.session.confluxId);
  const sub = client.subscribe(subject);
  const marker = crypto.randomUUID();
  const heard = (async () => {
    for await (const m of sub) if (new TextDecoder().decode(m.data) === marker) return;
  })();
  let done = false;
  heard.finally(() => done = true);
  try {
    await within(
      (async () => {
        while (!done) {
          client.publish(subject, new TextEncoder().encode(marker));
          await new Promise((r) => setTimeout(r, 50));
        }
      })(),
      10_000,
      "connection back after renewal",
    );
  } finally {
    sub.unsubscribe();
  }
}

/** The next team-key set pushed to `client`. */
function nextTeams(client: ControlClient): Promise<TeamKey[]> {
  return new Promise((resolve) => {
    const off = client.onTeams((t) => {
      off();
      resolve(t);
    });
  });
}

const certified = (s: Session) =>
  verifyCertificate(s.certificate, s.guardianPublicKey, Date.now()).subnets;

Deno.test("trust 2: an approval or denial reaches the running portal at once", async () => {
  // 10-minute sessions: a renewal within seconds is the Guardian's push, not the schedule.
  const g = await startGuardian({ sessionTtlSec: 600 });
  let portal: ControlClient | undefined;
  try {
    const realm = await createRealm(g, { subnet: "100.64.0.0/24" });
    const p = await registerConflux(g, realm, { tag: "portal" });
    const [LAN, LAB] = ["192.0.2.0/24", "198.18.7.0/24"];
    portal = await ControlClient.connect({
      guardian: g.client,
      confluxToken: p.token,
      mldsaPublicKey: publicKey(),
      portal: true,
      subnets: [LAN, LAB],
      log: silent,
    });
    assert.deepEqual(certified(portal.session), [], "nothing approved yet");
    assert.deepEqual(portal.session.pendingSubnets, [LAN, LAB]);

    const approved = nextSession(portal);
    await g.client.approveSubnets(realm.accessToken, { confluxId: p.confluxId, subnets: [LAN] });
    const s1 = await within(approved, 10_000, "renewal after the approval");
    assert.deepEqual(certified(s1), [LAN]);
    assert.deepEqual(s1.pendingSubnets, [LAB]);

    const policy = nextSession(portal);
    await g.client.setRealmPolicy(realm.accessToken, {
      realmId: realm.realmId,
      autoApprove: ["198.18.0.0/15"],
    });
    assert.deepEqual(certified(await within(policy, 10_000, "renewal after the policy")), [
      LAN,
      LAB,
    ]);

    const denied = nextSession(portal);
    await g.client.denySubnets(realm.accessToken, { confluxId: p.confluxId, subnets: [LAN] });
    const s3 = await within(denied, 10_000, "renewal after the denial");
    assert.deepEqual(certified(s3), [LAB]);
    assert.deepEqual(s3.deniedSubnets, [LAN]);
    assert.ok(portal.online, "the portal stayed connected throughout");
  } finally {
    await portal?.close();
    await g.stop();
  }
});

Deno.test("trust 3: the owner removes a conflux: its NATS session is cut, its teams rotate", async () => {
  const g = await startGuardian({ sessionTtlSec: 600 });
  const clients: ControlClient[] = [];
  try {
    await g.server!.revoker!.ready();
    const realm = await createRealm(g);
    const dev = await g.client.createTeam(realm.accessToken, "dev");
    const a = await registerConflux(g, realm, { teams: [dev] });
    const b = await registerConflux(g, realm, { teams: [dev] });
    const connect = async (token: string) => {
      const c = await ControlClient.connect({
        guardian: g.client,
        confluxToken: token,
        mldsaPublicKey: publicKey(),
        log: silent,
      });
      clients.push(c);
      return c;
    };
    const [ca, cb] = [await connect(a.token), await connect(b.token)];
    const before = cb.teams[0];
    const rotated = nextTeams(cb);
    await g.client.removeConflux(realm.accessToken, a.confluxId);
    const reason = await within(ca.closed(), 10_000, "removed conflux cut off");
    assert.equal(reason.reason, "revoked");
    const after = await within(rotated, 10_000, "rotated key pushed to the teammate");
    assert.equal(after[0].teamId, dev);
    assert.equal(after[0].version, before.version + 1);
    assert.notDeepEqual(after[0].key, before.key);
    assert.ok(cb.online, "the teammate keeps its connection");
  } finally {
    for (const c of clients) await c.close();
    await g.stop();
  }
});

Deno.test("trust 4: pushes after a restart with the clock a day behind are still applied", async () => {
  const g = await startGuardian({ sessionTtlSec: 600 });
  let restarted: Awaited<ReturnType<typeof startGuardianServer>> | null = null;
  let client: ControlClient | undefined;
  try {
    const realm = await createRealm(g);
    await g.client.createTeam(realm.accessToken, "dev");
    await g.client.createTeam(realm.accessToken, "ops");
    const c = await registerConflux(g, realm, { teams: ["dev"] });
    client = await ControlClient.connect({
      guardian: g.client,
      confluxToken: c.token,
      mldsaPublicKey: publicKey(),
      log: silent,
    });
    const first = nextTeams(client);
    await g.client.addConfluxTeam(realm.accessToken, { confluxId: c.confluxId, team: "ops" });
    assert.deepEqual((await within(first, 10_000, "first push")).map((t) => t.name).sort(), [
      "dev",
      "ops",
    ]);

    // The same Guardian (database, keys, port) comes back with its clock a day behind.
    const port = g.server!.port;
    await g.server!.close();
    restarted = await startGuardianServer({
      dataDir: g.dataDir,
      port,
      natsUrls: g.natsUrls,
      sessionTtlSec: 600,
      log: silent,
      now: () => Date.now() - 86_400_000,
    });
    await restarted.publisher!.ready();
    // Removing ops must reach the conflux: a push the conflux dropped as stale would leave it
    // holding a team it no longer has.
    const second = nextTeams(client);
    await g.client.removeConfluxTeam(realm.accessToken, { confluxId: c.confluxId, team: "ops" });
    assert.deepEqual((await within(second, 10_000, "push after the restart")).map((t) => t.name), [
      "dev",
    ]);
    assert.deepEqual(client.teams.map((t) => t.name), ["dev"]);
  } finally {
    await client?.close();
    await restarted?.close();
    await g.stop();
  }
});

Deno.test("trust 9: a client pinned to another Guardian key gets no session", async () => {
  const g = await startGuardian({ sessionTtlSec: 600 });
  let client: ControlClient | undefined;
  try {
    const realm = await createRealm(g);
    const c = await registerConflux(g, realm);
    const real = guardianKeyFingerprint(g.server!.keys.identity.publicKey);
    const other = guardianKeyFingerprint(publicKey());
    const warnings: string[] = [];
    await assert.rejects(
      ControlClient.connect({
        guardian: new GuardianClient(g.url, {
          guardianKeySha256: other,
          warn: (m) => warnings.push(m),
        }),
        confluxToken: c.token,
        mldsaPublicKey: publicKey(),
        log: silent,
      }),
      (e: unknown) => e instanceof GuardianKeyMismatchError && e.presented === real,
    );
    assert.equal(warnings.length, 1);
    client = await ControlClient.connect({
      guardian: new GuardianClient(g.url, { guardianKeySha256: real }),
      confluxToken: c.token,
      mldsaPublicKey: publicKey(),
      log: silent,
    });
    assert.equal(client.session.confluxId, c.confluxId);
  } finally {
    await client?.close();
    await g.stop();
  }
});
