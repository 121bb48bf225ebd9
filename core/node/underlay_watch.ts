/**
 * Follows the host's underlay addresses while the node runs (DHCP renew, a NIC going down, Wi-Fi
 * to cable): re-reads the interfaces every few seconds and reports a changed set, so tethers
 * adapt without a node restart. Reading the interface list costs one getifaddrs call.
 *
 * @module
 */
import type { Logger } from "../log/logger.ts";
import {
  type InterfaceAddress,
  sameAddresses,
  underlayAddresses,
  type UnderlayPolicy,
} from "../tether/underlay.ts";

/** How often the interfaces are re-read. */
export const UNDERLAY_POLL_MS = 2000;

/** The host's interface addresses now; empty when they cannot be read. */
export function readInterfaces(): InterfaceAddress[] {
  try {
    return Deno.networkInterfaces().map((i) => ({
      name: i.name,
      family: i.family,
      address: i.address,
    }));
  } catch {
    return [];
  }
}

/** The underlay addresses of this host now under `policy`. */
export function currentUnderlay(policy: UnderlayPolicy): string[] {
  return underlayAddresses(readInterfaces(), policy);
}

/**
 * Calls `onChange` with the new set whenever the underlay addresses differ from the last set
 * seen (starting from `initial`). Returns the stop function.
 */
export function watchUnderlay(
  policy: UnderlayPolicy,
  initial: readonly string[],
  onChange: (addresses: string[]) => void,
  options: { everyMs?: number; log: Logger; read?: () => InterfaceAddress[] },
): () => void {
  let last = initial.slice();
  const read = options.read ?? readInterfaces;
  const timer = setInterval(() => {
    const next = underlayAddresses(read(), policy);
    if (sameAddresses(next, last)) return;
    options.log.info("underlay changed", { before: last, after: next });
    last = next;
    try {
      onChange(next);
    } catch (e) {
      options.log.warn("underlay change not applied", { error: String(e) });
    }
  }, options.everyMs ?? UNDERLAY_POLL_MS);
  return () => clearInterval(timer);
}
