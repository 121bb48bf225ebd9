/**
 * `veilnet-conflux netcheck` on loopback: against a real Guardian, nats-server and the Guardian's
 * STUN service every check passes; each way of breaking them (Guardian down, token revoked, NATS
 * down, STUN silent, no second STUN port, a skewed clock, an untrusted certificate) gives its own
 * line and fix; bad flags are usage errors. The NAT verdicts behind real NATs are in
 * tests/diagnostics_netns_test.ts.
 *
 * The TUN check is replaced here (it would create a device in the host's namespace); the netns
 * test runs the real one.
 */
import assert from "node:assert/strict";
import dgram from "node:dgram";
import { main } from "../cli/mod.ts";
import { type NetcheckSettings, readSavedConfig, runNetcheck } from "../cli/netcheck/command.ts";
import { clockCheck, underlayCheck } from "../cli/netcheck/checks.ts";
import { type Check, check, renderChecks } from "../cli/netcheck/report.ts";
import { classifyMapping, parseStunUrl, type StunAnswer } from "../cli/netcheck/stun_probe.ts";
import { memoryLogger } from "../core/log/logger.ts";
import { startStunServer, type StunServer } from "../guardian/stun_server.ts";
import {
  createRealm,
  registerConflux,
  startGuardian,
  type TestGuardian,
} from "./helpers/guardian.ts";
import { freePort } from "./helpers/nats_server.ts";
import { makeTestCa, opensslAvailable } from "./helpers/tls.ts";

const fakeTun = () => Promise.resolve(check("tun", "ok", "not checked in this test"));
const fast = { guardianMs: 3_000, natsMs: 2_000, stunMs: 800, nodeMs: 1_000 };
const natsAvailable = (() => {
  try {
    return Deno.statSync("/usr/sbin/nats-server").isFile;
  } catch {
    return false;
  }
})();

function byName(checks: Check[]): Record<string, Check> {
  return Object.fromEntries(checks.map((c) => [c.name, c]));
}

function answer(server: string, mapped: string): StunAnswer {
  const [sa, sp] = server.split(":");
  const [ma, mp] = mapped.split(":");
  return {
    server: { address: sa, port: Number(sp) },
    mapped: { address: ma, port: Number(mp), family: 4 },
    other: null,
    rttMs: 1,
  };
}

Deno.test("netcheck: verdicts from STUN answers, the Date header and the interface list", () => {
  assert.deepEqual(parseStunUrl("stun:198.18.0.1:3478"), { host: "198.18.0.1", port: 3478 });
  assert.deepEqual(parseStunUrl("stun:[2001:db8::1]:19302"), { host: "2001:db8::1", port: 19302 });
  assert.deepEqual(parseStunUrl("stun:stun.example.org"), { host: "stun.example.org", port: 3478 });
  for (
    const bad of ["turn:x:3478", "stuns:x:5349", "stun:x:0", "stun:x:70000", "stun:", "http://x"]
  ) {
    assert.equal(parseStunUrl(bad), null, bad);
  }

  const local = ["198.18.200.2", "127.0.0.1"];
  // Behind a NAT that keeps one mapping per socket, and one that draws a port per destination.
  const cone = [
    answer("198.18.0.1:3478", "198.18.0.10:40000"),
    answer("198.18.0.1:3479", "198.18.0.10:40000"),
  ];
  const symmetric = [
    answer("198.18.0.1:3478", "198.18.0.10:40000"),
    answer("198.18.0.1:3479", "198.18.0.10:51234"),
  ];
  assert.equal(classifyMapping(cone, local, 40000), "endpoint-independent");
  assert.equal(classifyMapping(symmetric, local, 40000), "dependent");
  assert.equal(classifyMapping(cone.slice(0, 1), local, 40000), "unknown");
  assert.equal(classifyMapping([], local, 40000), "unknown");
  const open = [answer("198.18.0.1:3478", "198.18.200.2:40000")];
  assert.equal(classifyMapping(open, local, 40000), "none");
  // Own address but another port: a NAT on this host rewrote the port.
  assert.equal(
    classifyMapping([...open, answer("198.18.0.1:3479", "198.18.200.2:40001")], local, 40000),
    "dependent",
  );

  // Our clock at 12:00:00.700; a Date header says whole seconds, possibly a second late.
  const now = Date.parse("2026-12-04T12:00:00.700Z");
  const date = (ms: number) => new Date(ms).toUTCString();
  assert.equal(clockCheck(date(now), now - 10, now + 10).status, "ok");
  assert.match(clockCheck(date(now), now - 10, now + 10).summary, /\+0\.3 s off .*\(±1\.0 s;/);
  assert.equal(clockCheck(date(now + 15_000), now, now + 20).status, "warn");
  const behind = clockCheck(date(now - 45_000), now, now + 20);
  assert.equal(behind.status, "fail");
  assert.match(behind.summary, /-44\.\d s off the Guardian's .*±30 s/);
  assert.match(behind.fix ?? "", /timedatectl set-ntp true/);
  assert.equal(clockCheck(null, now, now).status, "skip");
  assert.equal(clockCheck("yesterday-ish", now, now).status, "skip");

  const ifaces = [
    { name: "lo", family: "IPv4" as const, address: "127.0.0.1" },
    { name: "eth0", family: "IPv4" as const, address: "198.18.0.10" },
    { name: "l0", family: "IPv4" as const, address: "198.18.100.1" },
    { name: "veilnet0", family: "IPv4" as const, address: "100.64.0.7" },
    { name: "eth0", family: "IPv6" as const, address: "fe80::1" },
  ];
  const all = underlayCheck(ifaces, { tunName: "veilnet0", realmSubnet: "100.64.0.0/24" });
  assert.equal(all.status, "ok");
  assert.match(all.summary, /eth0 198\.18\.0\.10, l0 198\.18\.100\.1 \(every interface/);
  const named = underlayCheck(ifaces, { tunName: "veilnet0", named: ["l0", "eth9"] });
  assert.equal(named.status, "warn");
  assert.match(named.summary, /l0 198\.18\.100\.1 .*this host has no eth9/);
  const none = underlayCheck(ifaces, { tunName: "veilnet0", named: ["eth9"] });
  assert.equal(none.status, "fail");
  assert.match(none.fix ?? "", /--underlay-interfaces/);
  const lonely = underlayCheck(ifaces.slice(0, 1), { tunName: "veilnet0" });
  assert.equal(lonely.status, "warn");
  assert.match(lonely.summary, /loopback only/);

  const text = renderChecks([
    check("tun", "ok", "fine"),
    check("guardian", "fail", "nothing listens", { fix: "start it" }),
    check("nat", "skip", "not checked", { fix: "not shown for a skip" }),
  ]);
  assert.equal(
    text,
    "ok    tun       fine\nFAIL  guardian  nothing listens; fix: start it\nskip  nat       not checked",
  );
});

/** A Guardian with nats-server and a STUN service (second port unless `alternatePort: null`). */
async function realm(options: { alternatePort?: null; ice?: string[] } = {}): Promise<{
  g: TestGuardian;
  stun: StunServer;
  token: string;
  confluxId: string;
  settings: NetcheckSettings;
  close(): Promise<void>;
}> {
  const stun = await startStunServer({
    hostname: "127.0.0.1",
    port: 0,
    log: memoryLogger(),
    ...(options.alternatePort === null ? { alternatePort: null } : {}),
  });
  let g: TestGuardian;
  try {
    g = await startGuardian({ api: { iceServers: options.ice ?? [stun.url] } });
  } catch (e) {
    await stun.close();
    throw e;
  }
  const r = await createRealm(g, { subnet: "100.64.9.0/24" });
  const c = await registerConflux(g, r);
  const dir = await Deno.makeTempDir({ prefix: "veilnet-netcheck-" });
  return {
    g,
    stun,
    token: c.token,
    confluxId: c.confluxId,
    settings: {
      configDir: dir,
      guardianUrl: g.url,
      confluxToken: c.token,
      portal: false,
      tunName: "veilnet0",
    },
    async close() {
      await g.stop();
      await stun.close();
      await Deno.remove(dir, { recursive: true });
    },
  };
}

Deno.test({
  name: "netcheck: every check passes against a real Guardian, nats-server and STUN service",
  ignore: !natsAvailable,
  fn: async () => {
    const r = await realm();
    try {
      const started = performance.now();
      const checks = await runNetcheck(r.settings, { timeouts: fast, tunCheck: fakeTun });
      const ms = performance.now() - started;
      const c = byName(checks);
      console.log(renderChecks(checks));
      console.log(`netcheck took ${Math.round(ms)} ms`);
      assert.deepEqual(
        checks.map((x) => x.name),
        [
          "node",
          "tun",
          "guardian",
          "tls",
          "clock",
          "session",
          "nats",
          "udp",
          "reflexive",
          "nat",
          "underlay",
        ],
      );
      assert.equal(c.node.status, "skip");
      assert.match(c.node.summary, /no node running \(no-socket/);
      assert.equal(c.guardian.status, "ok", c.guardian.summary);
      assert.equal(c.tls.status, "skip");
      assert.match(c.tls.summary, /plain http/);
      assert.equal(c.clock.status, "ok", c.clock.summary);
      assert.equal(c.session.status, "ok", c.session.summary);
      assert.match(
        c.session.summary,
        new RegExp(`conflux ${r.confluxId}, realm .*overlay ip 100\\.64\\.9\\.`),
      );
      assert.equal(c.nats.status, "ok", c.nats.summary);
      assert.match(
        c.nats.summary,
        new RegExp(`connected .* to ${r.g.natsUrls[0]} \\(rtt [\\d.]+ ms\\)`),
      );
      assert.equal(c.udp.status, "ok", c.udp.summary);
      assert.match(c.udp.summary, new RegExp(`${r.stun.url.replaceAll(".", "\\.")} answered in`));
      assert.equal(c.reflexive.status, "ok");
      const localPort = (c.udp.details as { local_port: number }).local_port;
      assert.equal(c.reflexive.summary.split(" ")[0], `127.0.0.1:${localPort}`);
      // Loopback has no NAT; the server's second port answered too.
      assert.equal(c.nat.status, "ok", c.nat.summary);
      assert.equal((c.nat.details as { mapping: string }).mapping, "none");
      const seen = (c.nat.details as { seen: { server: string }[] }).seen.map((s) => s.server);
      assert.deepEqual(seen, [
        `127.0.0.1:${r.stun.addr.port}`,
        `127.0.0.1:${r.stun.alternate!.port}`,
      ]);
      assert.notEqual(c.underlay.status, "fail");
      assert.ok(!checks.some((x) => x.status === "fail"));
    } finally {
      await r.close();
    }
  },
});

Deno.test({
  name: "netcheck: NATS down, a revoked token, silent STUN and no STUN each say which and how",
  ignore: !natsAvailable,
  fn: async () => {
    // A STUN service without a second port: one destination only. On loopback that still says
    // "no NAT" (the server saw our own address); behind a NAT it could not tell (netns test).
    const one = await realm({ alternatePort: null });
    try {
      const c = byName(await runNetcheck(one.settings, { timeouts: fast, tunCheck: fakeTun }));
      assert.equal(c.udp.status, "ok");
      assert.equal(c.nat.status, "ok");
      assert.equal((c.nat.details as { seen: unknown[] }).seen.length, 1);

      // nats-server gone.
      await one.g.nats!.stop();
      const d = byName(await runNetcheck(one.settings, { timeouts: fast, tunCheck: fakeTun }));
      assert.equal(d.session.status, "ok");
      assert.equal(d.nats.status, "fail");
      assert.match(d.nats.summary, /connection refused/);
      assert.match(d.nats.fix ?? "", /is nats-server running/);

      // The token revoked at the Guardian.
      await one.g.client.unregister(one.token);
      const e = byName(await runNetcheck(one.settings, { timeouts: fast, tunCheck: fakeTun }));
      assert.equal(e.guardian.status, "warn", e.guardian.summary); // its own NATS is down too
      assert.match(e.guardian.summary, /its own NATS connection is down/);
      assert.equal(e.session.status, "fail");
      assert.match(e.session.summary, /HTTP 401/);
      assert.match(e.session.fix ?? "", /register again/);
      assert.equal(e.nats.status, "skip");
      assert.equal(e.udp.status, "skip");

      // No token at all: the realm's servers cannot be learned, which is not a failure.
      const f = byName(
        await runNetcheck({ ...one.settings, confluxToken: undefined }, {
          timeouts: fast,
          tunCheck: fakeTun,
        }),
      );
      assert.equal(f.session.status, "skip");
      assert.match(f.session.summary, /no conflux token/);
    } finally {
      await one.close();
    }

    // The session names a STUN address where nothing answers.
    const silent = dgram.createSocket("udp4");
    await new Promise<void>((resolve) => silent.bind(0, "127.0.0.1", () => resolve()));
    const port = silent.address().port;
    const mute = await realm({ ice: [`stun:127.0.0.1:${port}`] });
    try {
      const c = byName(await runNetcheck(mute.settings, { timeouts: fast, tunCheck: fakeTun }));
      assert.equal(c.udp.status, "fail");
      assert.match(
        c.udp.summary,
        new RegExp(`no answer from stun:127\\.0\\.0\\.1:${port} within 0\\.8 s`),
      );
      assert.match(c.udp.fix ?? "", new RegExp(`allow outbound UDP to 127\\.0\\.0\\.1:${port}`));
      assert.equal(c.reflexive.status, "skip");
      assert.equal(c.nat.status, "skip");
    } finally {
      await mute.close();
      silent.close();
    }

    // A realm whose Guardian hands out no STUN server.
    const none = await realm({ ice: [] });
    try {
      const c = byName(await runNetcheck(none.settings, { timeouts: fast, tunCheck: fakeTun }));
      assert.equal(c.udp.status, "skip");
      assert.match(c.udp.summary, /hands out no STUN server/);
    } finally {
      await none.close();
    }
  },
});

Deno.test("netcheck: a Guardian that is down, dated wrong or not a Guardian", async () => {
  const dir = await Deno.makeTempDir({ prefix: "veilnet-netcheck-" });
  const settings = (url: string): NetcheckSettings => ({
    configDir: dir,
    guardianUrl: url,
    confluxToken: "vnc_not_checked_here",
    portal: false,
    tunName: "veilnet0",
  });
  try {
    const down = byName(
      await runNetcheck(settings(`http://127.0.0.1:${freePort()}`), {
        timeouts: fast,
        tunCheck: fakeTun,
      }),
    );
    assert.equal(down.guardian.status, "fail");
    assert.match(
      down.guardian.summary,
      /nothing listens at 127\.0\.0\.1:\d+ \(connection refused\)/,
    );
    assert.match(down.guardian.fix ?? "", /is the Guardian running there/);
    for (const n of ["clock", "session", "nats", "udp", "reflexive", "nat"]) {
      assert.equal(down[n].status, "skip", n);
    }

    // A server 45 s ahead of us: sessions would fail certificate checks.
    let status = 200;
    let body = JSON.stringify({ status: "ok", nats: true });
    const server = Deno.serve(
      { hostname: "127.0.0.1", port: 0, onListen() {} },
      () =>
        new Response(body, {
          status,
          headers: {
            date: new Date(Date.now() + 45_000).toUTCString(),
            "content-type": "application/json",
          },
        }),
    );
    try {
      const url = `http://127.0.0.1:${server.addr.port}`;
      const ahead = byName(await runNetcheck(settings(url), { timeouts: fast, tunCheck: fakeTun }));
      assert.equal(ahead.guardian.status, "ok");
      assert.equal(ahead.clock.status, "fail");
      assert.match(ahead.clock.summary, /\+4\d\.\d s off the Guardian's/);
      status = 404;
      body = "not found";
      const other = byName(await runNetcheck(settings(url), { timeouts: fast, tunCheck: fakeTun }));
      assert.equal(other.guardian.status, "fail");
      assert.match(other.guardian.summary, /answered HTTP 404, not a Guardian's \/health/);
    } finally {
      await server.shutdown();
    }
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test({
  name: "netcheck: an HTTPS Guardian whose CA is not given fails the tls check, and passes with it",
  ignore: !opensslAvailable(),
  fn: async () => {
    const dir = await Deno.makeTempDir({ prefix: "veilnet-netcheck-tls-" });
    try {
      const ca = await makeTestCa(dir);
      const server = Deno.serve(
        {
          hostname: "127.0.0.1",
          port: 0,
          cert: ca.certPem,
          key: Deno.readTextFileSync(ca.keyFile),
          onListen() {},
        },
        () => Response.json({ status: "ok", nats: true }),
      );
      try {
        const base: NetcheckSettings = {
          configDir: dir,
          guardianUrl: `https://127.0.0.1:${server.addr.port}`,
          portal: false,
          tunName: "veilnet0",
        };
        const untrusted = byName(await runNetcheck(base, { timeouts: fast, tunCheck: fakeTun }));
        assert.equal(untrusted.tls.status, "fail");
        assert.match(untrusted.tls.fix ?? "", /pass --guardian-ca FILE/);
        assert.equal(untrusted.guardian.status, "warn");
        const trusted = byName(
          await runNetcheck({ ...base, caCerts: [ca.caPem] }, {
            timeouts: fast,
            tunCheck: fakeTun,
          }),
        );
        assert.equal(trusted.tls.status, "ok", trusted.tls.summary);
        assert.match(trusted.tls.summary, /trusted \(--guardian-ca\)/);
        assert.equal(trusted.guardian.status, "ok");
      } finally {
        await server.shutdown();
      }
    } finally {
      await Deno.remove(dir, { recursive: true });
    }
  },
});

Deno.test("netcheck: bad flags are usage errors (exit 2) before any check runs", async () => {
  const dir = await Deno.makeTempDir({ prefix: "veilnet-netcheck-" });
  try {
    const cases: [string[], RegExp][] = [
      [["--tun", "no spaces"], /--tun: /],
      [["--underlay-interfaces", ","], /--underlay-interfaces: no interface named/],
      [["-g", "ftp://guardian"], /Guardian URL must start with http/],
      [["--profile", "other"], /--profile must be one of register, up/],
      [["--frob"], /unknown flag --frob/],
      [["extra"], /unexpected argument "extra"/],
      [["--guardian-ca", `${dir}/missing.pem`], /missing\.pem/],
    ];
    for (const [args, re] of cases) {
      const err: string[] = [];
      const out: string[] = [];
      const code = await main(["netcheck", ...args, "--config-dir", dir], {
        env: {},
        stdout: (t) => out.push(t),
        stderr: (t) => err.push(t),
      });
      assert.equal(code, 2, `${args.join(" ")}: ${err.join("\n")}`);
      assert.match(err.join("\n"), re);
      assert.deepEqual(out, [], "nothing checked");
    }
    // Listed in help, with its flags.
    const out: string[] = [];
    assert.equal(
      await main(["help"], { env: {}, stdout: (t) => out.push(t), stderr: () => {} }),
      0,
    );
    assert.match(out.join("\n"), /\n {2}netcheck +Check this host's network/);
    out.length = 0;
    assert.equal(
      await main(["netcheck", "--help"], { env: {}, stdout: (t) => out.push(t), stderr: () => {} }),
      0,
    );
    assert.match(out.join("\n"), /--underlay-interfaces IF,IF/);
    assert.match(out.join("\n"), /--json/);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("netcheck: a corrupt conflux.json is one failed line, not a crash", async () => {
  const dir = await Deno.makeTempDir({ prefix: "veilnet-netcheck-" });
  try {
    const empty = await readSavedConfig(dir, undefined);
    assert.equal(empty.saved, null);
    assert.equal(empty.check.status, "skip");
    assert.match(empty.check.summary, /no saved configuration .*using flags and environment/);
    await Deno.writeTextFile(`${dir}/conflux.json`, "{ not json");
    const corrupt = await readSavedConfig(dir, undefined);
    assert.equal(corrupt.saved, null);
    assert.equal(corrupt.check.status, "fail");
    assert.match(corrupt.check.summary, /conflux\.json is corrupt \(not valid JSON\)/);
    assert.match(corrupt.check.fix ?? "", /netcheck goes on with flags only/);
    await Deno.writeTextFile(
      `${dir}/up.json`,
      JSON.stringify({
        version: 1,
        guardian: "http://198.18.0.1:8080",
        conflux_token: "vnc_x",
        portal: true,
        rtc: "auto",
        relay: true,
      }),
    );
    const up = await readSavedConfig(dir, undefined);
    assert.equal(up.check.status, "ok");
    assert.match(up.check.summary, /up\.json: guardian http:\/\/198\.18\.0\.1:8080/);
    assert.equal(up.saved?.portal, true);
    assert.equal((await readSavedConfig(dir, "register")).check.status, "fail");
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test({
  name: "netcheck: the program without CAP_NET_ADMIN fails the tun check and says how to fix it",
  ignore: Deno.build.os !== "linux" || Deno.uid() !== 0,
  fn: async () => {
    const dir = await Deno.makeTempDir({ prefix: "veilnet-netcheck-" });
    try {
      const main = new URL("../main.ts", import.meta.url).pathname;
      const config = new URL("../deno.json", import.meta.url).pathname;
      const r = await new Deno.Command("setpriv", {
        args: [
          "--bounding-set=-net_admin",
          Deno.execPath(),
          "run",
          "-A",
          "--config",
          config,
          main,
          "netcheck",
          "--config-dir",
          dir,
          "-g",
          `http://127.0.0.1:${freePort()}`,
        ],
        stdout: "piped",
        stderr: "piped",
      }).output();
      const out = new TextDecoder().decode(r.stdout);
      assert.equal(r.code, 1, out + new TextDecoder().decode(r.stderr));
      assert.match(
        out,
        /^FAIL {2}tun +cannot create a TUN device: .*EPERM.*; fix: run as root \(sudo\), or give the program CAP_NET_ADMIN$/m,
      );
      assert.match(out, /^FAIL {2}guardian +nothing listens at /m);
      assert.match(out, /^skip {2}node +no node running/m);
    } finally {
      await Deno.remove(dir, { recursive: true });
    }
  },
});
