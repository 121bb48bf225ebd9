/**
 * A werift node and a libdatachannel node talk to each other; idle streams and tethers dissolve
 * and come back on the next packet.
 */
import assert from "node:assert/strict";
import { labTest } from "./helpers/lab_test.ts";
import type { NodeInfo } from "../core/node/mod.ts";

async function waitUntil(what: string, check: () => Promise<boolean>, tries = 40): Promise<void> {
  for (let i = 0; i < tries; i++) {
    if (await check()) return;
    await new Promise((r) => setTimeout(r, 250));
  }
  throw new Error(`timed out waiting for ${what}`);
}

const empty = (i: NodeInfo) => i.tethers.length === 0 && i.streams.length === 0;

labTest(
  "dataplane: werift ↔ libdatachannel; idle streams and tethers dissolve and come back",
  2,
  async (lab) => {
    await lab.startServices();
    await lab.createTeam("dev");
    const a = await lab.register("a", ["dev"]);
    const b = await lab.register("b", ["dev"]);
    await Promise.all([
      lab.startNode(0, a, { rtc: "werift", idleMs: 1500 }),
      lab.startNode(1, b, { rtc: "libdatachannel", idleMs: 1500 }),
    ]);

    assert.ok(await lab.reachable(0, b.overlayIp), "a never reached b");
    const first = await lab.ping(0, b.overlayIp, { count: 5 });
    assert.ok(first.received >= 3, first.output);
    const [ia, ib] = [await lab.info(0), await lab.info(1)];
    assert.deepEqual(ia.tethers.map((t) => [t.peer, t.engine]), [[b.confluxId, "werift"]]);
    assert.deepEqual(ib.tethers.map((t) => [t.peer, t.engine]), [
      [a.confluxId, "libdatachannel"],
    ]);
    assert.equal(ia.streams.length, 2);

    await waitUntil(
      "idle dissolve",
      async () => empty(await lab.info(0)) && empty(await lab.info(1)),
    );

    assert.ok(await lab.reachable(1, a.overlayIp), "b never reached a after the dissolve");
    const again = await lab.ping(1, a.overlayIp, { count: 4 });
    assert.ok(again.received >= 3, again.output);
    const ib2 = await lab.info(1);
    assert.equal(ib2.tethers.length, 1);
    assert.ok(ib2.streams.some((s) => s.direction === "egress" && s.peer === a.confluxId));
  },
);
