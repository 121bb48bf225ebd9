/**
 * The SQLite schema as versioned migrations (`PRAGMA user_version` counts the applied ones).
 *
 * @module
 */

/** Schema migrations; entry i brings the database from version i to i+1. Append only. */
export const MIGRATIONS: string[] = [
  `
  CREATE TABLE users (
    id TEXT PRIMARY KEY, email TEXT NOT NULL UNIQUE COLLATE NOCASE, password_hash TEXT NOT NULL,
    is_admin INTEGER NOT NULL, created_at INTEGER NOT NULL);
  CREATE TABLE access_tokens (
    token_hash TEXT PRIMARY KEY, user_id TEXT NOT NULL REFERENCES users(id),
    expires_at INTEGER NOT NULL, created_at INTEGER NOT NULL);
  CREATE TABLE realms (
    id TEXT PRIMARY KEY, name TEXT NOT NULL, subnet TEXT NOT NULL,
    owner_id TEXT NOT NULL REFERENCES users(id), created_at INTEGER NOT NULL, deleted_at INTEGER);
  CREATE TABLE registration_tokens (
    id TEXT PRIMARY KEY, token_hash TEXT NOT NULL UNIQUE, realm_id TEXT NOT NULL REFERENCES realms(id),
    owner_id TEXT NOT NULL REFERENCES users(id), tag TEXT, created_at INTEGER NOT NULL,
    expires_at INTEGER NOT NULL, used_at INTEGER, revoked_at INTEGER, conflux_id TEXT);
  CREATE TABLE confluxes (
    id TEXT PRIMARY KEY, realm_id TEXT NOT NULL REFERENCES realms(id),
    owner_id TEXT NOT NULL REFERENCES users(id), tag TEXT NOT NULL, token_hash TEXT NOT NULL UNIQUE,
    overlay_ip TEXT NOT NULL, portal INTEGER NOT NULL DEFAULT 0, created_at INTEGER NOT NULL,
    revoked_at INTEGER, last_login_at INTEGER);
  CREATE INDEX confluxes_realm ON confluxes(realm_id);
  CREATE TABLE ip_leases (
    realm_id TEXT NOT NULL, ip INTEGER NOT NULL, conflux_id TEXT NOT NULL,
    PRIMARY KEY (realm_id, ip));
  CREATE TABLE teams (
    id TEXT PRIMARY KEY, name TEXT NOT NULL, owner_id TEXT NOT NULL REFERENCES users(id),
    key BLOB NOT NULL, version INTEGER NOT NULL, created_at INTEGER NOT NULL);
  CREATE TABLE team_members (
    team_id TEXT NOT NULL REFERENCES teams(id), user_id TEXT NOT NULL REFERENCES users(id),
    role TEXT NOT NULL, PRIMARY KEY (team_id, user_id));
  CREATE TABLE team_invitations (
    id TEXT PRIMARY KEY, team_id TEXT NOT NULL REFERENCES teams(id), email TEXT NOT NULL,
    invited_by TEXT NOT NULL, created_at INTEGER NOT NULL, accepted_at INTEGER);
  CREATE TABLE conflux_teams (
    conflux_id TEXT NOT NULL REFERENCES confluxes(id), team_id TEXT NOT NULL REFERENCES teams(id),
    PRIMARY KEY (conflux_id, team_id));
  CREATE INDEX conflux_teams_team ON conflux_teams(team_id);
  `,
  // NATS user keys handed out in sessions, so that revoking a conflux can cut its live
  // connections (kept until the session's JWT expires).
  `
  CREATE TABLE nats_users (
    nkey TEXT NOT NULL, conflux_id TEXT NOT NULL REFERENCES confluxes(id),
    expires_at INTEGER NOT NULL, revoked_at INTEGER, PRIMARY KEY (nkey, conflux_id));
  CREATE INDEX nats_users_conflux ON nats_users(conflux_id);
  `,
  // Trust (issue 19): portal networks need the owner's approval (or the realm's auto-approve
  // policy), and team-key pushes are ordered by a sequence kept here rather than by the clock.
  // The sequence starts at the current time in ms, above every issued_at the clock-based scheme
  // handed out before, so running confluxes accept the next push after an upgrade.
  `
  ALTER TABLE realms ADD COLUMN auto_approve TEXT NOT NULL DEFAULT '[]';
  ALTER TABLE confluxes ADD COLUMN advertised_subnets TEXT NOT NULL DEFAULT '[]';
  CREATE TABLE subnet_decisions (
    conflux_id TEXT NOT NULL REFERENCES confluxes(id), cidr TEXT NOT NULL,
    decision TEXT NOT NULL CHECK (decision IN ('approved', 'denied')),
    decided_at INTEGER NOT NULL, decided_by TEXT NOT NULL, PRIMARY KEY (conflux_id, cidr));
  CREATE TABLE sequences (name TEXT PRIMARY KEY, value INTEGER NOT NULL);
  INSERT INTO sequences (name, value)
    VALUES ('team_keys', CAST((julianday('now') - 2440587.5) * 86400000 AS INTEGER));
  `,
  // The Auth Portal (issue 14): an audit log of who did what, and when each conflux was last
  // seen connected to the Master (learned from the system account's connect events).
  `
  CREATE TABLE audit_log (
    id INTEGER PRIMARY KEY AUTOINCREMENT, at INTEGER NOT NULL, actor_id TEXT, actor_email TEXT,
    action TEXT NOT NULL, target TEXT, detail TEXT NOT NULL DEFAULT '{}');
  CREATE INDEX audit_log_at ON audit_log(at);
  ALTER TABLE confluxes ADD COLUMN last_seen_at INTEGER;
  `,
];
