/**
 * The Planes page: each plane (realm) with its Conflux cards — tag, overlay IP, online/offline
 * and last seen (from NATS presence), portal networks advertised vs approved with approve/deny,
 * team chips (click to add or remove; the running conflux changes at once), remove; search,
 * filter (status, team, portal), sort (tag, IP, last seen), "showing X of Y".
 *
 * @module
 */

import { type Html, html } from "./html.ts";
import { ago, csrfField, page, type PageContext } from "./layout.ts";
import type { ApiContext } from "../domain/context.ts";
import type { ConfluxRecord, RealmRecord } from "../store.ts";
import { parseIpv4 } from "../ip_pool.ts";

/** The filters of the conflux list, from the query string. */
export interface ConfluxFilter {
  q: string;
  status: "" | "online" | "offline";
  team: string;
  portal: "" | "yes" | "no";
  sort: "tag" | "ip" | "seen";
}

/** Reads the filters; unknown values fall back to "all". */
export function readFilter(url: URL): ConfluxFilter {
  const p = url.searchParams;
  const pick = <T extends string>(v: string | null, allowed: readonly T[], d: T): T =>
    allowed.includes(v as T) ? v as T : d;
  return {
    q: (p.get("q") ?? "").trim().slice(0, 64),
    status: pick(p.get("status"), ["", "online", "offline"] as const, ""),
    team: (p.get("team") ?? "").slice(0, 64),
    portal: pick(p.get("portal"), ["", "yes", "no"] as const, ""),
    sort: pick(p.get("sort"), ["tag", "ip", "seen"] as const, "tag"),
  };
}

interface Row {
  c: ConfluxRecord;
  online: boolean;
  lastSeen: number | null;
  teamIds: string[];
}

function options(values: Array<[string, string]>, current: string): Html[] {
  return values.map(([v, label]) =>
    html`
      <option value="${v}" ${v === current
        ? html`
          selected
        `
        : ""}>${label}</option>
    `
  );
}

/** Renders the page. */
export function planesPage(ctx: ApiContext, p: PageContext, url: URL): Html {
  const u = p.user!;
  const { store } = ctx;
  const now = ctx.deps.now();
  const f = readFilter(url);
  const presence = ctx.deps.presence;
  const realms = store.listRealms(u.isAdmin ? null : u.id);
  const myTeams = store.teamsOfUser(u.id);
  let total = 0, shown = 0;
  const sections = realms.map((r) => {
    const rows: Row[] = store.listConfluxes(r.id).map((c) => ({
      c,
      online: presence?.online(c.id) ?? false,
      lastSeen: presence?.lastSeen(c.id) ?? c.lastSeenAt ?? null,
      teamIds: store.teamsOfConflux(c.id).map((t) => t.id),
    }));
    total += rows.length;
    const q = f.q.toLowerCase();
    const visible = rows.filter((x) =>
      (!q || x.c.tag.toLowerCase().includes(q) || x.c.overlayIp.includes(q) ||
        x.c.id.toLowerCase().includes(q)) &&
      (!f.status || (f.status === "online") === x.online) &&
      (!f.team || x.teamIds.includes(f.team)) &&
      (!f.portal || (f.portal === "yes") === x.c.portal)
    ).sort((a, b) =>
      f.sort === "ip"
        ? (parseIpv4(a.c.overlayIp) ?? 0) - (parseIpv4(b.c.overlayIp) ?? 0)
        : f.sort === "seen"
        ? (b.online ? now : b.lastSeen ?? 0) - (a.online ? now : a.lastSeen ?? 0)
        : a.c.tag.localeCompare(b.c.tag) || a.c.id.localeCompare(b.c.id)
    );
    shown += visible.length;
    return planeSection(ctx, p, r, visible, rows.length, now);
  });
  const filters = html`
    <form class="row" method="get" action="/planes" role="search"
      aria-label="Filter confluxes">
        <label>Search<input type="search" name="q" value="${f
          .q}" placeholder="tag, IP or id"></label>
        <label>Status<select name="status">${options([["", "All"], ["online", "Online"], [
          "offline",
          "Offline",
        ]], f.status)}</select></label>
        <label>Team<select name="team">${options([
          ["", "All"],
          ...myTeams.map((t) => [t.id, t.name] as [string, string]),
        ], f.team)}</select></label>
        <label>Portal<select name="portal">${options([["", "All"], ["yes", "Portal mode"], [
          "no",
          "Not a portal",
        ]], f.portal)}</select></label>
        <label>Sort by<select name="sort">${options([["tag", "Tag"], ["ip", "Overlay IP"], [
          "seen",
          "Last seen",
        ]], f.sort)}</select></label>
        <button type="submit">Apply</button></form>
  `;
  const count = html`<p id="count" class="muted">Showing ${shown} of ${total} confluxes</p>`;
  const create = html`
    <section class="card" aria-labelledby="new-plane">
      <h2 id="new-plane">New plane</h2>
      <form class="row" method="post" action="/ui/realm/create">${csrfField(p)}
          <label>Name<input name="name" required maxlength="64" autocomplete="off"></label>
          <label>Subnet (inside 100.64.0.0/10)<input name="subnet" required placeholder="100.64.0.0/24"
            pattern="[0-9./]+" autocomplete="off"></label>
          <button type="submit">Create plane</button></form>
    </section>
  `;
  return page(
    p,
    "Planes",
    html`
      <h1>Planes</h1>${filters}<div id="live-planes"
        data-live-part>${count}${realms.length
          ? sections
          : html`<p>No plane yet: create one below.</p>`}</div>${create}
    `,
  );
}

function planeSection(
  ctx: ApiContext,
  p: PageContext,
  r: RealmRecord,
  rows: Row[],
  all: number,
  now: number,
): Html {
  return html`
    <section class="card" aria-labelledby="plane-${r.id}">
      <h2 id="plane-${r.id}">${r.name} <span class="muted mono">${r.subnet}</span></h2>
      <p class="muted">${all} conflux${all === 1 ? "" : "es"} ·
        <a href="/tokens?realm_id=${r.id}">Add a conflux (registration token)</a></p>
      <div class="cards">${rows.map((x) => confluxCard(ctx, p, x, now))}</div>
      <details>
        <summary>Delete this plane</summary>
        <form method="post" action="/ui/realm/delete">${csrfField(p)}
          <input type="hidden" name="realm_id" value="${r.id}">
          <p>Deleting revokes every conflux and registration token of ${r.name}.</p>
          <label class="check"><input type="checkbox" name="confirm" value="yes" required>
            Yes, delete plane ${r.name}</label>
          <button class="danger" type="submit">Delete plane</button></form>
      </details>
    </section>
  `;
}

function hidden(name: string, value: string): Html {
  return html`<input type="hidden" name="${name}" value="${value}">`;
}

function confluxCard(ctx: ApiContext, p: PageContext, x: Row, now: number): Html {
  const { c } = x;
  const u = p.user!;
  const mayChange = u.isAdmin || c.ownerId === u.id;
  const ownerTeams = ctx.store.teamsOfUser(c.ownerId);
  const chips = ownerTeams.map((t) => {
    const on = x.teamIds.includes(t.id);
    return html`
      <form class="inline" method="post" data-live
        action="/ui/conflux/team/${on ? "remove" : "add"}">${csrfField(p)}${hidden(
          "conflux_id",
          c.id,
        )}${hidden("team", t.id)}
            <button class="chip" type="submit" aria-pressed="${String(on)}"${mayChange ? "" : html`
              disabled
            `}
              aria-label="Team ${t.name} ${on ? "(held: remove)" : "(not held: add)"}">${t
                .name}</button>
          </form>
    `;
  });
  const state = ctx.portalState(c);
  const networks = [...new Set([...state.advertised, ...state.approved])];
  const subnets = c.portal || networks.length
    ? html`<h4>Portal networks</h4>${
      networks.length
        ? html`<ul class="subnets">${
          networks.map((n) => {
            const status = state.certified.includes(n)
              ? "approved"
              : state.denied.includes(n)
              ? "denied"
              : state.advertised.includes(n)
              ? "pending"
              : "approved";
            const advertised = state.advertised.includes(n);
            return html`<li><span class="mono">${n}</span>
            <span class="badge ${status}">${status}${advertised ? "" : " (not advertised)"}</span>
            ${
              mayChange && status !== "approved"
                ? html`
                  <form class="inline" method="post" data-live
                    action="/ui/conflux/subnets/approve">${csrfField(p)}${hidden(
                      "conflux_id",
                      c.id,
                    )}${hidden(
                      "subnet",
                      n,
                    )}<button type="submit" aria-label="Approve ${n}">Approve</button></form>
                `
                : ""
            }${
              mayChange && status !== "denied"
                ? html`
                  <form class="inline" method="post" data-live
                    action="/ui/conflux/subnets/deny">${csrfField(p)}${hidden(
                      "conflux_id",
                      c.id,
                    )}${hidden(
                      "subnet",
                      n,
                    )}<button class="secondary" type="submit" aria-label="Deny ${n}">Deny</button></form>
                `
                : ""
            }</li>`;
          })
        }</ul>`
        : html`<p class="muted">advertises no network</p>`
    }`
    : "";
  return html`
    <article class="card conflux" id="conflux-${c.id}" aria-labelledby="tag-${c.id}"
      data-conflux="${c.id}" data-online="${String(x.online)}">
      <h3 id="tag-${c.id}">${c.tag || "(no tag)"}</h3>
      <dl class="facts">
        <dt>Status</dt><dd><span class="status ${x.online ? "online" : "offline"}">${x.online
          ? "● online"
          : "○ offline"}</span></dd>
        <dt>Last seen</dt><dd>${x.online ? "now" : ago(x.lastSeen, now)}</dd>
        <dt>Overlay IP</dt><dd class="mono">${c.overlayIp}</dd>
        <dt>Mode</dt><dd>${c.portal ? "portal" : "conflux"}</dd>
        <dt>Id</dt><dd class="mono">${c.id}</dd>
      </dl>
      <h4 id="teams-${c.id}">Teams</h4>
      <div role="group" aria-labelledby="teams-${c.id}">${chips.length
        ? chips
        : html`<span class="muted">no teams: create one on the Teams page</span>`}</div>
      ${subnets}
      ${mayChange
        ? html`
          <details>
            <summary>Remove conflux</summary>
            <form method="post" action="/ui/conflux/remove">${csrfField(p)}${hidden(
              "conflux_id",
              c.id,
            )}
                <label class="check"><input type="checkbox" name="confirm" value="yes" required>
                  Yes, remove ${c.tag || c.id}</label>
                <button class="danger" type="submit">Remove conflux</button></form>
          </details>
        `
        : ""}
    </article>
  `;
}
