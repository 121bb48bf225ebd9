/**
 * What a user may see and change: realms they own (or all, as admin), confluxes they own or whose
 * realm they own, a conflux's teams (its owner, or the conflux itself), portal networks checked
 * against the realm. Unknown and invisible look alike (404).
 *
 * @module
 */

import { checkPortalSubnets } from "../../core/wire/portal_subnets.ts";
import type {
  ConfluxRecord,
  GuardianStore,
  RealmRecord,
  TeamRecord,
  UserRecord,
} from "../store.ts";
import { isConfluxToken } from "../http/auth.ts";
import { HttpError } from "../http/errors.ts";
import { type SubnetState, subnetState } from "./subnets.ts";

/** The checks over `store`; `guards` and `resolveTeam` come from http/ and domain/team_keys.ts. */
export function createAccess(
  store: GuardianStore,
  guards: {
    requireUser(request: Request): UserRecord;
    requireConflux(token: string): ConfluxRecord;
  },
  resolveTeam: (ownerId: string, team: string) => TeamRecord | null,
) {
  const { requireUser, requireConflux } = guards;
  const ownedRealm = (u: UserRecord, realmId: string): RealmRecord => {
    const r = store.realmById(realmId);
    if (!r || r.deletedAt !== null || (!u.isAdmin && r.ownerId !== u.id)) {
      throw new HttpError(404, "unknown realm");
    }
    return r;
  };

  const visibleConflux = (u: UserRecord, confluxId: string): ConfluxRecord => {
    const c = store.confluxById(confluxId);
    if (!c || c.revokedAt !== null) throw new HttpError(404, "unknown conflux");
    const realm = store.realmById(c.realmId);
    if (!u.isAdmin && c.ownerId !== u.id && realm?.ownerId !== u.id) {
      throw new HttpError(404, "unknown conflux");
    }
    return c;
  };

  /** A portal's networks as the Guardian sees them now. */
  const portalState = (c: ConfluxRecord): SubnetState => {
    const realm = store.realmById(c.realmId);
    return subnetState(c.advertisedSubnets, store.subnetDecisions(c.id), realm?.autoApprove ?? []);
  };

  /** Checks a list of portal networks against a realm; a 400 naming the first problem. */
  const checkNetworks = (list: string[], realm: RealmRecord, field: string): void => {
    const problem = checkPortalSubnets(list, realm.subnet);
    if (problem !== null) throw new HttpError(400, `${field}: ${problem}`);
  };

  /** The conflux a team request is about, checking the bearer may change it. */
  function confluxForTeamChange(token: string, confluxId: string, request: Request): ConfluxRecord {
    if (isConfluxToken(token)) {
      const c = requireConflux(token);
      if (c.id !== confluxId) throw new HttpError(403, "a conflux token may only manage itself");
      return c;
    }
    const u = requireUser(request);
    const c = visibleConflux(u, confluxId);
    if (!u.isAdmin && c.ownerId !== u.id) {
      throw new HttpError(403, "only the conflux owner may change its teams");
    }
    return c;
  }

  /** The team to add to `c`: its owner must be a member or owner of it. */
  function teamForConflux(c: ConfluxRecord, team: string): TeamRecord {
    const found = resolveTeam(c.ownerId, team);
    if (found) return found;
    if (store.teamById(team)) {
      throw new HttpError(403, "the conflux owner is neither member nor owner of that team");
    }
    throw new HttpError(404, "unknown team");
  }

  return {
    ownedRealm,
    visibleConflux,
    portalState,
    checkNetworks,
    confluxForTeamChange,
    teamForConflux,
  };
}
