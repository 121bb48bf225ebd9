/**
 * `GuardianStore` over an embedded SQLite file (`node:sqlite`), WAL journal, versioned migrations
 * (store/migrations.ts); statements are prepared once and cached.
 *
 * @module
 */

import { DatabaseSync, type SQLInputValue, type StatementSync } from "node:sqlite";
import { createHash } from "node:crypto";
import type {
  AuditEntry,
  AuditFilter,
  ConfluxRecord,
  GuardianStore,
  InvitationRecord,
  NatsRevocation,
  RealmRecord,
  RegistrationTokenRecord,
  SubnetDecision,
  TeamRecord,
  TeamRole,
  UserRecord,
} from "./types.ts";
import { MIGRATIONS } from "./migrations.ts";
import { insertAudit, listAudit } from "./audit.ts";
import { conflux, invitation, num, realm, regToken, type Row, team, user } from "./rows.ts";

/** SQLite implementation of {@link GuardianStore}. */
export class SqliteStore implements GuardianStore {
  readonly #db: DatabaseSync;
  #depth = 0;

  /** Opens (creating and migrating) the database file at `path`. */
  constructor(path: string) {
    this.#db = new DatabaseSync(path);
    this.#db.exec("PRAGMA journal_mode = WAL");
    this.#db.exec("PRAGMA foreign_keys = ON");
    this.#db.exec("PRAGMA busy_timeout = 5000");
    this.#migrate();
  }

  #migrate(): void {
    const current = num((this.#db.prepare("PRAGMA user_version").get() as Row).user_version);
    for (let v = current; v < MIGRATIONS.length; v++) {
      this.transaction(() => {
        this.#db.exec(MIGRATIONS[v]);
        this.#db.exec(`PRAGMA user_version = ${v + 1}`);
      });
    }
  }

  readonly #statements = new Map<string, StatementSync>();

  /** The prepared statement of `sql` (prepared at first use, then reused). */
  #prepared(sql: string): StatementSync {
    let s = this.#statements.get(sql);
    if (!s) {
      s = this.#db.prepare(sql);
      this.#statements.set(sql, s);
    }
    return s;
  }

  #all(sql: string, ...args: SQLInputValue[]): Row[] {
    return this.#prepared(sql).all(...args) as Row[];
  }

  #get(sql: string, ...args: SQLInputValue[]): Row | undefined {
    return this.#prepared(sql).get(...args) as Row | undefined;
  }

  #run(sql: string, ...args: SQLInputValue[]): number {
    return Number(this.#prepared(sql).run(...args).changes);
  }

  /** Schema version (number of applied migrations). */
  get schemaVersion(): number {
    return num((this.#db.prepare("PRAGMA user_version").get() as Row).user_version);
  }

  transaction<T>(fn: () => T): T {
    if (this.#depth > 0) {
      this.#depth++;
      try {
        return fn();
      } finally {
        this.#depth--;
      }
    }
    this.#db.exec("BEGIN IMMEDIATE");
    this.#depth = 1;
    try {
      const result = fn();
      this.#db.exec("COMMIT");
      return result;
    } catch (err) {
      this.#db.exec("ROLLBACK");
      throw err;
    } finally {
      this.#depth = 0;
    }
  }

  /**
   * SHA-256 over every row of every table, in a fixed order: equal digests mean equal contents.
   * Tests use it to show that a refused request changed nothing.
   */
  contentDigest(): string {
    const hash = createHash("sha256");
    const tables = this.#all(
      "SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%' ORDER BY name",
    );
    for (const t of tables) {
      const name = String(t.name);
      hash.update(`table ${name}\n`);
      for (const r of this.#all(`SELECT * FROM "${name}" ORDER BY 1, 2`)) {
        hash.update(
          JSON.stringify(r, (_k, v) => v instanceof Uint8Array ? Array.from(v) : v) + "\n",
        );
      }
    }
    return hash.digest("hex");
  }

  countUsers(): number {
    return num(this.#get("SELECT count(*) AS n FROM users")!.n);
  }

  insertUser(u: UserRecord): boolean {
    return this.#run(
      "INSERT INTO users (id, email, password_hash, is_admin, created_at) VALUES (?, ?, ?, ?, ?) " +
        "ON CONFLICT(email) DO NOTHING",
      u.id,
      u.email,
      u.passwordHash,
      u.isAdmin ? 1 : 0,
      u.createdAt,
    ) === 1;
  }

  userByEmail(email: string): UserRecord | null {
    const r = this.#get("SELECT * FROM users WHERE email = ?", email);
    return r ? user(r) : null;
  }

  userById(id: string): UserRecord | null {
    const r = this.#get("SELECT * FROM users WHERE id = ?", id);
    return r ? user(r) : null;
  }

  insertAccessToken(hash: string, userId: string, expiresAt: number, createdAt: number): void {
    this.#run(
      "INSERT INTO access_tokens (token_hash, user_id, expires_at, created_at) VALUES (?, ?, ?, ?)",
      hash,
      userId,
      expiresAt,
      createdAt,
    );
  }

  userByAccessToken(hash: string, now: number): UserRecord | null {
    const r = this.#get(
      "SELECT users.* FROM access_tokens JOIN users ON users.id = access_tokens.user_id " +
        "WHERE token_hash = ? AND expires_at > ?",
      hash,
      now,
    );
    return r ? user(r) : null;
  }

  deleteAccessToken(hash: string): boolean {
    return this.#run("DELETE FROM access_tokens WHERE token_hash = ?", hash) === 1;
  }

  updatePasswordHash(userId: string, passwordHash: string): void {
    this.#run("UPDATE users SET password_hash = ? WHERE id = ?", passwordHash, userId);
  }

  insertRealm(r: RealmRecord): void {
    this.#run(
      "INSERT INTO realms (id, name, subnet, owner_id, created_at, deleted_at, auto_approve) " +
        "VALUES (?, ?, ?, ?, ?, ?, ?)",
      r.id,
      r.name,
      r.subnet,
      r.ownerId,
      r.createdAt,
      r.deletedAt,
      JSON.stringify(r.autoApprove),
    );
  }

  setRealmAutoApprove(id: string, autoApprove: string[]): void {
    this.#run("UPDATE realms SET auto_approve = ? WHERE id = ?", JSON.stringify(autoApprove), id);
  }

  realmById(id: string): RealmRecord | null {
    const r = this.#get("SELECT * FROM realms WHERE id = ?", id);
    return r ? realm(r) : null;
  }

  listRealms(ownerId: string | null): RealmRecord[] {
    return (ownerId === null
      ? this.#all("SELECT * FROM realms WHERE deleted_at IS NULL ORDER BY created_at, id")
      : this.#all(
        "SELECT * FROM realms WHERE deleted_at IS NULL AND owner_id = ? ORDER BY created_at, id",
        ownerId,
      )).map(realm);
  }

  deleteRealm(id: string, now: number): void {
    this.transaction(() => {
      this.#run("UPDATE realms SET deleted_at = ? WHERE id = ? AND deleted_at IS NULL", now, id);
      for (const c of this.listConfluxes(id)) this.revokeConflux(c.id, now);
      this.#run(
        "UPDATE registration_tokens SET revoked_at = ? WHERE realm_id = ? AND revoked_at IS NULL",
        now,
        id,
      );
    });
  }

  insertRegistrationToken(t: RegistrationTokenRecord): void {
    this.#run(
      "INSERT INTO registration_tokens (id, token_hash, realm_id, owner_id, tag, created_at, " +
        "expires_at, used_at, revoked_at, conflux_id) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
      t.id,
      t.tokenHash,
      t.realmId,
      t.ownerId,
      t.tag,
      t.createdAt,
      t.expiresAt,
      t.usedAt,
      t.revokedAt,
      t.confluxId,
    );
  }

  registrationTokenByHash(hash: string): RegistrationTokenRecord | null {
    const r = this.#get("SELECT * FROM registration_tokens WHERE token_hash = ?", hash);
    return r ? regToken(r) : null;
  }

  registrationTokenById(id: string): RegistrationTokenRecord | null {
    const r = this.#get("SELECT * FROM registration_tokens WHERE id = ?", id);
    return r ? regToken(r) : null;
  }

  listRegistrationTokens(ownerId: string | null): RegistrationTokenRecord[] {
    return (ownerId === null
      ? this.#all("SELECT * FROM registration_tokens ORDER BY created_at, id")
      : this.#all(
        "SELECT * FROM registration_tokens WHERE owner_id = ? ORDER BY created_at, id",
        ownerId,
      )).map(regToken);
  }

  markRegistrationTokenUsed(id: string, confluxId: string, now: number): void {
    this.#run(
      "UPDATE registration_tokens SET used_at = ?, conflux_id = ? WHERE id = ?",
      now,
      confluxId,
      id,
    );
  }

  revokeRegistrationToken(id: string, now: number): void {
    this.#run(
      "UPDATE registration_tokens SET revoked_at = ? WHERE id = ? AND revoked_at IS NULL",
      now,
      id,
    );
  }

  leasedAddresses(realmId: string): Set<number> {
    return new Set(
      this.#all("SELECT ip FROM ip_leases WHERE realm_id = ?", realmId).map((r) => num(r.ip)),
    );
  }

  leaseAddress(realmId: string, ip: number, confluxId: string): boolean {
    return this.#run(
      "INSERT INTO ip_leases (realm_id, ip, conflux_id) VALUES (?, ?, ?) ON CONFLICT DO NOTHING",
      realmId,
      ip,
      confluxId,
    ) === 1;
  }

  insertConflux(c: ConfluxRecord): void {
    this.#run(
      "INSERT INTO confluxes (id, realm_id, owner_id, tag, token_hash, overlay_ip, portal, " +
        "created_at, revoked_at, last_login_at, advertised_subnets, last_seen_at) " +
        "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
      c.id,
      c.realmId,
      c.ownerId,
      c.tag,
      c.tokenHash,
      c.overlayIp,
      c.portal ? 1 : 0,
      c.createdAt,
      c.revokedAt,
      c.lastLoginAt,
      JSON.stringify(c.advertisedSubnets),
      c.lastSeenAt ?? null,
    );
  }

  confluxById(id: string): ConfluxRecord | null {
    const r = this.#get("SELECT * FROM confluxes WHERE id = ?", id);
    return r ? conflux(r) : null;
  }

  confluxByTokenHash(hash: string): ConfluxRecord | null {
    const r = this.#get("SELECT * FROM confluxes WHERE token_hash = ?", hash);
    return r ? conflux(r) : null;
  }

  listConfluxes(realmId: string): ConfluxRecord[] {
    return this.#all(
      "SELECT * FROM confluxes WHERE realm_id = ? AND revoked_at IS NULL ORDER BY created_at, id",
      realmId,
    ).map(conflux);
  }

  revokeConflux(id: string, now: number): void {
    this.transaction(() => {
      this.#run("UPDATE confluxes SET revoked_at = ? WHERE id = ? AND revoked_at IS NULL", now, id);
      this.#run("DELETE FROM conflux_teams WHERE conflux_id = ?", id);
      this.#run(
        "UPDATE nats_users SET revoked_at = ? WHERE conflux_id = ? AND revoked_at IS NULL",
        now,
        id,
      );
    });
  }

  recordNatsUser(nkey: string, confluxId: string, expiresAt: number, now: number): void {
    this.transaction(() => {
      this.#run("DELETE FROM nats_users WHERE expires_at <= ?", now);
      this.#run(
        "INSERT INTO nats_users (nkey, conflux_id, expires_at) VALUES (?, ?, ?) " +
          "ON CONFLICT (nkey, conflux_id) DO UPDATE SET " +
          "expires_at = MAX(expires_at, excluded.expires_at)",
        nkey,
        confluxId,
        expiresAt,
      );
    });
  }

  natsRevocations(now: number): NatsRevocation[] {
    return this.#all(
      "SELECT nkey, MIN(revoked_at) AS revoked_at FROM nats_users " +
        "WHERE revoked_at IS NOT NULL AND expires_at > ? GROUP BY nkey ORDER BY nkey",
      now,
    ).map((r) => ({ nkey: String(r.nkey), revokedAt: num(r.revoked_at) }));
  }

  recordLogin(id: string, portal: boolean, now: number, advertisedSubnets: string[]): void {
    this.#run(
      "UPDATE confluxes SET last_login_at = ?, portal = ?, advertised_subnets = ? WHERE id = ?",
      now,
      portal ? 1 : 0,
      JSON.stringify(advertisedSubnets),
      id,
    );
  }

  subnetDecisions(confluxId: string): SubnetDecision[] {
    return this.#all(
      "SELECT * FROM subnet_decisions WHERE conflux_id = ? ORDER BY cidr",
      confluxId,
    ).map((r) => ({
      cidr: String(r.cidr),
      decision: String(r.decision) as SubnetDecision["decision"],
      decidedAt: num(r.decided_at),
      decidedBy: String(r.decided_by),
    }));
  }

  decideSubnets(
    confluxId: string,
    cidrs: string[],
    decision: SubnetDecision["decision"],
    by: string,
    now: number,
  ): void {
    this.transaction(() => {
      for (const cidr of cidrs) {
        this.#run(
          "INSERT INTO subnet_decisions (conflux_id, cidr, decision, decided_at, decided_by) " +
            "VALUES (?, ?, ?, ?, ?) ON CONFLICT (conflux_id, cidr) DO UPDATE SET " +
            "decision = excluded.decision, decided_at = excluded.decided_at, " +
            "decided_by = excluded.decided_by",
          confluxId,
          cidr,
          decision,
          now,
          by,
        );
      }
    });
  }

  nextTeamKeysSequence(): number {
    const r = this.#get(
      "UPDATE sequences SET value = value + 1 WHERE name = 'team_keys' RETURNING value",
    );
    if (!r) throw new Error("team_keys sequence missing from the database");
    return num(r.value);
  }

  insertTeam(t: TeamRecord): void {
    this.transaction(() => {
      this.#run(
        "INSERT INTO teams (id, name, owner_id, key, version, created_at) VALUES (?, ?, ?, ?, ?, ?)",
        t.id,
        t.name,
        t.ownerId,
        t.key,
        t.version,
        t.createdAt,
      );
      this.addTeamMember(t.id, t.ownerId, "owner");
    });
  }

  teamById(id: string): TeamRecord | null {
    const r = this.#get("SELECT * FROM teams WHERE id = ?", id);
    return r ? team(r) : null;
  }

  teamsOfUser(userId: string): Array<TeamRecord & { role: TeamRole }> {
    return this.#all(
      "SELECT teams.*, team_members.role AS role FROM teams JOIN team_members " +
        "ON team_members.team_id = teams.id WHERE team_members.user_id = ? ORDER BY teams.created_at, teams.id",
      userId,
    ).map((r) => ({ ...team(r), role: String(r.role) as TeamRole }));
  }

  rotateTeamKey(teamId: string, key: Uint8Array, version: number): void {
    this.#run("UPDATE teams SET key = ?, version = ? WHERE id = ?", key, version, teamId);
  }

  teamRole(teamId: string, userId: string): TeamRole | null {
    const r = this.#get(
      "SELECT role FROM team_members WHERE team_id = ? AND user_id = ?",
      teamId,
      userId,
    );
    return r ? String(r.role) as TeamRole : null;
  }

  addTeamMember(teamId: string, userId: string, role: TeamRole): void {
    this.#run(
      "INSERT INTO team_members (team_id, user_id, role) VALUES (?, ?, ?) ON CONFLICT DO NOTHING",
      teamId,
      userId,
      role,
    );
  }

  removeTeamMember(teamId: string, userId: string): boolean {
    return this.#run(
      "DELETE FROM team_members WHERE team_id = ? AND user_id = ?",
      teamId,
      userId,
    ) === 1;
  }

  teamMembers(teamId: string): Array<{ userId: string; email: string; role: TeamRole }> {
    return this.#all(
      "SELECT users.id AS id, users.email AS email, team_members.role AS role FROM team_members " +
        "JOIN users ON users.id = team_members.user_id WHERE team_id = ? ORDER BY users.email",
      teamId,
    ).map((r) => ({
      userId: String(r.id),
      email: String(r.email),
      role: String(r.role) as TeamRole,
    }));
  }

  insertInvitation(i: InvitationRecord): void {
    this.#run(
      "INSERT INTO team_invitations (id, team_id, email, invited_by, created_at, accepted_at) " +
        "VALUES (?, ?, ?, ?, ?, ?)",
      i.id,
      i.teamId,
      i.email,
      i.invitedBy,
      i.createdAt,
      i.acceptedAt,
    );
  }

  invitationById(id: string): InvitationRecord | null {
    const r = this.#get("SELECT * FROM team_invitations WHERE id = ?", id);
    return r ? invitation(r) : null;
  }

  pendingInvitations(email: string): InvitationRecord[] {
    return this.#all(
      "SELECT * FROM team_invitations WHERE email = ? COLLATE NOCASE AND accepted_at IS NULL " +
        "ORDER BY created_at, id",
      email,
    ).map(invitation);
  }

  acceptInvitation(id: string, now: number): void {
    this.#run("UPDATE team_invitations SET accepted_at = ? WHERE id = ?", now, id);
  }

  addConfluxTeam(confluxId: string, teamId: string): boolean {
    return this.#run(
      "INSERT INTO conflux_teams (conflux_id, team_id) VALUES (?, ?) ON CONFLICT DO NOTHING",
      confluxId,
      teamId,
    ) === 1;
  }

  removeConfluxTeam(confluxId: string, teamId: string): boolean {
    return this.#run(
      "DELETE FROM conflux_teams WHERE conflux_id = ? AND team_id = ?",
      confluxId,
      teamId,
    ) === 1;
  }

  teamsOfConflux(confluxId: string): TeamRecord[] {
    return this.#all(
      "SELECT teams.* FROM conflux_teams JOIN teams ON teams.id = conflux_teams.team_id " +
        "WHERE conflux_id = ? ORDER BY teams.name, teams.id",
      confluxId,
    ).map(team);
  }

  confluxesOfTeam(teamId: string): ConfluxRecord[] {
    return this.#all(
      "SELECT confluxes.* FROM conflux_teams JOIN confluxes ON confluxes.id = conflux_teams.conflux_id " +
        "WHERE team_id = ? AND revoked_at IS NULL ORDER BY confluxes.id",
      teamId,
    ).map(conflux);
  }

  confluxesOfOwnerInTeam(teamId: string, ownerId: string): ConfluxRecord[] {
    return this.confluxesOfTeam(teamId).filter((c) => c.ownerId === ownerId);
  }

  insertAudit(e: AuditEntry): void {
    insertAudit(this.#run.bind(this), e);
  }

  listAudit(f: AuditFilter): AuditEntry[] {
    return listAudit(this.#all.bind(this), f);
  }

  confluxIdOfNkey(nkey: string): string | null {
    const r = this.#get("SELECT conflux_id FROM nats_users WHERE nkey = ? LIMIT 1", nkey);
    return r ? String(r.conflux_id) : null;
  }

  recordSeen(confluxId: string, at: number): void {
    this.#run(
      "UPDATE confluxes SET last_seen_at = MAX(IFNULL(last_seen_at, 0), ?) WHERE id = ?",
      at,
      confluxId,
    );
  }

  /** Closes the database; later calls do nothing. */
  close(): void {
    if (this.#db.isOpen) this.#db.close();
  }
}
