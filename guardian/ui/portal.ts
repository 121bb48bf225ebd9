/**
 * The Auth Portal on the Guardian's origin: pages (GET, server-rendered), form actions (POST
 * under /ui/, each checked for CSRF, carried out through the JSON API with the session's access
 * token so that validation, permissions, pushes and the audit log are the API's, then a 303 to
 * the page), live updates (/events, Server-Sent Events) and the assets. Paths it does not know
 * return null (the router answers 404).
 *
 * @module
 */

import type { ApiContext } from "../domain/context.ts";
import type { ChangeFeed } from "../domain/changes.ts";
import { HttpError } from "../http/errors.ts";
import type { GuardianHandler } from "../http/router.ts";
import { hashToken } from "../secrets.ts";
import type { UserRecord } from "../store.ts";
import { PORTAL_CSS, PORTAL_JS } from "./assets.ts";
import { type Html, html } from "./html.ts";
import { type Flash, page, type PageContext } from "./layout.ts";
import { planesPage } from "./planes_page.ts";
import { auditPage, signInPage, teamsPage, tokensPage } from "./other_pages.ts";
import {
  checkSameOrigin,
  cookie,
  csrfCookieName,
  csrfForSession,
  newCsrfValue,
  readCookies,
  sameSecret,
  securityHeaders,
  sessionCookieName,
} from "./security.ts";

/** What the portal needs. */
export interface PortalOptions {
  ctx: ApiContext;
  changes: ChangeFeed;
  /** The JSON API (form actions go through it). */
  api: GuardianHandler;
  /** Heartbeat of the event stream in ms (default 15 s). */
  heartbeatMs?: number;
}

type Form = URLSearchParams;
interface Action {
  /** The API call: method, path (with query) and JSON body. */
  call(f: Form): { method: string; path: string; body?: unknown };
  /** Where to go afterwards. */
  back: string | ((f: Form) => string);
  /** The message on success. */
  ok: (f: Form, answer: Record<string, unknown>) => string;
  /** Needs a ticked confirmation box. */
  confirm?: boolean;
}

const q = encodeURIComponent;

const ACTIONS: Record<string, Action> = {
  "/ui/realm/create": {
    call: (f) => ({
      method: "POST",
      path: "/realm",
      body: { name: f.get("name"), subnet: f.get("subnet") },
    }),
    back: "/planes",
    ok: (_f, a) => `Plane ${a.name} created (${a.subnet}).`,
  },
  "/ui/realm/delete": {
    call: (f) => ({ method: "DELETE", path: `/realm?realm_id=${q(f.get("realm_id") ?? "")}` }),
    back: "/planes",
    ok: () => "Plane deleted; its confluxes and tokens are revoked.",
    confirm: true,
  },
  "/ui/conflux/team/add": {
    call: (f) => ({
      method: "POST",
      path: "/conflux/team",
      body: { conflux_id: f.get("conflux_id"), team: f.get("team") },
    }),
    back: (f) => `/planes#conflux-${f.get("conflux_id")}`,
    ok: (_f, a) => `Team ${a.name} added.`,
  },
  "/ui/conflux/team/remove": {
    call: (f) => ({
      method: "DELETE",
      path: "/conflux/team",
      body: { conflux_id: f.get("conflux_id"), team: f.get("team") },
    }),
    back: (f) => `/planes#conflux-${f.get("conflux_id")}`,
    ok: () => "Team removed; its key was rotated.",
  },
  "/ui/conflux/subnets/approve": {
    call: (f) => ({
      method: "POST",
      path: "/conflux/subnets/approve",
      body: { conflux_id: f.get("conflux_id"), subnets: [f.get("subnet")] },
    }),
    back: (f) => `/planes#conflux-${f.get("conflux_id")}`,
    ok: (f) => `${f.get("subnet")} approved.`,
  },
  "/ui/conflux/subnets/deny": {
    call: (f) => ({
      method: "POST",
      path: "/conflux/subnets/deny",
      body: { conflux_id: f.get("conflux_id"), subnets: [f.get("subnet")] },
    }),
    back: (f) => `/planes#conflux-${f.get("conflux_id")}`,
    ok: (f) => `${f.get("subnet")} denied.`,
  },
  "/ui/conflux/remove": {
    call: (f) => ({
      method: "DELETE",
      path: `/conflux?conflux_id=${q(f.get("conflux_id") ?? "")}`,
    }),
    back: "/planes",
    ok: () => "Conflux removed: its token is revoked and its connection cut.",
    confirm: true,
  },
  "/ui/token/revoke": {
    call: (f) => ({
      method: "DELETE",
      path: `/auth/revoke/registration-token?token_id=${q(f.get("token_id") ?? "")}`,
    }),
    back: "/tokens",
    ok: () => "Token revoked.",
  },
  "/ui/team/create": {
    call: (f) => ({ method: "POST", path: "/org/team", body: { name: f.get("name") } }),
    back: "/teams",
    ok: (_f, a) => `Team ${a.name} created.`,
  },
  "/ui/team/invite": {
    call: (f) => ({
      method: "POST",
      path: "/org/team/invite",
      body: { team_id: f.get("team_id"), email: f.get("email") },
    }),
    back: "/teams",
    ok: (f) => `${f.get("email")} invited; they accept on their Teams page.`,
  },
  "/ui/team/accept": {
    call: (f) => ({
      method: "POST",
      path: "/org/team/invite/accept",
      body: { invitation_id: f.get("invitation_id") },
    }),
    back: "/teams",
    ok: () => "Invitation accepted.",
  },
  "/ui/team/member/remove": {
    call: (f) => ({
      method: "DELETE",
      path: "/org/team/member",
      body: { team_id: f.get("team_id"), user_id: f.get("user_id") },
    }),
    back: "/teams",
    ok: () => "Member removed; the team's key was rotated.",
  },
};

const PAGES = new Set(["/", "/signup", "/planes", "/tokens", "/teams", "/activity"]);

/** Builds the portal's handler (see the module doc). */
export function createPortal(o: PortalOptions) {
  const { ctx } = o;
  /** One-time messages per session (or pre-sign-in cookie), kept for a few minutes. */
  const flashes = new Map<string, { flash: Flash; until: number }>();
  const setFlash = (key: string, flash: Flash) => {
    const now = ctx.deps.now();
    if (flashes.size > 10_000) {
      for (const [k, v] of flashes) if (v.until <= now || flashes.size > 10_000) flashes.delete(k);
    }
    flashes.set(key, { flash, until: now + 300_000 });
  };
  const takeFlash = (key: string): Flash | null => {
    const f = flashes.get(key);
    flashes.delete(key);
    return f && f.until > ctx.deps.now() ? f.flash : null;
  };

  const session = (request: Request, url: URL): { token: string; user: UserRecord } | null => {
    const token = readCookies(request).get(sessionCookieName(url));
    if (!token || !token.startsWith("vnu_")) return null;
    const user = ctx.store.userByAccessToken(hashToken(token), ctx.deps.now());
    return user ? { token, user } : null;
  };

  const htmlResponse = (body: Html, status = 200, extra: Record<string, string> = {}) =>
    new Response(body.text, {
      status,
      headers: { ...securityHeaders("text/html; charset=utf-8"), ...extra },
    });

  const redirect = (to: string, setCookies: string[] = []): Response => {
    const headers = new Headers(securityHeaders("text/plain; charset=utf-8"));
    headers.set("location", to);
    for (const c of setCookies) headers.append("set-cookie", c);
    return new Response(null, { status: 303, headers });
  };

  /** Calls the JSON API as the signed-in user. */
  const callApi = async (
    url: URL,
    remoteIp: string,
    c: { method: string; path: string; body?: unknown },
    token?: string,
  ): Promise<{ ok: boolean; body: Record<string, unknown> }> => {
    const headers: Record<string, string> = {};
    if (token) headers.authorization = `Bearer ${token}`;
    if (c.body !== undefined) headers["content-type"] = "application/json";
    const res = await o.api(
      new Request(new URL(c.path, url.origin), {
        method: c.method,
        headers,
        body: c.body === undefined ? undefined : JSON.stringify(c.body),
      }),
      remoteIp,
    );
    const text = await res.text();
    let body: Record<string, unknown> = {};
    try {
      body = text ? JSON.parse(text) : {};
    } catch {
      body = { error: "unexpected answer" };
    }
    return { ok: res.ok, body: Array.isArray(body) ? { list: body } : body };
  };

  const readForm = async (request: Request): Promise<Form> => {
    const type = request.headers.get("content-type") ?? "";
    if (!type.startsWith("application/x-www-form-urlencoded")) {
      throw new HttpError(415, "expected a form (application/x-www-form-urlencoded)");
    }
    const limit = ctx.maxBody;
    const declared = Number(request.headers.get("content-length") ?? "0");
    if (declared > limit) throw new HttpError(413, `request body larger than ${limit} bytes`);
    const text = await new Response(request.body).text();
    if (text.length > limit) throw new HttpError(413, `request body larger than ${limit} bytes`);
    return new URLSearchParams(text);
  };

  const events = (): Response => {
    const enc = new TextEncoder();
    let cleanup = () => {};
    const stream = new ReadableStream<Uint8Array>({
      start(controller) {
        const send = (text: string) => {
          try {
            controller.enqueue(enc.encode(text));
          } catch {
            cleanup();
          }
        };
        send(`retry: 2000\nevent: hello\ndata: ${o.changes.version}\n\n`);
        const unsub = o.changes.subscribe((v) => send(`event: change\ndata: ${v}\n\n`));
        const beat = setInterval(() => send(": keep-alive\n\n"), o.heartbeatMs ?? 15_000);
        const end = () => {
          cleanup();
          try {
            controller.close();
          } catch {
            // already closed
          }
        };
        const unclose = o.changes.onClose(end);
        cleanup = () => {
          unsub();
          unclose();
          clearInterval(beat);
        };
      },
      cancel() {
        cleanup();
      },
    });
    return new Response(stream, {
      headers: { ...securityHeaders("text/event-stream; charset=utf-8") },
    });
  };

  /** A refusal as a page for browsers (they asked for HTML), as `{error}` JSON otherwise. */
  const refusal = (request: Request, err: HttpError): Response => {
    if (!(request.headers.get("accept") ?? "").includes("text/html")) throw err;
    const p: PageContext = { user: null, csrf: "", path: "", flash: null };
    return htmlResponse(
      page(
        p,
        "Refused",
        html`
          <h1>Refused</h1>
          <p role="alert">${err.message}</p>
          <p><a href="/">Back to the portal</a></p>
        `,
        false,
      ),
      err.status,
    );
  };

  const handle = async (
    request: Request,
    url: URL,
    remoteIp: string,
  ): Promise<Response | null> => {
    const path = url.pathname;
    if (request.method === "GET" && path === "/assets/portal.css") {
      return new Response(PORTAL_CSS, {
        headers: { ...securityHeaders("text/css; charset=utf-8"), "cache-control": "no-cache" },
      });
    }
    if (request.method === "GET" && path === "/assets/portal.js") {
      return new Response(PORTAL_JS, {
        headers: {
          ...securityHeaders("text/javascript; charset=utf-8"),
          "cache-control": "no-cache",
        },
      });
    }
    const s = session(request, url);
    if (request.method === "GET" && path === "/events") {
      if (!s) throw new HttpError(401, "sign in first");
      return events();
    }
    if (request.method === "GET" && PAGES.has(path)) {
      if (!s) {
        if (path !== "/" && path !== "/signup") return redirect("/");
        const cookies = readCookies(request);
        let pre = cookies.get(csrfCookieName(url));
        const setCookie: Record<string, string> = {};
        if (!pre || pre.length !== 48) {
          pre = newCsrfValue();
          setCookie["set-cookie"] = cookie(url, csrfCookieName(url), pre, 3600);
        }
        const p: PageContext = { user: null, csrf: pre, path, flash: takeFlash(`pre:${pre}`) };
        const open = ctx.config.allowSignup !== false || ctx.store.countUsers() === 0;
        return htmlResponse(signInPage(p, path === "/signup", open), 200, setCookie);
      }
      if (path === "/" || path === "/signup") return redirect("/planes");
      const p: PageContext = {
        user: s.user,
        csrf: csrfForSession(s.token),
        path,
        // A live refresh (portal.js) must not take the one-time message of the page itself.
        flash: request.headers.get("x-veilnet-live") === "1"
          ? null
          : takeFlash(`s:${hashToken(s.token)}`),
      };
      const body = path === "/planes"
        ? planesPage(ctx, p, url)
        : path === "/tokens"
        ? tokensPage(ctx, p, url)
        : path === "/teams"
        ? teamsPage(ctx, p)
        : auditPage(ctx, p, url);
      return htmlResponse(body);
    }
    if (!path.startsWith("/ui/")) return null;
    if (request.method !== "POST") throw new HttpError(405, `method ${request.method} not allowed`);
    checkSameOrigin(request, url);
    const form = await readForm(request);
    const given = form.get("csrf") ?? "";

    if (path === "/ui/login" || path === "/ui/signup") {
      const pre = readCookies(request).get(csrfCookieName(url)) ?? "";
      if (!pre || !sameSecret(pre, given)) {
        throw new HttpError(403, "form token missing or stale: reload the page and retry");
      }
      const creds = { email: form.get("email") ?? "", password: form.get("password") ?? "" };
      const fail = (text: string, back: string) => {
        setFlash(`pre:${pre}`, { kind: "error", text });
        return redirect(back);
      };
      if (path === "/ui/signup") {
        const r = await callApi(url, remoteIp, {
          method: "POST",
          path: "/auth/signup",
          body: creds,
        });
        if (!r.ok) return fail(`Sign-up failed: ${r.body.error}`, "/signup");
      }
      const r = await callApi(url, remoteIp, { method: "POST", path: "/auth/login", body: creds });
      if (!r.ok) return fail(`Sign-in failed: ${r.body.error}`, "/");
      const token = String(r.body.access_token);
      const maxAge = Math.floor(ctx.accessTtl / 1000);
      return redirect("/planes", [
        cookie(url, sessionCookieName(url), token, maxAge),
        cookie(url, csrfCookieName(url), "", 0),
      ]);
    }

    if (!s) throw new HttpError(401, "sign in first");
    if (!sameSecret(csrfForSession(s.token), given)) {
      throw new HttpError(403, "form token missing or stale: reload the page and retry");
    }
    const key = `s:${hashToken(s.token)}`;
    if (path === "/ui/logout") {
      await callApi(url, remoteIp, { method: "POST", path: "/auth/logout" }, s.token);
      return redirect("/", [cookie(url, sessionCookieName(url), "", 0)]);
    }
    if (path === "/ui/token/create") {
      const days = Number(form.get("expires_after") ?? "");
      const tag = (form.get("tag") ?? "").trim();
      const r = await callApi(url, remoteIp, {
        method: "POST",
        path: "/auth/create/registration-token",
        body: { realm_id: form.get("realm_id"), expires_after: days, ...(tag ? { tag } : {}) },
      }, s.token);
      if (!r.ok) setFlash(key, { kind: "error", text: `Not created: ${r.body.error}` });
      else {
        const token = String(r.body.token);
        setFlash(key, {
          kind: "ok",
          text: "Registration token created. Copy it now: it is not shown again.",
          secret: { token, command: `veilnet-conflux register -t ${token} -g ${url.origin}` },
        });
      }
      return redirect("/tokens");
    }
    const action = ACTIONS[path];
    if (!action) return null;
    const back = typeof action.back === "string" ? action.back : action.back(form);
    if (action.confirm && form.get("confirm") !== "yes") {
      setFlash(key, { kind: "error", text: "Not done: tick the confirmation box first." });
      return redirect(back);
    }
    const r = await callApi(url, remoteIp, action.call(form), s.token);
    setFlash(
      key,
      r.ok
        ? { kind: "ok", text: action.ok(form, r.body) }
        : { kind: "error", text: `Not done: ${r.body.error}` },
    );
    return redirect(back);
  };

  return async (request: Request, url: URL, remoteIp: string): Promise<Response | null> => {
    try {
      return await handle(request, url, remoteIp);
    } catch (err) {
      if (err instanceof HttpError) return refusal(request, err);
      throw err;
    }
  };
}
