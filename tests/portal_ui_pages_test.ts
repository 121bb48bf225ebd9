/**
 * Issue 14, HTML level (no browser, no JavaScript): every page and form of the Auth Portal,
 * the browser security (cookie flags, CSP, CSRF refusals that change nothing, sign-out that
 * revokes the session, sign-in rate limits), escaping, and the audit log (page and GET /audit).
 */
import assert from "node:assert/strict";
import { startGuardian } from "./helpers/guardian.ts";
import { FormClient } from "./helpers/portal_browser.ts";

async function registerConflux(url: string, token: string, tag: string) {
  const res = await fetch(`${url}/conflux/register`, {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: JSON.stringify({ registration_token: token, tag }),
  });
  assert.equal(res.status, 201, await res.clone().text());
  return await res.json() as { conflux_id: string; overlay_ip: string };
}

Deno.test("portal: sign up, plane, token, card, chips, approvals, removal — all as forms", async () => {
  const g = await startGuardian({ nats: false });
  try {
    const b = new FormClient(g.url);
    let res = await b.get("/");
    assert.equal(res.status, 200);
    const csp = res.headers.get("content-security-policy") ?? "";
    assert.match(csp, /frame-ancestors 'none'/);
    assert.match(csp, /script-src 'self'/);
    assert.doesNotMatch(csp, /unsafe-inline/);
    assert.equal(res.headers.get("x-frame-options"), "DENY");
    assert.match(b.html, /<form method="post" action="\/ui\/login">/);
    assert.match(b.html, /<label>Email<input type="email" name="email"/);
    // Protected pages send a visitor to sign in.
    assert.equal((await b.get("/planes")).status, 303);
    await b.get("/signup");
    res = await b.post("/ui/signup", {
      email: "owner@example.test",
      password: "a long passphrase",
    });
    assert.equal(res.status, 303);
    assert.equal(res.headers.get("location"), "/planes");
    const setCookie = res.headers.getSetCookie().find((c) => c.startsWith("veilnet_session="))!;
    assert.match(setCookie, /HttpOnly/);
    assert.match(setCookie, /SameSite=Strict/);
    assert.match(b.cookies.get("veilnet_session")!, /^vnu_/);

    await b.get("/planes");
    assert.match(b.html, /Showing 0 of 0 confluxes/);
    let html = await b.submit("/ui/realm/create", { name: "home", subnet: "100.64.0.0/24" });
    assert.match(html, /Plane home created \(100\.64\.0\.0\/24\)/);
    const realm = g.server!.store.listRealms(null)[0];
    html = await b.submit("/ui/realm/create", { name: "bad", subnet: "10.0.0.0/8" });
    assert.match(html, /Not done: subnet: must lie inside 100\.64\.0\.0\/10/);

    // A token: shown once with the exact register line and a copy button.
    await b.get("/tokens");
    html = await b.submit("/ui/token/create", {
      realm_id: realm.id,
      expires_after: "7",
      tag: "web",
    });
    const line =
      /<code id="register-line" class="mono">veilnet-conflux register -t (vnr_\S+) -g (\S+)<\/code>/
        .exec(html);
    assert.ok(line, html);
    assert.equal(line[2], g.url);
    assert.match(html, /data-copy="register-line"/);
    await b.get("/tokens");
    assert.doesNotMatch(b.html, new RegExp(line[1]), "the token is shown only once");
    assert.match(b.html, /<td>valid<\/td>|valid/);

    const c = await registerConflux(g.url, line[1], "web<script>alert(1)</script>");
    await b.get("/planes");
    assert.match(b.html, /Showing 1 of 1 confluxes/);
    assert.match(b.html, new RegExp(c.overlay_ip.replaceAll(".", "\\.")));
    assert.match(b.html, /web&lt;script&gt;alert\(1\)&lt;\/script&gt;/);
    assert.doesNotMatch(b.html, /<script>alert/);
    assert.match(b.html, /○ offline/);

    // Filters: search, status, sort.
    await b.get("/planes?q=nothing-like-this");
    assert.match(b.html, /Showing 0 of 1 confluxes/);
    await b.get("/planes?status=offline&sort=ip");
    assert.match(b.html, /Showing 1 of 1 confluxes/);
    await b.get("/planes?status=online");
    assert.match(b.html, /Showing 0 of 1 confluxes/);

    // Teams: create, then the chip on the card adds and removes it.
    await b.get("/teams");
    html = await b.submit("/ui/team/create", { name: "dev" });
    assert.match(html, /Team dev created/);
    const team =
      g.server!.store.teamsOfUser(g.server!.store.userByEmail("owner@example.test")!.id)[0];
    await b.get("/planes");
    assert.match(b.html, /aria-pressed="false"[^>]*aria-label="Team dev \(not held: add\)"/);
    html = await b.submit("/ui/conflux/team/add", { conflux_id: c.conflux_id, team: team.id });
    assert.match(html, /Team dev added/);
    assert.match(html, /aria-pressed="true"[^>]*aria-label="Team dev \(held: remove\)"/);
    assert.deepEqual(g.server!.store.teamsOfConflux(c.conflux_id).map((t) => t.name), ["dev"]);
    html = await b.submit("/ui/conflux/team/remove", { conflux_id: c.conflux_id, team: team.id });
    assert.match(html, /Team removed/);
    assert.deepEqual(g.server!.store.teamsOfConflux(c.conflux_id), []);

    // Portal networks: approve and deny buttons reach the store.
    html = await b.submit("/ui/conflux/subnets/approve", {
      conflux_id: c.conflux_id,
      subnet: "192.0.2.0/24",
    });
    assert.match(html, /192\.0\.2\.0\/24 approved/);
    assert.match(html, /badge approved/);
    html = await b.submit("/ui/conflux/subnets/deny", {
      conflux_id: c.conflux_id,
      subnet: "192.0.2.0/24",
    });
    assert.match(html, /192\.0\.2\.0\/24 denied/);
    html = await b.submit("/ui/conflux/subnets/approve", {
      conflux_id: c.conflux_id,
      subnet: "nope",
    });
    assert.match(html, /Not done: subnets/);

    // Removal needs the confirmation box.
    html = await b.submit("/ui/conflux/remove", { conflux_id: c.conflux_id });
    assert.match(html, /tick the confirmation box/);
    html = await b.submit("/ui/conflux/remove", { conflux_id: c.conflux_id, confirm: "yes" });
    assert.match(html, /Conflux removed/);
    assert.match(html, /Showing 0 of 0 confluxes/);

    // Tokens: revoke.
    await b.get("/tokens");
    html = await b.submit("/ui/token/create", { realm_id: realm.id, expires_after: "1" });
    const tokenId = g.server!.store.listRegistrationTokens(null).at(-1)!.id;
    html = await b.submit("/ui/token/revoke", { token_id: tokenId });
    assert.match(html, /Token revoked/);
    assert.match(html, /revoked/);

    // The audit log: on the page, and at GET /audit for the admin (bearer API).
    await b.get("/activity");
    for (
      const a of [
        "auth.signup",
        "realm.create",
        "token.create",
        "conflux.team.add",
        "subnets.approve",
        "conflux.remove",
        "token.revoke",
      ]
    ) {
      assert.match(b.html, new RegExp(`<td>${a.replace(".", "\\.")}</td>`), a);
    }
    await b.get("/activity?action=team.");
    assert.doesNotMatch(b.html, /<td>realm\.create<\/td>/);
    const access = await g.client.login("owner@example.test", "a long passphrase");
    const audit = await fetch(`${g.url}/audit?action=conflux.`, {
      headers: { authorization: `Bearer ${access}` },
    });
    assert.equal(audit.status, 200);
    const entries = await audit.json() as Array<{ action: string; actor_email: string }>;
    assert.ok(entries.some((e) => e.action === "conflux.remove"));
    assert.ok(entries.every((e) => e.action.startsWith("conflux.")));
    assert.doesNotMatch(JSON.stringify(entries), /vnr_|vnu_|vnc_/, "no secret in the log");

    // Plane deletion (with confirmation).
    html = await b.submit("/ui/realm/delete", { realm_id: realm.id, confirm: "yes" });
    assert.match(html, /Plane deleted/);
    assert.equal(g.server!.store.listRealms(null).length, 0);
  } finally {
    await g.stop();
  }
});

Deno.test("portal: teams — invite, accept, members, remove; a non-admin gets 403 at /audit", async () => {
  const g = await startGuardian({ nats: false });
  try {
    const owner = new FormClient(g.url);
    await owner.get("/signup");
    await owner.post("/ui/signup", { email: "owner@example.test", password: "a long passphrase" });
    await owner.get("/teams");
    await owner.submit("/ui/team/create", { name: "ops" });
    const team =
      g.server!.store.teamsOfUser(g.server!.store.userByEmail("owner@example.test")!.id)[0];
    let html = await owner.submit("/ui/team/invite", {
      team_id: team.id,
      email: "mate@example.test",
    });
    assert.match(html, /mate@example\.test invited/);

    const mate = new FormClient(g.url);
    await mate.get("/signup");
    await mate.post("/ui/signup", { email: "mate@example.test", password: "another passphrase" });
    await mate.get("/teams");
    assert.match(mate.html, /Invitations to you/);
    const inv = /name="invitation_id" value="([^"]+)"/.exec(mate.html)![1];
    html = await mate.submit("/ui/team/accept", { invitation_id: inv });
    assert.match(html, /Invitation accepted/);
    assert.match(html, /ops <span class="muted">\(member/);

    await owner.get("/teams");
    assert.match(owner.html, /mate@example\.test <span class="muted">member/);
    const mateId = g.server!.store.userByEmail("mate@example.test")!.id;
    html = await owner.submit("/ui/team/member/remove", { team_id: team.id, user_id: mateId });
    assert.match(html, /Member removed/);
    assert.equal(g.server!.store.teamRole(team.id, mateId), null);

    const mateAccess = await g.client.login("mate@example.test", "another passphrase");
    const res = await fetch(`${g.url}/audit`, {
      headers: { authorization: `Bearer ${mateAccess}` },
    });
    assert.equal(res.status, 403);
    await res.body?.cancel();
    await mate.get("/activity");
    assert.match(mate.html, /Your actions/);
    assert.doesNotMatch(mate.html, /team\.create/, "a user sees only their own actions");
  } finally {
    await g.stop();
  }
});

Deno.test("portal: CSRF refusals change nothing; sign-out revokes the session; sign-in is rate-limited", async () => {
  const g = await startGuardian({
    nats: false,
    api: { authRateLimit: { burst: 4, perSecond: 0.01 } },
  });
  try {
    const b = new FormClient(g.url);
    await b.get("/signup");
    // Pre-sign-in forms need the double-submit token too.
    let res = await b.post(
      "/ui/signup",
      { email: "x@example.test", password: "a long passphrase" },
      {
        csrf: "0".repeat(48),
      },
    );
    assert.equal(res.status, 403);
    res = await b.post("/ui/signup", { email: "x@example.test", password: "a long passphrase" });
    assert.equal(res.status, 303);
    await b.get("/planes");
    const store = g.server!.store;
    const before = store.contentDigest();
    const refusals: Array<[string, Parameters<FormClient["post"]>[2]]> = [
      ["no token", { csrf: null }],
      ["wrong token", { csrf: "ab".repeat(32) }],
      ["cross-site fetch", { headers: { "sec-fetch-site": "cross-site" } }],
      ["foreign origin", { headers: { origin: "https://evil.example" } }],
    ];
    for (const [why, opts] of refusals) {
      res = await b.post("/ui/realm/create", { name: "x", subnet: "100.64.1.0/24" }, opts);
      assert.equal(res.status, 403, why);
    }
    res = await fetch(`${g.url}/ui/realm/create`, {
      method: "POST",
      headers: {
        "content-type": "application/json",
        cookie: `veilnet_session=${b.cookies.get("veilnet_session")}`,
      },
      body: JSON.stringify({ name: "x", subnet: "100.64.1.0/24" }),
    });
    assert.equal(res.status, 415, "JSON to a form endpoint");
    await res.body?.cancel();
    // A browser (Accept: text/html) gets the refusal as a page, with the same headers.
    const page = await fetch(`${g.url}/ui/realm/create`, {
      method: "POST",
      headers: {
        accept: "text/html",
        "content-type": "application/x-www-form-urlencoded",
        "sec-fetch-site": "cross-site",
      },
      body: "name=x&subnet=100.64.1.0%2F24",
    });
    assert.equal(page.status, 403);
    assert.match(page.headers.get("content-security-policy") ?? "", /frame-ancestors 'none'/);
    assert.match(await page.text(), /<p role="alert">cross-site request refused<\/p>/);
    assert.equal(store.contentDigest(), before, "a refused request changed the database");

    // Sign-out revokes the session: the old cookie no longer opens the portal.
    const old = b.cookies.get("veilnet_session")!;
    res = await b.post("/ui/logout", {});
    assert.equal(res.status, 303);
    const again = await fetch(`${g.url}/planes`, {
      headers: { cookie: `veilnet_session=${old}` },
      redirect: "manual",
    });
    assert.equal(again.status, 303, "the revoked session still opened a page");
    await again.body?.cancel();

    // Sign-in attempts share the API's per-IP limit.
    await b.get("/");
    let limited = false;
    for (let i = 0; i < 6 && !limited; i++) {
      await b.post("/ui/login", { email: "x@example.test", password: "wrong password" });
      await b.get("/");
      limited = /too many requests/.test(b.html);
      if (!limited) assert.match(b.html, /Sign-in failed: invalid email or password/);
    }
    assert.ok(limited, "sign-in was never rate-limited");
    // Unknown /ui paths and methods are JSON errors, not crashes.
    res = await fetch(`${g.url}/ui/nothing`, { method: "GET" });
    assert.equal(res.status, 405);
    await res.body?.cancel();
    res = await fetch(`${g.url}/no/such/page`);
    assert.equal(res.status, 404);
    await res.body?.cancel();
  } finally {
    await g.stop();
  }
});

Deno.test("portal: /events streams a change after each state change; closing the Guardian ends it", async () => {
  const g = await startGuardian({ nats: false });
  try {
    const anonymous = await fetch(`${g.url}/events`);
    assert.equal(anonymous.status, 401, "events need a session");
    await anonymous.body?.cancel();
    const b = new FormClient(g.url);
    await b.get("/signup");
    await b.post("/ui/signup", { email: "live@example.test", password: "a long passphrase" });
    await b.get("/planes");
    const res = await fetch(`${g.url}/events`, {
      headers: { cookie: `veilnet_session=${b.cookies.get("veilnet_session")}` },
    });
    assert.equal(res.status, 200);
    assert.match(res.headers.get("content-type") ?? "", /^text\/event-stream/);
    assert.match(res.headers.get("content-security-policy") ?? "", /frame-ancestors 'none'/);
    const reader = res.body!.pipeThrough(new TextDecoderStream()).getReader();
    let text = "";
    const until = async (re: RegExp) => {
      while (!re.test(text)) {
        const { value, done } = await reader.read();
        if (done) throw new Error(`stream ended before ${re}: ${text}`);
        text += value;
      }
    };
    await until(/event: hello\ndata: \d+\n\n/);
    await b.submit("/ui/team/create", { name: "live" });
    await until(/event: change\ndata: \d+\n\n/);
    assert.equal(g.server!.changes.listeners, 1);
    // Stopping the Guardian ends open streams instead of waiting for them forever.
    await g.stop();
    for (;;) {
      const { done } = await reader.read();
      if (done) break;
    }
  } finally {
    await g.stop();
  }
});
