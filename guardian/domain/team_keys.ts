/**
 * Team keys: which teams a conflux holds, key rotation, the signed pushes of a conflux's team-key
 * set (PROTOCOL.md, "Team-key updates"), and the one revocation cascade (revoke a conflux, rotate
 * the keys of its teams, return whom to notify) that unregister, owner removal and realm deletion
 * share.
 *
 * @module
 */

import { sealTeamKeys, type TeamKey } from "../../core/control/team_keys.ts";
import type { Logger } from "../../core/log/logger.ts";
import type { GuardianKeys } from "../keys.ts";
import { teamsSubject } from "../nats_auth.ts";
import type { ConfluxRecord, GuardianStore, TeamRecord } from "../store.ts";
import type { TeamKeyPublisher } from "./context.ts";

/** The team-key operations over `store`. */
export function createTeamKeys(
  deps: { store: GuardianStore; keys: GuardianKeys; log: Logger; publisher?: TeamKeyPublisher },
) {
  const { store, keys, log } = deps;
  /**
   * The `issued_at` of a team-key set (session or push): the next number of a sequence kept in
   * the database, so a Guardian restarted with its clock behind still orders its pushes after
   * everything it handed out before (PROTOCOL.md, "Team-key updates").
   */
  const issuedAt = (): number => store.nextTeamKeysSequence();

  /** Teams a conflux holds now: associated, and its owner still a member or owner. */
  const effectiveTeams = (c: ConfluxRecord): TeamRecord[] =>
    store.teamsOfConflux(c.id).filter((t) => store.teamRole(t.id, c.ownerId) !== null);

  const teamKeys = (c: ConfluxRecord): TeamKey[] =>
    effectiveTeams(c).map((t) => ({ teamId: t.id, name: t.name, version: t.version, key: t.key }));

  /** Resolves a team id or name among the teams `ownerId` owns or belongs to. */
  const resolveTeam = (ownerId: string, team: string): TeamRecord | null => {
    const mine = store.teamsOfUser(ownerId);
    return mine.find((t) => t.id === team) ?? mine.find((t) => t.name === team) ?? null;
  };

  const rotate = (teamId: string): void => {
    const t = store.teamById(teamId);
    if (t) store.rotateTeamKey(teamId, crypto.getRandomValues(new Uint8Array(32)), t.version + 1);
  };

  /**
   * Pushes the current team-key set to each conflux (after the change is committed); those in
   * `renew` are also asked to log in again at once (their certificate would state other portal
   * networks now).
   */
  const push = (confluxIds: Iterable<string>, renew: Iterable<string> = []): void => {
    const publisher = deps.publisher;
    const renewing = new Set(renew);
    for (const id of new Set([...confluxIds, ...renewing])) {
      const c = store.confluxById(id);
      if (!c) continue;
      const teams = c.revokedAt === null ? teamKeys(c) : [];
      if (!publisher || !publisher.connected()) {
        log.warn("team keys not pushed: NATS not connected", { conflux_id: c.id });
        continue;
      }
      const renewSession = renewing.has(id) && c.revokedAt === null;
      const bytes = sealTeamKeys(
        { confluxId: c.id, realmId: c.realmId, issuedAt: issuedAt(), teams, renewSession },
        keys.identity.secretKey,
        crypto.getRandomValues(new Uint8Array(32)),
      );
      publisher.publish(teamsSubject(c.realmId, c.id), bytes);
    }
  };

  /** Revokes a conflux, rotates the keys of its teams, returns the confluxes to notify. */
  const revokeAndRotate = (c: ConfluxRecord, now: number): string[] => {
    const teams = store.teamsOfConflux(c.id);
    store.revokeConflux(c.id, now);
    const notify = [c.id];
    for (const t of teams) {
      rotate(t.id);
      notify.push(...store.confluxesOfTeam(t.id).map((x) => x.id));
    }
    return notify;
  };

  return { issuedAt, effectiveTeams, teamKeys, resolveTeam, rotate, push, revokeAndRotate };
}
