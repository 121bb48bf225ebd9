/**
 * Registration tokens (create, list, revoke) and registering a conflux with one.
 *
 * @module
 */

import {
  type Cidr,
  formatCidr,
  formatIpv4,
  isHostAddress,
  nextFreeAddress,
  parseCidr,
  parseIpv4,
} from "../ip_pool.ts";
import * as schema from "../schemas.ts";
import { hashToken, newId, newToken } from "../secrets.ts";
import type { ConfluxRecord, GuardianStore } from "../store.ts";
import { queryParam, readJson, validate } from "../http/body.ts";
import { HttpError, json } from "../http/errors.ts";
import type { Route } from "../http/router.ts";
import { type ApiContext } from "../domain/context.ts";

/** The routes of this resource. */
export function registrationRoutes(ctx: ApiContext): Route[] {
  const {
    store,
    log,
    deps,
    maxBody,
    guardianPublicKey,
    requireUser,
    ownedRealm,
    resolveTeam,
    audit,
  } = ctx;
  return [
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
        audit(u, "token.create", id, {
          realm_id: r.id,
          tag: body.tag ?? null,
          expires_at: expiresAt,
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
        audit(u, "token.revoke", t.id, { realm_id: t.realmId });
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
          return { c, ignored, owner: store.userById(t.ownerId) };
        });
        audit(result.owner, "conflux.register", result.c.id, {
          tag: result.c.tag,
          overlay_ip: result.c.overlayIp,
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
  ];
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
