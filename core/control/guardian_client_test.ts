import assert from "node:assert/strict";
import { GuardianApiError, GuardianClient, parseSession } from "./guardian_client.ts";
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
