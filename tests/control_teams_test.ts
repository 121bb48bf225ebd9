// Team keys against the real Guardian and nats-server: sessions carry the keys of the conflux's
// teams; adding a team pushes it at once; removing a conflux or a member rotates the key and
// pushes the new set to the team's running confluxes; forged or replayed pushes are ignored.
import assert from "node:assert/strict";
import { generateSigningKeyPair } from "../core/crypto/mldsa.ts";
import { ControlClient } from "../core/control/control_client.ts";
import { GuardianApiError } from "../core/control/guardian_client.ts";
import { teamsSubject } from "../core/control/subjects.ts";
import { sealTeamKeys, type TeamKey } from "../core/control/team_keys.ts";
import { createRealm, registerConflux, startGuardian } from "./helpers/guardian.ts";

function keyPair() {
  return generateSigningKeyPair(crypto.getRandomValues(new Uint8Array(32)));
}

/** Collects team updates of a client; `next()` waits for the next one (hang-guarded). */
function teamUpdates(client: ControlClient) {
  const queue: TeamKey[][] = [];
  let wake: (() => void) | null = null;
  client.onTeams((teams) => {
    queue.push(teams);
    wake?.();
  });
  return {
    async next(): Promise<TeamKey[]> {
      const deadline = Date.now() + 10_000;
      while (queue.length === 0) {
        if (Date.now() > deadline) throw new Error("no team update within 10 s");
        await new Promise<void>((r) => {
          wake = r;
          setTimeout(r, 200);
        });
      }
      return queue.shift()!;
    },
    pending: () => queue.length,
  };
}

Deno.test("teams: keys in sessions, pushed on add, rotated and pushed on removal", async () => {
  const g = await startGuardian({ sessionTtlSec: 60 });
  const clients: ControlClient[] = [];
  try {
    const owner = await createRealm(g, { subnet: "100.64.10.0/24" });
    const dev = await g.client.createTeam(owner.accessToken, "dev");
    const ops = await g.client.createTeam(owner.accessToken, "ops");

    // A asks for dev and a team its owner does not have: the latter is ignored.
    const regA = await g.client.register({
      registrationToken: (await g.client.createRegistrationToken(owner.accessToken, {
        realmId: owner.realmId,
        expiresAfterDays: 1,
      })).token,
      teams: ["dev", "nonexistent"],
    });
    assert.deepEqual(regA.ignoredTeams, ["nonexistent"]);
    const regC = await registerConflux(g, owner, { teams: [dev] });

    // A member in another realm: B holds dev through its owner's membership.
    const member = await createRealm(g, { subnet: "100.64.11.0/24" });
    const inv = await g.client.inviteMember(owner.accessToken, {
      teamId: dev,
      email: member.email,
    });
    const pending = await g.client.listInvitations(member.accessToken);
    assert.deepEqual(pending, [{ invitationId: inv, teamId: dev, teamName: "dev" }]);
    await g.client.acceptInvitation(member.accessToken, inv);
    assert.deepEqual(await g.client.listInvitations(member.accessToken), []);
    const regB = await registerConflux(g, member, { teams: ["dev"] });

    const connect = async (token: string) => {
      const c = await ControlClient.connect({
        guardian: g.client,
        confluxToken: token,
        mldsaPublicKey: keyPair().publicKey,
      });
      clients.push(c);
      return c;
    };
    const ca = await connect(regA.token);
    const cb = await connect(regB.token);
    const cc = await connect(regC.token);
    const ua = teamUpdates(ca);
    const ub = teamUpdates(cb);
    const uc = teamUpdates(cc);

    assert.deepEqual(ca.teams.map((t) => [t.teamId, t.name, t.version]), [[dev, "dev", 1]]);
    assert.equal(ca.teams[0].key.length, 32);
    const devKey1 = ca.teams[0].key;
    assert.deepEqual(cb.teams[0].key, devKey1, "every holder gets the same team key");
    assert.deepEqual(cc.teams[0].key, devKey1);

    // A's own token cannot add a team (issue 19); its owner can, and A gets its new set at once.
    const selfGranted = await g.client.addConfluxTeam(regA.token, {
      confluxId: regA.confluxId,
      team: "ops",
    }).then(() => null, (e) => e);
    assert.ok(selfGranted instanceof GuardianApiError);
    assert.equal(selfGranted.status, 403);
    await g.client.addConfluxTeam(owner.accessToken, { confluxId: regA.confluxId, team: "ops" });
    const afterAdd = await ua.next();
    assert.deepEqual(afterAdd.map((t) => t.name).sort(), ["dev", "ops"]);
    assert.deepEqual(afterAdd.find((t) => t.teamId === ops)?.version, 1);

    // B's owner is not in ops: refused.
    const refused = await g.client.addConfluxTeam(member.accessToken, {
      confluxId: regB.confluxId,
      team: ops,
    }).then(() => null, (e) => e);
    assert.ok(refused instanceof GuardianApiError);
    assert.equal(refused.status, 403);

    // Removing dev from C rotates dev: A and B get version 2 with a new key, C loses dev.
    await g.client.removeConfluxTeam(owner.accessToken, { confluxId: regC.confluxId, team: dev });
    const [pa, pb, pc] = [await ua.next(), await ub.next(), await uc.next()];
    const devA = pa.find((t) => t.teamId === dev)!;
    assert.equal(devA.version, 2);
    assert.notDeepEqual(devA.key, devKey1);
    assert.deepEqual(pb.find((t) => t.teamId === dev)?.key, devA.key);
    assert.deepEqual(pc, []);
    assert.deepEqual(ca.teams.find((t) => t.teamId === dev)?.version, 2, "applied");

    // Removing B's owner from dev rotates again; B loses dev, A gets version 3.
    await g.client.removeMember(owner.accessToken, { teamId: dev, email: member.email });
    const [pa3, pb3] = [await ua.next(), await ub.next()];
    assert.equal(pa3.find((t) => t.teamId === dev)?.version, 3);
    assert.deepEqual(pb3, []);

    // A forged push (signed by a conflux's own key) and a replay of an old genuine push are
    // both ignored; A's keys stay as they are.
    const before = ca.teams;
    const forger = keyPair();
    cc.publish(
      teamsSubject(owner.realmId, regA.confluxId),
      sealTeamKeys({
        confluxId: regA.confluxId,
        realmId: owner.realmId,
        issuedAt: Date.now() + 60_000,
        teams: [{ teamId: dev, name: "dev", version: 99, key: new Uint8Array(32) }],
      }, forger.secretKey),
    );
    // A correctly signed but stale update (an old push replayed) is ignored too.
    cc.publish(
      teamsSubject(owner.realmId, regA.confluxId),
      sealTeamKeys({
        confluxId: regA.confluxId,
        realmId: owner.realmId,
        issuedAt: 1,
        teams: [{ teamId: dev, name: "dev", version: 1, key: devKey1 }],
      }, g.server!.keys.identity.secretKey),
    );
    await cc.flush();
    // A genuine push to A afterwards (on the same subscription, so after the forged one)
    // is the next update A applies: the forged one was dropped.
    await g.client.removeConfluxTeam(owner.accessToken, { confluxId: regA.confluxId, team: ops });
    const genuine = await ua.next();
    assert.deepEqual(genuine.map((t) => [t.teamId, t.version]), [[dev, 3]]);
    assert.deepEqual(genuine[0].key, before.find((t) => t.teamId === dev)?.key);
    assert.equal(ua.pending(), 0);
    assert.deepEqual(ca.teams, genuine);
  } finally {
    for (const c of clients) await c.close();
    await g.stop();
  }
});

Deno.test("teams: unregistering a conflux rotates its teams for the others", async () => {
  const g = await startGuardian({ sessionTtlSec: 60 });
  const clients: ControlClient[] = [];
  try {
    const owner = await createRealm(g);
    const dev = await g.client.createTeam(owner.accessToken, "dev");
    const a = await registerConflux(g, owner, { teams: [dev] });
    const b = await registerConflux(g, owner, { teams: [dev] });
    const ca = await ControlClient.connect({
      guardian: g.client,
      confluxToken: a.token,
      mldsaPublicKey: keyPair().publicKey,
    });
    clients.push(ca);
    const ua = teamUpdates(ca);
    const v1 = ca.teams[0];
    await g.client.unregister(b.token);
    const next = await ua.next();
    assert.equal(next[0].version, v1.version + 1);
    assert.notDeepEqual(next[0].key, v1.key);
  } finally {
    for (const c of clients) await c.close();
    await g.stop();
  }
});
