/**
 * Relaying without configuration: h1 and h3 share no underlay path (a prohibit route each way),
 * h2 and h4 reach both. h1's direct tether to h3 fails, h1 finds the relays (its routing agent
 * through its tethers, or h3's tether peers), and they forward the ciphertext both ways. When the
 * relay in use stops, traffic moves to the other relay.
 */
import assert from "node:assert/strict";
import { labTest } from "./helpers/lab_test.ts";

labTest(
  "dataplane: h1 reaches h3 through a relay when no direct path exists, and fails over",
  4,
  async (lab) => {
    await lab.exec(lab.namespaces[0], [
      "ip",
      "route",
      "add",
      "prohibit",
      `${lab.underlay(2)}/32`,
    ]);
    await lab.exec(lab.namespaces[2], [
      "ip",
      "route",
      "add",
      "prohibit",
      `${lab.underlay(0)}/32`,
    ]);
    await lab.startServices();
    await lab.createTeam("dev");
    const h = [
      await lab.register("h1", ["dev"]),
      await lab.register("h2", ["dev"]),
      await lab.register("h3", ["dev"]),
      await lab.register("h4", ["dev"]),
    ];
    await Promise.all(h.map((c, i) => lab.startNode(i, c)));
    // h2 and h4 talk to both ends, so each holds a tether to h1 and to h3.
    for (const relay of [1, 3]) {
      assert.ok(await lab.reachable(relay, h[2].overlayIp), `h${relay + 1} never reached h3`);
      assert.ok(await lab.reachable(relay, h[0].overlayIp), `h${relay + 1} never reached h1`);
    }

    assert.ok(await lab.reachable(0, h[2].overlayIp, 45_000), "h1 never reached h3");
    const p = await lab.ping(0, h[2].overlayIp, { count: 5 });
    assert.ok(p.received >= 4, p.output);
    const info1 = await lab.info(0);
    const route = info1.routes.find((r) => r.destination === h[2].overlayIp);
    const used = [1, 3].find((i) => h[i].confluxId === route?.next_hop);
    assert.ok(used !== undefined, `next hop is not a relay: ${JSON.stringify(info1.routes)}`);
    assert.ok(!info1.tethers.some((t) => t.peer === h[2].confluxId), "h1 has a direct tether");
    // Both relays may carry some of it: the routing agent picks per flowlet, each way.
    let relayed = 0;
    for (const r of [1, 3]) relayed += (await lab.info(r)).stats?.frames_relayed ?? 0;
    assert.ok(relayed >= 8, `the relays forwarded ${relayed} frames`);

    // The relay goes away: traffic moves to the other one.
    await lab.stopNode(used);
    const other = used === 1 ? 3 : 1;
    assert.ok(await lab.reachable(0, h[2].overlayIp, 30_000), "no failover to the other relay");
    const after = (await lab.info(0)).routes.find((r) => r.destination === h[2].overlayIp);
    assert.equal(after?.next_hop, h[other].confluxId);
  },
);
