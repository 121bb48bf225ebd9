/**
 * Issue 14 in a real browser (Debian's chromium driven by playwright-core over pipes), end to
 * end with a real Guardian, nats-server and real conflux nodes in network namespaces: sign up →
 * create a plane → a team → registration tokens (the register line read off the page) → the
 * nodes register and run → the portal's card turns online by itself (Server-Sent Events) → a
 * click on a team chip → `veilnet-conflux info` on the node shows the team → approve the
 * portal's LAN → the teammate routes it → remove the conflux → the Guardian sees it go offline.
 * Every page passes an axe-core check (no serious or critical violation); screenshots of the
 * main pages are written to docs/ when PORTAL_SCREENSHOTS=1.
 *
 * The browser runs inside the lab's hub namespace (a wrapper runs it under `ip netns exec`), so
 * it reaches the Guardian at its lab address and nothing leaves the namespaces.
 */
import assert from "node:assert/strict";
import { join } from "node:path";
import { chromium, type Page } from "playwright-core";
import axe from "axe-core";
import { GUARDIAN_URL, type Lab } from "../demo/lab.ts";
import { labTest } from "./helpers/lab_test.ts";

/** The page's document, in functions that run in the browser (page.evaluate). */
// deno-lint-ignore no-explicit-any
declare const document: any;

const CHROMIUM = "/usr/bin/chromium";
const REPO = new URL("..", import.meta.url).pathname;
const LAN = "198.19.77.0/24";
const H1 = 0, H2 = 1;
const SHOTS = Deno.env.get("PORTAL_SCREENSHOTS") === "1";

function chromiumPresent(): boolean {
  try {
    return Deno.statSync(CHROMIUM).isFile;
  } catch {
    return false;
  }
}

/** axe-core on the current page: no serious or critical violation. */
async function accessible(page: Page, what: string): Promise<void> {
  // Evaluated over the DevTools protocol, which the page's CSP (script-src 'self') allows.
  await page.evaluate(`${axe.source}\n;void 0`);
  const violations = await page.evaluate(async () => {
    // deno-lint-ignore no-explicit-any
    const r = await (globalThis as any).axe.run(document, { resultTypes: ["violations"] });
    // deno-lint-ignore no-explicit-any
    return r.violations.filter((v: any) => v.impact === "serious" || v.impact === "critical")
      // deno-lint-ignore no-explicit-any
      .map((v: any) => `${v.id}: ${v.help} (${v.nodes.map((n: any) => n.target).join(" ")})`);
  });
  assert.deepEqual(violations, [], `${what}: accessibility violations`);
}

async function shot(page: Page, name: string): Promise<void> {
  if (SHOTS) await page.screenshot({ path: join(REPO, "docs", `${name}.png`), fullPage: true });
}

async function routed(lab: Lab, i: number, cidr: string, timeoutMs: number): Promise<boolean> {
  const deadline = Date.now() + timeoutMs;
  do {
    const r = await lab.exec(lab.namespaces[i], ["ip", "-4", "route", "show", cidr], {
      check: false,
    });
    if (r.stdout.includes("veilnet0")) return true;
    await new Promise((r) => setTimeout(r, 200));
  } while (Date.now() < deadline);
  return false;
}

/** `veilnet-conflux info --json` run on node `i`. */
async function cliInfo(lab: Lab, i: number): Promise<{ teams: string[] }> {
  const r = await lab.exec(lab.namespaces[i], [
    Deno.execPath(),
    "run",
    "-A",
    join(REPO, "main.ts"),
    "info",
    "--config-dir",
    lab.configDir(i),
    "--json",
  ]);
  return JSON.parse(r.stdout);
}

if (!chromiumPresent()) {
  Deno.test({ name: "portal in a browser (needs /usr/bin/chromium)", ignore: true, fn() {} });
} else {
  labTest("portal in a browser: sign up to a removed conflux, end to end", 2, async (lab) => {
    await lab.addLan(H2, "198.19.77.1", "198.19.77.2");
    await lab.startServices({ sessionTtlSec: 600 });
    const wrapper = join(lab.dir, "chromium-in-hub");
    await Deno.writeTextFile(
      wrapper,
      `#!/bin/sh\nexec ip netns exec ${lab.hub} ${CHROMIUM} "$@"\n`,
    );
    await Deno.chmod(wrapper, 0o755);
    const browser = await chromium.launch({
      executablePath: wrapper,
      args: [
        "--no-sandbox",
        "--disable-gpu",
        "--disable-quic",
        "--no-first-run",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
      ],
    });
    try {
      const context = await browser.newContext({ viewport: { width: 1200, height: 900 } });
      const page = await context.newPage();
      page.setDefaultTimeout(20_000);
      await page.goto(`${GUARDIAN_URL}/`);
      await accessible(page, "sign-in");
      await shot(page, "portal-sign-in");
      // Keyboard: the first Tab reaches the skip link.
      await page.keyboard.press("Tab");
      assert.equal(
        await page.evaluate(() => document.activeElement?.textContent),
        "Skip to content",
      );
      await page.getByRole("link", { name: "Create an account" }).click();
      await page.getByLabel("Email").fill("owner@example.org");
      await page.getByLabel("Password").fill("a long passphrase");
      await page.getByRole("button", { name: "Create an account" }).click();
      await page.waitForURL(/\/planes$/);

      await page.getByLabel("Name").fill("home");
      await page.getByLabel("Subnet (inside 100.64.0.0/10)").fill("100.64.1.0/24");
      await page.getByRole("button", { name: "Create plane" }).click();
      await page.getByText("Plane home created").waitFor();

      await page.getByRole("link", { name: "Teams" }).click();
      await page.getByLabel("Name").fill("dev");
      await page.getByRole("button", { name: "Create team" }).click();
      await page.getByText("Team dev created").waitFor();
      await accessible(page, "teams");
      await shot(page, "portal-teams");

      // Two registration tokens, read off the page as the user would copy them.
      const lines: string[] = [];
      for (const tag of ["h1", "h2"]) {
        await page.getByRole("link", { name: "Registration tokens" }).click();
        await page.getByLabel("Tag (optional)").fill(tag);
        await page.getByRole("button", { name: "Create token" }).click();
        const line = await page.locator("#register-line").textContent();
        assert.match(
          line ?? "",
          new RegExp(`^veilnet-conflux register -t vnr_\\S+ -g ${GUARDIAN_URL}$`),
        );
        await page.getByRole("button", { name: "Copy command" }).waitFor(); // shown by the script
        lines.push(line!);
      }
      await accessible(page, "tokens");
      await shot(page, "portal-tokens");
      // Each host runs the line shown, in the foreground (`--debug`: no init system in a lab),
      // with where to keep its files, its tag and teams: h1 joins team dev; h2, the portal,
      // joins no team (the chip adds it later).
      const register = async (i: number, line: string, tag: string, flags: string[]) => {
        const words = line.split(" ");
        assert.equal(words[0], "veilnet-conflux");
        await Deno.mkdir(lab.configDir(i), { recursive: true });
        const node = lab.spawn(`node${i}`, lab.namespaces[i], [
          Deno.execPath(),
          "run",
          "-A",
          join(REPO, "main.ts"),
          ...words.slice(1),
          "--debug",
          "--config-dir",
          lab.configDir(i),
          "--tag",
          tag,
          "--no-dns",
          ...flags,
        ]);
        await node.waitFor(/running in the foreground/, 60_000);
        const saved = JSON.parse(
          await Deno.readTextFile(join(lab.configDir(i), "conflux.json")),
        );
        return { confluxId: String(saved.conflux_id), overlayIp: String(saved.overlay_ip) };
      };
      await page.getByRole("link", { name: "Planes" }).click();
      await page.waitForFunction(() => document.body.dataset.sse === "open");
      const h = await Promise.all([
        register(H1, lines[0], "h1", ["--teams", "dev"]),
        register(H2, lines[1], "h2", ["--portal"]),
      ]);
      // Their cards appear and turn online without a reload: the SSE stream told the page.
      const card = (i: number) => page.locator(`[data-conflux="${h[i].confluxId}"]`);
      await page.locator(`[data-conflux="${h[H2].confluxId}"][data-online="true"]`).waitFor({
        timeout: 30_000,
      });
      await page.locator(`[data-conflux="${h[H1].confluxId}"][data-online="true"]`).waitFor({
        timeout: 30_000,
      });
      assert.deepEqual((await cliInfo(lab, H2)).teams, []);

      // A click on the chip: the running conflux holds the team within seconds, no restart.
      const started = Date.now();
      await card(H2).getByRole("button", { name: "Team dev (not held: add)" }).click();
      await card(H2).getByRole("button", { name: "Team dev (held: remove)" }).waitFor();
      let teams: string[] = [];
      while (Date.now() - started < 10_000) {
        teams = (await lab.info(H2)).teams;
        if (teams.includes("dev")) break;
        await new Promise((r) => setTimeout(r, 100));
      }
      console.log(`chip click → node holds the team: ${Date.now() - started} ms`);
      assert.deepEqual((await cliInfo(lab, H2)).teams, ["dev"], "veilnet-conflux info");

      // The portal's LAN: advertised, pending; approve it on the card; the teammate routes it.
      const approve = card(H2).getByRole("button", { name: `Approve ${LAN}` });
      await approve.waitFor({ timeout: 30_000 });
      await accessible(page, "planes");
      await shot(page, "portal-planes");
      // By keyboard: focus the button, press Enter.
      await approve.focus();
      await page.keyboard.press("Enter");
      await card(H2).locator(".badge.approved").first().waitFor();
      assert.ok(await routed(lab, H1, LAN, 15_000), "h1 never routed the approved LAN");
      assert.ok(await lab.reachable(H1, "198.19.77.2", 20_000), "h1 cannot reach the LAN");

      // Dark theme and a phone-sized screen.
      await page.getByRole("button", { name: "Dark theme" }).click();
      assert.equal(await page.evaluate(() => document.documentElement.dataset.theme), "dark");
      await accessible(page, "planes (dark)");
      await page.setViewportSize({ width: 390, height: 844 });
      const overflow = await page.evaluate(() =>
        document.documentElement.scrollWidth > document.documentElement.clientWidth + 1
      );
      assert.equal(overflow, false, "the planes page scrolls sideways on a phone");
      await shot(page, "portal-planes-phone-dark");
      await page.getByRole("button", { name: "Light theme" }).click();
      await page.setViewportSize({ width: 1200, height: 900 });

      // Remove the conflux: confirmation, then it is gone and the Guardian sees it offline.
      const guardian = lab.procs.find((p) => p.name === "guardian")!;
      await card(H2).locator("summary", { hasText: "Remove conflux" }).click();
      await card(H2).getByLabel(/Yes, remove h2/).check();
      await card(H2).getByRole("button", { name: "Remove conflux" }).click();
      await page.getByText("Conflux removed").waitFor();
      assert.equal(await card(H2).count(), 0);
      await guardian.waitFor(new RegExp(`conflux offline.*${h[H2].confluxId}`), 15_000);

      await page.getByRole("link", { name: "Audit log" }).click();
      for (const a of ["conflux.team.add", "subnets.approve", "conflux.remove"]) {
        await page.getByRole("cell", { name: a, exact: true }).first().waitFor();
      }
      await accessible(page, "audit log");
      await shot(page, "portal-audit");
      await page.getByRole("button", { name: "Sign out" }).click();
      await page.waitForURL(`${GUARDIAN_URL}/`);
      await context.close();
    } catch (err) {
      // What the browser showed, for the failure report.
      for (const p of browser.contexts().flatMap((c) => c.pages())) {
        console.error(`page ${p.url()}:\n${await p.locator("body").innerText().catch(() => "?")}`);
      }
      console.error(lab.procs.find((p) => p.name === "guardian")?.tail(40));
      throw err;
    } finally {
      await browser.close();
    }
  });
}
