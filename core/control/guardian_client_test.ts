import assert from "node:assert/strict";
import {
  GuardianApiError,
  GuardianClient,
  guardianKeyFingerprint,
  GuardianKeyMismatchError,
  insecureTransportWarning,
  isLoopbackHost,
  parseSession,
} from "./guardian_client.ts";
import { encodeBase64 } from "./base64.ts";

const wire = {
  conflux_id: "c1",
  realm_id: "r1",
  realm_subnet: "100.64.0.0/24",
  overlay_ip: "100.64.0.1",
  tag: "",
  portal: false,
  certificate: encodeBase64(new Uint8Array([1, 2, 3])),
  guardian_public_key: encodeBase64(new Uint8Array(1952)),
  nats_jwt: "x.y.z",
  nats_urls: ["nats://127.0.0.1:4222"],
  inbox_prefix: "_INBOX.c1",
  teams: [{ team_id: "t1", name: "dev", version: 2, key: encodeBase64(new Uint8Array(32)) }],
  ice_servers: [],
  expires_at: 1_700_000_600_000,
};

Deno.test("parseSession decodes base64 fields and team keys", () => {
  const s = parseSession(wire);
  assert.deepEqual(s.certificate, new Uint8Array([1, 2, 3]));
  assert.equal(s.guardianPublicKey.length, 1952);
  assert.deepEqual(s.teams.map((t) => [t.teamId, t.version, t.key.length]), [["t1", 2, 32]]);
  assert.equal(s.teamsIssuedAt, 0, "absent from other Guardians: 0");
  assert.deepEqual(s.subnets, [], "absent from older Guardians: none");
});

Deno.test("parseSession carries a portal's subnets", () => {
  const subnets = ["198.18.0.0/16", "198.19.4.0/24"];
  assert.deepEqual(parseSession({ ...wire, portal: true, subnets }).subnets, subnets);
  assert.throws(
    () => parseSession({ ...wire, portal: true, subnets: "198.18.0.0/16" }),
    (e: unknown) => e instanceof GuardianApiError && e.status === 0,
  );
});

Deno.test("parseSession refuses malformed responses with GuardianApiError(0)", () => {
  const bad = [
    null,
    { ...wire, nats_urls: [] },
    { ...wire, certificate: "%%%" },
    { ...wire, teams: [{ team_id: "t", name: "n", version: 1, key: "AAAA" }] },
    { ...wire, expires_at: "soon" },
  ];
  for (const b of bad) {
    assert.throws(
      () => parseSession(b),
      (e: unknown) => e instanceof GuardianApiError && e.status === 0,
    );
  }
});

Deno.test("GuardianClient rejects non-http URLs and reports unreachable Guardians", async () => {
  assert.throws(() => new GuardianClient("ftp://x"), GuardianApiError);
  assert.throws(() => new GuardianClient("not a url"), GuardianApiError);
  const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const port = (listener.addr as Deno.NetAddr).port;
  listener.close();
  const client = new GuardianClient(`http://127.0.0.1:${port}`, { timeoutMs: 2000 });
  await assert.rejects(
    client.register({ registrationToken: "vnr_x" }),
    (e: unknown) => e instanceof GuardianApiError && e.status === 0,
  );
});

/** Serves `session` as the answer to every request on a loopback port; stop with `close()`. */
function fakeGuardian(session: unknown): { url: string; close(): Promise<void> } {
  const server = Deno.serve(
    { hostname: "127.0.0.1", port: 0, onListen() {} },
    () =>
      new Response(JSON.stringify(session), { headers: { "content-type": "application/json" } }),
  );
  return { url: `http://127.0.0.1:${server.addr.port}`, close: () => server.shutdown() };
}

const login = { token: "vnc_x", mldsaPublicKey: new Uint8Array(1952), nkey: "U" + "A".repeat(55) };

Deno.test("a pinned GuardianClient refuses a session with another Guardian key, loudly", async () => {
  const real = new Uint8Array(1952).fill(1);
  const other = new Uint8Array(1952).fill(2);
  const fake = fakeGuardian({ ...wire, guardian_public_key: encodeBase64(real) });
  try {
    const pinned = new GuardianClient(fake.url, {
      guardianKeySha256: guardianKeyFingerprint(real),
    });
    assert.deepEqual((await pinned.sessionLogin(login)).guardianPublicKey, real);
    const warnings: string[] = [];
    const wrong = new GuardianClient(fake.url, {
      guardianKeySha256: guardianKeyFingerprint(other).toUpperCase(),
      warn: (m) => warnings.push(m),
    });
    for (let i = 0; i < 2; i++) {
      await assert.rejects(wrong.sessionLogin(login), (e: unknown) => {
        assert.ok(e instanceof GuardianKeyMismatchError);
        assert.equal(e.status, 0, "no session accepted");
        assert.equal(e.presented, guardianKeyFingerprint(real));
        assert.match(e.message, /the Guardian's key changed/);
        return true;
      });
    }
    assert.equal(warnings.length, 1, "said once");
    assert.match(warnings[0], /^WARNING: the Guardian's key changed/);
    assert.throws(() => new GuardianClient(fake.url, { guardianKeySha256: "abc" }), /64 hex/);
  } finally {
    await fake.close();
  }
});

Deno.test("plain http:// and nats:// off this machine are warned about once per process", async () => {
  for (const host of ["127.0.0.1", "127.9.9.9", "localhost", "[::1]"]) {
    assert.equal(isLoopbackHost(new URL(`http://${host}:1`).hostname), true, host);
    assert.equal(insecureTransportWarning(`http://${host}:1`), null, host);
    assert.equal(insecureTransportWarning(`nats://${host}:4222`), null, host);
  }
  assert.equal(isLoopbackHost("198.18.0.1"), false);
  assert.equal(insecureTransportWarning("https://198.18.0.1:8443"), null);
  assert.equal(insecureTransportWarning("tls://198.18.0.1:4222"), null);
  assert.match(insecureTransportWarning("http://198.18.0.1:8080")!, /^WARNING: the Guardian/);
  assert.match(insecureTransportWarning("nats://198.18.0.1:4222")!, /^WARNING: the Master/);

  const warnings: string[] = [];
  const warn = (m: string) => warnings.push(m);
  new GuardianClient("http://198.18.0.99:8080", { warn });
  new GuardianClient("http://198.18.0.99:8080", { warn });
  new GuardianClient("https://198.18.0.99:8443", { warn });
  new GuardianClient("http://127.0.0.1:8080", { warn });
  assert.equal(warnings.length, 1, warnings.join("\n"));
  assert.match(warnings[0], /http:\/\/198\.18\.0\.99:8080 is plain http:\/\//);

  // NATS URLs are known only from the session: warned about at the first login that names them.
  const fake = fakeGuardian({
    ...wire,
    nats_urls: ["nats://198.18.0.98:4222", "tls://198.18.0.98:4223"],
  });
  try {
    const client = new GuardianClient(fake.url, { warn });
    await client.sessionLogin(login);
    await client.sessionLogin(login);
    assert.equal(warnings.length, 2, warnings.join("\n"));
    assert.match(warnings[1], /nats:\/\/198\.18\.0\.98:4222 is plain nats:\/\//);
  } finally {
    await fake.close();
  }
});
