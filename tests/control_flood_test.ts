/**
 * Issue 19, item 6: a control-channel flood does not keep a teammate out. A realm member without
 * the target's team floods the target's control subject and the realm's discover subject with
 * 1,000 messages per second for 10 s (garbage up to 60 KB, envelopes with ever new made-up
 * certificates, truncated ones) from its own lab namespace; meanwhile a teammate that never
 * talked to the target opens a new stream to it (discovery, stream handshake, tether) and its
 * ping is answered within 3 s, and the flooded node's RSS grows by less than 50 MB.
 *
 * Everything runs in namespaces the lab creates (underlay 198.18.0.0/15, overlay
 * 100.64.0.0/10), with one nats-server and Guardian it starts; the lab removes them and kills its
 * processes (by PID) on exit, also on failure.
 */
import assert from "node:assert/strict";
import { join } from "node:path";
import { GUARDIAN_URL } from "../demo/lab.ts";
import { labTest } from "./helpers/lab_test.ts";

const FLOODER = join(new URL(".", import.meta.url).pathname, "control_flood_child.ts");
const TARGET = 0, TEAMMATE = 1, FLOOD = 2;

async function rssKb(pid: number): Promise<number> {
  const status = await Deno.readTextFile(`/proc/${pid}/status`);
  return Number(/VmRSS:\s+(\d+)/.exec(status)?.[1] ?? NaN);
}

labTest(
  "control flood: 1,000 msg/s of garbage and forged envelopes; a teammate's new stream is up in 3 s, RSS bounded",
  3,
  async (lab) => {
    await lab.startServices();
    await lab.createTeam("dev");
    await lab.createTeam("ops");
    const target = await lab.register("target", ["dev"]);
    const teammate = await lab.register("teammate", ["dev"]);
    const flooder = await lab.register("flooder", ["ops"]);
    const targetProc = await lab.startNode(TARGET, target);
    await lab.startNode(TEAMMATE, teammate);
    // Let start-up settle (portal queries, first sweeps) before the baseline.
    await new Promise((r) => setTimeout(r, 2_000));
    const pid = targetProc.child.pid;
    const before = await rssKb(pid);

    const flood = lab.spawn("flooder", lab.namespaces[FLOOD], [
      Deno.execPath(),
      "run",
      "-A",
      FLOODER,
      GUARDIAN_URL,
      flooder.token,
      target.confluxId,
      Deno.env.get("FLOOD_RATE") ?? "1000", // FLOOD_RATE=0: the same run without a flood
      "10",
    ]);
    await flood.waitFor(/"flooding":true/, 60_000);
    await new Promise((r) => setTimeout(r, 2_000));

    // The teammate's first stream to the target, under the flood.
    const t0 = performance.now();
    const up = await lab.reachable(TEAMMATE, target.overlayIp, 3_000);
    const took = performance.now() - t0;
    assert.ok(
      up,
      `no ping answer within 3 s under the flood (${Math.round(took)} ms): ${targetProc.tail(40)}`,
    );

    let peak = 0;
    const line = await (async () => {
      const done = flood.waitFor(/"done":true/, 40_000);
      for (;;) {
        peak = Math.max(peak, await rssKb(pid));
        const r = await Promise.race([done, new Promise((r) => setTimeout(() => r(null), 500))]);
        if (r) return r as string;
      }
    })();
    const sent = JSON.parse(line).sent as number;
    assert.ok(sent >= 9_000, `the flooder sent only ${sent}`);
    peak = Math.max(peak, await rssKb(pid));
    const growthMb = (peak - before) / 1024;
    const info = await lab.info(TARGET);
    console.log(
      `stream up in ${Math.round(took)} ms; RSS ${Math.round(before / 1024)} → peak ${
        Math.round(peak / 1024)
      } MB; control_dropped ${info.stats?.control_dropped}`,
    );
    assert.ok(growthMb < 50, `RSS grew by ${growthMb.toFixed(1)} MB under the flood`);
    assert.ok((info.stats?.control_dropped ?? 0) > 0, "nothing of the flood was dropped?");
    // Still served after the flood.
    const p = await lab.ping(TEAMMATE, target.overlayIp, { count: 3 });
    assert.ok(p.received >= 2, p.output);
    await flood.stop();
  },
);
