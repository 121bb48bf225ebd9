/**
 * The PID of a process started as `ip netns exec NS CMD…`: iproute2 execs CMD in place, so it is
 * normally the PID we spawned; if an `ip` in between forked instead, its only child is the one.
 *
 * @module
 */

async function comm(pid: number): Promise<string | null> {
  try {
    return (await Deno.readTextFile(`/proc/${pid}/comm`)).trim();
  } catch {
    return null;
  }
}

/**
 * The PID whose RSS to read for a process we spawned with PID `spawned` through
 * `ip netns exec` (the spawned PID itself, or its single child when `ip` forked).
 */
export async function nodePid(spawned: number): Promise<number> {
  if ((await comm(spawned)) !== "ip") return spawned;
  try {
    const kids = (await Deno.readTextFile(`/proc/${spawned}/task/${spawned}/children`)).trim()
      .split(/\s+/).filter((s) => s).map(Number);
    return kids.length === 1 ? kids[0] : spawned;
  } catch {
    return spawned;
  }
}
