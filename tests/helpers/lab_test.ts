/**
 * `labTest`: a test on a fresh network-namespace lab (demo/lab.ts), skipped where labs cannot be
 * built (not root, no nats-server), and closed afterwards even when the test fails.
 *
 * @module
 */
import { createLab, type Lab, labAvailable } from "../../demo/lab.ts";

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
