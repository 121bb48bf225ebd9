import assert from "node:assert/strict";
import { join } from "node:path";
import { FakeSystemctl } from "../tests/service_fake_systemctl.ts";
import { describeService } from "./description.ts";
import { ServiceError } from "./errors.ts";
import { systemdManager } from "./systemd.ts";

async function setup() {
  const root = await Deno.makeTempDir({ prefix: "veilnet-systemd-driver-" });
  const unitDir = join(root, "units");
  const marker = join(root, "run-systemd-system");
  await Deno.mkdir(unitDir);
  await Deno.mkdir(marker);
  const fake = new FakeSystemctl(unitDir);
  const m = systemdManager({ runner: fake, unitDir, isRoot: true, bootedMarker: marker });
  return { root, unitDir, marker, fake, m };
}

const service = describeService({
  command: ["/usr/local/bin/veilnet-conflux"],
  configDir: "/root/.config/conflux",
  profile: "register",
});

Deno.test("systemd driver: install → start → status → remove, in systemctl's order", async () => {
  const { root, unitDir, fake, m } = await setup();
  try {
    await m.check();
    assert.equal((await m.status()).state, "not-installed");
    await m.install(service);
    const unitPath = join(unitDir, "veilnet.service");
    assert.equal((await Deno.stat(unitPath)).mode! & 0o777, 0o644);
    await m.start();
    const s = await m.status();
    assert.equal(s.state, "running");
    assert.equal(s.pid, 4242);
    assert.equal(s.detail, "active (running)");
    await m.remove();
    await assert.rejects(() => Deno.stat(unitPath), Deno.errors.NotFound);
    assert.deepEqual(fake.calls, [
      "systemctl daemon-reload",
      "systemctl enable veilnet.service",
      "systemctl start veilnet.service",
      "systemctl show veilnet.service -p LoadState,ActiveState,SubState,MainPID --no-pager",
      "systemctl stop veilnet.service",
      "systemctl disable veilnet.service",
      "systemctl daemon-reload",
      "systemctl reset-failed veilnet.service",
    ]);
    assert.equal(fake.active.size + fake.enabled.size + fake.loaded.size, 0);
  } finally {
    await Deno.remove(root, { recursive: true });
  }
});

Deno.test("systemd driver: snapshot and restore bring the previous unit back running", async () => {
  const { root, unitDir, fake, m } = await setup();
  try {
    await m.install(service);
    await m.start();
    const before = await Deno.readTextFile(join(unitDir, "veilnet.service"));
    const snap = await m.snapshot();
    assert.equal(snap.running, true);
    await m.remove();
    await m.install(describeService({ command: ["/other"], configDir: "/x", profile: "up" }));
    await m.restore(snap);
    assert.equal(await Deno.readTextFile(join(unitDir, "veilnet.service")), before);
    assert.ok(fake.active.has("veilnet.service") && fake.enabled.has("veilnet.service"));
  } finally {
    await Deno.remove(root, { recursive: true });
  }
});

Deno.test("systemd driver: a failing systemctl is a ServiceError pointing at the journal", async () => {
  const { root, fake, m } = await setup();
  try {
    await m.install(service);
    fake.failWhen = (args) => args[0] === "start";
    await assert.rejects(
      () => m.start(),
      (e: unknown) =>
        e instanceof ServiceError && e.code === "command-failed" &&
        /systemctl start veilnet\.service failed .*journalctl -u veilnet/.test(e.message),
    );
  } finally {
    await Deno.remove(root, { recursive: true });
  }
});

Deno.test("systemd driver: no systemd, or not root, is explained before anything changes", async () => {
  const { root, unitDir, fake } = await setup();
  try {
    const none = systemdManager({
      runner: fake,
      unitDir,
      isRoot: true,
      bootedMarker: join(root, "absent"),
    });
    await assert.rejects(
      () => none.check(),
      (e: unknown) =>
        e instanceof ServiceError && e.code === "unsupported" && /--debug/.test(e.message) &&
        /OpenRC/.test(e.message),
    );
    const user = systemdManager({
      runner: fake,
      unitDir,
      isRoot: false,
      bootedMarker: join(root, "run-systemd-system"),
    });
    await assert.rejects(
      () => user.check(),
      (e: unknown) => (e as ServiceError).code === "permission",
    );
    assert.deepEqual(fake.calls, []);
  } finally {
    await Deno.remove(root, { recursive: true });
  }
});
