/**
 * register / unregister / up / down against a real Guardian: the happy paths and every failure
 * path rolling back to the state before the command.
 */
import assert from "node:assert/strict";
import { join } from "node:path";
import {
  createRealm,
  registrationToken,
  startGuardian,
  type TestGuardian,
  type TestRealm,
} from "./helpers/guardian.ts";
import { freePort } from "./helpers/nats_server.ts";
import { guardianKeyFingerprint } from "../core/control/guardian_client.ts";
import { type CliHarness, cliHarness } from "./cli_harness.ts";

type Case = (g: TestGuardian, h: CliHarness, realm: TestRealm) => Promise<void>;
const cases: Array<[string, Case]> = [];
/** Declares a case; all cases share one Guardian (starting one costs ~3 s) but not a harness. */
const test = (name: string, fn: Case) => cases.push([name, fn]);

/** SHA-256 (hex) of the test Guardian's key: what register/up pin. */
function guardianKey(g: TestGuardian): string {
  return guardianKeyFingerprint(g.server!.keys.identity.publicKey);
}

/** Whether the Guardian accepts `token` as a live conflux token. */
async function tokenLive(g: TestGuardian, confluxId: string, token: string): Promise<boolean> {
  const r = await fetch(`${g.url}/conflux?conflux_id=${confluxId}`, {
    headers: { authorization: `Bearer ${token}` },
  });
  await r.body?.cancel();
  if (r.status === 200) return true;
  assert.equal(r.status, 401);
  return false;
}

async function readJson(path: string): Promise<Record<string, unknown>> {
  return JSON.parse(await Deno.readTextFile(path));
}

test("register → status → unregister against a real Guardian", async (g, h, realm) => {
  const token = await registrationToken(g, realm);
  const code = await h.run(["register", "-t", token, "-g", g.url, "--tag", "web-1", "-p"]);
  assert.equal(code, 0, h.err.join("\n"));
  const path = join(h.configDir, "conflux.json");
  assert.equal((await Deno.stat(path)).mode! & 0o777, 0o600);
  const saved = await readJson(path);
  assert.equal(saved.guardian, g.url);
  // The Guardian's key is pinned beside the token.
  assert.equal(saved.guardian_key_sha256, guardianKey(g));
  assert.match(h.out.join("\n"), new RegExp(`pinned the Guardian's key sha256:${guardianKey(g)}`));
  assert.equal(saved.tag, "web-1");
  assert.equal(saved.portal, true);
  const confluxId = saved.conflux_id as string;
  const confluxToken = saved.conflux_token as string;
  assert.equal(await tokenLive(g, confluxId, confluxToken), true);
  assert.ok(!h.out.join("\n").includes(confluxToken), "token never printed");
  assert.ok(!h.out.join("\n").includes(token), "registration token never printed");
  const unit = await h.unit();
  assert.ok(unit?.includes(`--config-dir ${h.configDir} --profile register`), unit ?? "no unit");
  assert.ok(!unit!.includes(confluxToken), "no token in the unit");
  assert.ok(h.systemctl.active.has("veilnet.service"));
  assert.ok(h.systemctl.enabled.has("veilnet.service"));
  assert.equal(g.server!.store.confluxById(confluxId)?.tag, "web-1");

  h.out.length = 0;
  assert.equal(await h.run(["status"]), 0);
  assert.match(h.out.join("\n"), /state:\s+running/);
  assert.equal(await h.run(["stop"]), 0);
  assert.equal(await h.run(["status", "--json"]), 3);
  assert.equal(JSON.parse(h.out.at(-1)!).state, "stopped");
  assert.equal(await h.run(["start"]), 0);

  assert.equal(await h.run(["unregister"]), 0, h.err.join("\n"));
  assert.equal(await tokenLive(g, confluxId, confluxToken), false);
  assert.equal(await h.unit(), null);
  assert.equal(h.systemctl.active.size + h.systemctl.enabled.size, 0);
  await assert.rejects(() => Deno.stat(path), Deno.errors.NotFound);
  assert.equal(await h.run(["status"]), 3);
});

test("register from environment variables only", async (g, h, realm) => {
  const env = {
    VEILNET_REGISTRATION_TOKEN: await registrationToken(g, realm),
    VEILNET_GUARDIAN: g.url,
    VEILNET_CONFLUX_TAG: "from-env",
    VEILNET_PORTAL: "true",
  };
  assert.equal(await h.run(["register"], env), 0, h.err.join("\n"));
  const saved = await readJson(join(h.configDir, "conflux.json"));
  assert.equal(saved.tag, "from-env");
  assert.equal(saved.portal, true);
  // Registering again replaces the saved registration and says which conflux it replaced.
  const again = { ...env, VEILNET_REGISTRATION_TOKEN: await registrationToken(g, realm) };
  assert.equal(await h.run(["register"], again), 0, h.err.join("\n"));
  assert.match(
    h.err.join("\n"),
    new RegExp(`replaced the registration of conflux ${saved.conflux_id}`),
  );
});

test("register: a refused token changes nothing", async (g, h) => {
  const code = await h.run(["register", "-t", "vnr_not-a-real-token", "-g", g.url]);
  assert.equal(code, 1);
  assert.match(h.err.join("\n"), /Guardian refused: invalid registration token/);
  assert.deepEqual(h.systemctl.calls, []);
  await assert.rejects(() => Deno.stat(h.configDir), Deno.errors.NotFound);
});

test(
  "register: without a usable service manager the Guardian is not even asked",
  async (g, h, realm) => {
    const token = await registrationToken(g, realm);
    h.setSystemd(false);
    const live = g.server!.store.listConfluxes(realm.realmId).length;
    assert.equal(await h.run(["register", "-t", token, "-g", g.url]), 1);
    assert.match(h.err.join("\n"), /systemd is not running.*--debug/);
    assert.equal(g.server!.store.listConfluxes(realm.realmId).length, live);
    // The registration token is still unused: --debug registers and runs in the foreground.
    assert.equal(
      await h.run(["register", "-t", token, "-g", g.url, "--debug"]),
      0,
      h.err.join("\n"),
    );
    assert.equal(h.nodeRuns.length, 1);
    const saved = await readJson(join(h.configDir, "conflux.json"));
    assert.equal(h.nodeRuns[0].confluxToken, saved.conflux_token);
    assert.equal(h.nodeRuns[0].guardianUrl, g.url);
    assert.equal(h.nodeRuns[0].guardianKeySha256, guardianKey(g), "the node gets the pin");
    assert.equal(h.nodeRuns[0].configDir, h.configDir);
    assert.deepEqual(h.systemctl.calls, []);
  },
);

Deno.test("register: Guardian unreachable is a clear error and changes nothing", async () => {
  const h = await cliHarness();
  try {
    const url = `http://127.0.0.1:${freePort()}`;
    assert.equal(await h.run(["register", "-t", "vnr_x", "-g", url]), 1);
    assert.match(h.err.join("\n"), new RegExp(`Guardian at ${url}.*unreachable`));
    assert.deepEqual(h.systemctl.calls, []);
  } finally {
    await h.cleanup();
  }
});

for (const step of ["enable", "start", "daemon-reload"]) {
  test(`register: failure at systemctl ${step} rolls everything back`, async (g, h, realm) => {
    // A previous `up` left a running service and up.json; a previous conflux.json exists too.
    assert.equal(await h.run(["up", "-t", "vnc_previous", "-g", g.url]), 0, h.err.join("\n"));
    const previousUnit = await h.unit();
    const previousConflux = '{"previous": "file, kept byte for byte"}\n';
    await Deno.writeTextFile(join(h.configDir, "conflux.json"), previousConflux);
    h.systemctl.failWhen = (args) => args[0] === step;
    const live = g.server!.store.listConfluxes(realm.realmId).length;
    const token = await registrationToken(g, realm);
    h.err.length = 0;
    assert.equal(await h.run(["register", "-t", token, "-g", g.url]), 1);
    assert.match(h.err.join("\n"), new RegExp(`systemctl ${step}`));
    h.systemctl.failWhen = null;
    // No conflux left registered at the Guardian, the old file and the old service are back.
    assert.equal(g.server!.store.listConfluxes(realm.realmId).length, live);
    assert.equal(await Deno.readTextFile(join(h.configDir, "conflux.json")), previousConflux);
    assert.equal(await h.unit(), previousUnit);
    assert.ok(h.systemctl.active.has("veilnet.service"), "previous service running again");
    assert.ok(h.systemctl.enabled.has("veilnet.service"));
  });
}

test("register: a failed first registration leaves no file and no unit", async (g, h, realm) => {
  h.systemctl.failWhen = (args) => args[0] === "start";
  const live = g.server!.store.listConfluxes(realm.realmId).length;
  const token = await registrationToken(g, realm);
  assert.equal(await h.run(["register", "-t", token, "-g", g.url]), 1);
  await assert.rejects(() => Deno.stat(join(h.configDir, "conflux.json")), Deno.errors.NotFound);
  assert.equal(await h.unit(), null);
  assert.equal(h.systemctl.active.size + h.systemctl.enabled.size, 0);
  assert.equal(g.server!.store.listConfluxes(realm.realmId).length, live);
});

test("unregister: Guardian unreachable changes nothing unless --force", async (g, h, realm) => {
  const token = await registrationToken(g, realm);
  assert.equal(await h.run(["register", "-t", token, "-g", g.url]), 0, h.err.join("\n"));
  const before = await Deno.readTextFile(join(h.configDir, "conflux.json"));
  const dead = `http://127.0.0.1:${freePort()}`;
  assert.equal(await h.run(["unregister", "-g", dead]), 1);
  assert.match(h.err.at(-1)!, /--force/);
  assert.equal(await Deno.readTextFile(join(h.configDir, "conflux.json")), before);
  assert.ok(h.systemctl.active.has("veilnet.service"));
  assert.equal(await h.run(["unregister", "-g", dead, "--force"]), 0);
  assert.equal(await h.unit(), null);
  assert.equal(await h.run(["unregister"]), 1);
  assert.match(h.err.at(-1)!, /not registered/);
});

test(
  "unregister: a conflux the Guardian already revoked is still cleaned up",
  async (g, h, realm) => {
    const token = await registrationToken(g, realm);
    assert.equal(await h.run(["register", "-t", token, "-g", g.url]), 0);
    const saved = await readJson(join(h.configDir, "conflux.json"));
    await g.client.unregister(saved.conflux_token as string);
    assert.equal(await h.run(["unregister"]), 0);
    assert.match(h.err.join("\n"), /no longer knows this conflux/);
    assert.equal(await h.unit(), null);
  },
);

test("up → down, and a failed up restores the previous state", async (g, h) => {
  assert.equal(await h.run(["up", "-t", "vnc_first", "-g", g.url, "--rtc", "werift"]), 0);
  const upPath = join(h.configDir, "up.json");
  const first = await Deno.readTextFile(upPath);
  assert.deepEqual(JSON.parse(first), {
    version: 1,
    guardian: g.url,
    guardian_key_sha256: guardianKey(g),
    conflux_token: "vnc_first",
    portal: false,
    rtc: "werift",
    relay: true,
  });
  const unit = await h.unit();
  assert.ok(unit?.includes("--profile up"));
  h.systemctl.failWhen = (args) => args[0] === "start";
  assert.equal(await h.run(["up"], { VEILNET_CONFLUX_TOKEN: "vnc_second" }), 1);
  h.systemctl.failWhen = null;
  assert.equal(await Deno.readTextFile(upPath), first);
  assert.equal(await h.unit(), unit);
  assert.ok(h.systemctl.active.has("veilnet.service"));
  assert.equal(await h.run(["down"]), 0);
  assert.equal(await h.unit(), null);
  await assert.rejects(() => Deno.stat(upPath), Deno.errors.NotFound);
  assert.equal(await h.run(["up"]), 2);
  assert.match(
    h.err.at(-1)!,
    /no conflux token: pass -t CONFLUX_TOKEN or set VEILNET_CONFLUX_TOKEN/,
  );
});

test(
  "register/up pin: another key is refused and changes nothing; a bad pin is a usage error",
  async (g, h, realm) => {
    const wrong = "ab".repeat(32);
    const token = await registrationToken(g, realm);
    const live = g.server!.store.listConfluxes(realm.realmId).length;
    assert.equal(await h.run(["register", "-t", token, "-g", g.url, "--guardian-key", wrong]), 1);
    assert.match(
      h.err.at(-1)!,
      new RegExp(`presents key sha256:${guardianKey(g)}, not the pinned`),
    );
    assert.equal(g.server!.store.listConfluxes(realm.realmId).length, live, "not registered");
    await assert.rejects(() => Deno.stat(h.configDir), Deno.errors.NotFound);
    assert.equal(await h.run(["up", "-t", "vnc_x", "-g", g.url, "--guardian-key", "nope"]), 2);
    assert.match(h.err.at(-1)!, /--guardian-key: expected the SHA-256/);
    // The right pin, given up front (sha256: prefix and upper case accepted), is saved as is;
    // `run` hands it to the node, and a new -g without --guardian-key drops it.
    const pin = `sha256:${guardianKey(g).toUpperCase()}`;
    assert.equal(await h.run(["register", "-t", token, "-g", g.url, "--guardian-key", pin]), 0);
    assert.equal(
      (await readJson(join(h.configDir, "conflux.json"))).guardian_key_sha256,
      guardianKey(g),
    );
    assert.equal(await h.run(["run", "--profile", "register"]), 0, h.err.join("\n"));
    assert.equal(h.nodeRuns.at(-1)!.guardianKeySha256, guardianKey(g));
    assert.equal(await h.run(["run", "--profile", "register", "-g", "http://127.0.0.1:9"]), 0);
    assert.equal(h.nodeRuns.at(-1)!.guardianKeySha256, undefined);
  },
);

test("remove keeps the configuration; start without a service fails clearly", async (g, h) => {
  assert.equal(await h.run(["up", "-t", "vnc_x", "-g", g.url]), 0);
  assert.equal(await h.run(["remove"]), 0);
  assert.equal(await h.unit(), null);
  await Deno.stat(join(h.configDir, "up.json"));
  assert.equal(await h.run(["start"]), 1);
  assert.match(h.err.at(-1)!, /systemctl start veilnet\.service failed/);
});

Deno.test("CLI register/unregister/up/down against a real Guardian", async (t) => {
  const g = await startGuardian({ nats: false });
  try {
    const realm = await createRealm(g);
    for (const [name, fn] of cases) {
      await t.step(name, async () => {
        const h = await cliHarness();
        try {
          await fn(g, h, realm);
        } finally {
          await h.cleanup();
        }
      });
    }
  } finally {
    await g.stop();
  }
});
