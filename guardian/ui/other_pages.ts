/**
 * The sign-in and sign-up pages, registration tokens, teams and the audit log.
 *
 * @module
 */

import { type Html, html } from "./html.ts";
import { csrfField, page, type PageContext, when } from "./layout.ts";
import type { ApiContext } from "../domain/context.ts";
import { INVITATION_TTL_MS } from "../domain/context.ts";

/** `/`: sign in (or `/signup`: create an account). */
export function signInPage(p: PageContext, signup: boolean, signupOpen: boolean): Html {
  const title = signup ? "Create an account" : "Sign in";
  return page(
    p,
    title,
    html`
      <section class="card" aria-labelledby="auth-title" style="max-width:420px">
        <h1 id="auth-title">${title}</h1>
        <form method="post" action="${signup ? "/ui/signup" : "/ui/login"}">${csrfField(p)}
            <p><label>Email<input type="email" name="email" required autocomplete="username"
              maxlength="254"></label></p>
            <p><label>Password<input type="password" name="password" required minlength="8"
              maxlength="1024" autocomplete="${signup
                ? "new-password"
                : "current-password"}"></label></p>
            <button type="submit">${title}</button></form>
        <p>${signup
          ? html`Have an account? <a href="/">Sign in</a>`
          : signupOpen
          ? html`New here? <a href="/signup">Create an account</a> (the first one is the admin).`
          : ""}</p>
      </section>
    `,
    false,
  );
}

/** `/tokens`: create (shown once, with the register command and a copy button), list, revoke. */
export function tokensPage(ctx: ApiContext, p: PageContext, url: URL): Html {
  const u = p.user!;
  const realms = ctx.store.listRealms(u.isAdmin ? null : u.id);
  const names = new Map(realms.map((r) => [r.id, r.name]));
  const pre = url.searchParams.get("realm_id");
  const tokens = ctx.store.listRegistrationTokens(u.isAdmin ? null : u.id).reverse();
  const now = ctx.deps.now();
  const secret = p.flash?.secret
    ? html`
      <section class="card" aria-labelledby="new-token">
        <h2 id="new-token">New registration token</h2>
        <p>Shown only now. On the host, run:</p>
        <p><code id="register-line" class="mono">${p.flash.secret.command}</code></p>
        <button type="button" class="secondary" data-copy="register-line" hidden>Copy command</button>
        <p class="muted">Token alone: <code id="token-value" class="mono">${p.flash.secret
          .token}</code>
            <button type="button" class="secondary" data-copy="token-value" hidden>Copy token</button></p>
      </section>
    `
    : "";
  const form = realms.length
    ? html`<form class="row" method="post" action="/ui/token/create">${csrfField(p)}
      <label>Plane<select name="realm_id" required>${
      realms.map((r) =>
        html`
          <option value="${r.id}" ${r.id === pre
            ? html`
              selected
            `
            : ""}>${r.name} (${r.subnet})</option>
        `
      )
    }</select></label>
      <label>Valid for (days)<input type="number" name="expires_after" value="7" min="0.01"
        max="365" step="any" required></label>
      <label>Tag (optional)<input name="tag" maxlength="64" autocomplete="off"></label>
      <button type="submit">Create token</button></form>`
    : html`<p>Create a <a href="/planes">plane</a> first.</p>`;
  const rows = tokens.map((t) => {
    const state = t.revokedAt !== null
      ? "revoked"
      : t.usedAt !== null
      ? "used"
      : t.expiresAt <= now
      ? "expired"
      : "valid";
    return html`
      <tr>
        <td>${names.get(t.realmId) ?? t.realmId}</td>
        <td>${t.tag ?? "—"}</td>
        <td>${when(t.createdAt)}</td>
        <td>${when(t.expiresAt)}</td>
        <td>${state}${t.confluxId
          ? html`
            <span class="mono muted">${t.confluxId}</span>
          `
          : ""}</td>
        <td>${state === "valid"
          ? html`<form class="inline" method="post" action="/ui/token/revoke">${csrfField(p)}
        <input type="hidden" name="token_id" value="${t.id}">
        <button class="secondary" type="submit" aria-label="Revoke token ${
            t.tag ?? t.id
          }">Revoke</button></form>`
          : ""}</td>
      </tr>
    `;
  });
  return page(
    p,
    "Registration tokens",
    html`
      <h1>Registration tokens</h1>${secret}
          <section class="card" aria-labelledby="create-token"><h2 id="create-token">Create</h2>
          <p class="muted">One token registers one conflux.</p>${form}</section>
          <section class="card" aria-labelledby="token-list">
        <h2 id="token-list">Tokens</h2>
        <div class="table-wrap" id="live-tokens" data-live-part>
          <table>
            <caption class="muted">Newest first</caption>
            <thead>
              <tr>
                <th scope="col">Plane</th>
                <th scope="col">Tag</th>
                <th scope="col">Created</th>
                <th scope="col">Expires</th>
                <th scope="col">State</th>
                <th scope="col">Action</th>
              </tr>
            </thead>
            <tbody>${rows}</tbody>
          </table>
        </div>
      </section>
    `,
  );
}

/** `/teams`: create, invite, accept, members, remove. */
export function teamsPage(ctx: ApiContext, p: PageContext): Html {
  const u = p.user!;
  const { store } = ctx;
  const now = ctx.deps.now();
  const invitations = store.pendingInvitations(u.email).filter((i) =>
    now < i.createdAt + INVITATION_TTL_MS
  );
  const pending = invitations.length
    ? html`
      <section class="card" aria-labelledby="inv">
        <h2 id="inv">Invitations to you</h2>
        <ul>${invitations.map((i) => {
          const t = store.teamById(i.teamId);
          const from = store.userById(i.invitedBy);
          return html`<li>${t?.name ?? i.teamId} from ${from?.email ?? "?"}
          <form class="inline" method="post" action="/ui/team/accept">${csrfField(p)}
          <input type="hidden" name="invitation_id" value="${i.id}">
          <button type="submit">Accept ${t?.name ?? ""}</button></form></li>`;
        })}</ul>
      </section>
    `
    : "";
  const teams = store.teamsOfUser(u.id).map((t) => {
    const members = store.teamMembers(t.id);
    return html`<section class="card" aria-labelledby="team-${t.id}">
    <h2 id="team-${t.id}">${t.name} <span class="muted">(${t.role}, key v${t.version})</span></h2>
    <ul>${
      members.map((m) =>
        html`<li>${m.email} <span class="muted">${m.role}</span>${
          m.role !== "owner" && (t.role === "owner" || m.userId === u.id)
            ? html`
              <form class="inline" method="post" action="/ui/team/member/remove">${csrfField(p)}
                        <input type="hidden" name="team_id" value="${t.id}">
                        <input type="hidden" name="user_id" value="${m.userId}">
                        <button class="secondary" type="submit" aria-label="Remove ${m
                          .email} from ${t.name}">${m.userId === u.id
                          ? "Leave"
                          : "Remove"}</button></form>
            `
            : ""
        }</li>`
      )
    }</ul>${
      t.role === "owner"
        ? html`<form class="row" method="post" action="/ui/team/invite">${csrfField(p)}
      <input type="hidden" name="team_id" value="${t.id}">
      <label>Invite by email<input type="email" name="email" required maxlength="254"
        autocomplete="off"></label><button type="submit">Invite to ${t.name}</button></form>`
        : ""
    }</section>`;
  });
  return page(
    p,
    "Teams",
    html`
      <h1>Teams</h1>
      <div id="live-teams" data-live-part>${pending}${teams}</div>
      <section class="card" aria-labelledby="new-team">
        <h2 id="new-team">New team</h2>
        <form class="row" method="post" action="/ui/team/create">${csrfField(p)}
          <label>Name<input name="name" required maxlength="64" autocomplete="off"></label>
          <button type="submit">Create team</button></form>
      </section>
    `,
  );
}

/** An audit entry's details for people: `key: value` pairs, times as dates. */
function details(json: string): string {
  let d: Record<string, unknown>;
  try {
    d = JSON.parse(json);
  } catch {
    return "";
  }
  return Object.entries(d).filter(([, v]) => v !== null && v !== undefined).map(([k, v]) =>
    `${k.replaceAll("_", " ")}: ${
      k.endsWith("_at") && typeof v === "number"
        ? when(v)
        : Array.isArray(v)
        ? v.join(", ")
        : String(v)
    }`
  ).join(" · ");
}

/** `/activity`: the audit log (admins: everyone's; others: their own), filterable. */
export function auditPage(ctx: ApiContext, p: PageContext, url: URL): Html {
  const u = p.user!;
  const q = (url.searchParams.get("q") ?? "").slice(0, 128);
  const action = (url.searchParams.get("action") ?? "").slice(0, 64);
  const list = ctx.store.listAudit({
    ...(u.isAdmin ? {} : { actorId: u.id }),
    query: q,
    action,
    limit: 300,
  });
  const kinds = ["", "auth.", "realm.", "token.", "conflux.", "subnets.", "team."];
  return page(
    p,
    "Audit log",
    html`
      <h1>Audit log</h1>
      <p class="muted">${u.isAdmin ? "Everyone's actions (admin)." : "Your actions."} Also at
            <code>GET /audit</code> for admins.</p>
      <form class="row" method="get" action="/activity" role="search" aria-label="Filter the log">
            <label>Contains<input type="search" name="q" value="${q}"></label>
            <label>Kind<select name="action">${kinds.map((k) =>
              html`
                <option value="${k}" ${k === action
                  ? html`
                    selected
                  `
                  : ""}>${k ? k.slice(0, -1) : "All"}</option>
              `
            )}</select></label><button type="submit">Filter</button></form>
      <div class="table-wrap" id="live-audit" data-live-part>
        <table>
          <caption class="muted">${list.length} entries, newest first</caption>
          <thead>
            <tr>
              <th scope="col">When</th>
              <th scope="col">Who</th>
              <th scope="col">What</th>
              <th scope="col">Target</th>
              <th scope="col">Details</th>
            </tr>
          </thead>
          <tbody>${list.map((e) =>
            html`
              <tr>
                <td>${when(e.at)}</td>
                <td>${e.actorEmail ?? "(a conflux)"}</td>
                <td>${e.action}</td>
                <td class="mono">${e.target ?? ""}</td>
                <td>${details(e.detail)}</td>
              </tr>
            `
          )}</tbody>
        </table>
      </div>
    `,
  );
}
