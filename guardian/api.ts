/**
 * The Guardian's HTTP JSON API as a web-standard `Request → Response` handler.
 *
 * Every body is size-limited and validated; every failure is a 4xx `{error}` with a precise
 * message, never a stack trace. Secrets (passwords, tokens) are never logged; tokens are stored
 * only as SHA-256 hashes. Paths and shapes follow the public Guardian (PROTOCOL.md, "Guardian
 * API").
 *
 * @module
 */

import type { z } from "zod";
import { fromPublic } from "@nats-io/nkeys";
import { issueCertificate } from "../core/wire/certificate.ts";
import { checkPortalSubnets } from "../core/wire/portal_subnets.ts";
import { MLDSA_PUBLIC_KEY_LENGTH } from "../core/crypto/mldsa.ts";
import { decodeBase64, encodeBase64 } from "../core/control/base64.ts";
import { sealTeamKeys, type TeamKey, teamKeyToJson } from "../core/control/team_keys.ts";
import { guardianKeyFingerprint } from "../core/control/guardian_client.ts";
import type { Logger } from "../core/log/logger.ts";
import {
  type Cidr,
  cidrWithin,
  formatCidr,
  formatIpv4,
  isHostAddress,
  nextFreeAddress,
  parseCidr,
  parseIpv4,
} from "./ip_pool.ts";
import type { GuardianKeys } from "./keys.ts";
import { confluxPermissions, inboxPrefix, mintUserJwt, teamsSubject } from "./nats_auth.ts";
import { RateLimiter, type RateLimitOptions } from "./rate_limit.ts";
import * as schema from "./schemas.ts";
import {
  hashPassword,
  hashToken,
  needsRehash,
  newId,
  newToken,
  PasswordHashBusyError,
  verifyPassword,
} from "./secrets.ts";
import type {
  ConfluxRecord,
  GuardianStore,
  RealmRecord,
  SubnetDecision,
  TeamRecord,
  UserRecord,
} from "./store.ts";

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
}

/** A refused request: status and the message sent as `{error}`. */
export class HttpError extends Error {
  /** HTTP status (4xx). */
  readonly status: number;
  /** Creates the error. */
  constructor(status: number, message: string) {
    super(message);
    this.name = "HttpError";
    this.status = status;
  }
}

/** A request handler: the API as a function. */
export type GuardianHandler = (request: Request, remoteIp: string) => Promise<Response>;

function json(status: number, body: unknown): Response {
  return new Response(JSON.stringify(body), {
    status,
    headers: { "content-type": "application/json", "cache-control": "no-store" },
  });
}

async function readJson(request: Request, limit: number): Promise<unknown> {
  const declared = request.headers.get("content-length");
  if (declared !== null && Number(declared) > limit) {
    throw new HttpError(413, `request body larger than ${limit} bytes`);
  }
  const chunks: Uint8Array[] = [];
  let size = 0;
  if (request.body) {
    const reader = request.body.getReader();
    for (;;) {
      const { done, value } = await reader.read();
      if (done) break;
      size += value.length;
      if (size > limit) {
        await reader.cancel().catch(() => {});
        throw new HttpError(413, `request body larger than ${limit} bytes`);
      }
      chunks.push(value);
    }
  }
  if (size === 0) throw new HttpError(400, "request body must be a JSON object");
  const bytes = new Uint8Array(size);
  let offset = 0;
  for (const c of chunks) {
    bytes.set(c, offset);
    offset += c.length;
  }
  try {
    return JSON.parse(new TextDecoder("utf-8", { fatal: true }).decode(bytes));
  } catch {
    throw new HttpError(400, "request body is not valid JSON");
  }
}

function validate<T extends z.ZodType>(s: T, value: unknown): z.infer<T> {
  if (typeof value !== "object" || value === null || Array.isArray(value)) {
    throw new HttpError(400, "request body must be a JSON object");
  }
  const result = s.safeParse(value);
  if (!result.success) {
    const issue = result.error.issues[0];
    const path = issue.path.length ? issue.path.join(".") + ": " : "";
    throw new HttpError(400, `${path}${issue.message}`);
  }
  return result.data;
}

function bearer(request: Request): string {
  const header = request.headers.get("authorization") ?? "";
  const m = /^Bearer\s+(\S{1,256})$/i.exec(header);
  if (!m) throw new HttpError(401, "missing bearer token");
  return m[1];
}

function queryParam(url: URL, name: string): string {
  const value = url.searchParams.get(name);
  if (!value || value.length > 64) throw new HttpError(400, `query parameter ${name} is required`);
  return value;
}

function userJson(u: UserRecord) {
  return { id: u.id, email: u.email, is_admin: u.isAdmin, created_at: u.createdAt };
}

function realmJson(r: RealmRecord) {
  return {
    id: r.id,
    name: r.name,
    subnet: r.subnet,
    auto_approve: r.autoApprove,
    created_at: r.createdAt,
  };
}

/** A portal's networks: what it asks for, what was decided, and what a certificate states. */
interface SubnetState {
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

function confluxJson(c: ConfluxRecord) {
  return {
    conflux_id: c.id,
    realm_id: c.realmId,
    tag: c.tag,
    overlay_ip: c.overlayIp,
    portal: c.portal,
    created_at: c.createdAt,
    last_login_at: c.lastLoginAt,
  };
}

interface Route {
  method: string;
  path: string;
  limit?: "auth" | "conflux";
  run: (request: Request, url: URL) => Promise<Response>;
}

/** Builds the request handler over `deps` with `config`. */
export function createGuardianApi(deps: ApiDeps, config: ApiConfig): GuardianHandler {
  const { store, keys, log } = deps;
  const ttlSec = config.sessionTtlSec ?? 600;
  const accessTtl = config.accessTokenTtlMs ?? 24 * 3600_000;
  const maxBody = config.maxBodyBytes ?? 16 * 1024;
  const supernet = parseCidr(config.realmSupernet ?? "100.64.0.0/10");
  if (!supernet) throw new RangeError("realmSupernet is not an IPv4 CIDR");
  if (!Number.isInteger(ttlSec) || ttlSec < 1) throw new RangeError("sessionTtlSec must be ≥ 1");
  const limiters = {
    auth: new RateLimiter(config.authRateLimit ?? { burst: 20, perSecond: 2 }),
    conflux: new RateLimiter(config.confluxRateLimit ?? { burst: 60, perSecond: 10 }),
  };
  const guardianPublicKey = encodeBase64(keys.identity.publicKey);
  const guardianKeySha256 = guardianKeyFingerprint(keys.identity.publicKey);

  /**
   * The `issued_at` of a team-key set (session or push): the next number of a sequence kept in
   * the database, so a Guardian restarted with its clock behind still orders its pushes after
   * everything it handed out before (PROTOCOL.md, "Team-key updates").
   */
  const issuedAt = (): number => store.nextTeamKeysSequence();

  const requireUser = (request: Request): UserRecord => {
    const token = bearer(request);
    const u = store.userByAccessToken(hashToken(token), deps.now());
    if (!u) throw new HttpError(401, "invalid or expired access token");
    return u;
  };

  const requireConflux = (token: string): ConfluxRecord => {
    const c = store.confluxByTokenHash(hashToken(token));
    if (!c) throw new HttpError(401, "invalid conflux token");
    if (c.revokedAt !== null) throw new HttpError(401, "conflux token revoked");
    const realm = store.realmById(c.realmId);
    if (!realm || realm.deletedAt !== null) throw new HttpError(401, "conflux token revoked");
    return c;
  };

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

  /** A portal's networks as the Guardian sees them now. */
  const portalState = (c: ConfluxRecord): SubnetState => {
    const realm = store.realmById(c.realmId);
    return subnetState(c.advertisedSubnets, store.subnetDecisions(c.id), realm?.autoApprove ?? []);
  };

  /** A request that only a user (the owner, the realm's owner or an admin) may make. */
  const requireOwnerToken = (request: Request, what: string, hint?: string): UserRecord => {
    if (bearer(request).startsWith("vnc_")) {
      throw new HttpError(
        403,
        `a conflux token cannot ${what}: the owner does (user access token)` +
          (hint ? `; ${hint}` : ""),
      );
    }
    return requireUser(request);
  };

  /** Checks a list of portal networks against a realm; a 400 naming the first problem. */
  const checkNetworks = (list: string[], realm: RealmRecord, field: string): void => {
    const problem = checkPortalSubnets(list, realm.subnet);
    if (problem !== null) throw new HttpError(400, `${field}: ${problem}`);
  };

  /** Approves or denies networks of a portal, and has the running portal renew at once. */
  const decideSubnets = (decision: SubnetDecision["decision"]) => async (request: Request) => {
    const u = requireOwnerToken(
      request,
      decision === "approved" ? "approve portal networks" : "deny portal networks",
    );
    const body = validate(schema.SubnetDecision, await readJson(request, maxBody));
    const c = visibleConflux(u, body.conflux_id);
    checkNetworks(body.subnets, store.realmById(c.realmId) as RealmRecord, "subnets");
    store.decideSubnets(c.id, body.subnets, decision, u.id, deps.now());
    push([], [c.id]);
    log.info(`portal subnets ${decision}`, { conflux_id: c.id, subnets: body.subnets });
    return json(200, { conflux_id: c.id, ...portalState(store.confluxById(c.id)!) });
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

  const routes: Route[] = [
    {
      method: "GET",
      path: "/health",
      run: () =>
        Promise.resolve(
          json(200, { status: "ok", nats: deps.publisher?.connected() ?? false }),
        ),
    },
    {
      method: "POST",
      path: "/auth/signup",
      limit: "auth",
      run: async (request) => {
        const body = validate(schema.Credentials, await readJson(request, maxBody));
        const first = store.countUsers() === 0;
        if (!first && config.allowSignup === false) throw new HttpError(403, "signup is disabled");
        const passwordHash = await hashPassword(body.password);
        const u: UserRecord = {
          id: newId("u"),
          email: body.email.toLowerCase(),
          passwordHash,
          isAdmin: false,
          createdAt: deps.now(),
        };
        const ok = store.transaction(() => {
          u.isAdmin = store.countUsers() === 0;
          return store.insertUser(u);
        });
        if (!ok) throw new HttpError(409, "email already registered");
        log.info("user signed up", { user_id: u.id, admin: u.isAdmin });
        return json(201, userJson(u));
      },
    },
    {
      method: "POST",
      path: "/auth/login",
      limit: "auth",
      run: async (request) => {
        const body = validate(schema.Credentials, await readJson(request, maxBody));
        const u = store.userByEmail(body.email.toLowerCase());
        // Hash even for an unknown email so timing does not reveal which emails exist.
        const ok = await verifyPassword(
          body.password,
          u?.passwordHash ?? await dummyPasswordHash(),
        );
        if (!u || !ok) throw new HttpError(401, "invalid email or password");
        if (needsRehash(u.passwordHash)) {
          // Made with weaker scrypt parameters: store a hash with the current ones.
          try {
            store.updatePasswordHash(u.id, await hashPassword(body.password));
            log.info("password re-hashed with stronger parameters", { user_id: u.id });
          } catch (err) {
            log.warn("password not re-hashed", { user_id: u.id, error: (err as Error).name });
          }
        }
        const token = newToken("user");
        const now = deps.now();
        store.insertAccessToken(hashToken(token), u.id, now + accessTtl, now);
        return json(200, {
          access_token: token,
          token_type: "bearer",
          expires_at: now + accessTtl,
        });
      },
    },
    {
      method: "POST",
      path: "/auth/logout",
      run: (request) => {
        const token = bearer(request);
        requireUser(request);
        store.deleteAccessToken(hashToken(token));
        return Promise.resolve(json(200, { logged_out: true }));
      },
    },
    {
      method: "GET",
      path: "/guardian/key",
      run: () =>
        Promise.resolve(json(200, { public_key: guardianPublicKey, sha256: guardianKeySha256 })),
    },
    {
      method: "GET",
      path: "/auth/profile",
      run: (request) => Promise.resolve(json(200, userJson(requireUser(request)))),
    },
    {
      method: "POST",
      path: "/realm",
      run: async (request) => {
        const u = requireUser(request);
        const body = validate(schema.CreateRealm, await readJson(request, maxBody));
        const subnet = parseCidr(body.subnet);
        if (!subnet) throw new HttpError(400, "subnet: expected an IPv4 CIDR with zero host bits");
        if (!cidrWithin(subnet, supernet)) {
          throw new HttpError(400, `subnet: must lie inside ${formatCidr(supernet)}`);
        }
        if (subnet.prefix > 30) throw new HttpError(400, "subnet: prefix must be /30 or shorter");
        const autoApprove = body.auto_approve ?? [];
        const problem = checkPortalSubnets(autoApprove, formatCidr(subnet));
        if (problem !== null) throw new HttpError(400, `auto_approve: ${problem}`);
        const r: RealmRecord = {
          id: newId("r"),
          name: body.name,
          subnet: formatCidr(subnet),
          ownerId: u.id,
          createdAt: deps.now(),
          deletedAt: null,
          autoApprove,
        };
        store.insertRealm(r);
        log.info("realm created", { realm_id: r.id, subnet: r.subnet });
        return json(201, realmJson(r));
      },
    },
    {
      method: "POST",
      path: "/realm/policy",
      run: async (request) => {
        const u = requireOwnerToken(request, "change a realm's policy");
        const body = validate(schema.RealmPolicy, await readJson(request, maxBody));
        const r = ownedRealm(u, body.realm_id);
        checkNetworks(body.auto_approve, r, "auto_approve");
        store.setRealmAutoApprove(r.id, body.auto_approve);
        // Portals of the realm renew at once: their certificates may state more or less now.
        push([], store.listConfluxes(r.id).filter((c) => c.portal).map((c) => c.id));
        log.info("realm policy changed", { realm_id: r.id, auto_approve: body.auto_approve });
        return json(200, realmJson(store.realmById(r.id)!));
      },
    },
    {
      method: "GET",
      path: "/realm/list",
      run: (request) => {
        const u = requireUser(request);
        return Promise.resolve(json(200, store.listRealms(u.isAdmin ? null : u.id).map(realmJson)));
      },
    },
    {
      method: "DELETE",
      path: "/realm",
      run: (request, url) => {
        const u = requireUser(request);
        const r = ownedRealm(u, queryParam(url, "realm_id"));
        const now = deps.now();
        const notify = store.transaction(() => {
          const ids = store.listConfluxes(r.id).flatMap((c) => revokeAndRotate(c, now));
          store.deleteRealm(r.id, now);
          return ids;
        });
        push(notify);
        deps.revoker?.push();
        log.info("realm deleted", { realm_id: r.id });
        return Promise.resolve(json(200, { deleted: true, realm_id: r.id }));
      },
    },
    {
      method: "POST",
      path: "/auth/create/registration-token",
      run: async (request) => {
        const u = requireUser(request);
        const body = validate(schema.CreateRegistrationToken, await readJson(request, maxBody));
        const r = ownedRealm(u, body.realm_id);
        const token = newToken("registration");
        const now = deps.now();
        const id = newId("k");
        const expiresAt = now + Math.round(body.expires_after * 86_400_000);
        store.insertRegistrationToken({
          id,
          tokenHash: hashToken(token),
          realmId: r.id,
          ownerId: u.id,
          tag: body.tag ?? null,
          createdAt: now,
          expiresAt,
          usedAt: null,
          revokedAt: null,
          confluxId: null,
        });
        return json(201, { token_id: id, token, realm_id: r.id, expires_at: expiresAt });
      },
    },
    {
      method: "GET",
      path: "/auth/list/registration-token",
      run: (request) => {
        const u = requireUser(request);
        const list = store.listRegistrationTokens(u.isAdmin ? null : u.id).map((t) => ({
          token_id: t.id,
          realm_id: t.realmId,
          tag: t.tag,
          created_at: t.createdAt,
          expires_at: t.expiresAt,
          used: t.usedAt !== null,
          revoked: t.revokedAt !== null,
          conflux_id: t.confluxId,
        }));
        return Promise.resolve(json(200, list));
      },
    },
    {
      method: "DELETE",
      path: "/auth/revoke/registration-token",
      run: (request, url) => {
        const u = requireUser(request);
        const t = store.registrationTokenById(queryParam(url, "token_id"));
        if (!t || (!u.isAdmin && t.ownerId !== u.id)) {
          throw new HttpError(404, "unknown registration token");
        }
        store.revokeRegistrationToken(t.id, deps.now());
        return Promise.resolve(json(200, { revoked: true, token_id: t.id }));
      },
    },
    {
      method: "POST",
      path: "/conflux/register",
      limit: "conflux",
      run: async (request) => {
        const body = validate(schema.Register, await readJson(request, maxBody));
        const now = deps.now();
        const token = newToken("conflux");
        const result = store.transaction(() => {
          const t = store.registrationTokenByHash(hashToken(body.registration_token));
          if (!t) throw new HttpError(401, "invalid registration token");
          if (t.revokedAt !== null) throw new HttpError(401, "registration token revoked");
          if (t.usedAt !== null) throw new HttpError(409, "registration token already used");
          if (t.expiresAt <= now) throw new HttpError(401, "registration token expired");
          const realm = store.realmById(t.realmId);
          if (!realm || realm.deletedAt !== null) throw new HttpError(404, "unknown realm");
          const subnet = parseCidr(realm.subnet) as Cidr;
          const confluxId = newId("c");
          const ip = leaseAddress(store, { realmId: realm.id, subnet, confluxId, cidr: body.cidr });
          const c: ConfluxRecord = {
            id: confluxId,
            realmId: realm.id,
            ownerId: t.ownerId,
            tag: body.tag ?? t.tag ?? "",
            tokenHash: hashToken(token),
            overlayIp: formatIpv4(ip),
            portal: false,
            createdAt: now,
            revokedAt: null,
            lastLoginAt: null,
            advertisedSubnets: [],
          };
          store.insertConflux(c);
          store.markRegistrationTokenUsed(t.id, c.id, now);
          const ignored: string[] = [];
          for (const name of body.teams ?? []) {
            const team = resolveTeam(t.ownerId, name);
            if (team) store.addConfluxTeam(c.id, team.id);
            else ignored.push(name);
          }
          return { c, ignored };
        });
        log.info("conflux registered", {
          conflux_id: result.c.id,
          realm_id: result.c.realmId,
          overlay_ip: result.c.overlayIp,
        });
        return json(201, {
          conflux_id: result.c.id,
          token,
          realm_id: result.c.realmId,
          overlay_ip: result.c.overlayIp,
          ignored_teams: result.ignored,
          // What `register` pins (saved beside the token): later sessions must carry this key.
          guardian_public_key: guardianPublicKey,
        });
      },
    },
    {
      method: "DELETE",
      path: "/conflux/unregister",
      run: (request) => {
        const c = requireConflux(bearer(request));
        const notify = store.transaction(() => revokeAndRotate(c, deps.now()));
        push(notify);
        deps.revoker?.push();
        log.info("conflux unregistered", { conflux_id: c.id });
        return Promise.resolve(json(200, { unregistered: true, conflux_id: c.id }));
      },
    },
    {
      method: "DELETE",
      path: "/conflux",
      run: (request, url) => {
        const u = requireOwnerToken(
          request,
          "remove a conflux",
          "a conflux unregisters itself with DELETE /conflux/unregister",
        );
        const c = visibleConflux(u, queryParam(url, "conflux_id"));
        const notify = store.transaction(() => revokeAndRotate(c, deps.now()));
        push(notify);
        deps.revoker?.push();
        log.info("conflux removed by a user", { conflux_id: c.id, user_id: u.id });
        return Promise.resolve(json(200, { removed: true, conflux_id: c.id }));
      },
    },
    {
      method: "GET",
      path: "/conflux/subnets",
      run: (request, url) => {
        const u = requireOwnerToken(request, "read a portal's approvals");
        const c = visibleConflux(u, queryParam(url, "conflux_id"));
        return Promise.resolve(json(200, { conflux_id: c.id, ...portalState(c) }));
      },
    },
    { method: "POST", path: "/conflux/subnets/approve", run: decideSubnets("approved") },
    { method: "POST", path: "/conflux/subnets/deny", run: decideSubnets("denied") },
    {
      method: "GET",
      path: "/conflux/list",
      run: (request, url) => {
        const u = requireUser(request);
        const r = ownedRealm(u, queryParam(url, "realm_id"));
        return Promise.resolve(json(200, store.listConfluxes(r.id).map(confluxJson)));
      },
    },
    {
      method: "GET",
      path: "/conflux",
      run: (request, url) => {
        const token = bearer(request);
        const id = queryParam(url, "conflux_id");
        let c: ConfluxRecord;
        if (token.startsWith("vnc_")) {
          c = requireConflux(token);
          if (c.id !== id) throw new HttpError(404, "unknown conflux");
        } else {
          c = visibleConflux(requireUser(request), id);
        }
        return Promise.resolve(json(200, confluxJson(c)));
      },
    },
    {
      method: "POST",
      path: "/conflux/session/login",
      limit: "conflux",
      run: async (request) => {
        const body = validate(schema.SessionLogin, await readJson(request, maxBody));
        const publicKey = decodeBase64(body.mldsa_public_key);
        if (!publicKey || publicKey.length !== MLDSA_PUBLIC_KEY_LENGTH) {
          throw new HttpError(400, `mldsa_public_key: expected ${MLDSA_PUBLIC_KEY_LENGTH} bytes`);
        }
        try {
          fromPublic(body.nkey);
        } catch {
          throw new HttpError(400, "nkey: not a valid public user nkey");
        }
        const portal = body.portal ?? false;
        const subnets = body.subnets ?? [];
        if (subnets.length > 0 && !portal) {
          throw new HttpError(400, "subnets: only a portal (portal: true) serves subnets");
        }
        const c = requireConflux(body.token);
        const realm = store.realmById(c.realmId) as RealmRecord;
        const problem = checkPortalSubnets(subnets, realm.subnet);
        if (problem !== null) throw new HttpError(400, `subnets: ${problem}`);
        // The certificate states only what the owner approved (or the realm's policy allows).
        const state = subnetState(subnets, store.subnetDecisions(c.id), realm.autoApprove);
        const now = deps.now();
        // JWT `exp` has second resolution: round up so a session lasts at least the TTL.
        const expiresAtSec = Math.ceil(now / 1000) + ttlSec;
        const expiresAt = expiresAtSec * 1000;
        const natsJwt = await mintUserJwt(keys, {
          nkey: body.nkey,
          name: c.id,
          permissions: confluxPermissions(c.realmId, c.id),
          expiresAtSec,
        });
        const certificate = issueCertificate(
          {
            confluxId: c.id,
            realmId: c.realmId,
            realmSubnet: realm.subnet,
            overlayIp: c.overlayIp,
            mldsaPublicKey: publicKey,
            issuedAt: now,
            expiresAt,
            tag: c.tag,
            portal,
            subnets: state.certified,
          },
          keys.identity.secretKey,
          crypto.getRandomValues(new Uint8Array(32)),
        );
        store.recordLogin(c.id, portal, now, subnets);
        store.recordNatsUser(body.nkey, c.id, expiresAt, now);
        const teamsIssuedAt = issuedAt();
        log.info("session issued", { conflux_id: c.id, expires_at: expiresAt });
        if (state.pending.length > 0) {
          log.info("portal networks await approval", {
            conflux_id: c.id,
            pending: state.pending,
          });
        }
        return json(200, {
          conflux_id: c.id,
          realm_id: c.realmId,
          realm_subnet: realm.subnet,
          overlay_ip: c.overlayIp,
          tag: c.tag,
          portal,
          subnets: state.certified,
          subnets_pending: state.pending,
          subnets_denied: subnets.filter((s) => state.denied.includes(s)),
          certificate: encodeBase64(certificate),
          guardian_public_key: guardianPublicKey,
          nats_jwt: natsJwt,
          nats_urls: config.natsUrls,
          inbox_prefix: inboxPrefix(c.id),
          teams: teamKeys(c).map(teamKeyToJson),
          teams_issued_at: teamsIssuedAt,
          ice_servers: config.iceServers ?? [],
          expires_at: expiresAt,
        });
      },
    },
    {
      method: "POST",
      path: "/org/team",
      run: async (request) => {
        const u = requireUser(request);
        const body = validate(schema.CreateTeam, await readJson(request, maxBody));
        if (store.teamsOfUser(u.id).some((t) => t.role === "owner" && t.name === body.name)) {
          throw new HttpError(409, "you already own a team with that name");
        }
        const t: TeamRecord = {
          id: newId("t"),
          name: body.name,
          ownerId: u.id,
          key: crypto.getRandomValues(new Uint8Array(32)),
          version: 1,
          createdAt: deps.now(),
        };
        store.insertTeam(t);
        return json(201, { team_id: t.id, name: t.name, version: t.version });
      },
    },
    {
      method: "GET",
      path: "/org/team/list",
      run: (request) => {
        const u = requireUser(request);
        const list = store.teamsOfUser(u.id).map((t) => ({
          team_id: t.id,
          name: t.name,
          role: t.role,
          version: t.version,
          members: store.teamMembers(t.id).map((m) => ({
            user_id: m.userId,
            email: m.email,
            role: m.role,
          })),
        }));
        return Promise.resolve(json(200, list));
      },
    },
    {
      method: "POST",
      path: "/org/team/invite",
      run: async (request) => {
        const u = requireUser(request);
        const body = validate(schema.InviteMember, await readJson(request, maxBody));
        if (store.teamRole(body.team_id, u.id) !== "owner") {
          throw new HttpError(404, "unknown team");
        }
        const id = newId("i");
        const createdAt = deps.now();
        store.insertInvitation({
          id,
          teamId: body.team_id,
          email: body.email.toLowerCase(),
          invitedBy: u.id,
          createdAt,
          acceptedAt: null,
        });
        return json(201, {
          invitation_id: id,
          team_id: body.team_id,
          expires_at: createdAt + INVITATION_TTL_MS,
        });
      },
    },
    {
      method: "GET",
      path: "/org/team/invite/list",
      run: (request) => {
        const u = requireUser(request);
        const now = deps.now();
        const list = store.pendingInvitations(u.email).flatMap((inv) => {
          const team = store.teamById(inv.teamId);
          const from = store.userById(inv.invitedBy);
          return team && now < inv.createdAt + INVITATION_TTL_MS
            ? [{
              invitation_id: inv.id,
              team_id: team.id,
              team_name: team.name,
              invited_by: from?.email ?? null,
              created_at: inv.createdAt,
              expires_at: inv.createdAt + INVITATION_TTL_MS,
            }]
            : [];
        });
        return Promise.resolve(json(200, list));
      },
    },
    {
      method: "POST",
      path: "/org/team/invite/accept",
      run: async (request) => {
        const u = requireUser(request);
        const body = validate(schema.AcceptInvitation, await readJson(request, maxBody));
        const inv = store.invitationById(body.invitation_id);
        if (!inv || inv.email !== u.email.toLowerCase()) {
          throw new HttpError(404, "unknown invitation");
        }
        if (inv.acceptedAt !== null) throw new HttpError(409, "invitation already accepted");
        if (deps.now() >= inv.createdAt + INVITATION_TTL_MS) {
          throw new HttpError(410, "invitation expired: ask the team owner for a new one");
        }
        store.transaction(() => {
          store.addTeamMember(inv.teamId, u.id, "member");
          store.acceptInvitation(inv.id, deps.now());
        });
        return json(200, { team_id: inv.teamId });
      },
    },
    {
      method: "DELETE",
      path: "/org/team/member",
      run: async (request) => {
        const u = requireUser(request);
        const body = validate(schema.RemoveMember, await readJson(request, maxBody));
        const role = store.teamRole(body.team_id, u.id);
        if (role === null) throw new HttpError(404, "unknown team");
        const target = body.user_id !== undefined
          ? store.userById(body.user_id)
          : store.userByEmail(body.email!.toLowerCase());
        if (!target || store.teamRole(body.team_id, target.id) === null) {
          throw new HttpError(404, "not a member of that team");
        }
        if (role !== "owner" && target.id !== u.id) {
          throw new HttpError(403, "only the team owner can remove other members");
        }
        if (store.teamRole(body.team_id, target.id) === "owner") {
          throw new HttpError(409, "the team owner cannot be removed");
        }
        const notify = store.transaction(() => {
          const before = store.confluxesOfTeam(body.team_id).map((c) => c.id);
          for (const c of store.confluxesOfOwnerInTeam(body.team_id, target.id)) {
            store.removeConfluxTeam(c.id, body.team_id);
          }
          store.removeTeamMember(body.team_id, target.id);
          rotate(body.team_id);
          return before;
        });
        push(notify);
        return json(200, { removed: true, team_id: body.team_id, user_id: target.id });
      },
    },
    {
      method: "POST",
      path: "/conflux/team",
      run: async (request) => {
        // Adding a team is the owner's decision: a stolen conflux token must not collect the
        // keys of every team its owner belongs to. (Removing and listing stay open to it.)
        requireOwnerToken(request, "add teams", "it may list and remove its own");
        const token = bearer(request);
        const body = validate(schema.ConfluxTeam, await readJson(request, maxBody));
        const c = confluxForTeamChange(token, body.conflux_id, request);
        const team = teamForConflux(c, body.team);
        const added = store.addConfluxTeam(c.id, team.id);
        if (added) push([c.id]);
        return json(200, { conflux_id: c.id, team_id: team.id, name: team.name, added });
      },
    },
    {
      method: "DELETE",
      path: "/conflux/team",
      run: async (request) => {
        const token = bearer(request);
        const body = validate(schema.ConfluxTeam, await readJson(request, maxBody));
        const c = confluxForTeamChange(token, body.conflux_id, request);
        const team = store.teamsOfConflux(c.id).find((t) =>
          t.id === body.team || t.name === body.team
        );
        if (!team) throw new HttpError(404, "the conflux does not hold that team");
        const notify = store.transaction(() => {
          const before = store.confluxesOfTeam(team.id).map((x) => x.id);
          store.removeConfluxTeam(c.id, team.id);
          rotate(team.id);
          return before;
        });
        push(notify);
        return json(200, { conflux_id: c.id, team_id: team.id, removed: true });
      },
    },
    {
      method: "GET",
      path: "/conflux/team/list",
      run: (request, url) => {
        const token = bearer(request);
        const c = confluxForTeamChange(token, queryParam(url, "conflux_id"), request);
        const list = effectiveTeams(c).map((t) => ({
          team_id: t.id,
          name: t.name,
          version: t.version,
        }));
        return Promise.resolve(json(200, list));
      },
    },
  ];

  /** The conflux a team request is about, checking the bearer may change it. */
  function confluxForTeamChange(token: string, confluxId: string, request: Request): ConfluxRecord {
    if (token.startsWith("vnc_")) {
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

  return async (request: Request, remoteIp: string): Promise<Response> => {
    const started = deps.now();
    let url: URL;
    try {
      url = new URL(request.url);
    } catch {
      return json(400, { error: "bad request URL" });
    }
    const candidates = routes.filter((r) => r.path === url.pathname);
    let response: Response;
    if (candidates.length === 0) {
      response = json(404, { error: "no such endpoint" });
    } else {
      const route = candidates.find((r) => r.method === request.method);
      if (!route) {
        response = json(405, { error: `method ${request.method} not allowed` });
      } else if (route.limit && !limiters[route.limit].take(remoteIp, deps.now())) {
        response = json(429, { error: "too many requests, slow down" });
      } else {
        try {
          response = await route.run(request, url);
        } catch (err) {
          if (err instanceof HttpError) {
            response = json(err.status, { error: err.message });
          } else if (err instanceof PasswordHashBusyError) {
            response = json(503, { error: "too many password checks in progress, retry shortly" });
          } else {
            // Internal detail goes to the log only (name and message, no stack, no body).
            const e = err instanceof Error ? err : new Error(String(err));
            log.error("request failed", { path: url.pathname, error: `${e.name}: ${e.message}` });
            response = json(500, { error: "internal error" });
          }
        }
      }
    }
    if (request.body && !request.bodyUsed) await request.body.cancel().catch(() => {});
    log.debug("request", {
      method: request.method,
      path: url.pathname,
      status: response.status,
      ms: deps.now() - started,
    });
    return response;
  };
}

let dummyHash: Promise<string> | null = null;

/** A valid scrypt hash of a random password: verified against for unknown emails. */
function dummyPasswordHash(): Promise<string> {
  dummyHash ??= hashPassword(crypto.randomUUID());
  return dummyHash;
}

/**
 * Leases an overlay address for a new conflux: the one named by `cidr` (its address part) if
 * given and free, else the lowest free one. Throws HttpError when impossible.
 */
function leaseAddress(
  store: GuardianStore,
  req: { realmId: string; subnet: Cidr; confluxId: string; cidr?: string },
): number {
  if (req.cidr !== undefined) {
    const wanted = parseCidr(req.cidr, { strict: false });
    const ip = wanted ? wanted.network : parseIpv4(req.cidr);
    if (ip === null) throw new HttpError(400, "cidr: expected an IPv4 address with prefix");
    if (!isHostAddress(req.subnet, ip)) {
      throw new HttpError(400, `cidr: address is not a host address of ${formatCidr(req.subnet)}`);
    }
    if (!store.leaseAddress(req.realmId, ip, req.confluxId)) {
      throw new HttpError(409, "cidr: address already leased in this realm");
    }
    return ip;
  }
  const ip = nextFreeAddress(req.subnet, store.leasedAddresses(req.realmId));
  if (ip === null || !store.leaseAddress(req.realmId, ip, req.confluxId)) {
    throw new HttpError(409, "realm subnet has no free address left");
  }
  return ip;
}
