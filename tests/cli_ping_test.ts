/**
 * `veilnet-conflux ping` against running nodes on the topology lab: the path is reported as
 * direct, then as relayed (and the change said) once the direct link is cut; a conflux without a
 * shared team is unreachable, with the reason, and the exit code says so.
 *
 * @module
 */
import assert from "node:assert/strict";
import { fileURLToPath } from "node:url";
import type { LabConflux } from "../demo/lab.ts";
import type { Topology } from "../demo/topology.ts";
import { topologyTest } from "./helpers/lab_test.ts";

const MAIN = fileURLToPath(new URL("../main.ts", import.meta.url));

function ping(t: Topology, from: number, target: string, args: string[] = []) {
  return t.exec(t.namespaces[from], [
    Deno.execPath(),
    "run",
    "-A",
    MAIN,
    "ping",
    "--config-dir",
    t.configDir(from),
    ...args,
    target,
  ], { check: false });
}

topologyTest(
  "cli ping: direct, then via the relay with the change reported when the link is cut",
  // h0–h2 direct (link 2), and h0–h1–h2.
  { hosts: 4, links: [[0, 1], [1, 2], [0, 2]] },
  async (t) => {
    await t.startServices();
    await t.createTeam("dev");
    await t.createTeam("ops");
    const h: LabConflux[] = [];
    for (let i = 0; i < 3; i++) h.push(await t.register(`h${i}`, ["dev"]));
    const stranger = await t.register("h3", ["ops"]);
    await Promise.all([...h, stranger].map((c, i) => t.startNode(i, c)));

    const direct = await ping(t, 0, h[2].overlayIp, ["-c", "3", "-i", "0.3"]);
    assert.equal(direct.code, 0, direct.stdout + direct.stderr);
    assert.match(
      direct.stdout,
      new RegExp(`reply from ${h[2].overlayIp} \\(${h[2].confluxId}\\).* direct`),
    );

    await t.setLink(2, false);
    const relayed = await ping(t, 0, h[2].overlayIp, ["-c", "12", "-i", "0.5"]);
    assert.equal(relayed.code, 0, relayed.stdout + relayed.stderr);
    assert.match(relayed.stdout, new RegExp(`via ${h[1].confluxId} \\(2 hops\\)`), relayed.stdout);

    const json = await ping(t, 0, h[2].overlayIp, ["-c", "1", "--json"]);
    const parsed = JSON.parse(json.stdout);
    assert.equal(parsed.received, 1, json.stdout);
    assert.equal(parsed.replies[0].path.kind, "relayed");

    const none = await ping(t, 0, stranger.overlayIp, ["-c", "1"]);
    assert.equal(none.code, 1, none.stdout + none.stderr);
    assert.match(none.stderr, /no conflux answered .* no team/);

    const bad = await ping(t, 0, "not-an-ip");
    assert.equal(bad.code, 2, bad.stderr);
  },
);
