/**
 * A conflux with valid credentials sends garbage on the target's NATS subject and garbage frames
 * over a real tether, then one valid frame and replays of it, then sealed packets with a foreign
 * source or destination: the target drops the junk without harm, delivers the valid packet once,
 * rejects the replays and the misaddressed packets, and keeps serving others.
 */
import assert from "node:assert/strict";
import { join } from "node:path";
import { labTest } from "./helpers/lab_test.ts";

const INTRUDER = join(new URL(".", import.meta.url).pathname, "dataplane_intruder.ts");

labTest(
  "dataplane: garbage on NATS and on a tether is dropped; a replayed frame is rejected",
  3,
  async (lab) => {
    await lab.startServices();
    await lab.createTeam("dev");
    const a = await lab.register("a", ["dev"]);
    const t = await lab.register("target", ["dev"]);
    const x = await lab.register("intruder", ["dev"]);
    const [, target] = await Promise.all([lab.startNode(0, a), lab.startNode(1, t)]);
    assert.ok(await lab.reachable(0, t.overlayIp), "a never reached the target");
    const before = (await lab.info(1)).stats!;

    const intruder = lab.spawn("intruder", lab.namespaces[2], [
      Deno.execPath(),
      "run",
      "-A",
      INTRUDER,
      "http://198.18.0.1:8080",
      x.token,
      t.overlayIp,
    ]);
    const line = await intruder.waitFor(/"done":true/, 60_000);
    const report = JSON.parse(line);
    assert.equal(report.garbage_request_answered, 0, "a garbage stream request got a reply");
    const after = (await lab.info(1)).stats!;
    assert.equal(
      after.packets_in - before.packets_in,
      1,
      `valid frame, 3 replays and 2 misaddressed packets delivered ${
        after.packets_in - before.packets_in
      } packets`,
    );
    assert.ok(
      after.frames_dropped - before.frames_dropped >=
        report.tether_garbage + report.replays_sent + report.misaddressed_sent,
      `dropped ${after.frames_dropped - before.frames_dropped} frames`,
    );
    assert.ok(after.control_dropped > before.control_dropped, "no control message was refused");

    // The target is unharmed: alive, still serving a, nothing worse than a warning logged.
    assert.ok((await lab.ping(0, t.overlayIp, { count: 3 })).received >= 2);
    assert.deepEqual(target.lines.filter((l) => /^ERROR|Uncaught|panic/.test(l)), []);
    const status = await Promise.race([
      target.child.status.then(() => "exited"),
      new Promise((r) => setTimeout(() => r("running"), 100)),
    ]);
    assert.equal(status, "running");
  },
);
