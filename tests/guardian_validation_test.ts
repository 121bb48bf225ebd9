// Bad requests against the real Guardian (in-process, real SQLite): each gets the precise 4xx
// and `{error}` message, and the database is byte-for-byte unchanged afterwards.
import assert from "node:assert/strict";
import { createUser } from "@nats-io/nkeys";
import { decodeBase64, encodeBase64 } from "../core/control/base64.ts";
import { generateSigningKeyPair } from "../core/crypto/mldsa.ts";
import { memoryLogger } from "../core/log/logger.ts";
import { parseCertificate, verifyCertificate } from "../core/wire/certificate.ts";
import {
  createRealm,
  registerConflux,
  registrationToken,
  startGuardian,
  type TestGuardian,
} from "./helpers/guardian.ts";

interface Reply {
  status: number;
  body: Record<string, unknown>;
}

async function send(
  g: TestGuardian,
  method: string,
  path: string,
  options: { body?: unknown; raw?: BodyInit; bearer?: string } = {},
): Promise<Reply> {
  const headers: Record<string, string> = { "content-type": "application/json" };
  if (options.bearer) headers.authorization = `Bearer ${options.bearer}`;
  const init: RequestInit & { duplex?: string } = {
    method,
    headers,
    body: options.raw ?? (options.body === undefined ? undefined : JSON.stringify(options.body)),
  };
  if (options.raw instanceof ReadableStream) init.duplex = "half";
  const r = await fetch(g.url + path, init);
  const text = await r.text();
  return { status: r.status, body: text ? JSON.parse(text) : {} };
}

/** Runs `fn` and asserts it left the database exactly as it was. */
async function unchanged(g: TestGuardian, fn: () => Promise<void>): Promise<void> {
  const before = g.server!.store.contentDigest();
  await fn();
  assert.equal(g.server!.store.contentDigest(), before, "database changed");
}

function expect(reply: Reply, status: number, error: string | RegExp): void {
  assert.equal(reply.status, status, JSON.stringify(reply.body));
  const message = String(reply.body.error);
  if (typeof error === "string") assert.equal(message, error);
  else assert.match(message, error);
  assert.ok(!/at .*\.ts:\d+/.test(message), "no stack trace");
}

const mldsaKey = encodeBase64(
  generateSigningKeyPair(crypto.getRandomValues(new Uint8Array(32))).publicKey,
);

Deno.test("validation: bad JSON, wrong types, oversized bodies, routing errors", async () => {
  const g = await startGuardian({ nats: false });
  try {
    const realm = await createRealm(g);
    await unchanged(g, async () => {
      expect(
        await send(g, "POST", "/auth/signup", { raw: "{not json" }),
        400,
        "request body is not valid JSON",
      );
      expect(
        await send(g, "POST", "/auth/signup", { raw: "" }),
        400,
        "request body must be a JSON object",
      );
      expect(
        await send(g, "POST", "/auth/signup", { body: [1, 2] }),
        400,
        "request body must be a JSON object",
      );
      expect(
        await send(g, "POST", "/auth/signup", { body: { email: 5, password: true } }),
        400,
        /^email: /,
      );
      expect(
        await send(g, "POST", "/auth/signup", { body: { email: "a@b.test", password: "short" } }),
        400,
        /^password: /,
      );
      expect(
        await send(g, "POST", "/conflux/register", { body: { registration_token: 123 } }),
        400,
        /^registration_token: /,
      );
      expect(
        await send(g, "POST", "/realm", {
          bearer: realm.accessToken,
          body: { name: "x", subnet: 24 },
        }),
        400,
        /^subnet: /,
      );
      expect(
        await send(g, "POST", "/realm", {
          bearer: realm.accessToken,
          body: { name: "x", subnet: "198.18.0.0/16" },
        }),
        400,
        "subnet: must lie inside 100.64.0.0/10",
      );
      expect(
        await send(g, "POST", "/realm", {
          bearer: realm.accessToken,
          body: { name: "x", subnet: "100.64.0.1/24" },
        }),
        400,
        "subnet: expected an IPv4 CIDR with zero host bits",
      );
      expect(
        await send(g, "POST", "/auth/create/registration-token", {
          bearer: realm.accessToken,
          body: { realm_id: realm.realmId, expires_after: "1" },
        }),
        400,
        /^expires_after: /,
      );
      // Oversized: declared by Content-Length, and streamed without one.
      const big = JSON.stringify({ registration_token: "x".repeat(100_000) });
      expect(await send(g, "POST", "/conflux/register", { raw: big }), 413, /larger than/);
      const stream = new ReadableStream<Uint8Array>({
        start(controller) {
          for (let i = 0; i < 40; i++) controller.enqueue(new Uint8Array(1024).fill(32));
          controller.close();
        },
      });
      expect(await send(g, "POST", "/conflux/register", { raw: stream }), 413, /larger than/);
      expect(await send(g, "GET", "/no/such/thing"), 404, "no such endpoint");
      expect(await send(g, "PUT", "/realm", { body: {} }), 405, "method PUT not allowed");
      expect(await send(g, "GET", "/realm/list"), 401, "missing bearer token");
      expect(
        await send(g, "GET", "/realm/list", { bearer: "vnu_forged" }),
        401,
        "invalid or expired access token",
      );
    });
  } finally {
    await g.stop();
  }
});

Deno.test("validation: unknown realm, expired/used/revoked/forged tokens leave the DB as it was", async () => {
  const log = memoryLogger();
  const g = await startGuardian({ nats: false, log });
  try {
    const realm = await createRealm(g);
    const stranger = await createRealm(g, { subnet: "100.64.9.0/24" });
    const expiring = await registrationToken(g, realm, { expiresAfterDays: 1 });
    const used = await registrationToken(g, realm);
    const ok = await send(g, "POST", "/conflux/register", {
      body: { registration_token: used, tag: "first" },
    });
    assert.equal(ok.status, 201);
    const confluxToken = String(ok.body.token);
    const revoked = await g.client.createRegistrationToken(realm.accessToken, {
      realmId: realm.realmId,
      expiresAfterDays: 1,
    });
    await g.client.call("DELETE", "/auth/revoke/registration-token", {
      bearer: realm.accessToken,
      query: { token_id: revoked.tokenId },
    });

    await unchanged(g, async () => {
      for (
        const path of [
          ["POST", "/auth/create/registration-token"],
          ["GET", "/conflux/list?realm_id=rdeadbeefdeadbeef"],
          ["DELETE", "/realm?realm_id=rdeadbeefdeadbeef"],
        ]
      ) {
        const r = await send(g, path[0], path[1], {
          bearer: realm.accessToken,
          body: path[0] === "POST"
            ? { realm_id: "rdeadbeefdeadbeef", expires_after: 1 }
            : undefined,
        });
        expect(r, 404, "unknown realm");
      }
      // Another user's realm is unknown to this one.
      expect(
        await send(g, "POST", "/auth/create/registration-token", {
          bearer: stranger.accessToken,
          body: { realm_id: realm.realmId, expires_after: 1 },
        }),
        404,
        "unknown realm",
      );

      expect(
        await send(g, "POST", "/conflux/register", { body: { registration_token: used } }),
        409,
        "registration token already used",
      );
      expect(
        await send(g, "POST", "/conflux/register", {
          body: { registration_token: "vnr_" + "A".repeat(43) },
        }),
        401,
        "invalid registration token",
      );
      expect(
        await send(g, "POST", "/conflux/register", {
          body: { registration_token: revoked.token },
        }),
        401,
        "registration token revoked",
      );
      g.clock.offsetMs = 2 * 86_400_000;
      try {
        expect(
          await send(g, "POST", "/conflux/register", { body: { registration_token: expiring } }),
          401,
          "registration token expired",
        );
      } finally {
        g.clock.offsetMs = 0;
      }

      // Session login: forged token, bad key, bad nkey.
      const login = (body: Record<string, unknown>) =>
        send(g, "POST", "/conflux/session/login", {
          body: {
            token: confluxToken,
            mldsa_public_key: mldsaKey,
            nkey: createUser().getPublicKey(),
            ...body,
          },
        });
      expect(await login({ token: "vnc_" + "B".repeat(43) }), 401, "invalid conflux token");
      expect(
        await login({ mldsa_public_key: encodeBase64(new Uint8Array(32)) }),
        400,
        "mldsa_public_key: expected 1952 bytes",
      );
      expect(await login({ mldsa_public_key: "***" }), 400, /^mldsa_public_key: /);
      expect(await login({ nkey: "NOTANKEY" }), 400, /^nkey: /);
      expect(
        await login({ nkey: "U" + "A".repeat(55) }),
        400,
        "nkey: not a valid public user nkey",
      );
      expect(
        await send(g, "DELETE", "/conflux/unregister", { bearer: "vnc_forged" }),
        401,
        "invalid conflux token",
      );
    });

    // Requested overlay addresses: taken or outside the subnet are refused without a trace.
    const first = await g.client.call("GET", "/conflux", {
      bearer: confluxToken,
      query: { conflux_id: String(ok.body.conflux_id) },
    }) as { overlay_ip: string };
    const t1 = await registrationToken(g, realm);
    await unchanged(g, async () => {
      expect(
        await send(g, "POST", "/conflux/register", {
          body: { registration_token: t1, cidr: `${first.overlay_ip}/24` },
        }),
        409,
        "cidr: address already leased in this realm",
      );
      expect(
        await send(g, "POST", "/conflux/register", {
          body: { registration_token: t1, cidr: "100.65.0.5/24" },
        }),
        400,
        /^cidr: address is not a host address/,
      );
    });
    const chosen = await send(g, "POST", "/conflux/register", {
      body: { registration_token: t1, cidr: "100.64.0.77/24" },
    });
    assert.equal(chosen.status, 201);
    assert.equal(chosen.body.overlay_ip, "100.64.0.77");

    // Nothing secret reached the log, though every kind of token and a password passed by.
    const text = log.lines.join("\n");
    assert.ok(log.lines.length > 0);
    for (const secret of [confluxToken, used, expiring, revoked.token, t1, realm.password]) {
      assert.ok(!text.includes(secret), "a secret was logged");
    }
    assert.ok(!text.includes(realm.accessToken));
  } finally {
    await g.stop();
  }
});

Deno.test("validation: portal subnets at session login are checked and certified", async () => {
  const g = await startGuardian({ nats: false });
  try {
    // The realm approves 198.18.0.0/15 in advance; guardian_trust_api_test covers approvals.
    const realm = await createRealm(g, { subnet: "100.64.0.0/24", autoApprove: ["198.18.0.0/15"] });
    const { token } = await registerConflux(g, realm);
    const login = (body: Record<string, unknown>) =>
      send(g, "POST", "/conflux/session/login", {
        body: { token, mldsa_public_key: mldsaKey, nkey: createUser().getPublicKey(), ...body },
      });
    const certified = (reply: Reply) => {
      const bytes = decodeBase64(String(reply.body.certificate));
      assert.ok(bytes);
      const fields = parseCertificate(bytes).fields;
      const guardianKey = decodeBase64(String(reply.body.guardian_public_key));
      assert.ok(guardianKey);
      assert.deepEqual(verifyCertificate(bytes, guardianKey, Date.now()), fields);
      return fields;
    };

    // Refused requests change nothing (not even the conflux's last login).
    await unchanged(g, async () => {
      expect(
        await login({ subnets: ["198.18.0.0/16"] }),
        400,
        "subnets: only a portal (portal: true) serves subnets",
      );
      expect(
        await login({ portal: false, subnets: ["198.18.0.0/16"] }),
        400,
        "subnets: only a portal (portal: true) serves subnets",
      );
      expect(
        await login({ portal: true, subnets: ["198.18.0.0/16", "100.64.0.0/16"] }),
        400,
        'subnets: "100.64.0.0/16" overlaps the realm subnet 100.64.0.0/24',
      );
      expect(
        await login({ portal: true, subnets: ["100.64.0.128/25"] }),
        400,
        /^subnets: "100\.64\.0\.128\/25" overlaps the realm subnet/,
      );
      expect(
        await login({ portal: true, subnets: ["198.18.0.1/16"] }),
        400,
        'subnets: "198.18.0.1/16" has host bits set',
      );
      expect(
        await login({ portal: true, subnets: ["lan"] }),
        400,
        'subnets: "lan" is not IPv4 CIDR a.b.c.d/n',
      );
      expect(await login({ portal: true, subnets: ["127.0.0.0/8"] }), 400, /reserved range/);
      expect(await login({ portal: true, subnets: "198.18.0.0/16" }), 400, /^subnets: /);
      expect(await login({ portal: true, subnets: [7] }), 400, /^subnets\.0: /);
      const many = Array.from({ length: 33 }, (_, i) => `198.18.${i}.0/24`);
      expect(await login({ portal: true, subnets: many }), 400, /^subnets: /);
    });

    // A portal with valid subnets: the Guardian-signed certificate states them, in order.
    const subnets = ["198.18.0.0/16", "198.19.4.0/24"];
    const portal = await login({ portal: true, subnets });
    assert.equal(portal.status, 200, JSON.stringify(portal.body));
    assert.equal(portal.body.portal, true);
    assert.deepEqual(portal.body.subnets, subnets);
    const fields = certified(portal);
    assert.equal(fields.portal, true);
    assert.deepEqual(fields.subnets, subnets);

    // Without subnets (older clients, non-portals): an empty list, in the response and certificate.
    for (const body of [{ portal: true }, {}]) {
      const reply = await login(body);
      assert.equal(reply.status, 200, JSON.stringify(reply.body));
      assert.deepEqual(reply.body.subnets, []);
      assert.deepEqual(certified(reply).subnets, []);
      assert.equal(certified(reply).portal, "portal" in body);
    }
  } finally {
    await g.stop();
  }
});

Deno.test("validation: per-IP rate limit on login, and --no-signup", async () => {
  const g = await startGuardian({
    nats: false,
    api: { authRateLimit: { burst: 3, perSecond: 0.01 }, allowSignup: false },
  });
  try {
    // The first user may always sign up (to bootstrap the admin); later ones may not.
    assert.equal((await g.client.signup("admin@example.test", "a long password")).isAdmin, true);
    await unchanged(g, async () => {
      expect(
        await send(g, "POST", "/auth/signup", {
          body: { email: "late@example.test", password: "a long password" },
        }),
        403,
        "signup is disabled",
      );
      expect(
        await send(g, "POST", "/auth/login", {
          body: { email: "admin@example.test", password: "wrong password" },
        }),
        401,
        "invalid email or password",
      );
      expect(
        await send(g, "POST", "/auth/login", {
          body: { email: "admin@example.test", password: "wrong password" },
        }),
        429,
        "too many requests, slow down",
      );
    });
  } finally {
    await g.stop();
  }
});
