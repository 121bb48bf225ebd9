import assert from "node:assert/strict";
import {
  addNameserverLine,
  type CommandRunner,
  configureHostDns,
  type HostDnsOptions,
  nrptRemoveScript,
  removeMarkedLines,
} from "./host_dns.ts";
import { fromThisHost } from "./names_host.ts";

const ORIGINAL = "# managed by nobody\nsearch lan\nnameserver 192.0.2.53\noptions edns0\n";

function recorder(fail?: (args: string[]) => boolean) {
  const calls: string[][] = [];
  const run: CommandRunner = (program, args) => {
    calls.push([program, ...args]);
    const bad = fail?.(args) ?? false;
    return Promise.resolve({ code: bad ? 1 : 0, stdout: "", stderr: bad ? "refused" : "" });
  };
  return { calls, run };
}

function base(o: Partial<HostDnsOptions>): HostDnsOptions {
  return {
    mode: "auto",
    os: "linux",
    tunName: "veilnet0",
    server: "100.64.0.2",
    suffix: "veilnet.internal",
    reverseZones: ["0.64.100.in-addr.arpa"],
    resolvedRunning: () => Promise.resolve(false),
    ...o,
  };
}

Deno.test("host dns: resolv.conf gets one marked line first, and exactly it goes at stop", async () => {
  const path = await Deno.makeTempFile();
  try {
    await Deno.writeTextFile(path, ORIGINAL);
    const dns = await configureHostDns(base({ mode: "resolv.conf", resolvConfPath: path }));
    assert.equal(dns.host, "resolv.conf");
    const lines = (await Deno.readTextFile(path)).split("\n");
    assert.match(lines[0], /^nameserver 100\.64\.0\.2 # added by veilnet-conflux veilnet0/);
    assert.equal(lines.slice(1).join("\n"), ORIGINAL);
    // Someone else edits the file meanwhile: their change stays, our line goes.
    await Deno.writeTextFile(path, (await Deno.readTextFile(path)) + "nameserver 192.0.2.54\n");
    await dns.undo();
    assert.equal(await Deno.readTextFile(path), ORIGINAL + "nameserver 192.0.2.54\n");
    await dns.undo(); // twice is harmless
    assert.equal(await Deno.readTextFile(path), ORIGINAL + "nameserver 192.0.2.54\n");
  } finally {
    await Deno.remove(path);
  }
});

Deno.test("host dns: after a crash the next start removes the line, in either mode", async () => {
  const path = await Deno.makeTempFile();
  try {
    await Deno.writeTextFile(path, ORIGINAL);
    await configureHostDns(base({ mode: "resolv.conf", resolvConfPath: path })); // no undo: crash
    const again = await configureHostDns(base({ mode: "resolv.conf", resolvConfPath: path }));
    assert.equal((await Deno.readTextFile(path)).split("100.64.0.2").length, 2, "one line only");
    await again.undo();
    assert.equal(await Deno.readTextFile(path), ORIGINAL);
    await configureHostDns(base({ mode: "resolv.conf", resolvConfPath: path })); // crash again
    const auto = await configureHostDns(base({ resolvConfPath: path }));
    assert.equal(auto.host, "none");
    assert.match(auto.detail, /no systemd-resolved/);
    assert.equal(await Deno.readTextFile(path), ORIGINAL);
  } finally {
    await Deno.remove(path);
  }
});

Deno.test("host dns: marked lines of another TUN, CRLF and a missing final newline are kept", () => {
  const other = addNameserverLine("", "100.64.0.9", "veilnet1");
  const text = other + "nameserver 192.0.2.1\r\nsearch x";
  const ours = addNameserverLine(text, "100.64.0.2", "veilnet0");
  assert.equal(removeMarkedLines(ours, "veilnet0"), text);
  assert.equal(removeMarkedLines(text, "veilnet1"), "nameserver 192.0.2.1\r\nsearch x");
});

Deno.test("host dns: without the file, resolv.conf mode says why and changes nothing", async () => {
  const dns = await configureHostDns(
    base({ mode: "resolv.conf", resolvConfPath: "/nonexistent/veilnet/resolv.conf" }),
  );
  assert.equal(dns.host, "none");
  assert.match(dns.detail, /could not be configured/);
});

Deno.test("host dns: systemd-resolved gets per-link settings on the TUN, reverted at stop", async () => {
  const { calls, run } = recorder();
  const dns = await configureHostDns(
    base({ run, resolvConfPath: "/nonexistent", resolvedRunning: () => Promise.resolve(true) }),
  );
  assert.equal(dns.host, "systemd-resolved");
  assert.deepEqual(calls, [
    ["resolvectl", "dns", "veilnet0", "100.64.0.2"],
    ["resolvectl", "domain", "veilnet0", "~veilnet.internal", "~0.64.100.in-addr.arpa"],
    ["resolvectl", "default-route", "veilnet0", "false"],
    ["resolvectl", "llmnr", "veilnet0", "no"],
    ["resolvectl", "mdns", "veilnet0", "no"],
  ]);
  await dns.undo();
  assert.deepEqual(calls.at(-1), ["resolvectl", "revert", "veilnet0"]);
  // A refusal half-way reverts what was set and reports nothing configured.
  const failing = recorder((args) => args[0] === "domain");
  const bad = await configureHostDns(
    base({
      run: failing.run,
      resolvConfPath: "/nonexistent",
      resolvedRunning: () => Promise.resolve(true),
    }),
  );
  assert.equal(bad.host, "none");
  assert.match(bad.detail, /resolvectl domain .*refused/);
  assert.deepEqual(failing.calls.at(-1), ["resolvectl", "revert", "veilnet0"]);
});

Deno.test("host dns: macOS gets a marked /etc/resolver file; a file not ours is left alone", async () => {
  const dir = await Deno.makeTempDir();
  try {
    const dns = await configureHostDns(base({ os: "darwin", resolverDir: dir }));
    assert.equal(dns.host, "macos-resolver");
    const text = await Deno.readTextFile(`${dir}/veilnet.internal`);
    assert.match(text, /^# veilnet-conflux veilnet0/);
    assert.match(text, /^nameserver 100\.64\.0\.2$/m);
    await dns.undo();
    await assert.rejects(Deno.stat(`${dir}/veilnet.internal`), Deno.errors.NotFound);
    await Deno.writeTextFile(`${dir}/veilnet.internal`, "nameserver 192.0.2.1\n");
    const foreign = await configureHostDns(base({ os: "darwin", resolverDir: dir }));
    assert.equal(foreign.host, "none");
    await foreign.undo();
    assert.equal(await Deno.readTextFile(`${dir}/veilnet.internal`), "nameserver 192.0.2.1\n");
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("host dns: Windows gets an NRPT rule, removed at start and at stop", async () => {
  const { calls, run } = recorder();
  const dns = await configureHostDns(base({ os: "windows", run }));
  assert.equal(dns.host, "windows-nrpt");
  const scripts = calls.map((c) => c.at(-1)!);
  assert.match(scripts[0], /Remove-DnsClientNrptRule/);
  assert.match(scripts[0], /'veilnet-conflux veilnet0'/);
  assert.match(scripts[1], /Add-DnsClientNrptRule -Namespace '\.veilnet\.internal'/);
  assert.match(scripts[1], /-NameServers '100\.64\.0\.2'/);
  await dns.undo();
  assert.match(calls.at(-1)!.at(-1)!, /Remove-DnsClientNrptRule/);
  // A quote in the TUN name cannot end the string early.
  assert.match(nrptRemoveScript("it's"), /-eq 'veilnet-conflux it''s'/);
});

Deno.test("names host: only the node's own host is answered", () => {
  assert.ok(fromThisHost("100.64.0.2", "100.64.0.2"));
  assert.ok(fromThisHost("127.0.0.1", "100.64.0.2"));
  assert.ok(fromThisHost("::ffff:127.0.0.53", "100.64.0.2"));
  assert.ok(!fromThisHost("100.64.0.3", "100.64.0.2"));
  assert.ok(!fromThisHost("198.18.0.1", "100.64.0.2"));
});
