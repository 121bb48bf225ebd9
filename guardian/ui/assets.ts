/**
 * The portal's stylesheet and its one small ES module, as strings in a module so that
 * `deno compile` embeds them. The script only enhances: every form works without it.
 *
 * - theme: light/dark follows the system; the toggle stores a choice in localStorage;
 * - live updates: an EventSource on /events; at each change the page is re-read and its live
 *   parts (`data-live-part`) replaced;
 * - forms marked `data-live` are sent with fetch and <main> is replaced (no full reload);
 * - copy buttons (`data-copy` = id of the element whose text is copied);
 * - confirmations: a checkbox `name=confirm` is required by the server anyway.
 *
 * @module
 */

/** /assets/portal.css */
export const PORTAL_CSS = `
:root { color-scheme: light dark; --bg:#f7f8fa; --fg:#14171c; --muted:#4a5160; --card:#fff;
  --line:#d4d8e0; --accent:#0b57d0; --accent-fg:#fff; --ok:#116b2e; --bad:#a31621; --chip:#e8edf7; }
@media (prefers-color-scheme: dark) { :root:not([data-theme=light]) { --bg:#101318; --fg:#e8eaee;
  --muted:#a9b0bd; --card:#1a1e25; --line:#343a46; --accent:#8ab4f8; --accent-fg:#0b1020;
  --ok:#6fd58e; --bad:#ff8a8a; --chip:#263042; } }
:root[data-theme=dark] { --bg:#101318; --fg:#e8eaee; --muted:#a9b0bd; --card:#1a1e25;
  --line:#343a46; --accent:#8ab4f8; --accent-fg:#0b1020; --ok:#6fd58e; --bad:#ff8a8a; --chip:#263042; }
* { box-sizing: border-box; }
body { margin:0; font:16px/1.5 system-ui, sans-serif; background:var(--bg); color:var(--fg); }
a { color:var(--accent); }
.skip { position:absolute; left:-999px; } .skip:focus { left:8px; top:8px; background:var(--card); padding:4px; }
header { display:flex; flex-wrap:wrap; gap:12px; align-items:center; padding:10px 16px;
  border-bottom:1px solid var(--line); background:var(--card); }
header .brand { font-weight:700; margin-right:auto; }
nav ul { display:flex; flex-wrap:wrap; gap:4px 14px; list-style:none; margin:0; padding:0; }
nav a[aria-current=page] { font-weight:700; text-decoration-thickness:3px; }
main { max-width:1100px; margin:0 auto; padding:16px; }
h1 { font-size:1.5rem; margin:.5rem 0 1rem; } h2 { font-size:1.2rem; margin:1.2rem 0 .5rem; }
section.card, article.card { background:var(--card); border:1px solid var(--line); border-radius:8px;
  padding:12px 14px; margin:0 0 12px; }
.cards { display:grid; grid-template-columns:repeat(auto-fill, minmax(300px, 1fr)); gap:12px; }
.muted { color:var(--muted); } .mono { font-family:ui-monospace, monospace; word-break:break-all; }
form.inline { display:inline; } .row { display:flex; flex-wrap:wrap; gap:8px; align-items:end; }
label { display:flex; flex-direction:column; font-size:.9rem; gap:2px; }
label.check { flex-direction:row; align-items:center; gap:6px; }
input, select, button { font:inherit; padding:6px 10px; border-radius:6px; border:1px solid var(--line);
  background:var(--bg); color:var(--fg); min-height:36px; }
button { cursor:pointer; background:var(--accent); color:var(--accent-fg); border-color:var(--accent); }
button.secondary { background:transparent; color:var(--accent); }
button.danger { background:var(--bad); border-color:var(--bad); color:#fff; }
:focus-visible { outline:3px solid var(--accent); outline-offset:2px; }
.chip { border-radius:999px; padding:2px 12px; min-height:32px; background:var(--chip); color:var(--fg);
  border:1px solid var(--line); }
.chip[aria-pressed=true] { background:var(--accent); color:var(--accent-fg); border-color:var(--accent); }
.status { font-weight:600; } .status.online { color:var(--ok); } .status.offline { color:var(--muted); }
.flash { padding:8px 12px; border-radius:6px; border:1px solid var(--line); margin-bottom:12px; }
.flash.error { border-color:var(--bad); color:var(--bad); } .flash.ok { border-color:var(--ok); }
table { border-collapse:collapse; width:100%; } th, td { text-align:left; padding:6px; border-bottom:1px solid var(--line);
  vertical-align:top; }
.table-wrap { overflow-x:auto; }
dl.facts { display:grid; grid-template-columns:max-content 1fr; gap:2px 10px; margin:6px 0; }
dl.facts dt { color:var(--muted); } dl.facts dd { margin:0; }
ul.subnets { list-style:none; padding:0; margin:4px 0; } ul.subnets li { display:flex; flex-wrap:wrap; gap:6px; align-items:center; margin:2px 0; }
.badge { font-size:.8rem; padding:0 6px; border-radius:4px; border:1px solid var(--line); }
.badge.approved { color:var(--ok); border-color:var(--ok); } .badge.pending { color:var(--muted); }
.badge.denied { color:var(--bad); border-color:var(--bad); }
@media (max-width: 600px) { main { padding:10px; } .cards { grid-template-columns:1fr; } header { padding:8px; } }
`;

/** /assets/portal.js */
export const PORTAL_JS = `
const root = document.documentElement;
const saved = localStorage.getItem("veilnet-theme");
if (saved === "light" || saved === "dark") root.dataset.theme = saved;
function effectiveTheme() {
  return root.dataset.theme ?? (matchMedia("(prefers-color-scheme: dark)").matches ? "dark" : "light");
}
function enhance(scope) {
  for (const b of scope.querySelectorAll("[data-copy]")) {
    b.hidden = false;
    b.addEventListener("click", async () => {
      const el = document.getElementById(b.dataset.copy);
      if (!el) return;
      try { await navigator.clipboard.writeText(el.textContent.trim()); b.textContent = "Copied"; }
      catch { const r = document.createRange(); r.selectNodeContents(el);
        const s = getSelection(); s.removeAllRanges(); s.addRange(r); b.textContent = "Selected: press Ctrl+C"; }
    });
  }
  for (const f of scope.querySelectorAll("form[data-live]")) {
    f.addEventListener("submit", async (e) => {
      e.preventDefault();
      const body = new URLSearchParams(new FormData(f, e.submitter));
      const res = await fetch(f.action, { method: "POST", body, credentials: "same-origin" });
      await swap(await res.text(), res.url);
    });
  }
}
async function swap(text, url) {
  const doc = new DOMParser().parseFromString(text, "text/html");
  const fresh = doc.getElementById("main");
  const main = document.getElementById("main");
  if (!fresh || !main) return;
  const focusedId = document.activeElement?.id;
  main.replaceChildren(...fresh.childNodes);
  if (url && url !== location.href && new URL(url).pathname === location.pathname) history.replaceState(null, "", url);
  enhance(main);
  if (focusedId) document.getElementById(focusedId)?.focus();
}
const toggle = document.getElementById("theme-toggle");
if (toggle) {
  toggle.hidden = false;
  const label = () => { toggle.setAttribute("aria-pressed", String(effectiveTheme() === "dark"));
    toggle.textContent = effectiveTheme() === "dark" ? "Light theme" : "Dark theme"; };
  label();
  toggle.addEventListener("click", () => {
    root.dataset.theme = effectiveTheme() === "dark" ? "light" : "dark";
    localStorage.setItem("veilnet-theme", root.dataset.theme);
    label();
  });
}
enhance(document);
if (document.body.dataset.live === "on" && "EventSource" in window) {
  // A change elsewhere re-reads the page and replaces only its live parts ([data-live-part]):
  // a one-time message or a form being filled in stays as it is.
  let busy = false, again = false;
  const refresh = async () => {
    if (busy) { again = true; return; }
    busy = true;
    try {
      const res = await fetch(location.href, { credentials: "same-origin", headers: { "x-veilnet-live": "1" } });
      if (!res.ok) return;
      const doc = new DOMParser().parseFromString(await res.text(), "text/html");
      for (const part of document.querySelectorAll("[data-live-part]")) {
        const fresh = doc.getElementById(part.id);
        const active = document.activeElement;
        if (!fresh || (active && part.contains(active) && /^(INPUT|SELECT|TEXTAREA)$/.test(active.tagName))) continue;
        const focusedId = active?.id;
        part.replaceChildren(...fresh.childNodes);
        enhance(part);
        if (focusedId) document.getElementById(focusedId)?.focus();
      }
      document.body.dataset.version = String(Number(document.body.dataset.version ?? 0) + 1);
    } finally { busy = false; if (again) { again = false; refresh(); } }
  };
  const es = new EventSource("/events");
  es.addEventListener("change", refresh);
  document.body.dataset.sse = "connecting";
  es.addEventListener("open", () => { document.body.dataset.sse = "open"; });
}
`;
