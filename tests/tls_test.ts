/**
 * TLS with a private CA, as a self-hoster sets it up: `veilnet-guardian init --nats-tls-cert/-key`
 * makes the Master require TLS (client URLs `tls://`), `serve --tls-cert/-key --nats-ca` serves
 * HTTPS and reaches the Master over TLS, and the conflux CLI trusts the CA with `--guardian-ca`
 * (kept in conflux.json for the service). Without the CA every step fails with a clear error and
 * changes nothing; bad certificate files are refused before anything is written.
 */
import assert from "node:assert/strict";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { generateSigningKeyPair } from "../core/crypto/mldsa.ts";
import { ControlClient } from "../core/control/control_client.ts";
import { GuardianClient } from "../core/control/guardian_client.ts";
import { controlSubject } from "../core/control/subjects.ts";
import { cliHarness } from "./cli_harness.ts";
import {
  createRealm,
  registerConflux,
  registrationToken,
  startGuardian,
} from "./helpers/guardian.ts";
import { makeTestCa, opensslAvailable } from "./helpers/tls.ts";

const MAIN = fileURLToPath(new URL("../guardian/main.ts", import.meta.url));
const hasOpenssl = opensslAvailable();

function publicKey(): Uint8Array {
  return generateSigningKeyPair(crypto.getRandomValues(new Uint8Array(32))).publicKey;
}

async function guardianCli(args: string[]): Promise<{ code: number; stderr: string }> {
  const out = await new Deno.Command(Deno.execPath(), {
    args: ["run", "-A", MAIN, ...args],
    stdin: "null",
    stdout: "null",
  }).output();
  return { code: out.code, stderr: new TextDecoder().decode(out.stderr) };
}

async function healthyNats(client: GuardianClient): Promise<boolean> {
  for (let i = 0; i < 100; i++) {
    const h = await client.call("GET", "/health") as { nats?: boolean };
    if (h.nats) return true;
    await new Promise((r) => setTimeout(r, 100));
  }
  return false;
}

Deno.test({
  name: "tls: HTTPS Guardian and TLS Master with a private CA; the CLI trusts it by --guardian-ca",
  ignore: !hasOpenssl,
  fn: async () => {
    const dir = await Deno.makeTempDir({ prefix: "veilnet-tls-" });
    const otherDir = join(dir, "other");
    await Deno.mkdir(otherDir);
    const ca = await makeTestCa(dir);
    const stranger = await makeTestCa(otherDir, "Another CA");
    const g = await startGuardian({ mode: "subprocess", tls: ca });
    const h = await cliHarness();
    const clients: ControlClient[] = [];
    try {
      assert.match(g.url, /^https:\/\/127\.0\.0\.1:\d+$/);
      assert.match(g.natsUrls[0], /^tls:\/\/127\.0\.0\.1:\d+$/);
      const conf = await Deno.readTextFile(join(g.dataDir, "nats.conf"));
      assert.match(conf, /^tls \{\n {2}cert_file: "\/.*server\.pem"\n {2}key_file: /m);
      // The Guardian's own connection to the Master (team-key pushes) works over TLS.
      assert.ok(await healthyNats(g.client), "the Guardian never reached the Master over TLS");

      const realm = await createRealm(g);
      const token = await registrationToken(g, realm);
      // Without the CA: a clear error, nothing saved, the registration token is not spent.
      assert.equal(await h.run(["register", "-t", token, "-g", g.url]), 1, h.out.join("\n"));
      assert.match(h.err.join("\n"), /not trusted: if a private CA signed it, pass --guardian-ca/);
      await assert.rejects(Deno.stat(join(h.configDir, "conflux.json")));

      assert.equal(
        await h.run(["register", "-t", token, "-g", g.url, "--guardian-ca", ca.caFile]),
        0,
        h.err.join("\n"),
      );
      const saved = JSON.parse(await Deno.readTextFile(join(h.configDir, "conflux.json")));
      assert.equal(saved.guardian, g.url);
      assert.equal(saved.guardian_ca, ca.caFile);
      // Later commands and the service's `run` use the saved CA.
      assert.equal(await h.run(["teams", "list"]), 0, h.err.join("\n"));
      assert.equal(await h.run(["run", "--profile", "register"]), 0, h.err.join("\n"));
      const node = h.nodeRuns.at(-1)!;
      assert.equal(node.guardianUrl, g.url);
      assert.deepEqual(node.guardianCaCerts, [ca.caPem]);

      // The control channel: a session names the tls:// Master, and NATS traffic flows over it.
      const trusted = new GuardianClient(g.url, { caCerts: [ca.caPem] });
      const a = await ControlClient.connect({
        guardian: trusted,
        confluxToken: saved.conflux_token,
        mldsaPublicKey: publicKey(),
      });
      clients.push(a);
      assert.deepEqual(a.session.natsUrls, g.natsUrls);
      const b = await ControlClient.connect({
        guardian: trusted,
        confluxToken: (await registerConflux(g, realm)).token,
        mldsaPublicKey: publicKey(),
      });
      clients.push(b);
      const sub = a.subscribe(controlSubject(realm.realmId, saved.conflux_id));
      await a.flush();
      b.publish(controlSubject(realm.realmId, saved.conflux_id), new TextEncoder().encode("hi"));
      const got = await (async () => {
        for await (const m of sub) return new TextDecoder().decode(m.data);
      })();
      assert.equal(got, "hi");

      // A CA that did not sign the Guardian's certificate is refused with a TLS error.
      const wrong = new GuardianClient(g.url, { caCerts: [stranger.caPem] });
      await assert.rejects(
        ControlClient.connect({
          guardian: wrong,
          confluxToken: saved.conflux_token,
          mldsaPublicKey: publicKey(),
        }),
        /TLS: .*(UnknownIssuer|certificate)/,
      );
    } finally {
      for (const c of clients) await c.close();
      await h.cleanup();
      await g.stop();
      await Deno.remove(dir, { recursive: true });
    }
  },
});

Deno.test({
  name: "tls: missing, swapped or half-given certificate files are refused before any write",
  ignore: !hasOpenssl,
  fn: async () => {
    const dir = await Deno.makeTempDir({ prefix: "veilnet-tls-bad-" });
    const data = join(dir, "data");
    try {
      const ca = await makeTestCa(dir);
      const cases: [string[], RegExp][] = [
        [["--nats-tls-cert", ca.certFile], /--nats-tls-cert and --nats-tls-key go together/],
        [["--nats-tls-cert", ca.keyFile, "--nats-tls-key", ca.keyFile], /holds no PEM certificate/],
        [["--nats-tls-cert", ca.certFile, "--nats-tls-key", ca.certFile], /holds no PEM private/],
        [["--nats-tls-cert", join(dir, "nope.pem"), "--nats-tls-key", ca.keyFile], /no such file/],
        [["--nats-tls-ca", ca.caFile], /--nats-tls-ca needs --nats-tls-cert and --nats-tls-key/],
        [
          [
            "--nats-tls-cert",
            ca.certFile,
            "--nats-tls-key",
            ca.keyFile,
            "--nats-tls-ca",
            ca.keyFile,
          ],
          /--nats-tls-ca: .* holds no PEM certificate/,
        ],
      ];
      for (const [flags, message] of cases) {
        const r = await guardianCli(["init", "--data", data, ...flags]);
        assert.equal(r.code, 2, r.stderr);
        assert.match(r.stderr, message);
        assert.ok(!r.stderr.includes("PRIVATE KEY-----\n"), "a key file's contents leaked");
        await assert.rejects(Deno.stat(data), "init wrote something");
      }
      const serve = ["serve", "--data", data, "--nats", "tls://127.0.0.1:1"];
      for (
        const [flags, message] of [
          [["--tls-key", ca.keyFile], /--tls-cert and --tls-key go together/],
          [["--tls-cert", ca.caFile, "--tls-key", ca.caFile], /holds no PEM private key/],
          [["--nats-ca", ca.keyFile], /--nats-ca: .* holds no PEM certificate/],
        ] as [string[], RegExp][]
      ) {
        const r = await guardianCli([...serve, ...flags]);
        assert.equal(r.code, 2, r.stderr);
        assert.match(r.stderr, message);
      }
    } finally {
      await Deno.remove(dir, { recursive: true });
    }
  },
});
