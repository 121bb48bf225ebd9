/**
 * Auth guards: who is calling. A user access token (`requireUser`), a conflux token
 * (`requireConflux`), or a user where a conflux token must not do (`requireOwnerToken`); each a
 * 401/403 {@link HttpError} naming the problem. Token kinds are told apart in http/auth.ts.
 *
 * @module
 */

import { hashToken } from "../secrets.ts";
import type { ConfluxRecord, GuardianStore, UserRecord } from "../store.ts";
import { bearer, isConfluxToken } from "./auth.ts";
import { HttpError } from "./errors.ts";

/** The guards over `store` at the clock `now`. */
export function createAuthGuards(store: GuardianStore, now: () => number) {
  const requireUser = (request: Request): UserRecord => {
    const token = bearer(request);
    const u = store.userByAccessToken(hashToken(token), now());
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

  /** A request that only a user (the owner, the realm's owner or an admin) may make. */
  const requireOwnerToken = (request: Request, what: string, hint?: string): UserRecord => {
    if (isConfluxToken(bearer(request))) {
      throw new HttpError(
        403,
        `a conflux token cannot ${what}: the owner does (user access token)` +
          (hint ? `; ${hint}` : ""),
      );
    }
    return requireUser(request);
  };

  return { requireUser, requireConflux, requireOwnerToken };
}
