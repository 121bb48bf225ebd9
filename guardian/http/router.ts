/**
 * The route table of the JSON API and its dispatcher: exact paths, 404/405, per-IP rate limits,
 * HttpError → `{error}`, everything else a logged 500 without detail.
 *
 * @module
 */

import type { Logger } from "../../core/log/logger.ts";
import { PasswordHashBusyError } from "../secrets.ts";
import { RateLimiter } from "../rate_limit.ts";
import { HttpError, json } from "./errors.ts";

/** One endpoint. */
export interface Route {
  method: string;
  path: string;
  /** Which rate limiter guards it (per client IP). */
  limit?: "auth" | "conflux";
  run: (request: Request, url: URL, remoteIp: string) => Promise<Response>;
}

/** A request handler: the API as a function. */
export type GuardianHandler = (request: Request, remoteIp: string) => Promise<Response>;

/** Runs `fn`, turning its failure into the API's error answer. */
export async function answer(log: Logger, path: string, fn: () => Promise<Response>) {
  try {
    return await fn();
  } catch (err) {
    if (err instanceof HttpError) return json(err.status, { error: err.message });
    if (err instanceof PasswordHashBusyError) {
      return json(503, { error: "too many password checks in progress, retry shortly" });
    }
    // Internal detail goes to the log only (name and message, no stack, no body).
    const e = err instanceof Error ? err : new Error(String(err));
    log.error("request failed", { path, error: `${e.name}: ${e.message}` });
    return json(500, { error: "internal error" });
  }
}

/** Builds the dispatcher over `routes`; `fallback` answers paths no route has (the portal). */
export function createRouter(o: {
  routes: Route[];
  limiters: Record<"auth" | "conflux", RateLimiter>;
  log: Logger;
  now: () => number;
  /** Called after every successful state-changing request (live updates). */
  changed?: () => void;
  fallback?: (request: Request, url: URL, remoteIp: string) => Promise<Response | null>;
}): GuardianHandler {
  const byPath = new Map<string, Route[]>();
  for (const r of o.routes) byPath.set(r.path, [...byPath.get(r.path) ?? [], r]);
  return async (request, remoteIp) => {
    const started = o.now();
    let url: URL;
    try {
      url = new URL(request.url);
    } catch {
      return json(400, { error: "bad request URL" });
    }
    const candidates = byPath.get(url.pathname) ?? [];
    let response: Response | null = null;
    if (candidates.length === 0) {
      if (o.fallback) {
        response = await answer(
          o.log,
          url.pathname,
          async () =>
            await o.fallback!(request, url, remoteIp) ?? json(404, { error: "no such endpoint" }),
        );
      } else response = json(404, { error: "no such endpoint" });
    } else {
      const route = candidates.find((r) => r.method === request.method);
      if (!route) {
        response = json(405, { error: `method ${request.method} not allowed` });
      } else if (route.limit && !o.limiters[route.limit].take(remoteIp, o.now())) {
        response = json(429, { error: "too many requests, slow down" });
      } else {
        response = await answer(o.log, url.pathname, () => route.run(request, url, remoteIp));
        if (request.method !== "GET" && response.ok) o.changed?.();
      }
    }
    if (request.body && !request.bodyUsed) await request.body.cancel().catch(() => {});
    o.log.debug("request", {
      method: request.method,
      path: url.pathname,
      status: response.status,
      ms: o.now() - started,
    });
    return response;
  };
}
