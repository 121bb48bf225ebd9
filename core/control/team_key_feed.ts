/**
 * TeamKeyFeed: the team keys a conflux holds, from its session and from the Guardian's signed
 * pushes on `vn.<realm>.c.<id>.teams`. A push is applied only when its signature verifies, it is
 * for us, and it is newer (by the Guardian's version) than what is held; listeners hear every
 * change.
 *
 * @module
 */
import type { Logger } from "../log/logger.ts";
import type { Session } from "./guardian_client.ts";
import { openTeamKeys, type TeamKey } from "./team_keys.ts";

/** The team keys of one conflux and who wants to hear of changes. */
export class TeamKeyFeed {
  readonly #log: Logger;
  #teams: TeamKey[];
  #issuedAt: number;
  #listeners = new Set<(teams: TeamKey[]) => void>();

  /** Starts with the keys of the first session. */
  constructor(session: Session, log: Logger) {
    this.#log = log;
    this.#teams = session.teams;
    this.#issuedAt = session.teamsIssuedAt;
  }

  /** The keys held now. */
  get teams(): TeamKey[] {
    return this.#teams;
  }

  /** Calls `cb` with the new keys on every change; returns an unsubscribe function. */
  onChange(cb: (teams: TeamKey[]) => void): () => void {
    this.#listeners.add(cb);
    return () => this.#listeners.delete(cb);
  }

  /** A renewed session: its keys replace ours when they are newer (listeners only on change). */
  fromSession(session: Session): void {
    if (session.teamsIssuedAt <= this.#issuedAt) return;
    const changed = !sameTeams(session.teams, this.#teams);
    this.#issuedAt = session.teamsIssuedAt;
    if (changed) this.#apply(session.teams, session.teamsIssuedAt);
  }

  /**
   * Applies the pushes arriving on `messages` (until they end), checked against the session's
   * Guardian key; `renew` is called when a push asks for a new session (our certificate's
   * contents changed, e.g. portal networks approved).
   */
  async follow(
    messages: AsyncIterable<{ data: Uint8Array }>,
    session: () => Session,
    renew: () => void,
  ): Promise<void> {
    for await (const msg of messages) {
      const s = session();
      const update = openTeamKeys(msg.data, s.guardianPublicKey, {
        confluxId: s.confluxId,
        realmId: s.realmId,
      });
      if (!update) {
        this.#log.warn("dropped team-key update: bad signature or not for us");
        continue;
      }
      if (update.issuedAt <= this.#issuedAt) {
        this.#log.debug("dropped stale team-key update", { issued_at: update.issuedAt });
        continue;
      }
      this.#apply(update.teams, update.issuedAt);
      if (update.renewSession) renew();
    }
  }

  #apply(teams: TeamKey[], issuedAt: number): void {
    this.#teams = teams;
    this.#issuedAt = issuedAt;
    this.#log.info("team keys updated", { teams: teams.length });
    for (const cb of this.#listeners) {
      try {
        cb(teams);
      } catch (err) {
        this.#log.error("team listener failed", { error: (err as Error).message });
      }
    }
  }
}

function sameTeams(a: TeamKey[], b: TeamKey[]): boolean {
  if (a.length !== b.length) return false;
  return a.every((t, i) => t.teamId === b[i].teamId && t.version === b[i].version);
}
