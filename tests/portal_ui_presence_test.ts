/**
 * Issue 14, presence: the Guardian learns who is online from the Master itself (a real
 * nats-server): a conflux's NATS connection turns it online, closing it turns it offline with a
 * last-seen time; a Guardian started while a conflux is connected finds it through CONNZ; a
 * client that names itself after another conflux is not taken for it.
 */
import assert from "node:assert/strict";
import { connect } from "@nats-io/transport-node";
import { jwtAuthenticator } from "@nats-io/nats-core";
import { createUser } from "@nats-io/nkeys";
import { encodeBase64 } from "../core/control/base64.ts";
import { MLDSA_PUBLIC_KEY_LENGTH } from "../core/crypto/mldsa.ts";
import { Presence } from "../guardian/domain/presence.ts";
import { startGuardian, type TestGuardian } from "./helpers/guardian.ts";

const silent = { debug() {}, info() {}, warn() {}, error() {} };

async function api(g: TestGuardian, method: string, path: string, body: unknown, bearer?: string) {
  const res = await fetch(g.url + path, {
    method,
    headers: {
      "content-type": "application/json",
      ...(bearer ? { authorization: `Bearer ${bearer}` } : {}),
    },
    body: JSON.stringify(body),
  });
  const out = await res.json();
  assert.ok(res.ok, JSON.stringify(out));
  return out;
}

/** Registers a conflux and opens its NATS connection with a fresh session. */
async function onlineConflux(g: TestGuardian, access: string, realmId: string, name?: string) {
  const reg = await api(g, "POST", "/auth/create/registration-token", {
    realm_id: realmId,
    expires_after: 1,
  }, access);
  const c = await api(g, "POST", "/conflux/register", { registration_token: reg.token });
  const user = createUser();
  const session = await api(g, "POST", "/conflux/session/login", {
    token: c.token,
    mldsa_public_key: encodeBase64(new Uint8Array(MLDSA_PUBLIC_KEY_LENGTH)),
    nkey: user.getPublicKey(),
  });
  const nc = await connect({
    servers: g.natsUrls,
    name: name ?? c.conflux_id,
    authenticator: jwtAuthenticator(session.nats_jwt, user.getSeed()),
  });
  return { id: String(c.conflux_id), nc };
}

async function until(what: string, fn: () => boolean, ms = 5000): Promise<void> {
  const deadline = Date.now() + ms;
  while (!fn()) {
    if (Date.now() > deadline) throw new Error(`timed out: ${what}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

Deno.test({
  name: "presence: online and offline from the Master's events; CONNZ at start; names not trusted",
  ignore: (() => {
    try {
      return !Deno.statSync("/usr/sbin/nats-server").isFile;
    } catch {
      return true;
    }
  })(),
  fn: async () => {
    const g = await startGuardian();
    const later: Presence[] = [];
    try {
      const presence = g.server!.presence!;
      await presence.ready();
      await g.client.signup("p@example.test", "a long passphrase");
      const access = await g.client.login("p@example.test", "a long passphrase");
      const realm = await api(g, "POST", "/realm", { name: "p", subnet: "100.64.0.0/24" }, access);
      const versionBefore = g.server!.changes.version;
      const a = await onlineConflux(g, access, realm.id);
      await until("a online", () => presence.online(a.id));
      assert.ok(g.server!.changes.version > versionBefore, "going online is announced");

      // Another conflux calling itself `a` is itself, not `a`.
      const b = await onlineConflux(g, access, realm.id, a.id);
      await until("b online", () => presence.online(b.id));
      await a.nc.close();
      await until("a offline", () => !presence.online(a.id));
      assert.ok(presence.online(b.id));
      const seen = presence.lastSeen(a.id);
      assert.ok(seen !== null && Date.now() - seen < 10_000, `last seen ${seen}`);
      assert.equal(g.server!.store.confluxById(a.id)?.lastSeenAt, seen, "kept in the database");

      // A Guardian started now learns that b is online from CONNZ, without a new connect.
      const fresh = await Presence.start({
        keys: g.server!.keys,
        servers: g.natsUrls,
        log: silent,
        store: g.server!.store,
        now: Date.now,
      });
      later.push(fresh);
      await fresh.ready();
      assert.equal(fresh.online(b.id), true, "CONNZ did not show the connected conflux");
      assert.equal(fresh.online(a.id), false);
      await b.nc.close();
      await until("b offline", () => !fresh.online(b.id) && !presence.online(b.id));
    } finally {
      for (const p of later) await p.close();
      await g.stop();
    }
  },
});
