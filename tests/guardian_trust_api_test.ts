// Issue 19 (trust), the Guardian's API against a real in-process Guardian and SQLite: who may add
// teams, approve portal networks, remove confluxes and log out; what a session certifies; the
// pinned key and password hashing. Every refusal leaves the database byte-for-byte unchanged.
import assert from "node:assert/strict";
import { scrypt } from "node:crypto";
import { createUser } from "@nats-io/nkeys";
import { decodeBase64, encodeBase64 } from "../core/control/base64.ts";
import { guardianKeyFingerprint } from "../core/control/guardian_client.ts";
import { generateSigningKeyPair } from "../core/crypto/mldsa.ts";
import { memoryLogger } from "../core/log/logger.ts";
import { verifyCertificate } from "../core/wire/certificate.ts";
import { subnetState } from "../guardian/api.ts";
import {
  createRealm,
  registerConflux,
  startGuardian,
  type TestGuardian,
  type TestRealm,
} from "./helpers/guardian.ts";

interface Reply {
  status: number;
  body: Record<string, unknown>;
}

async function send(
  g: TestGuardian,
  method: string,
  path: string,
  options: { body?: unknown; bearer?: string } = {},
): Promise<Reply> {
  const headers: Record<string, string> = { "content-type": "application/json" };
  if (options.bearer) headers.authorization = `Bearer ${options.bearer}`;
  const r = await fetch(g.url + path, {
    method,
    headers,
    body: options.body === undefined ? undefined : JSON.stringify(options.body),
  });
  const text = await r.text();
  return { status: r.status, body: text ? JSON.parse(text) : {} };
}

function expect(reply: Reply, status: number, error?: RegExp): void {
  assert.equal(reply.status, status, JSON.stringify(reply.body));
  if (error) assert.match(String(reply.body.error), error);
}

/** Runs `fn` and asserts it left the database exactly as it was. */
async function unchanged(g: TestGuardian, fn: () => Promise<void>): Promise<void> {
  const before = g.server!.store.contentDigest();
  await fn();
  assert.equal(g.server!.store.contentDigest(), before, "database changed");
}

const mldsaKey = () =>
  encodeBase64(generateSigningKeyPair(crypto.getRandomValues(new Uint8Array(32))).publicKey);

/** A session login of `token`; `extra` adds portal/subnets. */
function login(g: TestGuardian, token: string, extra: Record<string, unknown> = {}) {
  return send(g, "POST", "/conflux/session/login", {
    body: { token, mldsa_public_key: mldsaKey(), nkey: createUser().getPublicKey(), ...extra },
  });
}

/** The subnets the Guardian-signed certificate of a login reply states. */
function certified(reply: Reply): string[] {
  assert.equal(reply.status, 200, JSON.stringify(reply.body));
  const cert = decodeBase64(String(reply.body.certificate))!;
  const key = decodeBase64(String(reply.body.guardian_public_key))!;
  const fields = verifyCertificate(cert, key, Date.now());
  assert.deepEqual(reply.body.subnets, fields.subnets, "response and certificate agree");
  return fields.subnets;
}

/** An admin (first user), then `owner` with a realm, then `stranger` with another realm. */
async function users(g: TestGuardian, options: { autoApprove?: string[] } = {}) {
  const admin = await createRealm(g, { subnet: "100.64.30.0/24" });
  const owner = await createRealm(g, { subnet: "100.64.31.0/24", ...options });
  const stranger = await createRealm(g, { subnet: "100.64.32.0/24" });
  return { admin, owner, stranger };
}

Deno.test("trust 1: a conflux token cannot add a team; it may list and remove its own", async () => {
  const g = await startGuardian({ nats: false });
  try {
    const { owner } = await users(g);
    await g.client.createTeam(owner.accessToken, "dev");
    await g.client.createTeam(owner.accessToken, "prod");
    const c = await registerConflux(g, owner, { teams: ["dev"] });
    const teams = async (bearer: string) =>
      (await send(g, "GET", `/conflux/team/list?conflux_id=${c.confluxId}`, { bearer })).body;

    await unchanged(g, async () => {
      expect(
        await send(g, "POST", "/conflux/team", {
          bearer: c.token,
          body: { conflux_id: c.confluxId, team: "prod" },
        }),
        403,
        /a conflux token cannot add teams: the owner does/,
      );
      // Not even a team it already holds, nor by id.
      expect(
        await send(g, "POST", "/conflux/team", {
          bearer: c.token,
          body: { conflux_id: c.confluxId, team: "dev" },
        }),
        403,
      );
    });
    assert.deepEqual(
      (await teams(c.token) as unknown as Array<{ name: string }>).map((t) => t.name),
      ["dev"],
    );
    // The owner adds; the conflux lists and removes with its own token.
    expect(
      await send(g, "POST", "/conflux/team", {
        bearer: owner.accessToken,
        body: { conflux_id: c.confluxId, team: "prod" },
      }),
      200,
    );
    expect(
      await send(g, "DELETE", "/conflux/team", {
        bearer: c.token,
        body: { conflux_id: c.confluxId, team: "dev" },
      }),
      200,
    );
    assert.deepEqual(
      (await teams(c.token) as unknown as Array<{ name: string }>).map((t) => t.name),
      ["prod"],
    );
  } finally {
    await g.stop();
  }
});

Deno.test("trust 2: portal networks are certified only once approved; deny and policy apply", async () => {
  const g = await startGuardian({ nats: false });
  try {
    const { admin, owner, stranger } = await users(g);
    const p = await registerConflux(g, owner, { tag: "portal" });
    const LAN = "192.0.2.0/24";
    const LAB = "198.18.4.0/24";
    const path = `/conflux/subnets?conflux_id=${p.confluxId}`;
    const state = async () => (await send(g, "GET", path, { bearer: owner.accessToken })).body;

    assert.deepEqual(await state(), {
      conflux_id: p.confluxId,
      advertised: [],
      approved: [],
      denied: [],
      pending: [],
      certified: [],
    });
    // Asking is not getting: the certificate states nothing until the owner approves.
    const first = await login(g, p.token, { portal: true, subnets: [LAN, LAB] });
    assert.deepEqual(certified(first), []);
    assert.deepEqual(first.body.subnets_pending, [LAN, LAB]);
    assert.deepEqual((await state()).advertised, [LAN, LAB]);
    assert.deepEqual((await state()).pending, [LAN, LAB]);

    // Only the owner (or an admin) decides; a conflux token, another user and bad lists change
    // nothing.
    const decide = (kind: string, bearer: string, body: unknown) =>
      send(g, "POST", `/conflux/subnets/${kind}`, { bearer, body });
    await unchanged(g, async () => {
      for (const kind of ["approve", "deny"]) {
        expect(
          await decide(kind, p.token, { conflux_id: p.confluxId, subnets: [LAN] }),
          403,
          /a conflux token cannot (approve|deny) portal networks/,
        );
        expect(
          await decide(kind, stranger.accessToken, { conflux_id: p.confluxId, subnets: [LAN] }),
          404,
          /unknown conflux/,
        );
        expect(
          await decide(kind, owner.accessToken, { conflux_id: p.confluxId, subnets: [] }),
          400,
          /^subnets: /,
        );
        expect(
          await decide(kind, owner.accessToken, {
            conflux_id: p.confluxId,
            subnets: ["192.0.2.1/24"],
          }),
          400,
          /has host bits set/,
        );
        expect(
          await decide(kind, owner.accessToken, {
            conflux_id: p.confluxId,
            subnets: ["100.64.31.0/25"],
          }),
          400,
          /overlaps the realm subnet/,
        );
        expect(await decide(kind, owner.accessToken, { subnets: [LAN] }), 400, /^conflux_id: /);
      }
      expect(await send(g, "GET", path, { bearer: p.token }), 403, /cannot read/);
      expect(await send(g, "GET", path, { bearer: stranger.accessToken }), 404);
      expect(await send(g, "GET", path), 401, /missing bearer token/);
    });

    // The owner approves LAN: the next session certifies it, LAB stays pending.
    const approved = await decide("approve", owner.accessToken, {
      conflux_id: p.confluxId,
      subnets: [LAN],
    });
    expect(approved, 200);
    assert.deepEqual(approved.body.certified, [LAN]);
    assert.deepEqual(approved.body.pending, [LAB]);
    assert.deepEqual(certified(await login(g, p.token, { portal: true, subnets: [LAN, LAB] })), [
      LAN,
    ]);
    // An admin may decide too; approving before the portal asks is allowed.
    expect(
      await decide("approve", admin.accessToken, {
        conflux_id: p.confluxId,
        subnets: ["203.0.113.0/24"],
      }),
      200,
    );
    // Only what is advertised AND approved: an approval alone puts nothing in the certificate.
    assert.deepEqual(certified(await login(g, p.token, { portal: true, subnets: [LAB] })), []);
    assert.deepEqual(certified(await login(g, p.token, { portal: true, subnets: [LAN] })), [LAN]);

    // Denied: gone from the next certificate, even though the realm's policy would allow it.
    expect(
      await decide("deny", owner.accessToken, { conflux_id: p.confluxId, subnets: [LAN] }),
      200,
    );
    await g.client.setRealmPolicy(owner.accessToken, {
      realmId: owner.realmId,
      autoApprove: ["192.0.2.0/24", "198.18.0.0/15"],
    });
    const denied = await login(g, p.token, { portal: true, subnets: [LAN, LAB] });
    assert.deepEqual(certified(denied), [LAB], "policy approves LAB, the denial keeps LAN out");
    assert.deepEqual(denied.body.subnets_denied, [LAN]);
    assert.deepEqual((await state()).denied, [LAN]);

    // The realm policy: set at creation or later by the realm's owner only; checked like subnets.
    await unchanged(g, async () => {
      expect(
        await send(g, "POST", "/realm/policy", {
          bearer: stranger.accessToken,
          body: { realm_id: owner.realmId, auto_approve: [] },
        }),
        404,
        /unknown realm/,
      );
      expect(
        await send(g, "POST", "/realm/policy", {
          bearer: p.token,
          body: { realm_id: owner.realmId, auto_approve: [] },
        }),
        403,
      );
      expect(
        await send(g, "POST", "/realm/policy", {
          bearer: owner.accessToken,
          body: { realm_id: owner.realmId, auto_approve: ["10.0.0.0/4"] },
        }),
        400,
        /^auto_approve: /,
      );
      expect(
        await send(g, "POST", "/realm", {
          bearer: owner.accessToken,
          body: { name: "x", subnet: "100.64.40.0/24", auto_approve: ["100.64.40.0/25"] },
        }),
        400,
        /^auto_approve: .*overlaps the realm subnet/,
      );
    });
    const list = (await send(g, "GET", "/realm/list", { bearer: owner.accessToken }))
      .body as unknown as Array<{ id: string; auto_approve: string[] }>;
    assert.deepEqual(list.find((r) => r.id === owner.realmId)?.auto_approve, [
      "192.0.2.0/24",
      "198.18.0.0/15",
    ]);
    // A non-portal login still states nothing.
    assert.deepEqual(certified(await login(g, p.token)), []);
  } finally {
    await g.stop();
  }
});

Deno.test("trust 2: subnetState is advertised ∩ (approved ∪ policy − denied), in advertised order", () => {
  const d = (cidr: string, decision: "approved" | "denied") => ({
    cidr,
    decision,
    decidedAt: 1,
    decidedBy: "u",
  });
  const s = subnetState(
    ["10.1.0.0/16", "192.0.2.0/24", "10.2.0.0/16", "172.16.0.0/12"],
    [d("192.0.2.0/24", "approved"), d("10.2.0.0/16", "denied"), d("198.51.100.0/24", "approved")],
    ["10.0.0.0/8"],
  );
  assert.deepEqual(s.certified, ["10.1.0.0/16", "192.0.2.0/24"]);
  assert.deepEqual(s.pending, ["172.16.0.0/12"]);
  assert.deepEqual(s.denied, ["10.2.0.0/16"]);
  assert.deepEqual(s.approved, ["192.0.2.0/24", "198.51.100.0/24"]);
  // A policy network narrower than the advertised one does not approve it.
  assert.deepEqual(subnetState(["10.0.0.0/8"], [], ["10.1.0.0/16"]).certified, []);
});

Deno.test("trust 3: DELETE /conflux by its owner or an admin revokes it like unregister", async () => {
  const g = await startGuardian({ nats: false });
  try {
    const { admin, owner, stranger } = await users(g);
    const dev = await g.client.createTeam(owner.accessToken, "dev");
    const a = await registerConflux(g, owner, { teams: ["dev"] });
    const b = await registerConflux(g, owner, { teams: ["dev"] });
    const version = () => g.server!.store.teamById(dev)!.version;
    const v1 = version();

    await unchanged(g, async () => {
      expect(
        await send(g, "DELETE", `/conflux?conflux_id=${a.confluxId}`, { bearer: b.token }),
        403,
        /a conflux token cannot remove a conflux/,
      );
      expect(
        await send(g, "DELETE", `/conflux?conflux_id=${a.confluxId}`, { bearer: a.token }),
        403,
      );
      expect(
        await send(g, "DELETE", `/conflux?conflux_id=${a.confluxId}`, {
          bearer: stranger.accessToken,
        }),
        404,
        /unknown conflux/,
      );
      expect(await send(g, "DELETE", "/conflux", { bearer: owner.accessToken }), 400);
    });
    expect(await login(g, a.token), 200);
    expect(
      await send(g, "DELETE", `/conflux?conflux_id=${a.confluxId}`, { bearer: owner.accessToken }),
      200,
    );
    // Its token stops working, it leaves its teams, and their key rotates.
    expect(await login(g, a.token), 401, /conflux token revoked/);
    expect(
      await send(g, "GET", `/conflux?conflux_id=${a.confluxId}`, { bearer: a.token }),
      401,
    );
    assert.equal(version(), v1 + 1, "dev rotated");
    assert.deepEqual(g.server!.store.teamsOfConflux(a.confluxId), []);
    // Its session keys are now on the revocation list the Master gets.
    assert.ok(g.server!.store.natsRevocations(Date.now()).length >= 1);
    // Gone: a second removal is 404. An admin may remove confluxes of any realm.
    expect(
      await send(g, "DELETE", `/conflux?conflux_id=${a.confluxId}`, { bearer: owner.accessToken }),
      404,
    );
    expect(
      await send(g, "DELETE", `/conflux?conflux_id=${b.confluxId}`, { bearer: admin.accessToken }),
      200,
    );
    expect(await login(g, b.token), 401);
  } finally {
    await g.stop();
  }
});

/** An scrypt hash with N=2^15, the Guardian's format before issue 19. */
function legacyHash(password: string): Promise<string> {
  const salt = crypto.getRandomValues(new Uint8Array(16));
  return new Promise((resolve, reject) => {
    scrypt(password, salt, 32, { N: 1 << 15, r: 8, p: 1, maxmem: 64 << 20 }, (err, key) => {
      if (err) return reject(err);
      const b64 = (b: Uint8Array) => btoa(String.fromCharCode(...b));
      resolve(`scrypt$${1 << 15}$8$1$${b64(salt)}$${b64(new Uint8Array(key))}`);
    });
  });
}

async function loginUser(g: TestGuardian, u: TestRealm): Promise<Reply> {
  return await send(g, "POST", "/auth/login", { body: { email: u.email, password: u.password } });
}

Deno.test("trust 9: logout revokes the access token; old password hashes are re-hashed", async () => {
  const log = memoryLogger();
  const g = await startGuardian({ nats: false, log });
  try {
    const { owner } = await users(g);
    const store = g.server!.store;
    const profile = (bearer: string) => send(g, "GET", "/auth/profile", { bearer });
    expect(await profile(owner.accessToken), 200);
    expect(await send(g, "POST", "/auth/logout", { bearer: owner.accessToken }), 200);
    expect(await profile(owner.accessToken), 401, /invalid or expired access token/);
    expect(await send(g, "POST", "/auth/logout", { bearer: owner.accessToken }), 401);
    expect(await send(g, "POST", "/auth/logout"), 401, /missing bearer token/);
    // Another session of the same user is unaffected by that logout.
    const again = await loginUser(g, owner);
    expect(again, 200);
    expect(await profile(String(again.body.access_token)), 200);

    // New hashes use N=2^17; a user still holding an N=2^15 hash logs in and gets one.
    const user = store.userByEmail(owner.email)!;
    assert.ok(user.passwordHash.startsWith(`scrypt$${1 << 17}$`), user.passwordHash.slice(0, 16));
    store.updatePasswordHash(user.id, await legacyHash(owner.password));
    expect(
      await send(g, "POST", "/auth/login", {
        body: { email: owner.email, password: "wrong password!" },
      }),
      401,
    );
    assert.ok(
      store.userById(user.id)!.passwordHash.startsWith(`scrypt$${1 << 15}$`),
      "not on failure",
    );
    expect(await loginUser(g, owner), 200);
    assert.ok(store.userById(user.id)!.passwordHash.startsWith(`scrypt$${1 << 17}$`), "re-hashed");
    expect(await loginUser(g, owner), 200, undefined);
    assert.ok(!log.lines.join("\n").includes(owner.password), "no password in the log");
  } finally {
    await g.stop();
  }
});

Deno.test("trust 9: the Guardian states its key at registration and at GET /guardian/key", async () => {
  const g = await startGuardian({ nats: false });
  try {
    const realm = await createRealm(g);
    const expected = guardianKeyFingerprint(g.server!.keys.identity.publicKey);
    const key = await g.client.guardianKey();
    assert.equal(key.sha256, expected);
    assert.deepEqual(key.publicKey, g.server!.keys.identity.publicKey);
    const reg = await g.client.register({
      registrationToken: (await g.client.createRegistrationToken(realm.accessToken, {
        realmId: realm.realmId,
        expiresAfterDays: 1,
      })).token,
    });
    assert.equal(guardianKeyFingerprint(reg.guardianPublicKey!), expected);
  } finally {
    await g.stop();
  }
});
