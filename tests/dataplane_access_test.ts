/**
 * Team affinity, live: a node without a shared team gets no reply and the target logs only a
 * debug line; adding the team through the Guardian API makes ping work without restart;
 * removing it stops it again. Sessions are 8 s long, so renewals happen throughout.
 */
import assert from "node:assert/strict";
import { labTest } from "./helpers/lab_test.ts";

labTest("dataplane: team affinity decides reachability and applies live", 2, async (lab) => {
  // Short sessions: certificates and NATS credentials renew several times during the test.
  await lab.startServices({ sessionTtlSec: 8 });
  await lab.createTeam("dev");
  const a = await lab.register("a", ["dev"]);
  const b = await lab.register("b", []);
  const [, nodeB] = await Promise.all([lab.startNode(0, a), lab.startNode(1, b)]);
  const before = nodeB.lines.length;

  const none = await lab.ping(0, b.overlayIp, { count: 3, waitS: 1 });
  assert.equal(none.received, 0, `b answered without a shared team:\n${none.output}`);
  const bLines = nodeB.lines.slice(before);
  assert.ok(
    bLines.some((l) => l.startsWith("DEBUG") && /without team affinity dropped/.test(l)),
    `b logged no affinity drop:\n${bLines.join("\n")}`,
  );
  assert.deepEqual(
    bLines.filter((l) => /^(INFO|WARN|ERROR)/.test(l)),
    [],
    "b logged more than debug lines for the stranger",
  );
  assert.equal((await lab.info(1)).streams.length, 0);

  await lab.addTeam(b.confluxId, "dev");
  let ok = false;
  for (let i = 0; i < 20 && !ok; i++) {
    ok = (await lab.ping(0, b.overlayIp, { count: 1, waitS: 1 })).received === 1;
  }
  assert.ok(ok, "ping did not start working after the team was added");
  assert.deepEqual((await lab.info(1)).teams, ["dev"]);

  await lab.removeTeam(b.confluxId, "dev");
  // Wait for the team push to land, then ping must fail consistently.
  let failing = 0;
  for (let i = 0; i < 20 && failing < 3; i++) {
    const r = await lab.ping(0, b.overlayIp, { count: 1, waitS: 1 });
    failing = r.received === 0 ? failing + 1 : 0;
  }
  assert.equal(failing, 3, "ping kept working after the team was removed");
  const infoB = await lab.info(1);
  assert.deepEqual(infoB.teams, []);
  assert.equal(infoB.streams.filter((s) => s.direction === "ingress").length, 0);
});
