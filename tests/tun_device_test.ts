/**
 * TUN binding against the real kernel, each test in its own network namespace (root only):
 * ping answered by a TypeScript responder, addresses/routes/MTU checked with `ip -j`,
 * close during a pending read, and the typed errors.
 */
import assert from "node:assert/strict";
import { Helper, isRoot, mustRun, run, uniqueName, withNetns } from "./tun_support.ts";

const ignore = !isRoot();
const V4 = "100.64.77.1/24";
const V6 = "2001:2:0:77::1/64";

async function withServer(
  options: Record<string, unknown>,
  fn: (ns: string, h: Helper, name: string) => Promise<void>,
): Promise<void> {
  await withNetns(1, async ([ns]) => {
    const name = uniqueName("vnt");
    const h = Helper.spawn(ns, "serve", { name, ...options });
    try {
      const ready = await h.next();
      assert.equal(ready.ready, true, JSON.stringify(ready));
      await fn(ns, h, name);
      const closed = await h.request({ op: "close" });
      assert.equal(closed.ok, true);
      assert.equal((await h.finish()).code, 0);
    } catch (e) {
      await h.kill();
      throw e;
    }
  });
}

Deno.test({
  name: "tun: a TypeScript ICMP echo responder on the binding answers ping (IPv4 and IPv6)",
  ignore,
  async fn() {
    await withServer({ mtu: 1400, cidrs: [V4, V6] }, async (ns) => {
      // 100.64.77.2 is on the TUN's subnet but not local: the kernel sends the request down
      // the TUN, the responder turns it around.
      const p4 = await run([
        "ip",
        "netns",
        "exec",
        ns,
        "ping",
        "-c",
        "3",
        "-i",
        "0.2",
        "-W",
        "2",
        "100.64.77.2",
      ]);
      assert.ok(p4.success, p4.stdout + p4.stderr);
      assert.match(p4.stdout, /3 packets transmitted, 3 received/);
      const p6 = await run([
        "ip",
        "netns",
        "exec",
        ns,
        "ping",
        "-6",
        "-c",
        "2",
        "-i",
        "0.2",
        "-W",
        "2",
        "2001:2:0:77::2",
      ]);
      assert.ok(p6.success, p6.stdout + p6.stderr);
      assert.match(p6.stdout, /2 packets transmitted, 2 received/);
      // Large payload near the MTU also goes through the batch buffers intact.
      const big = await run([
        "ip",
        "netns",
        "exec",
        ns,
        "ping",
        "-c",
        "2",
        "-i",
        "0.2",
        "-W",
        "2",
        "-s",
        "1372",
        "-M",
        "do",
        "100.64.77.9",
      ]);
      assert.ok(big.success, big.stdout + big.stderr);
    });
  },
});

interface IpAddr {
  ifname: string;
  mtu: number;
  flags: string[];
  addr_info: { family: string; local: string; prefixlen: number }[];
}

interface IpRoute {
  dst: string;
  dev: string;
}

async function addrOf(ns: string, name: string): Promise<IpAddr> {
  const out = await mustRun(["ip", "netns", "exec", ns, "ip", "-j", "addr", "show", "dev", name]);
  return (JSON.parse(out) as IpAddr[])[0];
}

async function routesOf(ns: string, family: "-4" | "-6", name: string): Promise<string[]> {
  const out = await mustRun([
    "ip",
    "netns",
    "exec",
    ns,
    "ip",
    family,
    "-j",
    "route",
    "show",
    "dev",
    name,
  ]);
  return (JSON.parse(out) as IpRoute[]).map((r) => r.dst);
}

Deno.test({
  name: "tun: addresses, routes, MTU and link state are set as asked (ip -j addr / route)",
  ignore,
  async fn() {
    await withServer(
      { mtu: 1380, cidrs: [V4, V6], routes: ["100.64.0.0/10", "2001:2:1::/48"] },
      async (ns, h, name) => {
        let a = await addrOf(ns, name);
        assert.equal(a.mtu, 1380);
        assert.ok(a.flags.includes("UP"), a.flags.join());
        const addrs = a.addr_info.map((i) => `${i.local}/${i.prefixlen}`);
        assert.ok(addrs.includes(V4), addrs.join());
        assert.ok(addrs.includes(V6), addrs.join());
        assert.ok((await routesOf(ns, "-4", name)).includes("100.64.0.0/10"));
        assert.ok((await routesOf(ns, "-6", name)).includes("2001:2:1::/48"));

        // A portal subnet arrives later, then goes away.
        assert.deepEqual(await h.request({ op: "addRoute", cidr: "198.18.40.0/24" }), { ok: true });
        assert.ok((await routesOf(ns, "-4", name)).includes("198.18.40.0/24"));
        assert.deepEqual(await h.request({ op: "addRoute", cidr: "198.18.40.0/24" }), { ok: true });
        assert.deepEqual(await h.request({ op: "removeRoute", cidr: "198.18.40.0/24" }), {
          ok: true,
        });
        assert.ok(!(await routesOf(ns, "-4", name)).includes("198.18.40.0/24"));
        assert.deepEqual(await h.request({ op: "removeRoute", cidr: "2001:2:1::/48" }), {
          ok: true,
        });
        assert.ok(!(await routesOf(ns, "-6", name)).includes("2001:2:1::/48"));

        // Re-addressing replaces the primary IPv4 address; IPv6 ones can be removed.
        assert.equal((await h.request({ op: "setAddress", cidr: "100.64.78.5/16" })).ok, true);
        assert.equal((await h.request({ op: "removeAddress", cidr: V6 })).ok, true);
        const m = await h.request({ op: "setMtu", mtu: 1280 });
        assert.deepEqual(m, { ok: true, mtu: 1280 });
        a = await addrOf(ns, name);
        const now = a.addr_info.map((i) => `${i.local}/${i.prefixlen}`);
        assert.ok(now.includes("100.64.78.5/16"), now.join());
        assert.ok(!now.includes(V4) && !now.includes(V6), now.join());
        assert.equal(a.mtu, 1280);

        assert.deepEqual(await h.request({ op: "setUp", up: false }), { ok: true });
        assert.ok(!(await addrOf(ns, name)).flags.includes("UP"));
        assert.deepEqual(await h.request({ op: "setUp", up: true }), { ok: true });
        assert.ok((await addrOf(ns, name)).flags.includes("UP"));
      },
    );
  },
});

Deno.test({
  name: "tun: close during a pending read returns, the read rejects with closed, device is gone",
  ignore,
  async fn() {
    await withNetns(1, async ([ns]) => {
      const name = uniqueName("vnc");
      const h = Helper.spawn(ns, "serve", { name, cidrs: [V4] });
      try {
        assert.equal((await h.next()).ready, true);
        // The responder's read waits with no timeout: only the eventfd wake can end it.
        // A liveness bound, not a performance assertion: a hang fails the test, not slowness.
        const deadline = new Promise<"hung">((r) => {
          const t = setTimeout(() => r("hung"), 5000);
          Deno.unrefTimer(t);
        });
        const closed = await Promise.race([h.request({ op: "close" }), deadline]);
        assert.notEqual(closed, "hung", "close() did not return with a read pending");
        const c = closed as Record<string, unknown>;
        assert.equal(c.ok, true);
        assert.equal(c.readEnd, "closed");
        console.log(`close with a pending read took ${(c.closeMs as number).toFixed(2)} ms`);
        assert.equal((await h.finish()).code, 0);
        const link = await run(["ip", "netns", "exec", ns, "ip", "link", "show", name]);
        assert.ok(!link.success, "the non-persistent device disappears with its descriptor");
      } catch (e) {
        await h.kill();
        throw e;
      }
    });
  },
});

Deno.test({
  name: "tun: bad inputs and refused operations give typed TunError codes",
  ignore,
  async fn() {
    await withServer({ cidrs: [V4] }, async (ns, h, name) => {
      const code = async (cmd: Record<string, unknown>) => (await h.request(cmd)).code;
      assert.equal(await code({ op: "setAddress", cidr: "100.64.77.300/24" }), "invalid-argument");
      assert.equal(await code({ op: "setAddress", cidr: "100.64.77.1" }), "invalid-argument");
      assert.equal(await code({ op: "setAddress", cidr: "2001:2::1::2/64" }), "invalid-argument");
      assert.equal(await code({ op: "addRoute", cidr: "100.64.77.1/24" }), "invalid-argument");
      assert.equal(await code({ op: "addRoute", cidr: "100.64.0.0/33" }), "invalid-argument");
      assert.equal(await code({ op: "setMtu", mtu: 20 }), "invalid-argument");
      assert.equal(await code({ op: "removeRoute", cidr: "198.18.99.0/24" }), "not-found");
      assert.equal(await code({ op: "readTwice" }), "busy");
      // The same name again (not multi-queue) and an existing non-TUN interface: busy.
      assert.equal(await code({ op: "open", name }), "busy");
      assert.equal(await code({ op: "open", name: "lo" }), "busy");
      assert.equal(await code({ op: "open", name: "bad/name" }), "invalid-argument");
      assert.equal(await code({ op: "open", name: "x".repeat(16) }), "invalid-argument");
      // Still fully working afterwards.
      const p = await run(["ip", "netns", "exec", ns, "ping", "-c", "1", "-W", "2", "100.64.77.2"]);
      assert.ok(p.success, p.stdout);
    });

    await withNetns(1, async ([ns]) => {
      // Root without CAP_NET_ADMIN may open /dev/net/tun but not create an interface.
      const noCap = Helper.spawn(ns, "serve", { name: uniqueName("vnp") }, {
        wrap: ["setpriv", "--inh-caps=-net_admin", "--bounding-set=-net_admin", "--"],
      });
      const r = await noCap.next();
      await noCap.finish();
      assert.equal(r.ready, false);
      assert.equal(r.code, "permission", JSON.stringify(r));

      // A system without the TUN driver: hide /dev/net in a private mount namespace.
      const noDev = Helper.spawn(ns, "serve", { name: uniqueName("vnd") }, {
        wrap: [
          "unshare",
          "--mount",
          "--propagation",
          "private",
          "sh",
          "-c",
          'mount -t tmpfs none /dev/net && exec "$@"',
          "sh",
        ],
      });
      const d = await noDev.next();
      await noDev.finish();
      assert.equal(d.ready, false);
      assert.equal(d.code, "no-device", JSON.stringify(d));
    });
  },
});

Deno.test({
  name: "tun: multiQueue opens a second queue on the same interface",
  ignore,
  async fn() {
    await withServer({ cidrs: [V4], multiQueue: true }, async (ns, h, name) => {
      const second = await h.request({ op: "open", name, multiQueue: true });
      assert.deepEqual(second, { ok: true, name });
      // Without the flag the same name is refused: the device is multi-queue.
      assert.equal((await h.request({ op: "open", name })).code, "busy");
      const out = await mustRun([
        "ip",
        "netns",
        "exec",
        ns,
        "ip",
        "-d",
        "-j",
        "link",
        "show",
        name,
      ]);
      const info = JSON.parse(out)[0].linkinfo.info_data;
      assert.equal(info.type, "tun");
      assert.equal(info.pi, false);
      assert.equal(info.multi_queue, true);
      assert.equal(info.numqueues, 2);
    });
  },
});
