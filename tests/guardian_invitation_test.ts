// Team invitations lapse after seven days: an expired one is no longer listed and cannot be
// accepted (410, with what to do), while a fresh one still works.
import assert from "node:assert/strict";
import { GuardianApiError } from "../core/control/guardian_client.ts";
import { INVITATION_TTL_MS } from "../guardian/api.ts";
import {
  createRealm,
  startGuardian,
  type TestGuardian,
  type TestRealm,
} from "./helpers/guardian.ts";

async function login(g: TestGuardian, user: TestRealm): Promise<string> {
  const r = await g.client.call("POST", "/auth/login", {
    body: { email: user.email, password: user.password },
  }) as { access_token: string };
  return r.access_token;
}

Deno.test("invitations: listed and accepted within seven days, refused after", async () => {
  const g = await startGuardian({ nats: false });
  try {
    const owner = await createRealm(g, { subnet: "100.64.20.0/24" });
    const member = await createRealm(g, { subnet: "100.64.21.0/24" });
    const team = await g.client.createTeam(owner.accessToken, "ops");
    const stale = await g.client.inviteMember(owner.accessToken, {
      teamId: team,
      email: member.email,
    });
    const raw = await g.client.call("GET", "/org/team/invite/list", {
      bearer: member.accessToken,
    }) as Array<{ invitation_id: string; created_at: number; expires_at: number }>;
    assert.equal(raw.length, 1);
    assert.equal(raw[0].expires_at - raw[0].created_at, INVITATION_TTL_MS);

    // Seven days on, access tokens (24 h) have lapsed too: both log in again.
    g.clock.offsetMs = INVITATION_TTL_MS + 60_000;
    const [ownerToken, memberToken] = [await login(g, owner), await login(g, member)];
    assert.deepEqual(await g.client.listInvitations(memberToken), []);
    const refused = await g.client.acceptInvitation(memberToken, stale).then(() => null, (e) => e);
    assert.ok(refused instanceof GuardianApiError);
    assert.equal(refused.status, 410);
    assert.match(refused.message, /invitation expired: ask the team owner for a new one/);

    const fresh = await g.client.inviteMember(ownerToken, { teamId: team, email: member.email });
    const listed = await g.client.listInvitations(memberToken);
    assert.deepEqual(listed.map((i) => i.invitationId), [fresh]);
    await g.client.acceptInvitation(memberToken, fresh);
  } finally {
    await g.stop();
  }
});
