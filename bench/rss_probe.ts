/**
 * Idle RSS of a node under different process settings (issue 16, memory): two nodes with a
 * shared team ping once, then each node's /proc status is read after a few idle seconds. Prints
 * JSON: per setting, VmRSS / RssAnon / RssFile in MB, the node's own report (`info`'s memory: V8
 * heap used/total, external) and, with `--maps`, the largest resident mappings of the first node.
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
  options: {
    settings: { type: "string", default: "default,arena2,lane-off" },
    maps: { type: "boolean", default: false },
  },
});

const SETTINGS: Record<string, Record<string, string>> = {
  "default": {},
  "arena2": { MALLOC_ARENA_MAX: "2" },
  "lane-off": { VEILNET_LANE: "off" },
};

/** Resident MB per mapped file ("[anon]" for anonymous mappings), largest first. */
async function residentMaps(pid: number, top = 12): Promise<Record<string, number>> {
  const text = await Deno.readTextFile(`/proc/${pid}/smaps`);
  const sums = new Map<string, number>();
  let name = "";
  for (const line of text.split("\n")) {
    const head = /^[0-9a-f]+-[0-9a-f]+ \S+ \S+ \S+ \S+\s*(.*)$/.exec(line);
    if (head) {
      name = head[1] || "[anon]";
      continue;
    }
    const m = /^Rss:\s+(\d+) kB/.exec(line);
    if (m) sums.set(name, (sums.get(name) ?? 0) + Number(m[1]));
  }
  const sorted = [...sums].sort((a, b) => b[1] - a[1]).slice(0, top);
  return Object.fromEntries(sorted.map(([k, kb]) => [k, Math.round(kb / 102.4) / 10]));
}

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
    const own = await Promise.all([0, 1].map((i) => lab.info(i)));
    results[name] = await Promise.all(
      pids.map(async (pid, i) => ({ ...await status(pid), node: own[i].memory })),
    );
    if (values.maps) results[`${name}-maps`] = await residentMaps(pids[0]);
    console.error(name, JSON.stringify(results[name]));
    await Promise.all([lab.stopNode(0), lab.stopNode(1)]);
  }
} finally {
  await lab.close();
}
console.log(JSON.stringify(results));
