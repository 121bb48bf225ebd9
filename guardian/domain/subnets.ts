/**
 * A portal's networks: what it advertises, what its owner decided, what a certificate states.
 *
 * @module
 */

import { type Cidr, cidrWithin, parseCidr } from "../ip_pool.ts";
import type { SubnetDecision } from "../store.ts";

/** A portal's networks: what it asks for, what was decided, and what a certificate states. */
export interface SubnetState {
  /** What the portal asked to serve at its last session login, in its order. */
  advertised: string[];
  /** Networks the owner approved (also ones not advertised yet). */
  approved: string[];
  /** Networks the owner denied. */
  denied: string[];
  /** Advertised networks without a decision and outside the realm's auto-approve policy. */
  pending: string[];
  /** Advertised networks that are certified: approved, or auto-approved and not denied. */
  certified: string[];
}

/**
 * Which of `advertised` a certificate may state: each one the owner approved (exactly that
 * network), or — unless the owner denied it — that lies inside a network of the realm's
 * auto-approve policy. Everything else is pending (or denied) and not certified.
 */
export function subnetState(
  advertised: readonly string[],
  decisions: readonly SubnetDecision[],
  autoApprove: readonly string[],
): SubnetState {
  const approved = decisions.filter((d) => d.decision === "approved").map((d) => d.cidr);
  const denied = decisions.filter((d) => d.decision === "denied").map((d) => d.cidr);
  const policy = autoApprove.map((c) => parseCidr(c)).filter((c): c is Cidr => c !== null);
  const certified: string[] = [];
  const pending: string[] = [];
  for (const text of advertised) {
    if (approved.includes(text)) certified.push(text);
    else if (denied.includes(text)) continue;
    else {
      const net = parseCidr(text);
      if (net && policy.some((p) => cidrWithin(net, p))) certified.push(text);
      else pending.push(text);
    }
  }
  return { advertised: [...advertised], approved, denied, pending, certified };
}
