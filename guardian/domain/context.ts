/**
 * What every route of the Guardian shares: the store and keys, the resolved settings, and, put
 * together here, the auth guards (http/auth_guards.ts), the access checks (domain/access.ts),
 * team keys, pushes and the revocation cascade (domain/team_keys.ts), and the audit log.
 *
 * @module
 */

import { encodeBase64 } from "../../core/control/base64.ts";
import { guardianKeyFingerprint } from "../../core/control/guardian_client.ts";
import type { Logger } from "../../core/log/logger.ts";
import { parseCidr } from "../ip_pool.ts";
import type { GuardianKeys } from "../keys.ts";
import type { RateLimitOptions } from "../rate_limit.ts";
import type { AuditEntry, GuardianStore, UserRecord } from "../store.ts";
import { createAuthGuards } from "../http/auth_guards.ts";
import { createAccess } from "./access.ts";
import { createTeamKeys } from "./team_keys.ts";

/**
 * Team invitations lapse after this long: access granted months later, to whoever holds the
 * mailbox then, is not what the owner meant.
 */
export const INVITATION_TTL_MS = 7 * 86_400_000;

/** Publishes team-key pushes to the Master; absent or disconnected means "skip". */
export interface TeamKeyPublisher {
  /** Publishes `data` on `subject`; false if it could not be sent now. */
  publish(subject: string, data: Uint8Array): boolean;
  /** Whether the connection to NATS is up. */
  connected(): boolean;
}

/** Settings of the API. */
export interface ApiConfig {
  /** NATS client URLs handed to confluxes. */
  natsUrls: string[];
  /** Session (NATS JWT and certificate) lifetime in seconds; default 600. */
  sessionTtlSec?: number;
  /** User access-token lifetime in ms; default 24 h. */
  accessTokenTtlMs?: number;
  /** ICE (STUN) server URLs handed to confluxes; default none. */
  iceServers?: string[];
  /** Whether `POST /auth/signup` is open (the first user can always sign up); default true. */
  allowSignup?: boolean;
  /** Range realm subnets must lie in; default 100.64.0.0/10. */
  realmSupernet?: string;
  /** Largest accepted request body in bytes; default 16 KiB. */
  maxBodyBytes?: number;
  /** Per-IP limit of `/auth/login` and `/auth/signup`; default burst 20, 2/s. */
  authRateLimit?: RateLimitOptions;
  /** Per-IP limit of `/conflux/register` and `/conflux/session/login`; default burst 60, 10/s. */
  confluxRateLimit?: RateLimitOptions;
}

/** Live state the Guardian learns from the Master (domain/presence.ts). */
export interface PresenceView {
  /** Whether a conflux has a connection to the Master now. */
  online(confluxId: string): boolean;
  /** When it was last seen connected (ms; now while online), or null. */
  lastSeen(confluxId: string): number | null;
}

/** What the API needs from its surroundings. */
export interface ApiDeps {
  /** Storage. */
  store: GuardianStore;
  /** The Guardian's keys. */
  keys: GuardianKeys;
  /** Logger (no secrets are ever passed to it). */
  log: Logger;
  /** Clock, ms since the epoch. */
  now: () => number;
  /** Where team-key updates go. */
  publisher?: TeamKeyPublisher;
  /** Cuts revoked confluxes off the Master at once (pushes the store's revocations). */
  revoker?: { push(): Promise<void> };
  /** Who is connected to the Master now; absent without NATS. */
  presence?: PresenceView;
}

/** The shared context of the routes (see the module doc). */
export type ApiContext = ReturnType<typeof createContext>;

/** Builds the context over `deps` with `config`; throws RangeError for bad settings. */
export function createContext(deps: ApiDeps, config: ApiConfig) {
  const { store, keys, log } = deps;
  const guards = createAuthGuards(store, deps.now);
  const teams = createTeamKeys(deps);
  const access = createAccess(store, guards, teams.resolveTeam);
  const ttlSec = config.sessionTtlSec ?? 600;
  const accessTtl = config.accessTokenTtlMs ?? 24 * 3600_000;
  const maxBody = config.maxBodyBytes ?? 16 * 1024;
  const parsedSupernet = parseCidr(config.realmSupernet ?? "100.64.0.0/10");
  if (!parsedSupernet) throw new RangeError("realmSupernet is not an IPv4 CIDR");
  const supernet = parsedSupernet;
  if (!Number.isInteger(ttlSec) || ttlSec < 1) throw new RangeError("sessionTtlSec must be ≥ 1");
  const guardianPublicKey = encodeBase64(keys.identity.publicKey);
  const guardianKeySha256 = guardianKeyFingerprint(keys.identity.publicKey);

  /** Records who did what (never a secret) in the audit log. */
  const audit = (
    actor: UserRecord | null,
    action: string,
    target: string | null = null,
    detail: Record<string, unknown> = {},
  ): void => {
    const entry: AuditEntry = {
      at: deps.now(),
      actorId: actor?.id ?? null,
      actorEmail: actor?.email ?? null,
      action,
      target,
      detail: JSON.stringify(detail),
    };
    store.insertAudit(entry);
  };

  return {
    deps,
    config,
    store,
    keys,
    log,
    ttlSec,
    accessTtl,
    maxBody,
    supernet,
    guardianPublicKey,
    guardianKeySha256,
    ...guards,
    ...teams,
    ...access,
    audit,
  };
}
