// A 2×2 NATS super cluster from `veilnet-guardian init --cluster … --gateway …` configs: two
// clusters of two servers joined by gateways. A conflux on one cluster reaches a conflux on the
// other (publish, request/reply, Guardian team-key pushes). The same with TLS everywhere
// (`--nats-tls-cert/-key/-ca`): clients over TLS, routes and gateways over mutual TLS.
import assert from "node:assert/strict";
import { generateSigningKeyPair } from "../core/crypto/mldsa.ts";
import { ControlClient } from "../core/control/control_client.ts";
import { GuardianClient } from "../core/control/guardian_client.ts";
import { controlSubject } from "../core/control/subjects.ts";
import type { TeamKey } from "../core/control/team_keys.ts";
import { initGuardian, parseTopology } from "../guardian/init.ts";
import { startGuardianServer } from "../guardian/server.ts";
import { freePorts, type NatsServer, startNatsServer } from "./helpers/nats_server.ts";
import { makeTestCa, opensslAvailable, type TestCa } from "./helpers/tls.ts";

const enc = new TextEncoder();
const dec = new TextDecoder();
const silent = { debug() {}, info() {}, warn() {}, error() {} };

function publicKey(): Uint8Array {
  return generateSigningKeyPair(crypto.getRandomValues(new Uint8Array(32))).publicKey;
}

Deno.test("super cluster: messages cross the gateway between two 2-server clusters", async () => {
  await superCluster();
});

Deno.test({
  name: "super cluster with TLS: clients, routes and gateways all over TLS with a private CA",
  ignore: !opensslAvailable(),
  fn: async () => {
    const dir = await Deno.makeTempDir({ prefix: "veilnet-supercluster-ca-" });
    try {
      await superCluster(await makeTestCa(dir));
    } finally {
      await Deno.remove(dir, { recursive: true });
    }
  },
});

async function superCluster(tls?: TestCa): Promise<void> {
  const dataDir = await Deno.makeTempDir({ prefix: "veilnet-supercluster-" });
  const servers: NatsServer[] = [];
  const clients: ControlClient[] = [];
  let guardian: Awaited<ReturnType<typeof startGuardianServer>> | null = null;
  try {
    const p = freePorts(12);
    const h = "127.0.0.1";
    // Exactly the flags a user passes to `veilnet-guardian init`.
    const clusters = parseTopology(
      [
        `east=${h}:${p[0]}:${p[1]},${h}:${p[2]}:${p[3]}`,
        `west=${h}:${p[4]}:${p[5]},${h}:${p[6]}:${p[7]}`,
      ],
      [`east=${h}:${p[8]},${h}:${p[9]}`, `west=${h}:${p[10]},${h}:${p[11]}`],
    );
    const init = await initGuardian({
      dataDir,
      clusters,
      natsTls: tls && { certFile: tls.certFile, keyFile: tls.keyFile, caFile: tls.caFile },
    });
    if (tls) {
      const conf = await Deno.readTextFile(init.configs[0].path);
      // Mutual TLS in the cluster and gateway blocks, plain TLS for clients.
      assert.equal(
        conf.match(/^ {2}tls \{\n(?: {4}.*\n){3} {4}verify: true\n {2}\}$/gm)?.length,
        2,
      );
      assert.ok(init.configs.every((c) => c.clientUrl.startsWith("tls://")));
    }
    assert.deepEqual(init.configs.map((c) => c.serverName), [
      "east-1",
      "east-2",
      "west-1",
      "west-2",
    ]);
    for (const c of init.configs) servers.push(await startNatsServer(c.path));
    const urls = init.configs.map((c) => c.clientUrl);
    guardian = await startGuardianServer({
      dataDir,
      natsUrls: urls,
      sessionTtlSec: 60,
      log: silent,
      natsCaPem: tls?.caPem,
    });
    await guardian.publisher!.ready();
    assert.ok(guardian.publisher!.connected(), "the Guardian did not reach the Master");
    const api = new GuardianClient(guardian.url, { caCerts: tls ? [tls.caPem] : undefined });

    await api.signup("ops@example.test", "a long password");
    const access = await api.login("ops@example.test", "a long password");
    const realm = await api.createRealm(access, { name: "global", subnet: "100.64.0.0/16" });
    const team = await api.createTeam(access, "dev");
    const register = async () =>
      await api.register({
        registrationToken: (await api.createRegistrationToken(access, {
          realmId: realm.id,
          expiresAfterDays: 1,
        })).token,
      });
    const a = await register();
    const b = await register();
    assert.equal(new Set(urls).size, 4);

    // A talks to east-1 only, B to west-2 only.
    const ca = await ControlClient.connect({
      guardian: api,
      confluxToken: a.token,
      mldsaPublicKey: publicKey(),
      natsServers: [urls[0]],
    });
    clients.push(ca);
    const cb = await ControlClient.connect({
      guardian: api,
      confluxToken: b.token,
      mldsaPublicKey: publicKey(),
      natsServers: [urls[3]],
    });
    clients.push(cb);
    assert.deepEqual(ca.session.natsUrls, urls, "the session lists every server");

    const subject = controlSubject(realm.id, b.confluxId);
    const sub = cb.subscribe(subject);
    const seen: string[] = [];
    (async () => {
      for await (const m of sub) {
        const text = dec.decode(m.data);
        seen.push(text);
        if (m.reply) m.respond(enc.encode(`west got ${text}`));
      }
    })().catch(() => {});
    await cb.flush();

    // Interest crosses the gateway asynchronously: ask until B answers (bounded).
    let answer = "";
    for (let i = 0; i < 50 && !answer; i++) {
      try {
        const r = await ca.request(subject, enc.encode(`probe ${i}`), 200);
        answer = dec.decode(r.data);
      } catch {
        await new Promise((r) => setTimeout(r, 100));
      }
    }
    assert.match(answer, /^west got probe \d+$/);

    // Now plain publishes from east arrive in west.
    ca.publish(subject, enc.encode("hello across the gateway"));
    await ca.flush();
    for (let i = 0; i < 50 && !seen.includes("hello across the gateway"); i++) {
      await new Promise((r) => setTimeout(r, 100));
    }
    assert.ok(seen.includes("hello across the gateway"));

    // The Guardian's push reaches B wherever the Guardian itself is connected.
    const pushed = new Promise<TeamKey[]>((resolve) => cb.onTeams(resolve));
    await api.addConfluxTeam(access, { confluxId: b.confluxId, team });
    let timer: ReturnType<typeof setTimeout> | undefined;
    const teams = await Promise.race([
      pushed,
      new Promise<never>((_, reject) => {
        timer = setTimeout(() => reject(new Error("no team push within 10 s")), 10_000);
      }),
    ]);
    clearTimeout(timer);
    assert.deepEqual(teams.map((t) => t.teamId), [team]);
  } finally {
    for (const c of clients) await c.close();
    await guardian?.close();
    for (const s of servers) await s.stop();
    await Deno.remove(dataDir, { recursive: true }).catch(() => {});
  }
}
