/**
 * `labTest`: a test on a fresh network-namespace lab (demo/lab.ts), skipped where labs cannot be
 * built (not root, no nats-server), and closed afterwards even when the test fails.
 *
 * @module
 */
import { createLab, type Lab, labAvailable, run } from "../../demo/lab.ts";
import { createTopology, type Topology, type TopologyOptions } from "../../demo/topology.ts";

/**
 * Registers test `name` on a lab that `build` makes; closes it afterwards even when the test
 * fails, and checks that it left no namespace behind. `LAB_ECHO=1` echoes every process's log.
 */
function netnsTest<L extends Lab>(
  name: string,
  build: (echo: boolean) => Promise<L>,
  fn: (lab: L) => Promise<void>,
): void {
  Deno.test({
    name,
    ignore: !labAvailable(),
    // Lab processes and sockets outlive single awaits by design; close() ends them all.
    sanitizeOps: false,
    sanitizeResources: false,
    fn: async () => {
      const lab = await build(Deno.env.get("LAB_ECHO") === "1");
      try {
        await fn(lab);
      } finally {
        await lab.close();
      }
      const left = await namespacesOf(lab.id);
      if (left.length > 0) throw new Error(`namespaces left after close(): ${left.join(", ")}`);
    },
  });
}

/**
 * Registers test `name` on a flat lab of `nodes` nodes (demo/lab.ts); `fn` starts the services
 * itself (some tests change the lab first).
 */
export function labTest(name: string, nodes: number, fn: (lab: Lab) => Promise<void>): void {
  netnsTest(name, (echo) => createLab({ nodes, echo }), fn);
}

/** Namespaces whose name starts with `id` (none should be left after a lab closes). */
export async function namespacesOf(id: string): Promise<string[]> {
  const r = await run(["ip", "netns", "list"]);
  return r.stdout.split("\n").map((l) => l.split(" ")[0]).filter((n) => n.startsWith(id));
}

/**
 * Registers test `name` on a fresh topology lab (demo/topology.ts: management networks, data
 * links, NAT routers).
 */
export function topologyTest(
  name: string,
  options: TopologyOptions,
  fn: (t: Topology) => Promise<void>,
): void {
  netnsTest(name, (echo) => createTopology({ ...options, echo }), fn);
}
