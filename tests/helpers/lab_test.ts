/**
 * `labTest`: a test on a fresh network-namespace lab (demo/lab.ts), skipped where labs cannot be
 * built (not root, no nats-server), and closed afterwards even when the test fails.
 *
 * @module
 */
import { createLab, type Lab, labAvailable, run } from "../../demo/lab.ts";
import { createTopology, type Topology, type TopologyOptions } from "../../demo/topology.ts";

/**
 * Registers test `name` on a lab of `nodes` nodes; `fn` starts the services itself (some tests
 * change the lab first). `LAB_ECHO=1` echoes every process's log.
 */
export function labTest(name: string, nodes: number, fn: (lab: Lab) => Promise<void>): void {
  Deno.test({
    name,
    ignore: !labAvailable(),
    // Lab processes and sockets outlive single awaits by design; close() ends them all.
    sanitizeOps: false,
    sanitizeResources: false,
    fn: async () => {
      const lab = await createLab({ nodes, echo: Deno.env.get("LAB_ECHO") === "1" });
      try {
        await fn(lab);
      } finally {
        await lab.close();
      }
    },
  });
}

/** Namespaces whose name starts with `id` (none should be left after a lab closes). */
export async function namespacesOf(id: string): Promise<string[]> {
  const r = await run(["ip", "netns", "list"]);
  return r.stdout.split("\n").map((l) => l.split(" ")[0]).filter((n) => n.startsWith(id));
}

/**
 * Registers test `name` on a fresh topology lab (demo/topology.ts: management networks, data
 * links, NAT routers), skipped where labs cannot be built, closed afterwards even on failure,
 * and checked to leave no namespace behind.
 */
export function topologyTest(
  name: string,
  options: TopologyOptions,
  fn: (t: Topology) => Promise<void>,
): void {
  Deno.test({
    name,
    ignore: !labAvailable(),
    // Lab processes and sockets outlive single awaits by design; close() ends them all.
    sanitizeOps: false,
    sanitizeResources: false,
    fn: async () => {
      const t = await createTopology({ ...options, echo: Deno.env.get("LAB_ECHO") === "1" });
      try {
        await fn(t);
      } finally {
        await t.close();
      }
      const left = await namespacesOf(t.id);
      if (left.length > 0) throw new Error(`namespaces left after close(): ${left.join(", ")}`);
    },
  });
}
