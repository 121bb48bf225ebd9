/**
 * Issue 19, item 10: disjoint teams, not only no team. The seed's example: a staging server in
 * Dev and Stage, a development server in Dev, a production server in Prod, and a relay in Ops
 * (relaying needs no team). Every one holds a team, so the tag check itself decides (an empty key
 * set takes a shortcut that would hide a broken check). Direct underlay paths between the three
 * servers are cut, so whatever flows goes through the relay. Dev and staging talk both ways; Prod
 * reaches neither and neither reaches Prod; across a rotation of Dev's key they keep talking, and
 * when staging leaves Dev (another rotation) they stop, both ways.
 */
import assert from "node:assert/strict";
import type { Lab } from "../demo/lab.ts";
import { labTest } from "./helpers/lab_test.ts";

const STAGING = 0, DEV = 1, PROD = 2, RELAY = 3;
const NAMES = ["staging", "development", "production", "relay"];

/** Pings `ip` from node `i` until one reply comes (true) or `timeoutMs` passes (false). */
function reaches(lab: Lab, i: number, ip: string, timeoutMs: number): Promise<boolean> {
  return lab.reachable(i, ip, timeoutMs);
}

/** True when three pings in a row from node `i` to `ip` go unanswered, within `tries`. */
async function cutOff(lab: Lab, i: number, ip: string, tries = 20): Promise<boolean> {
  let failing = 0;
  for (let n = 0; n < tries && failing < 3; n++) {
    const r = await lab.ping(i, ip, { count: 1, waitS: 1 });
    failing = r.received === 0 ? failing + 1 : 0;
  }
  return failing >= 3;
}

labTest(
  "dataplane: disjoint teams (Dev+Stage, Dev, Prod) decide reachability, through a relay and across rotations",
  4,
  async (lab) => {
    // Only the relay reaches the three servers over the underlay.
    for (const [from, to] of [[STAGING, DEV], [STAGING, PROD], [DEV, PROD]]) {
      for (const [a, b] of [[from, to], [to, from]]) {
        await lab.exec(lab.namespaces[a], [
          "ip",
          "route",
          "add",
          "prohibit",
          `${lab.underlay(b)}/32`,
        ]);
      }
    }
    await lab.startServices();
    for (const team of ["dev", "stage", "prod", "ops"]) await lab.createTeam(team);
    const h = [
      await lab.register("staging", ["dev", "stage"]),
      await lab.register("development", ["dev"]),
      await lab.register("production", ["prod"]),
      await lab.register("relay", ["ops"]),
    ];
    // A fourth holder of dev, never started: removing it from dev rotates dev's key.
    const spare = await lab.register("spare", ["dev"]);
    const procs = await Promise.all(h.map((c, i) => lab.startNode(i, c)));
    const ip = (i: number) => h[i].overlayIp;

    // Dev and staging share dev: they talk, both ways, through the relay.
    assert.ok(await reaches(lab, DEV, ip(STAGING), 45_000), "development never reached staging");
    assert.ok(await reaches(lab, STAGING, ip(DEV), 45_000), "staging never reached development");
    const p = await lab.ping(DEV, ip(STAGING), { count: 5 });
    assert.ok(p.received >= 4, p.output);
    const info = await lab.info(DEV);
    const route = info.routes.find((r) => r.destination === ip(STAGING));
    assert.equal(
      route?.next_hop,
      h[RELAY].confluxId,
      `not through the relay: ${JSON.stringify(info.routes)}`,
    );
    assert.ok(!info.tethers.some((t) => t.peer === h[STAGING].confluxId), "a direct tether");
    assert.ok(
      ((await lab.info(RELAY)).stats?.frames_relayed ?? 0) >= 8,
      "the relay relayed nothing",
    );

    // Prod holds a team, just not theirs: nothing either way, and the servers say why (debug).
    const seen = procs.map((pr) => pr.lines.length);
    for (const [from, to] of [[PROD, STAGING], [PROD, DEV], [STAGING, PROD], [DEV, PROD]]) {
      const r = await lab.ping(from, ip(to), { count: 3, waitS: 1 });
      assert.equal(r.received, 0, `${NAMES[from]} reached ${NAMES[to]}:\n${r.output}`);
    }
    for (const i of [STAGING, DEV, PROD]) {
      const lines = procs[i].lines.slice(seen[i]);
      assert.ok(
        lines.some((l) => /without team affinity dropped/.test(l)),
        `${NAMES[i]} logged no affinity refusal:\n${lines.slice(-20).join("\n")}`,
      );
    }
    for (const i of [STAGING, DEV]) {
      const streams = (await lab.info(i)).streams;
      assert.ok(
        !streams.some((s) => s.peer === h[PROD].confluxId),
        `${NAMES[i]} has a stream with prod`,
      );
    }

    // Dev's key rotates (a holder leaves): the two re-key and keep talking; Prod stays out.
    await lab.removeTeam(spare.confluxId, "dev");
    assert.ok(
      await reaches(lab, DEV, ip(STAGING), 20_000),
      "development lost staging at the rotation",
    );
    assert.ok(
      await reaches(lab, STAGING, ip(DEV), 20_000),
      "staging lost development at the rotation",
    );
    for (const [from, to] of [[PROD, STAGING], [STAGING, PROD]]) {
      const r = await lab.ping(from, ip(to), { count: 2, waitS: 1 });
      assert.equal(r.received, 0, `${NAMES[from]} reached ${NAMES[to]} after the rotation`);
    }

    // Staging leaves dev (rotating it again): now staging is Stage only, development Dev only.
    await lab.removeTeam(h[STAGING].confluxId, "dev");
    assert.ok(await cutOff(lab, DEV, ip(STAGING)), "development still reaches staging");
    assert.ok(await cutOff(lab, STAGING, ip(DEV)), "staging still reaches development");
    assert.deepEqual((await lab.info(STAGING)).teams, ["stage"]);
    assert.deepEqual((await lab.info(DEV)).teams, ["dev"]);
  },
);
