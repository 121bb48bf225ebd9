/**
 * `veilnet-conflux netcheck` as a user runs it, inside the topology lab (demo/topology.ts), with
 * no node running: behind a full-cone NAT it reports endpoint-independent mapping, behind
 * `nftables masquerade random` a symmetric NAT, on the open network no NAT; a NAT router that
 * lets only the STUN server's first port through leaves the behaviour unknown, and one that drops
 * all UDP fails the udp check. Every other check passes, the TUN one included (it creates and
 * removes a device in the host's namespace).
 */
import assert from "node:assert/strict";
import { fileURLToPath } from "node:url";
import type { Check } from "../cli/netcheck/report.ts";
import { GUARDIAN_URL, HUB_IP, STUN_PORT } from "../demo/lab.ts";
import type { Topology } from "../demo/topology.ts";
import { topologyTest } from "./helpers/lab_test.ts";

const MAIN = fileURLToPath(new URL("../main.ts", import.meta.url));
const CONFIG = fileURLToPath(new URL("../deno.json", import.meta.url));

interface Report {
  code: number;
  ok: boolean;
  checks: Record<string, Check>;
  text: string;
}

/** Runs `netcheck --json` (and the text form) in host `i`'s namespace with `token`. */
async function netcheck(t: Topology, i: number, token: string): Promise<Report> {
  const dir = `${t.dir}/netcheck${i}`;
  await Deno.mkdir(dir, { recursive: true });
  const args = [
    Deno.execPath(),
    "run",
    "-A",
    "--config",
    CONFIG,
    MAIN,
    "netcheck",
    "--config-dir",
    dir,
    "-g",
    GUARDIAN_URL,
    "-t",
    token,
  ];
  const json = await t.execHost(i, [...args, "--json"], { check: false });
  let report: { ok: boolean; checks: Check[] };
  try {
    report = JSON.parse(json.stdout);
  } catch {
    throw new Error(
      `netcheck on h${i} printed no JSON (exit ${json.code}):\n${json.stdout}\n${json.stderr}`,
    );
  }
  const text = await t.execHost(i, args, { check: false });
  assert.equal(text.code, json.code, "the text and JSON forms agree");
  return {
    code: json.code,
    ok: report.ok,
    checks: Object.fromEntries(report.checks.map((c) => [c.name, c])),
    text: text.stdout,
  };
}

function mapping(r: Report): string {
  return (r.checks.nat.details as { mapping: string }).mapping;
}

function seen(r: Report): { server: string; mapped: string }[] {
  return (r.checks.nat.details as { seen: { server: string; mapped: string }[] }).seen;
}

/** Checks every line but the NAT ones passed. */
function assertHealthy(r: Report, host: string): void {
  for (
    const name of ["tun", "guardian", "clock", "session", "nats", "udp", "reflexive", "underlay"]
  ) {
    assert.equal(
      r.checks[name]?.status,
      "ok",
      `${host} ${name}: ${r.checks[name]?.summary}\n${r.text}`,
    );
  }
  assert.equal(r.checks.node.status, "skip", "no node runs");
}

topologyTest(
  "netcheck: endpoint-independent behind a full-cone NAT, symmetric behind masquerade random, none in the open",
  { hosts: 3, access: ["nat-cone", "nat-symmetric", "open"] },
  async (t) => {
    await t.startServices({ stun: true });
    const tokens: string[] = [];
    for (let i = 0; i < 3; i++) tokens.push((await t.register(`h${i}`, [])).token);
    const [cone, symmetric, open] = await Promise.all(
      [0, 1, 2].map((i) => netcheck(t, i, tokens[i])),
    );
    for (const [i, r] of [cone, symmetric, open].entries()) {
      console.log(`h${i} (${t.access[i]}):\n${r.text}`);
    }

    const stun = `stun:${HUB_IP}:${STUN_PORT}`;
    assertHealthy(cone, "cone");
    assert.equal(cone.code, 0, cone.text);
    assert.equal(mapping(cone), "endpoint-independent", cone.text);
    assert.equal(cone.checks.nat.status, "ok");
    assert.match(
      cone.checks.reflexive.summary,
      new RegExp(`^${t.publicAddress(0).replaceAll(".", "\\.")}:\\d+ \\(what ${stun}`),
    );
    assert.deepEqual(seen(cone).map((s) => s.server), [
      `${HUB_IP}:${STUN_PORT}`,
      `${HUB_IP}:${STUN_PORT + 1}`,
    ]);
    // The NATed host's tethers would gather on its private address.
    assert.match(
      cone.checks.underlay.summary,
      new RegExp(`eth0 ${t.hostAddress(0).replaceAll(".", "\\.")}`),
    );

    assertHealthy(symmetric, "symmetric");
    assert.equal(symmetric.code, 0, "a symmetric NAT is a warning, not a failure");
    assert.equal(mapping(symmetric), "dependent", symmetric.text);
    assert.equal(symmetric.checks.nat.status, "warn");
    assert.match(
      symmetric.checks.nat.summary,
      /^symmetric NAT \(address\/port-dependent mapping\)/,
    );
    assert.match(symmetric.checks.nat.fix ?? "", /masquerade. without .random/);
    const [a, b] = seen(symmetric);
    assert.equal(a.mapped.split(":")[0], t.publicAddress(1));
    assert.equal(b.mapped.split(":")[0], t.publicAddress(1));
    assert.notEqual(a.mapped, b.mapped, "a new public port per destination");
    assert.match(symmetric.text, /warn {2}nat +symmetric NAT .*; fix: /);

    assertHealthy(open, "open");
    assert.equal(mapping(open), "none", open.text);
    assert.match(open.checks.nat.summary, /^no NAT/);

    // The cone router now lets only the first STUN port through: the behaviour cannot be told.
    const router = t.routers[0]!;
    const nft = (...args: string[]) => t.exec(router, ["nft", ...args]);
    await nft("add", "table", "ip", "diag");
    await nft(
      "add",
      "chain",
      "ip",
      "diag",
      "forward_udp",
      "{ type filter hook forward priority -10 ; policy accept ; }",
    );
    await nft(
      "add",
      "rule",
      "ip",
      "diag",
      "forward_udp",
      "udp",
      "dport",
      String(STUN_PORT + 1),
      "drop",
    );
    const half = await netcheck(t, 0, tokens[0]);
    assert.equal(half.checks.udp.status, "ok");
    assert.equal(mapping(half), "unknown", half.text);
    assert.equal(half.checks.nat.status, "warn");
    assert.match(
      half.checks.nat.summary,
      new RegExp(`only ${stun} answered; ${HUB_IP}:${STUN_PORT + 1} \\(its other port\\) did not`),
    );
    assert.equal(half.code, 0);

    // And now no UDP at all: the udp check fails with its fix, exit 1.
    await nft("add", "rule", "ip", "diag", "forward_udp", "meta", "l4proto", "udp", "drop");
    const none = await netcheck(t, 0, tokens[0]);
    assert.equal(none.code, 1, none.text);
    assert.equal(none.ok, false);
    assert.equal(none.checks.udp.status, "fail");
    assert.match(none.checks.udp.summary, new RegExp(`no answer from ${stun} within 2 s`));
    assert.match(none.text, /FAIL {2}udp +no answer .*; fix: allow outbound UDP to /);
    assert.equal(none.checks.nats.status, "ok", "TCP still works");
  },
);
