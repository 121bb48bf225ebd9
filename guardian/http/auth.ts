/**
 * Credentials in requests, in one place: the three bearer-token kinds (PROTOCOL.md, "Guardian
 * API") and the browser session cookie of the Auth Portal, which holds a user access token.
 *
 * @module
 */

import { HttpError } from "./errors.ts";

/** Prefixes of the token kinds: user access, conflux, registration. */
export const TOKEN_PREFIX = { user: "vnu_", conflux: "vnc_", registration: "vnr_" } as const;

/** The kind of a token by its prefix, or null. */
export function tokenKind(token: string): keyof typeof TOKEN_PREFIX | null {
  for (const [kind, prefix] of Object.entries(TOKEN_PREFIX)) {
    if (token.startsWith(prefix)) return kind as keyof typeof TOKEN_PREFIX;
  }
  return null;
}

/** The bearer token of `Authorization: Bearer …`; 401 without one. */
export function bearer(request: Request): string {
  const header = request.headers.get("authorization") ?? "";
  const m = /^Bearer\s+(\S{1,256})$/i.exec(header);
  if (!m) throw new HttpError(401, "missing bearer token");
  return m[1];
}

/** Whether the bearer is a conflux token. */
export function isConfluxToken(token: string): boolean {
  return tokenKind(token) === "conflux";
}
