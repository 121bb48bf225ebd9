/**
 * Issue 19, item 2, end to end between namespaces: a portal's networks reach its teammates only
 * once the owner approves them, and a denial takes them away at once (the Guardian asks the
 * running portal to renew; its new certificate, announced, reaches the teammates). The realm's
 * auto-approve policy certifies a network that appears later without an approval, but not one the
 * owner denied. h2 is the portal (LAN 198.19.77.0/24 behind it), h1 its teammate.
 */
import assert from "node:assert/strict";
import type { Lab } from "../demo/lab.ts";
import { labTest } from "./helpers/lab_test.ts";

const LAN = "198.19.77.0/24";
const LAN2 = "198.19.78.0/24";
const UPLINK = "198.18.0.0/24";
const LAN_PORTAL = "198.19.77.1";
const LAN_HOST = "198.19.77.2";
const H1 = 0, H2 = 1;

/** Polls until node `i` does (`want`) or does not route `cidr` into its TUN; false on timeout. */
async function routedIs(
  lab: Lab,
  i: number,
  cidr: string,
  want: boolean,
  timeoutMs: number,
): Promise<boolean> {
  const deadline = Date.now() + timeoutMs;
  do {
    const r = await lab.exec(lab.namespaces[i], ["ip", "-4", "route", "show", cidr], {
      check: false,
    });
    if (r.stdout.includes("veilnet0") === want) return true;
    await new Promise((r) => setTimeout(r, 200));
  } while (Date.now() < deadline);
  return false;
}

labTest(
  "trust: a portal's networks reach teammates only once approved; a denial withdraws them",
  2,
  async (lab) => {
    await lab.addLan(H2, LAN_PORTAL, LAN_HOST);
    // 10-minute sessions: what happens within seconds is the Guardian's push, not a renewal.
    await lab.startServices({ sessionTtlSec: 600 });
    await lab.createTeam("dev");
    const h = [await lab.register("h1", ["dev"]), await lab.register("h2", ["dev"])];
    const portal = h[H2].confluxId;
    await Promise.all([
      lab.startNode(H1, h[H1]),
      lab.startNode(H2, h[H2], { flags: ["--portal", "--portal-rescan-ms", "1000"] }),
    ]);

    // The two already talk (streams both ways) before anything is approved: the approval must
    // also reach those streams, not only new ones.
    assert.ok(await lab.reachable(H1, h[H2].overlayIp, 20_000), "h1 cannot ping the portal");
    assert.ok(await lab.reachable(H2, h[H1].overlayIp, 20_000), "the portal cannot ping h1");

    // Asking is not getting: the portal advertises its networks, but serves none of them.
    const asked = await lab.portalSubnets(portal);
    assert.ok((asked.advertised as string[]).includes(LAN), JSON.stringify(asked));
    assert.ok((asked.advertised as string[]).includes(UPLINK), JSON.stringify(asked));
    assert.deepEqual(asked.certified, []);
    assert.deepEqual((await lab.info(H2)).portals?.serving, []);
    assert.equal(await routedIs(lab, H1, LAN, true, 4_000), false, "routed before approval");
    await lab.exec(lab.namespaces[H1], ["ip", "route", "add", LAN, "dev", "veilnet0"]);
    const early = await lab.ping(H1, LAN_HOST, { count: 2, waitS: 1 });
    assert.equal(early.received, 0, "reached the LAN before it was approved");
    await lab.exec(lab.namespaces[H1], ["ip", "route", "del", LAN, "dev", "veilnet0"]);

    // Approved: the portal renews at once and its teammate routes the LAN (only the LAN).
    let started = Date.now();
    await lab.approveSubnets(portal, [LAN]);
    assert.ok(await routedIs(lab, H1, LAN, true, 10_000), "h1 never routed the approved LAN");
    console.log(`approval → teammate's route: ${Date.now() - started} ms`);
    assert.deepEqual((await lab.info(H2)).portals?.serving, [LAN]);
    const known = (await lab.info(H1)).portals?.portals.find((p) => p.conflux_id === portal);
    assert.deepEqual(known?.subnets, [LAN], "the uplink is still pending, so not announced");
    assert.ok(await lab.reachable(H1, LAN_HOST, 20_000), "h1 cannot ping the approved LAN");

    // Denied: gone from the portal and its teammate at once.
    started = Date.now();
    await lab.denySubnets(portal, [LAN]);
    assert.ok(await routedIs(lab, H1, LAN, false, 10_000), "h1 kept the denied LAN");
    console.log(`denial → teammate's route gone: ${Date.now() - started} ms`);
    assert.deepEqual((await lab.info(H2)).portals?.serving, []);
    await lab.exec(lab.namespaces[H1], ["ip", "route", "add", LAN, "dev", "veilnet0"]);
    const after = await lab.ping(H1, LAN_HOST, { count: 2, waitS: 1 });
    assert.equal(after.received, 0, "reached the LAN after it was denied");
    await lab.exec(lab.namespaces[H1], ["ip", "route", "del", LAN, "dev", "veilnet0"]);

    // The realm's policy: a network that appears later inside it is certified without an
    // approval; the denied LAN stays denied although the policy covers it too.
    await lab.api("POST", "/realm/policy", {
      realm_id: lab.realmId,
      auto_approve: ["198.19.0.0/16"],
    });
    const p2 = lab.namespaces[H2];
    await lab.exec(p2, ["ip", "link", "add", "lan1", "type", "veth", "peer", "name", "lan1p"]);
    await lab.exec(p2, ["ip", "addr", "add", "198.19.78.1/24", "dev", "lan1"]);
    await lab.exec(p2, ["ip", "link", "set", "lan1p", "up"]);
    await lab.exec(p2, ["ip", "link", "set", "lan1", "up"]);
    assert.ok(
      await routedIs(lab, H1, LAN2, true, 20_000),
      "h1 never routed the auto-approved network",
    );
    assert.deepEqual((await lab.info(H2)).portals?.serving, [LAN2]);
    assert.equal(await routedIs(lab, H1, LAN, true, 0), false, "the denied LAN came back");
    const state = await lab.portalSubnets(portal);
    assert.deepEqual(state.certified, [LAN2]);
    assert.deepEqual(state.denied, [LAN]);
    assert.deepEqual(state.pending, [UPLINK]);
  },
);
