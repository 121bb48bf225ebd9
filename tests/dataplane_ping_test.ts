/**
 * Two nodes in network namespaces with a real nats-server, Guardian and TUNs: ping both ways,
 * then a few seconds of iperf3 TCP.
 */
import assert from "node:assert/strict";
import { labTest } from "./helpers/lab_test.ts";

labTest(
  "dataplane: two nodes with a shared team ping both ways and carry iperf3 TCP",
  2,
  async (lab) => {
    await lab.startServices();
    await lab.createTeam("dev");
    const a = await lab.register("a", ["dev"]);
    const b = await lab.register("b", ["dev"]);
    await Promise.all([lab.startNode(0, a), lab.startNode(1, b)]);

    assert.ok(await lab.reachable(0, b.overlayIp), "a never reached b");
    const ab = await lab.ping(0, b.overlayIp, { count: 5 });
    assert.ok(ab.received >= 3, `a→b ping: ${ab.output}`);
    assert.ok(await lab.reachable(1, a.overlayIp), "b never reached a");
    const ba = await lab.ping(1, a.overlayIp, { count: 5 });
    assert.ok(ba.received >= 3, `b→a ping: ${ba.output}`);

    const info = await lab.info(0);
    assert.equal(info.overlay_ip, a.overlayIp);
    assert.deepEqual(info.teams, ["dev"]);
    assert.ok(info.tethers.some((t) => t.peer === b.confluxId), JSON.stringify(info));
    assert.ok(info.streams.some((s) => s.direction === "egress" && s.peer === b.confluxId));
    assert.ok(info.streams.some((s) => s.direction === "ingress" && s.peer === b.confluxId));

    const server = lab.spawn("iperf3-server", lab.namespaces[1], [
      "iperf3",
      "-s",
      "-1",
      "--forceflush",
    ]);
    await server.waitFor(/Server listening/, 10_000);
    const client = await lab.exec(lab.namespaces[0], [
      "iperf3",
      "-c",
      b.overlayIp,
      "-t",
      "3",
      "-J",
    ], { check: false });
    const result = JSON.parse(client.stdout);
    assert.equal(result.error, undefined, `iperf3: ${result.error}`);
    const bps = result.end.sum_received.bits_per_second as number;
    assert.ok(bps > 0, "iperf3 moved no data");
    const retransmits = result.end.sum_sent.retransmits as number;
    const [sender, receiver] = [await lab.info(0), await lab.info(1)];
    console.log(
      `iperf3 a→b: ${(bps / 1e6).toFixed(1)} Mbit/s, ${retransmits} retransmits; drops at a ` +
        `${JSON.stringify(sender.stats?.drops)}, at b ${JSON.stringify(receiver.stats?.drops)}`,
    );
    // Where a lost packet went is counted: every drop cause is reported, none is unknown.
    assert.ok(sender.stats?.drops && "tether_full" in sender.stats.drops, JSON.stringify(sender));
  },
);
