/**
 * Relaying without configuration: h1 and h3 share no underlay path (a prohibit route each way),
 * h2 reaches both. h1's direct tether to h3 fails, h1 asks h3 for its tether peers, tethers to
 * h2, and h2 forwards the ciphertext both ways.
 */
import assert from "node:assert/strict";
import { createLab, labAvailable } from "../demo/lab.ts";

Deno.test({
  name: "dataplane: h1 reaches h3 through relay h2 when no direct path exists",
  ignore: !labAvailable(),
  sanitizeOps: false,
  sanitizeResources: false,
  fn: async () => {
    const lab = await createLab({ nodes: 3, echo: Deno.env.get("LAB_ECHO") === "1" });
    try {
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
      ];
      await Promise.all(h.map((c, i) => lab.startNode(i, c)));
      // h2 talks to both, so it holds a tether to each.
      assert.ok(await lab.reachable(1, h[2].overlayIp), "h2 never reached h3");
      assert.ok(await lab.reachable(1, h[0].overlayIp), "h2 never reached h1");

      assert.ok(await lab.reachable(0, h[2].overlayIp, 45_000), "h1 never reached h3");
      const p = await lab.ping(0, h[2].overlayIp, { count: 5 });
      assert.ok(p.received >= 4, p.output);
      const info1 = await lab.info(0);
      const route = info1.routes.find((r) => r.destination === h[2].overlayIp);
      assert.equal(route?.next_hop, h[1].confluxId, JSON.stringify(info1.routes));
      assert.ok(!info1.tethers.some((t) => t.peer === h[2].confluxId), "h1 has a direct tether");
      const relayed = (await lab.info(1)).stats?.frames_relayed ?? 0;
      assert.ok(relayed >= 8, `h2 relayed ${relayed} frames`);
    } finally {
      await lab.close();
    }
  },
});
