/**
 * The page shell of the Auth Portal: skip link, header with navigation and theme toggle, the
 * flash message (a live region), and <main id="main"> that live updates replace.
 *
 * @module
 */

import { type Html, html, type HtmlValue } from "./html.ts";
import type { UserRecord } from "../store.ts";

/** A one-time message shown after a form was sent. */
export interface Flash {
  kind: "ok" | "error";
  text: string;
  /** A secret shown once (a new registration token) with the command that uses it. */
  secret?: { token: string; command: string };
}

/** What every page knows. */
export interface PageContext {
  user: UserRecord | null;
  /** The form token to put in every form. */
  csrf: string;
  /** The current path (for aria-current). */
  path: string;
  flash: Flash | null;
}

const NAV: Array<[string, string]> = [
  ["/planes", "Planes"],
  ["/tokens", "Registration tokens"],
  ["/teams", "Teams"],
  ["/activity", "Audit log"],
];

/** Hidden CSRF field of a form. */
export function csrfField(p: PageContext): Html {
  return html`<input type="hidden" name="csrf" value="${p.csrf}">`;
}

/** A whole page. */
export function page(p: PageContext, title: string, body: HtmlValue, live = true): Html {
  const nav = p.user
    ? html`
      <nav aria-label="Main">
        <ul>${NAV.map(([href, label]) =>
          html`<li><a href="${href}"${
            p.path === href
              ? html`
                aria-current="page"
              `
              : ""
          }>${label}</a></li>`
        )}</ul>
      </nav>
      <span class="muted">${p.user.email}${p.user.isAdmin ? " (admin)" : ""}</span>
      <form class="inline" method="post" action="/ui/logout">${csrfField(p)}
              <button class="secondary" type="submit">Sign out</button></form>
    `
    : "";
  const flash = p.flash
    ? html`<div class="flash ${p.flash.kind}" role="${
      p.flash.kind === "error" ? "alert" : "status"
    }">${p.flash.text}</div>`
    : "";
  return html`
    <!doctype html>
    <html lang="en">
      <head>
        <meta charset="utf-8">
        <meta name="viewport" content="width=device-width, initial-scale=1">
        <title>${title} · VeilNet Auth Portal</title>
        <link rel="stylesheet" href="/assets/portal.css">
        <script type="module" src="/assets/portal.js"></script>
      </head>
      <body data-live="${live && p.user ? "on" : "off"}">
        <a class="skip" href="#main">Skip to content</a>
        <header><span class="brand">VeilNet Auth Portal</span>${nav}
    <button id="theme-toggle" class="secondary" type="button" hidden aria-pressed="false">Dark theme</button>
        </header>
        <main id="main" tabindex="-1">${flash}${body}</main>
      </body>
    </html>
  `;
}

/** A date and time for people (UTC, to the minute), or a dash. */
export function when(ms: number | null | undefined): string {
  if (ms === null || ms === undefined) return "—";
  return new Date(ms).toISOString().slice(0, 16).replace("T", " ") + " UTC";
}

/** "3 min ago"-style age of `ms` at `now`. */
export function ago(ms: number | null | undefined, now: number): string {
  if (ms === null || ms === undefined) return "never";
  const s = Math.max(0, Math.round((now - ms) / 1000));
  if (s < 10) return "just now";
  if (s < 90) return `${s} s ago`;
  if (s < 5400) return `${Math.round(s / 60)} min ago`;
  if (s < 129600) return `${Math.round(s / 3600)} h ago`;
  return `${Math.round(s / 86400)} days ago`;
}
