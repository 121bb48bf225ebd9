/**
 * Names in a namespace lab (issue 15): n1 and n2 share a team, n3 does not. Each node answers
 * DNS on its own overlay IP for its own host only. On n1, `n2.veilnet.internal` resolves
 * through n1's resolver, n3's name does not until n3 joins the team, an unknown name is
 * NXDOMAIN, a name outside the zones REFUSED; with `--dns-config resolv.conf` `getent hosts`
 * works, and the namespace's resolv.conf (`ip netns exec` bind-mounts /etc/netns/NS/resolv.conf)
 * is byte-identical after a stop, and after `kill -9` once the node starts again.
 */
import assert from "node:assert/strict";
import { fileURLToPath } from "node:url";
import type { Lab } from "../demo/lab.ts";
import { labTest } from "./helpers/lab_test.ts";

const ASK = fileURLToPath(new URL("./dns_ask.ts", import.meta.url));
const ORIGINAL = "# lab namespace resolver (tests/dns_netns_test.ts)\n" +
  "nameserver 198.18.0.1\noptions timeout:1 attempts:1\n";

interface Answer {
  timeout?: boolean;
  rcode?: number;
  aa?: boolean;
  answers?: { type: number; ttl: number; data: unknown }[];
  authorities?: number[];
  deno?: unknown;
}

async function ask(lab: Lab, i: number, server: string, name: string, type = "A", ms = 2000) {
  const r = await lab.exec(lab.namespaces[i], [
    Deno.execPath(),
    "run",
    "-A",
    ASK,
    server,
    name,
    type,
    String(ms),
  ]);
  return JSON.parse(r.stdout.trim().split("\n").pop()!) as Answer;
}

/** Asks until `ok` holds (the node's subscriptions take a moment); returns the last answer. */
async function askUntil(
  lab: Lab,
  i: number,
  server: string,
  name: string,
  ok: (a: Answer) => boolean,
  timeoutMs = 20_000,
): Promise<Answer> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const a = await ask(lab, i, server, name);
    if (ok(a) || Date.now() > deadline) return a;
    await new Promise((r) => setTimeout(r, 500));
  }
}

const NOERROR = 0, NXDOMAIN = 3, REFUSED = 5;

labTest(
  "dns: teammates' names on each node's own resolver, live team changes, resolv.conf restored byte for byte",
  3,
  async (lab) => {
    const made: string[] = [];
    const hadNetnsDir = await Deno.stat("/etc/netns").then(() => true, () => false);
    try {
      for (const ns of lab.namespaces) {
        const dir = `/etc/netns/${ns}`;
        await Deno.mkdir(dir, { recursive: true });
        made.push(dir);
        await Deno.writeTextFile(`${dir}/resolv.conf`, ORIGINAL);
      }
      const conf = (i: number) => Deno.readTextFile(`/etc/netns/${lab.namespaces[i]}/resolv.conf`);
      await lab.startServices();
      await lab.createTeam("dev");
      await lab.createTeam("ops");
      const h = [
        await lab.register("n1", ["dev"]),
        await lab.register("n2", ["dev"]),
        await lab.register("n3", ["ops"]),
      ];
      const resolvConf = { flags: ["--dns-config", "resolv.conf"] };
      const n1 = await lab.startNode(0, h[0], resolvConf);
      await lab.startNode(1, h[1]);
      await lab.startNode(2, h[2]);
      const ip = (i: number) => h[i].overlayIp;

      // n1's resolv.conf: our marked line first, the rest as it was; n2's (auto, no resolved)
      // is left alone.
      const edited = await conf(0);
      assert.equal(edited.split("\n")[0].split(" #")[0], `nameserver ${ip(0)}`);
      assert.ok(edited.endsWith(ORIGINAL), edited);
      assert.equal(await conf(1), ORIGINAL);
      const info = await lab.info(0);
      assert.equal(info.dns?.host, "resolv.conf", JSON.stringify(info.dns));
      assert.equal(info.dns?.server, `${ip(0)}:53`);
      assert.equal((await lab.info(1)).dns?.host, "none");

      // n2 resolves on n1, through n1's overlay IP, with our codec and with hickory-dns.
      const a = await askUntil(lab, 0, ip(0), "n2.veilnet.internal", (x) => x.rcode === NOERROR);
      assert.equal(a.rcode, NOERROR, JSON.stringify(a));
      assert.ok(a.aa);
      assert.deepEqual(a.answers?.map((x) => x.data), [ip(1)]);
      assert.deepEqual(a.deno, [ip(1)]);
      const byId = await ask(lab, 0, ip(0), `${h[1].confluxId}.veilnet.internal`);
      assert.deepEqual(byId.answers?.map((x) => x.data), [ip(1)]);
      const ptr = await ask(
        lab,
        0,
        ip(0),
        ip(1).split(".").reverse().join(".") + ".in-addr.arpa",
        "PTR",
      );
      assert.deepEqual(ptr.answers?.map((x) => x.data), ["n2.veilnet.internal"]);
      const v6 = await ask(lab, 0, ip(0), "n2.veilnet.internal", "AAAA");
      assert.equal(v6.rcode, NOERROR);
      assert.deepEqual(v6.answers, []);
      // n3 shares no team with n1; unknown names do not exist; other zones are refused.
      const hidden = await ask(lab, 0, ip(0), "n3.veilnet.internal");
      assert.equal(hidden.rcode, NXDOMAIN, JSON.stringify(hidden));
      assert.equal((await ask(lab, 0, ip(0), "nobody.veilnet.internal")).rcode, NXDOMAIN);
      assert.equal((await ask(lab, 0, ip(0), "example.com")).rcode, REFUSED);
      // Only n1's own host is answered: n2 asking n1's resolver over the overlay gets nothing.
      assert.ok((await ask(lab, 1, ip(0), "n2.veilnet.internal", "A", 1500)).timeout);

      // getent through glibc and the edited resolv.conf.
      const ge = await lab.exec(lab.namespaces[0], ["getent", "hosts", "n2.veilnet.internal"], {
        check: false,
      });
      assert.equal(ge.code, 0, ge.stderr);
      assert.match(
        ge.stdout,
        new RegExp(`^${ip(1).replaceAll(".", "\\.")}\\s+n2\\.veilnet\\.internal`),
      );
      assert.equal(
        (await lab.exec(lab.namespaces[0], ["getent", "hosts", "n3.veilnet.internal"], {
          check: false,
        })).code,
        2,
      );

      // n3 joins dev: its name resolves on n1 within seconds.
      const t0 = Date.now();
      await lab.addTeam(h[2].confluxId, "dev");
      const joined = await askUntil(
        lab,
        0,
        ip(0),
        "n3.veilnet.internal",
        (x) => x.rcode === NOERROR,
      );
      assert.deepEqual(joined.answers?.map((x) => x.data), [ip(2)], JSON.stringify(joined));
      assert.ok(Date.now() - t0 < 15_000, `n3 resolved after ${Date.now() - t0} ms`);
      // n3 leaves dev again (the Guardian rotates dev's key): its name goes within seconds.
      const t1 = Date.now();
      await lab.removeTeam(h[2].confluxId, "dev");
      const left = await askUntil(
        lab,
        0,
        ip(0),
        "n3.veilnet.internal",
        (x) => x.rcode === NXDOMAIN,
      );
      assert.equal(left.rcode, NXDOMAIN, JSON.stringify(left));
      assert.ok(Date.now() - t1 < 15_000, `n3 still resolved after ${Date.now() - t1} ms`);

      // Stop: exactly our line goes.
      await lab.stopNode(0);
      assert.equal(await conf(0), ORIGINAL);
      // kill -9 leaves the line; the next start removes it (here without --dns-config, so
      // nothing is added back), and the file is as it was.
      const again = await lab.startNode(0, h[0], resolvConf);
      assert.notEqual(await conf(0), ORIGINAL);
      Deno.kill(again.child.pid, "SIGKILL");
      await again.child.status;
      assert.ok((await conf(0)).includes(`nameserver ${ip(0)}`), "the crash left our line");
      await lab.startNode(0, h[0]);
      assert.equal(await conf(0), ORIGINAL);
      await lab.stopNode(0);
      // Killed and restarted with --dns-config resolv.conf: one line of ours, not two.
      const third = await lab.startNode(0, h[0], resolvConf);
      Deno.kill(third.child.pid, "SIGKILL");
      await third.child.status;
      await lab.startNode(0, h[0], resolvConf);
      assert.equal((await conf(0)).split(`nameserver ${ip(0)}`).length, 2, await conf(0));
      await lab.stopNode(0);
      assert.equal(await conf(0), ORIGINAL);
      assert.ok(n1.lines.some((l) => l.includes("names: resolver running")));
    } finally {
      for (const dir of made) await Deno.remove(dir, { recursive: true }).catch(() => {});
      if (!hadNetnsDir) await Deno.remove("/etc/netns").catch(() => {});
    }
  },
);
