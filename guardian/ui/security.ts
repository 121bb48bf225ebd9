/**
 * Browser security of the Auth Portal: the session cookie (an HttpOnly, SameSite=Strict cookie
 * holding a user access token; `__Host-` and `Secure` under TLS), CSRF checks (Origin and
 * Sec-Fetch-Site, plus a token in every form: derived from the session token, or a double-submit
 * cookie before sign-in), and the response headers of every page (a strict CSP with
 * `frame-ancestors 'none'`, no sniffing, no referrer, no caching).
 *
 * @module
 */

import { createHash, timingSafeEqual } from "node:crypto";
import { HttpError } from "../http/errors.ts";

/** Whether the portal is served over TLS (cookie names and flags depend on it). */
export function isSecure(url: URL): boolean {
  return url.protocol === "https:";
}

/** Name of the session cookie. */
export function sessionCookieName(url: URL): string {
  return isSecure(url) ? "__Host-veilnet_session" : "veilnet_session";
}

/** Name of the pre-sign-in CSRF cookie. */
export function csrfCookieName(url: URL): string {
  return isSecure(url) ? "__Host-veilnet_csrf" : "veilnet_csrf";
}

/** A `Set-Cookie` value with the portal's attributes; `maxAgeSec` 0 deletes it. */
export function cookie(url: URL, name: string, value: string, maxAgeSec: number): string {
  return `${name}=${value}; Path=/; HttpOnly; SameSite=Strict; Max-Age=${maxAgeSec}` +
    (isSecure(url) ? "; Secure" : "");
}

/** The cookies of a request. */
export function readCookies(request: Request): Map<string, string> {
  const out = new Map<string, string>();
  for (const part of (request.headers.get("cookie") ?? "").split(";")) {
    const i = part.indexOf("=");
    if (i < 1) continue;
    const name = part.slice(0, i).trim();
    const value = part.slice(i + 1).trim();
    if (/^[\w.~-]{1,256}$/.test(value) && !out.has(name)) out.set(name, value);
  }
  return out;
}

/** The form token of a session: bound to its token, useless without it, not its hash. */
export function csrfForSession(sessionToken: string): string {
  return createHash("sha256").update(`veilnet/v1/portal-csrf\0${sessionToken}`).digest("hex");
}

/** A fresh random value for the pre-sign-in CSRF cookie. */
export function newCsrfValue(): string {
  return Array.from(
    crypto.getRandomValues(new Uint8Array(24)),
    (b) => b.toString(16).padStart(2, "0"),
  )
    .join("");
}

/** Constant-time comparison of two strings. */
export function sameSecret(a: string, b: string): boolean {
  const x = new TextEncoder().encode(a);
  const y = new TextEncoder().encode(b);
  return x.length === y.length && timingSafeEqual(x, y);
}

/**
 * Refuses (403) a state-changing request that comes from another site: a `Sec-Fetch-Site` other
 * than same-origin (or none: typed by the user), or an `Origin` other than this one.
 */
export function checkSameOrigin(request: Request, url: URL): void {
  const site = request.headers.get("sec-fetch-site");
  if (site !== null && site !== "same-origin" && site !== "none") {
    throw new HttpError(403, "cross-site request refused");
  }
  const origin = request.headers.get("origin");
  if (origin !== null && origin !== url.origin) {
    throw new HttpError(403, "cross-origin request refused");
  }
}

/** The Content-Security-Policy of every portal response. */
export const CONTENT_SECURITY_POLICY = [
  "default-src 'none'",
  "script-src 'self'",
  "style-src 'self'",
  "img-src 'self' data:",
  "connect-src 'self'",
  "form-action 'self'",
  "base-uri 'none'",
  "frame-ancestors 'none'",
].join("; ");

/** Headers of every portal response. */
export function securityHeaders(contentType: string): Record<string, string> {
  return {
    "content-type": contentType,
    "content-security-policy": CONTENT_SECURITY_POLICY,
    "x-content-type-options": "nosniff",
    "x-frame-options": "DENY",
    // Not no-referrer: with it Chromium sends `Origin: null` on form posts, and the origin check
    // needs the real one.
    "referrer-policy": "same-origin",
    "cross-origin-opener-policy": "same-origin",
    "cache-control": "no-store",
  };
}
