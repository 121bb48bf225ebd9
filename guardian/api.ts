/**
 * The Guardian's HTTP API as a web-standard `Request → Response` handler: the JSON API of
 * PROTOCOL.md ("Guardian API") and, on the same origin, the Auth Portal (ui/).
 *
 * Layout: http/ (router, bodies, credentials, errors), domain/ (the shared context: permission
 * checks, the revocation cascade, team-key pushes, audit; portal networks; presence), routes/
 * (one file per resource), store/ (the storage interface and SQLite), ui/ (the portal).
 *
 * Every body is size-limited and validated; every failure is a 4xx `{error}` with a precise
 * message, never a stack trace. Secrets (passwords, tokens) are never logged; tokens are stored
 * only as SHA-256 hashes.
 *
 * @module
 */

import { RateLimiter } from "./rate_limit.ts";
import { type ApiConfig, type ApiDeps, createContext } from "./domain/context.ts";
import { createRouter, type GuardianHandler } from "./http/router.ts";
import { authRoutes } from "./routes/auth.ts";
import { realmsRoutes } from "./routes/realms.ts";
import { registrationRoutes } from "./routes/registration.ts";
import { confluxesRoutes } from "./routes/confluxes.ts";
import { sessionRoutes } from "./routes/session.ts";
import { teamsRoutes } from "./routes/teams.ts";
import { confluxTeamsRoutes } from "./routes/conflux_teams.ts";
import { auditRoutes } from "./routes/audit.ts";
import { createPortal } from "./ui/portal.ts";
import { ChangeFeed } from "./domain/changes.ts";

export {
  type ApiConfig,
  type ApiContext,
  type ApiDeps,
  INVITATION_TTL_MS,
  type PresenceView,
  type TeamKeyPublisher,
} from "./domain/context.ts";
export { HttpError } from "./http/errors.ts";
export type { GuardianHandler } from "./http/router.ts";
export { type SubnetState, subnetState } from "./domain/subnets.ts";

/** Options of {@link createGuardianApi} beyond the API's settings. */
export interface GuardianApiOptions {
  /** Where changes are announced (live updates of the portal); a new one if absent. */
  changes?: ChangeFeed;
  /** Serve the Auth Portal at `/` (default true). */
  portal?: boolean;
}

/** Builds the request handler over `deps` with `config`. */
export function createGuardianApi(
  deps: ApiDeps,
  config: ApiConfig,
  options: GuardianApiOptions = {},
): GuardianHandler {
  const ctx = createContext(deps, config);
  const changes = options.changes ?? new ChangeFeed();
  const routes = [
    ...authRoutes(ctx),
    ...realmsRoutes(ctx),
    ...registrationRoutes(ctx),
    ...confluxesRoutes(ctx),
    ...sessionRoutes(ctx),
    ...teamsRoutes(ctx),
    ...confluxTeamsRoutes(ctx),
    ...auditRoutes(ctx),
  ];
  const limiters = {
    auth: new RateLimiter(config.authRateLimit ?? { burst: 20, perSecond: 2 }),
    conflux: new RateLimiter(config.confluxRateLimit ?? { burst: 60, perSecond: 10 }),
  };
  let api: GuardianHandler | null = null;
  const portal = options.portal === false
    ? undefined
    : createPortal({ ctx, changes, api: (request, ip) => api!(request, ip) });
  api = createRouter({
    routes,
    limiters,
    log: deps.log,
    now: deps.now,
    changed: () => changes.bump(),
    fallback: portal,
  });
  return api;
}
