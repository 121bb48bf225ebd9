/**
 * The Guardian's storage interface (the records and what the routes need of a store). The API talks only to this; `SqliteStore` implements it over
 * an embedded SQLite file, and a server database can implement it later.
 *
 * Calls are synchronous and `transaction` runs its callback atomically; an implementation over a
 * networked database would wrap each API request in one transaction instead.
 *
 * @module
 */

/** A user account. */
export interface UserRecord {
  /** Identifier. */
  id: string;
  /** Email address (unique, compared case-insensitively). */
  email: string;
  /** scrypt hash (`scrypt$N$r$p$salt$hash`). */
  passwordHash: string;
  /** Whether the user administers the Guardian. */
  isAdmin: boolean;
  /** Creation time, ms since the epoch. */
  createdAt: number;
}

/** A realm (plane): one overlay network with its own subnet. */
export interface RealmRecord {
  /** Identifier. */
  id: string;
  /** Display name. */
  name: string;
  /** IPv4 CIDR of the realm. */
  subnet: string;
  /** Owning user. */
  ownerId: string;
  /** Creation time, ms since the epoch. */
  createdAt: number;
  /** Deletion time (ms), or null while live. */
  deletedAt: number | null;
  /**
   * Realm policy: portal networks (canonical IPv4 CIDR) approved in advance; an advertised
   * network inside one of them is certified unless it was denied for that portal.
   */
  autoApprove: string[];
}

/** A registration token (only its hash is kept). */
export interface RegistrationTokenRecord {
  /** Identifier. */
  id: string;
  /** SHA-256 (hex) of the token; the token itself is never stored. */
  tokenHash: string;
  /** Realm it belongs to. */
  realmId: string;
  /** Owning user. */
  ownerId: string;
  /** Tag given at creation. */
  tag: string | null;
  /** Creation time, ms since the epoch. */
  createdAt: number;
  /** Expiry, ms since the epoch. */
  expiresAt: number;
  /** When it was redeemed (ms), or null. */
  usedAt: number | null;
  /** Revocation time (ms), or null. */
  revokedAt: number | null;
  /** Conflux registered with it, or null. */
  confluxId: string | null;
}

/** A registered conflux (only the hash of its token is kept). */
export interface ConfluxRecord {
  /** Identifier. */
  id: string;
  /** Realm it belongs to. */
  realmId: string;
  /** Owning user. */
  ownerId: string;
  /** Tag given at creation. */
  tag: string;
  /** SHA-256 (hex) of the token; the token itself is never stored. */
  tokenHash: string;
  /** Leased overlay IPv4 address, dotted quad. */
  overlayIp: string;
  /** Portal mode at the last session login. */
  portal: boolean;
  /** Creation time, ms since the epoch. */
  createdAt: number;
  /** Revocation time (ms), or null. */
  revokedAt: number | null;
  /** Last session login (ms), or null. */
  lastLoginAt: number | null;
  /** The networks the portal asked to serve at its last session login (in its order). */
  advertisedSubnets: string[];
  /** When it was last seen connected to the Master (ms), or null/absent if never. */
  lastSeenAt?: number | null;
}

/** The owner's decision about one network a portal may serve. */
export interface SubnetDecision {
  /** Canonical IPv4 CIDR. */
  cidr: string;
  /** Approved (certified when advertised) or denied (never certified, not even by policy). */
  decision: "approved" | "denied";
  /** When it was decided (ms). */
  decidedAt: number;
  /** User who decided. */
  decidedBy: string;
}

/** A team with its current key. */
export interface TeamRecord {
  /** Identifier. */
  id: string;
  /** Display name. */
  name: string;
  /** Owning user. */
  ownerId: string;
  /** Current 32-byte team key. */
  key: Uint8Array;
  /** Key version; increases at every rotation. */
  version: number;
  /** Creation time, ms since the epoch. */
  createdAt: number;
}

/** Role of a user in a team. */
export type TeamRole = "owner" | "member";

/** An invitation of an email address into a team. */
export interface InvitationRecord {
  /** Identifier. */
  id: string;
  /** Team. */
  teamId: string;
  /** Email address (unique, compared case-insensitively). */
  email: string;
  /** Inviting user. */
  invitedBy: string;
  /** Creation time, ms since the epoch. */
  createdAt: number;
  /** Acceptance time (ms), or null. */
  acceptedAt: number | null;
}

/** A NATS user key that must be refused: its conflux was revoked at `revokedAt` (ms). */
export interface NatsRevocation {
  nkey: string;
  revokedAt: number;
}

/** One line of the audit log: who did what, when (never a secret). */
export interface AuditEntry {
  /** When (ms since the epoch). */
  at: number;
  /** The acting user, or null (a conflux, or an unknown caller). */
  actorId: string | null;
  /** The acting user's email at the time, or null. */
  actorEmail: string | null;
  /** What happened, dotted: "auth.login", "conflux.remove", "token.create", … */
  action: string;
  /** What it was done to (an id or email), or null. */
  target: string | null;
  /** Further facts as a JSON object text. */
  detail: string;
}

/** Which audit entries to list (all given conditions hold), newest first. */
export interface AuditFilter {
  /** Only this actor's entries. */
  actorId?: string;
  /** Only actions starting with this (e.g. "team."). */
  action?: string;
  /** Only entries containing this text anywhere. */
  query?: string;
  /** At most this many (default 200, at most 1,000). */
  limit?: number;
}

/** Storage of the Guardian. */
export interface GuardianStore {
  /** Runs `fn` atomically: all its writes happen or none. */
  transaction<T>(fn: () => T): T;

  /** Number of users. */
  countUsers(): number;
  /** Inserts a user; returns false when the email is taken. */
  insertUser(user: UserRecord): boolean;
  /** The user with `email` (case-insensitive), or null. */
  userByEmail(email: string): UserRecord | null;
  /** The user with `id`, or null. */
  userById(id: string): UserRecord | null;

  /** Stores a user access token hash. */
  insertAccessToken(hash: string, userId: string, expiresAt: number, createdAt: number): void;
  /** The user owning an unexpired access token with `hash`, or null. */
  userByAccessToken(hash: string, now: number): UserRecord | null;
  /** Deletes the access token with `hash` (logout); returns whether it existed. */
  deleteAccessToken(hash: string): boolean;
  /** Replaces a user's password hash (re-hash with stronger parameters at login). */
  updatePasswordHash(userId: string, passwordHash: string): void;

  /** Inserts a realm. */
  insertRealm(realm: RealmRecord): void;
  /** The realm with `id` (deleted ones too), or null. */
  realmById(id: string): RealmRecord | null;
  /** Live realms, of one owner or (null) of everyone. */
  listRealms(ownerId: string | null): RealmRecord[];
  /** Marks a realm deleted and revokes its confluxes and registration tokens. */
  deleteRealm(id: string, now: number): void;
  /** Replaces a realm's auto-approve policy. */
  setRealmAutoApprove(id: string, autoApprove: string[]): void;

  /** Inserts a registration token. */
  insertRegistrationToken(token: RegistrationTokenRecord): void;
  /** The registration token with `hash`, or null. */
  registrationTokenByHash(hash: string): RegistrationTokenRecord | null;
  /** The registration token with `id`, or null. */
  registrationTokenById(id: string): RegistrationTokenRecord | null;
  /** Registration tokens of one owner or (null) of everyone. */
  listRegistrationTokens(ownerId: string | null): RegistrationTokenRecord[];
  /** Records that token `id` was used to register `confluxId`. */
  markRegistrationTokenUsed(id: string, confluxId: string, now: number): void;
  /** Revokes token `id`. */
  revokeRegistrationToken(id: string, now: number): void;

  /** Overlay addresses ever leased in a realm (as 32-bit integers); never shrinks. */
  leasedAddresses(realmId: string): Set<number>;
  /** Leases `ip` to `confluxId`; false when already leased. */
  leaseAddress(realmId: string, ip: number, confluxId: string): boolean;

  /** Inserts a conflux. */
  insertConflux(conflux: ConfluxRecord): void;
  /** The conflux with `id`, or null. */
  confluxById(id: string): ConfluxRecord | null;
  /** The conflux whose token has `hash`, or null. */
  confluxByTokenHash(hash: string): ConfluxRecord | null;
  /** Live confluxes of a realm. */
  listConfluxes(realmId: string): ConfluxRecord[];
  /** Revokes a conflux (its token stops working) and removes it from all teams. */
  revokeConflux(id: string, now: number): void;
  /** Records a session login: portal mode and the networks it advertised (`[]` if none). */
  recordLogin(id: string, portal: boolean, now: number, advertisedSubnets: string[]): void;
  /** The owner's decisions about a portal's networks, ordered by CIDR. */
  subnetDecisions(confluxId: string): SubnetDecision[];
  /** Records `decision` for each of `cidrs` (replacing an earlier decision about the same CIDR). */
  decideSubnets(
    confluxId: string,
    cidrs: string[],
    decision: SubnetDecision["decision"],
    by: string,
    now: number,
  ): void;
  /**
   * The next number of the team-key sequence: strictly greater than every number returned before
   * by this database, whatever the clock says (it orders pushed team-key sets, PROTOCOL.md).
   */
  nextTeamKeysSequence(): number;
  /**
   * Records the NATS user key of a session until its JWT expires (ms), forgetting expired ones.
   * Kept per conflux: a key another conflux states as well is revoked with either.
   */
  recordNatsUser(nkey: string, confluxId: string, expiresAt: number, now: number): void;
  /** User keys of revoked confluxes whose JWTs have not expired yet. */
  natsRevocations(now: number): NatsRevocation[];

  /** Inserts a team; the owner becomes its member with role "owner". */
  insertTeam(team: TeamRecord): void;
  /** The team with `id`, or null. */
  teamById(id: string): TeamRecord | null;
  /** Teams a user owns or belongs to, with the role. */
  teamsOfUser(userId: string): Array<TeamRecord & { role: TeamRole }>;
  /** Replaces a team's key with `key` at `version`. */
  rotateTeamKey(teamId: string, key: Uint8Array, version: number): void;
  /** The user's role in a team, or null. */
  teamRole(teamId: string, userId: string): TeamRole | null;
  /** Adds a member (no-op if present). */
  addTeamMember(teamId: string, userId: string, role: TeamRole): void;
  /** Removes a member; returns whether it was one. */
  removeTeamMember(teamId: string, userId: string): boolean;
  /** Members of a team. */
  teamMembers(teamId: string): Array<{ userId: string; email: string; role: TeamRole }>;

  /** Inserts an invitation. */
  insertInvitation(invitation: InvitationRecord): void;
  /** The invitation with `id`, or null. */
  invitationById(id: string): InvitationRecord | null;
  /** Pending (not yet accepted) invitations addressed to `email`. */
  pendingInvitations(email: string): InvitationRecord[];
  /** Marks an invitation accepted. */
  acceptInvitation(id: string, now: number): void;

  /** Associates a conflux with a team; false if it already was. */
  addConfluxTeam(confluxId: string, teamId: string): boolean;
  /** Removes the association; false if there was none. */
  removeConfluxTeam(confluxId: string, teamId: string): boolean;
  /** Teams associated with a conflux. */
  teamsOfConflux(confluxId: string): TeamRecord[];
  /** Live confluxes associated with a team. */
  confluxesOfTeam(teamId: string): ConfluxRecord[];
  /** Live confluxes of `ownerId` associated with a team. */
  confluxesOfOwnerInTeam(teamId: string, ownerId: string): ConfluxRecord[];

  /** Appends an entry to the audit log. */
  insertAudit(entry: AuditEntry): void;
  /** Audit entries matching `filter`, newest first. */
  listAudit(filter: AuditFilter): AuditEntry[];
  /** The conflux a NATS user key was handed to, or null. */
  confluxIdOfNkey(nkey: string): string | null;
  /** Records that a conflux was seen connected at `at` (ms); never moves back. */
  recordSeen(confluxId: string, at: number): void;

  /** Closes the store. */
  close(): void;
}
