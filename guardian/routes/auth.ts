/**
 * Accounts: health, signup, login, logout, the Guardian key, the profile.
 *
 * @module
 */

import * as schema from "../schemas.ts";
import {
  hashPassword,
  hashToken,
  needsRehash,
  newId,
  newToken,
  verifyPassword,
} from "../secrets.ts";
import type { UserRecord } from "../store.ts";
import { bearer } from "../http/auth.ts";
import { readJson, validate } from "../http/body.ts";
import { HttpError, json } from "../http/errors.ts";
import type { Route } from "../http/router.ts";
import { type ApiContext } from "../domain/context.ts";
import { userJson } from "./shapes.ts";

/** The routes of this resource. */
export function authRoutes(ctx: ApiContext): Route[] {
  const {
    store,
    log,
    deps,
    config,
    accessTtl,
    maxBody,
    guardianPublicKey,
    guardianKeySha256,
    requireUser,
    audit,
  } = ctx;
  return [
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
        audit(u, "auth.signup", u.email, { admin: u.isAdmin });
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
        // A refused sign-in changes nothing in the database (not even the audit log): the log
        // line is where failed attempts show.
        if (!u || !ok) {
          log.info("sign-in refused", { known_user: u !== undefined && u !== null });
          throw new HttpError(401, "invalid email or password");
        }
        if (needsRehash(u.passwordHash)) {
          // Made with weaker scrypt parameters: store a hash with the current ones.
          try {
            store.updatePasswordHash(u.id, await hashPassword(body.password));
            log.info("password re-hashed with stronger parameters", { user_id: u.id });
          } catch (err) {
            log.warn("password not re-hashed", { user_id: u.id, error: (err as Error).name });
          }
        }
        audit(u, "auth.login", u.email);
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
        const u = requireUser(request);
        store.deleteAccessToken(hashToken(token));
        audit(u, "auth.logout", u.email);
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
  ];
}

let dummyHash: Promise<string> | null = null;

/** A valid scrypt hash of a random password: verified against for unknown emails. */
function dummyPasswordHash(): Promise<string> {
  dummyHash ??= hashPassword(crypto.randomUUID());
  return dummyHash;
}
