// The Master enforces the Guardian's permissions: a conflux cannot subscribe to another
// conflux's subjects or inbox, cannot publish into another realm, and a user JWT not signed by
// the Guardian's account is refused outright.
import assert from "node:assert/strict";
import { connect } from "@nats-io/transport-node";
import { jwtAuthenticator, type NatsConnection } from "@nats-io/nats-core";
import { encodeUser } from "@nats-io/jwt";
import { createAccount, createUser } from "@nats-io/nkeys";
import { generateSigningKeyPair } from "../core/crypto/mldsa.ts";
import { ControlClient } from "../core/control/control_client.ts";
import {
  controlSubject,
  discoverSubject,
  portalsSubject,
  teamsSubject,
} from "../core/control/subjects.ts";
import { createRealm, registerConflux, startGuardian } from "./helpers/guardian.ts";

const enc = new TextEncoder();

function publicKey(): Uint8Array {
  return generateSigningKeyPair(crypto.getRandomValues(new Uint8Array(32))).publicKey;
}

/** Resolves with the first error the iteration of `sub` ends with, or null if it ends cleanly. */
async function subscriptionError(sub: AsyncIterable<unknown>): Promise<Error | null> {
  try {
    for await (const _ of sub) {
      return null;
    }
    return null;
  } catch (err) {
    return err as Error;
  }
}

Deno.test("permissions: foreign subjects, inboxes and realms are refused by nats-server", async () => {
  const g = await startGuardian({ sessionTtlSec: 60 });
  const clients: ControlClient[] = [];
  try {
    const realm = await createRealm(g, { subnet: "100.64.1.0/24" });
    const other = await createRealm(g, { subnet: "100.64.2.0/24" });
    const [a, b] = [await registerConflux(g, realm), await registerConflux(g, realm)];
    const x = await registerConflux(g, other);
    const connectAs = async (token: string) => {
      const c = await ControlClient.connect({
        guardian: g.client,
        confluxToken: token,
        mldsaPublicKey: publicKey(),
      });
      clients.push(c);
      return c;
    };
    const ca = await connectAs(a.token);
    const cb = await connectAs(b.token);
    const cx = await connectAs(x.token);

    // Subscribing to B's control subject or B's inbox: the server refuses each.
    const spyCtl = ca.subscribe(controlSubject(realm.realmId, b.confluxId));
    const errCtl = await subscriptionError(spyCtl);
    assert.ok(errCtl, "subscription to another conflux's ctl must fail");
    assert.match(errCtl.message, /permissions violation/i);
    const spyInbox = ca.subscribe(`_INBOX.${b.confluxId}.>`);
    const errInbox = await subscriptionError(spyInbox);
    assert.ok(errInbox);
    assert.match(errInbox.message, /permissions violation/i);
    const spyAll = ca.subscribe(`vn.${realm.realmId}.>`);
    assert.match((await subscriptionError(spyAll))!.message, /permissions violation/i);
    // Portal announcements are realm-wide: another realm's are refused (this realm's below).
    const spyPortals = ca.subscribe(portalsSubject(other.realmId));
    assert.match((await subscriptionError(spyPortals))!.message, /permissions violation/i);

    // Publishing into another realm: refused, and its subscriber sees nothing; the same
    // publication inside A's realm reaches B (so the path itself works).
    const xDisc = cx.subscribe(discoverSubject(other.realmId));
    const bDisc = cb.subscribe(discoverSubject(realm.realmId));
    const bPortals = cb.subscribe(portalsSubject(realm.realmId));
    await cx.flush();
    await cb.flush();
    ca.publish(discoverSubject(other.realmId), enc.encode("intrusion"));
    ca.publish(discoverSubject(realm.realmId), enc.encode("hello"));
    ca.publish(portalsSubject(realm.realmId), enc.encode("portal"));
    await ca.flush();
    for await (const m of bDisc) {
      assert.equal(new TextDecoder().decode(m.data), "hello");
      break;
    }
    for await (const m of bPortals) {
      assert.equal(new TextDecoder().decode(m.data), "portal");
      break;
    }
    // Team-key pushes come only from the Guardian: A's publication on B's teams subject is
    // refused, while the same bytes on B's control subject arrive.
    const bTeams = cb.subscribe(teamsSubject(realm.realmId, b.confluxId));
    const teamsSeen: string[] = [];
    (async () => {
      for await (const m of bTeams) teamsSeen.push(new TextDecoder().decode(m.data));
    })().catch(() => {});
    const bCtl = cb.subscribe(controlSubject(realm.realmId, b.confluxId));
    await cb.flush();
    ca.publish(teamsSubject(realm.realmId, b.confluxId), enc.encode("forged push"));
    ca.publish(controlSubject(realm.realmId, b.confluxId), enc.encode("after"));
    await ca.flush();
    for await (const m of bCtl) {
      assert.equal(new TextDecoder().decode(m.data), "after");
      break;
    }
    await new Promise((r) => setTimeout(r, 300));
    assert.deepEqual(teamsSeen, []);

    // X got nothing: a canary published afterwards by X's own realm-mate path is the first.
    cx.publish(discoverSubject(other.realmId), enc.encode("canary"));
    for await (const m of xDisc) {
      assert.equal(new TextDecoder().decode(m.data), "canary");
      break;
    }
  } finally {
    for (const c of clients) await c.close();
    await g.stop();
  }
});

Deno.test("permissions: a JWT not signed by the Guardian's account is refused", async () => {
  const g = await startGuardian({ sessionTtlSec: 60 });
  let nc: NatsConnection | null = null;
  try {
    const user = createUser();
    const rogueAccount = createAccount();
    const jwt = await encodeUser("rogue", user, rogueAccount, {
      pub: { allow: [">"] },
      sub: { allow: [">"] },
    });
    await assert.rejects(
      async () => {
        nc = await connect({
          servers: g.natsUrls,
          authenticator: jwtAuthenticator(jwt, user.getSeed()),
          maxReconnectAttempts: 0,
          reconnect: false,
        });
      },
      (err: Error) => /authorization|auth/i.test(err.message),
    );
  } finally {
    if (nc) await (nc as NatsConnection).close();
    await g.stop();
  }
});
