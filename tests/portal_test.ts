/**
 * Portal mode between namespaces: h2 runs with `--portal` and has a LAN (its own namespace,
 * 198.19.77.0/24, with no route to the overlay or the underlay). h1 shares a team with h2, h3 does
 * not. h1 gets a route to the LAN through its TUN, pings and runs iperf3 to a LAN host (the portal
 * masquerades, so the LAN host needs no route back); h3 gets no route and, with one added by
 * hand, still reaches nothing. Team changes apply live: h3 joins and gets the LAN, h1 leaves and
 * loses it. A network that appears on the portal later is routed too; when the portal stops, its
 * routes go.
 */
import assert from "node:assert/strict";
import type { Lab } from "../demo/lab.ts";
import { labTest } from "./helpers/lab_test.ts";

const LAN = "198.19.77.0/24";
/**
 * The realm approves the lab's networks in advance (portal networks otherwise need the owner's
 * approval: tests/guardian_trust_portal_test.ts).
 */
const AUTO_APPROVE = ["198.18.0.0/15"];
const LAN2 = "198.19.78.0/24";
const LAN_PORTAL = "198.19.77.1";
const LAN_HOST = "198.19.77.2";
const H1 = 0, H2 = 1, H3 = 2;

/** True when node `i` routes `cidr` into its TUN; polls up to `timeoutMs`. */
async function routed(lab: Lab, i: number, cidr: string, timeoutMs: number): Promise<boolean> {
  const deadline = Date.now() + timeoutMs;
  do {
    const r = await lab.exec(lab.namespaces[i], ["ip", "-4", "route", "show", cidr], {
      check: false,
    });
    if (r.stdout.includes("veilnet0")) return true;
    await new Promise((r) => setTimeout(r, 250));
  } while (Date.now() < deadline);
  return false;
}

/** True once node `i` no longer routes `cidr` into its TUN; polls up to `timeoutMs`. */
async function unrouted(lab: Lab, i: number, cidr: string, timeoutMs: number): Promise<boolean> {
  const deadline = Date.now() + timeoutMs;
  do {
    const r = await lab.exec(lab.namespaces[i], ["ip", "-4", "route", "show", cidr], {
      check: false,
    });
    if (!r.stdout.includes("veilnet0")) return true;
    await new Promise((r) => setTimeout(r, 250));
  } while (Date.now() < deadline);
  return false;
}

labTest(
  "portal: a teammate reaches the portal's LAN through it; a non-teammate does not",
  3,
  async (lab) => {
    const lan = await lab.addLan(H2, LAN_PORTAL, LAN_HOST);
    await lab.startServices({ autoApprove: AUTO_APPROVE });
    await lab.createTeam("dev");
    await lab.createTeam("ops");
    const h = [
      await lab.register("h1", ["dev"]),
      await lab.register("h2", ["dev"]),
      await lab.register("h3", ["ops"]),
    ];
    await Promise.all([
      lab.startNode(H1, h[H1]),
      lab.startNode(H2, h[H2], { flags: ["--portal", "--portal-rescan-ms", "1000"] }),
      lab.startNode(H3, h[H3]),
    ]);

    if (!await routed(lab, H1, LAN, 30_000)) {
      const [i1, i2] = [await lab.info(H1), await lab.info(H2)];
      assert.fail(
        `h1 never routed the portal's LAN: h1 ${JSON.stringify(i1.portals)}; h2 ${
          JSON.stringify(i2.portals)
        }`,
      );
    }
    const portalInfo = await lab.info(H2);
    assert.ok(portalInfo.portals?.serving.includes(LAN), JSON.stringify(portalInfo.portals));
    const known = (await lab.info(H1)).portals?.portals.find((p) =>
      p.conflux_id === h[H2].confluxId
    );
    // The portal also serves its uplink network, which h1 shares: that one h1 must not route.
    assert.deepEqual(known?.routed, [LAN], JSON.stringify(known));
    assert.ok(known?.subnets.includes("198.18.0.0/24"), JSON.stringify(known));

    assert.ok(await lab.reachable(H1, LAN_HOST, 20_000), "h1 cannot ping the LAN host");
    const server = lab.spawn("iperf3-s", lan, ["iperf3", "-s", "-1", "--forceflush"]);
    await server.waitFor(/Server listening/, 10_000);
    const iperf = await lab.exec(
      lab.namespaces[H1],
      ["iperf3", "-c", LAN_HOST, "-t", "3", "-J"],
      {
        check: false,
      },
    );
    const result = JSON.parse(iperf.stdout);
    assert.equal(result.error, undefined, `iperf3: ${result.error}`);
    const bytes = result.end.sum_received.bytes as number;
    console.log(
      `iperf3 h1 → LAN host: ${(result.end.sum_received.bits_per_second / 1e6).toFixed(1)} Mbit/s`,
    );
    assert.ok(bytes > 0, "no TCP bytes reached the LAN host");

    // A network that appears on the portal later (a new bridge) follows within a rescan: the
    // portal renews its certificate and announces it.
    const p2 = lab.namespaces[H2];
    await lab.exec(p2, ["ip", "link", "add", "lan1", "type", "veth", "peer", "name", "lan1p"]);
    await lab.exec(p2, ["ip", "addr", "add", "198.19.78.1/24", "dev", "lan1"]);
    await lab.exec(p2, ["ip", "link", "set", "lan1p", "up"]);
    await lab.exec(p2, ["ip", "link", "set", "lan1", "up"]);
    assert.ok(await routed(lab, H1, LAN2, 20_000), "h1 never routed the portal's new network");

    // h3 shares no team with the portal: no route, and a hand-made one leads nowhere.
    assert.equal(
      await routed(lab, H3, LAN, 0),
      false,
      "h3 routed the LAN of a portal it may not use",
    );
    assert.equal((await lab.info(H3)).portals?.portals.length, 0);
    await lab.exec(lab.namespaces[H3], ["ip", "route", "add", LAN, "dev", "veilnet0"]);
    const p = await lab.ping(H3, LAN_HOST, { count: 3, waitS: 1 });
    assert.equal(p.received, 0, "h3 reached the LAN without a team in common");
    await lab.exec(lab.namespaces[H3], ["ip", "route", "del", LAN, "dev", "veilnet0"]);

    // Team changes apply live, well before the next 30 s announcement: h3 joins dev and gets
    // the LAN; h1 leaves dev and loses it.
    await lab.addTeam(h[H3].confluxId, "dev");
    assert.ok(await routed(lab, H3, LAN, 15_000), "h3 did not get the LAN after joining dev");
    assert.ok(await lab.reachable(H3, LAN_HOST, 20_000), "h3 cannot ping the LAN host");
    await lab.removeTeam(h[H1].confluxId, "dev");
    assert.ok(await unrouted(lab, H1, LAN, 15_000), "h1 kept the LAN after leaving dev");

    // A portal that stops says goodbye: h3 drops its routes well before the 95 s expiry.
    await lab.stopNode(H2);
    assert.ok(await unrouted(lab, H3, LAN, 10_000), "h3 kept the LAN of a stopped portal");
  },
);

labTest(
  "portal: --portal-networks serves the networks named and no other, whatever the host has",
  2,
  async (lab) => {
    await lab.addLan(H2, LAN_PORTAL, LAN_HOST);
    // A second network on the portal that must not be served.
    const p2 = lab.namespaces[H2];
    await lab.exec(p2, ["ip", "link", "add", "lan1", "type", "veth", "peer", "name", "lan1p"]);
    await lab.exec(p2, ["ip", "addr", "add", "198.19.78.1/24", "dev", "lan1"]);
    await lab.exec(p2, ["ip", "link", "set", "lan1p", "up"]);
    await lab.exec(p2, ["ip", "link", "set", "lan1", "up"]);
    await lab.startServices({ autoApprove: AUTO_APPROVE });
    await lab.createTeam("dev");
    const h = [await lab.register("h1", ["dev"]), await lab.register("h2", ["dev"])];
    await Promise.all([
      lab.startNode(H1, h[H1]),
      lab.startNode(H2, h[H2], {
        flags: ["--portal", "--portal-networks", LAN, "--portal-rescan-ms", "500"],
      }),
    ]);
    assert.ok(await routed(lab, H1, LAN, 30_000), "h1 never routed the named network");
    assert.deepEqual((await lab.info(H2)).portals?.serving, [LAN]);
    const known = (await lab.info(H1)).portals?.portals.find((p) =>
      p.conflux_id === h[H2].confluxId
    );
    assert.deepEqual(known?.subnets, [LAN], JSON.stringify(known));
    assert.ok(await lab.reachable(H1, LAN_HOST, 20_000), "h1 cannot ping the LAN host");
    // Rescans (every 0.5 s here) do not add the host's other networks.
    await new Promise((r) => setTimeout(r, 1500));
    assert.equal(await routed(lab, H1, LAN2, 0), false, "h1 routed a network not named");
    assert.deepEqual((await lab.info(H2)).portals?.serving, [LAN]);
  },
);
