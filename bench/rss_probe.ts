/**
 * Idle RSS of a node under different process settings (issue 16, memory): two nodes with a
 * shared team ping once, then each node's /proc status is read after a few idle seconds. Prints
 * JSON: per setting, VmRSS / RssAnon / RssFile in MB.
 *
 *   deno run -A bench/rss_probe.ts [--settings default,arena2,lane-off]
 *
 * @module
 */
import { parseArgs } from "node:util";
import { createLab } from "../demo/lab.ts";
import { nodePid } from "./node_pid.ts";

const { values } = parseArgs({
  args: Deno.args,
  options: { settings: { type: "string", default: "default,arena2,lane-off" } },
});

const SETTINGS: Record<string, Record<string, string>> = {
  "default": {},
  "arena2": { MALLOC_ARENA_MAX: "2" },
  "lane-off": { VEILNET_LANE: "off" },
};

async function status(pid: number): Promise<Record<string, number>> {
  const text = await Deno.readTextFile(`/proc/${pid}/status`);
  const out: Record<string, number> = {};
  for (const k of ["VmRSS", "RssAnon", "RssFile"]) {
    const m = new RegExp(`^${k}:\\s+(\\d+) kB`, "m").exec(text);
    if (m) out[k] = Math.round(Number(m[1]) / 102.4) / 10;
  }
  return out;
}

const lab = await createLab({ nodes: 2, prefix: "vnrss" });
const results: Record<string, unknown> = {};
try {
  await lab.startServices();
  await lab.createTeam("rss");
  for (const name of values.settings.split(",").filter((s) => s in SETTINGS)) {
    const a = await lab.register(`rss-a-${name}`, ["rss"]);
    const b = await lab.register(`rss-b-${name}`, ["rss"]);
    const procs = await Promise.all([
      lab.startNode(0, a, { env: SETTINGS[name] }),
      lab.startNode(1, b, { env: SETTINGS[name] }),
    ]);
    await lab.reachable(0, b.overlayIp);
    await new Promise((r) => setTimeout(r, 5000));
    const pids = await Promise.all(procs.map((p) => nodePid(p.child.pid)));
    results[name] = await Promise.all(pids.map(status));
    console.error(name, JSON.stringify(results[name]));
    await Promise.all([lab.stopNode(0), lab.stopNode(1)]);
  }
} finally {
  await lab.close();
}
console.log(JSON.stringify(results));
