/**
 * The topology lab (demo/topology.ts) without nodes or services: isolated bridge ports reach the
 * hub and nothing else, data links come after eth0 and go down and up on demand, and the two NAT
 * kinds translate as named (a cone NAT keeps one public port for every destination, a symmetric
 * NAT draws one per destination). Every namespace is gone afterwards.
 *
 * @module
 */
import assert from "node:assert/strict";
import { HUB_IP } from "../demo/lab.ts";
import type { Topology } from "../demo/topology.ts";
import { topologyTest } from "./helpers/lab_test.ts";

const ECHO_PORT = 47000;
const CLIENT_PORT = 40000;

/**
 * UDP echo, run in a namespace with `deno eval`: answers each datagram with the source address
 * and port it arrived from, so the sender learns what NAT made of it.
 */
const UDP_ECHO = `
const [hostname, port] = Deno.args;
const conn = Deno.listenDatagram({ transport: "udp", hostname, port: Number(port) });
console.log("udp echo ready");
for await (const [, addr] of conn) {
  const a = addr as Deno.NetAddr;
  await conn.send(new TextEncoder().encode(a.hostname + ":" + a.port), a);
}
`;

/**
 * UDP client: one socket on port args[0] sends to each "host:port" of the other args (at most
 * three tries each) and prints JSON {local, seen: {destination: source the echo saw}}.
 */
const UDP_CLIENT = `
const [localPort, ...dests] = Deno.args;
const conn = Deno.listenDatagram({ transport: "udp", hostname: "0.0.0.0", port: Number(localPort) });
const seen: Record<string, string> = {};
const pending = new Set(dests);
const received = (async () => {
  for await (const [data, addr] of conn) {
    const a = addr as Deno.NetAddr;
    const from = a.hostname + ":" + a.port;
    if (pending.delete(from)) seen[from] = new TextDecoder().decode(data);
    if (pending.size === 0) return;
  }
})();
for (let tries = 0; tries < 3 && pending.size > 0; tries++) {
  for (const d of pending) {
    const [hostname, port] = d.split(":");
    await conn.send(new TextEncoder().encode("who am i"), { transport: "udp", hostname, port: Number(port) });
  }
  await Promise.race([received, new Promise((r) => setTimeout(r, 500))]);
}
console.log(JSON.stringify({ local: Number(localPort), seen }));
Deno.exit(0);
`;

/** `deno eval` of `code` with `args`, as an argv for `ip netns exec`. */
function denoEval(code: string, args: string[]): string[] {
  return [Deno.execPath(), "eval", "--no-config", "--unstable-net", code, ...args];
}

/** Replies to a short ping from host `i` to `ip` (0 when unreachable; no route fails at once). */
async function replies(t: Topology, i: number, ip: string): Promise<number> {
  return (await t.ping(i, ip, { count: 2, intervalS: 0.2, waitS: 1 })).received;
}

/** Interface names of host `i` in `ip -o link` order (the peer suffix "@ifN" dropped). */
async function interfaces(t: Topology, i: number): Promise<string[]> {
  const r = await t.execHost(i, ["ip", "-o", "link"]);
  return r.stdout.trim().split("\n").map((l) => l.split(": ")[1].split("@")[0]);
}

topologyTest(
  "topology: isolated ports reach only the hub; data links are separate paths",
  { hosts: 4, links: [[0, 1], [1, 2], [0, 3], [3, 2]] },
  async (t) => {
    assert.deepEqual(t.access, ["isolated", "isolated", "isolated", "isolated"]);
    assert.equal(
      (await t.exec(t.hub, ["cat", "/proc/sys/net/ipv4/ip_forward"])).stdout.trim(),
      "0",
    );
    assert.deepEqual(await interfaces(t, 0), ["lo", "eth0", "l0", "l2"]);
    assert.deepEqual(await interfaces(t, 1), ["lo", "eth0", "l0", "l1"]);
    assert.deepEqual(await interfaces(t, 2), ["lo", "eth0", "l1", "l3"]);
    assert.deepEqual(await interfaces(t, 3), ["lo", "eth0", "l2", "l3"]);
    assert.equal(t.hostAddress(1), "198.18.0.11");
    assert.equal(t.linkAddress(3, 1), "198.18.103.2");

    const [hub, eth0Of1, link0, link2, ...host2] = await Promise.all([
      replies(t, 0, HUB_IP),
      replies(t, 0, t.hostAddress(1)),
      replies(t, 0, t.linkAddress(0, 1)),
      replies(t, 0, t.linkAddress(2, 1)),
      // Host 2 on every address it has: eth0 (isolated), link 1 (to host 1), link 3 (to host 3).
      replies(t, 0, t.hostAddress(2)),
      replies(t, 0, t.linkAddress(1, 1)),
      replies(t, 0, t.linkAddress(3, 1)),
    ]);
    assert.ok(hub > 0, "host 0 reaches the hub");
    assert.equal(eth0Of1, 0, "host 0 reaches host 1 over the isolated bridge");
    assert.ok(link0 > 0, "host 0 reaches host 1 over link 0");
    assert.ok(link2 > 0, "host 0 reaches host 3 over link 2");
    assert.deepEqual(host2, [0, 0, 0], "host 0 reaches host 2");
    // No route at all, not just a silent drop: host 0 knows none of host 2's link networks.
    const route = await t.execHost(0, ["ip", "-4", "route", "get", t.linkAddress(1, 1)], {
      check: false,
    });
    assert.notEqual(route.code, 0, route.stdout);

    await t.setLink(0, false);
    assert.equal(await replies(t, 0, t.linkAddress(0, 1)), 0, "link 0 still carries after down");
    assert.equal(await replies(t, 1, t.linkAddress(0, 0)), 0, "link 0 still carries after down");
    await t.setLink(0, true);
    assert.ok(await t.reachable(0, t.linkAddress(0, 1), 5000), "link 0 back after up");
    assert.ok(await t.reachable(1, t.linkAddress(0, 0), 5000), "link 0 back after up");

    await t.addAddress(0, "l2", "198.18.150.1/24");
    await t.addAddress(3, "l2", "198.18.150.2/24");
    assert.ok(await replies(t, 0, "198.18.150.2") > 0, "added address answers");
    await t.removeAddress(3, "l2", "198.18.150.2/24");
    assert.equal(await replies(t, 0, "198.18.150.2"), 0, "removed address answers");
  },
);

topologyTest(
  "topology: an isolated host reaches no open host either",
  { hosts: 2, access: ["isolated", "open"] },
  async (t) => {
    const [hub0, hub1, across] = await Promise.all([
      replies(t, 0, HUB_IP),
      replies(t, 1, HUB_IP),
      replies(t, 1, t.hostAddress(0)),
    ]);
    assert.ok(hub0 > 0 && hub1 > 0, "both reach the hub");
    assert.equal(across, 0, "open host 1 reaches isolated host 0");
  },
);

topologyTest(
  "topology: cone NAT keeps one public port, symmetric NAT one per destination",
  { hosts: 3, access: ["nat-cone", "nat-symmetric", "open"] },
  async (t) => {
    assert.equal(t.hostAddress(0), "198.18.200.2");
    assert.equal(t.publicAddress(1), "198.18.0.11");
    assert.equal(t.hostAddress(2), t.publicAddress(2));
    const pings = await Promise.all([
      replies(t, 0, HUB_IP),
      replies(t, 1, HUB_IP),
      replies(t, 0, t.publicAddress(2)),
      replies(t, 1, t.publicAddress(2)),
    ]);
    assert.ok(pings.every((n) => n > 0), `NAT hosts reach hub and host 2: ${pings}`);
    // The private side is private: the hub has no route there and host 2 is not let in.
    assert.equal(await replies(t, 2, t.hostAddress(0)), 0);
    const hubRoute = await t.exec(t.hub, ["ip", "-4", "route", "get", t.hostAddress(0)], {
      check: false,
    });
    assert.notEqual(hubRoute.code, 0, hubRoute.stdout);

    const hubEcho = t.spawn("echo-hub", t.hub, denoEval(UDP_ECHO, [HUB_IP, String(ECHO_PORT)]));
    const h2Echo = t.spawn(
      "echo-h2",
      t.namespaces[2],
      denoEval(UDP_ECHO, [t.publicAddress(2), String(ECHO_PORT)]),
    );
    await Promise.all([hubEcho.waitFor(/udp echo ready/), h2Echo.waitFor(/udp echo ready/)]);
    const dests = [`${HUB_IP}:${ECHO_PORT}`, `${t.publicAddress(2)}:${ECHO_PORT}`];

    /** Source [address, port] each destination saw for host `i`'s one socket. */
    const probe = async (i: number): Promise<[string, number][]> => {
      const r = await t.execHost(i, denoEval(UDP_CLIENT, [String(CLIENT_PORT), ...dests]));
      const out: { local: number; seen: Record<string, string> } = JSON.parse(r.stdout);
      console.log(`host ${i} (${t.access[i]}) from :${out.local}:`, JSON.stringify(out.seen));
      return dests.map((d) => {
        const s = out.seen[d];
        assert.ok(s, `host ${i}: no answer from ${d}: ${r.stdout} ${r.stderr}`);
        const [addr, port] = s.split(":");
        return [addr, Number(port)];
      });
    };

    const cone = await probe(0);
    assert.deepEqual(cone.map(([a]) => a), [t.publicAddress(0), t.publicAddress(0)]);
    assert.equal(cone[0][1], cone[1][1], "cone NAT: one public port for both destinations");
    // Plain masquerade keeps the source port when nothing else holds it (a fresh router).
    assert.equal(cone[0][1], CLIENT_PORT, "cone NAT kept the source port");

    const symmetric = await probe(1);
    assert.deepEqual(symmetric.map(([a]) => a), [t.publicAddress(1), t.publicAddress(1)]);
    assert.notEqual(symmetric[0][1], symmetric[1][1], "symmetric NAT: a port per destination");
  },
);

topologyTest(
  "topology: a slow link delays every packet both ways, and still goes down and up",
  { hosts: 2, access: ["isolated", "isolated"], links: [[0, 1], [0, 1]], linkDelayMs: [20] },
  async (t) => {
    const slow = await t.ping(0, t.linkAddress(0, 1), { count: 5, intervalS: 0.1 });
    const fast = await t.ping(0, t.linkAddress(1, 1), { count: 5, intervalS: 0.1 });
    assert.equal(slow.received, 5, slow.output);
    assert.equal(fast.received, 5, fast.output);
    // 20 ms each way through the delay line; the plain link stays fast.
    assert.ok(Math.min(...slow.rtts) >= 40, slow.output);
    assert.ok(Math.max(...fast.rtts) < 20, fast.output);
    console.log(`slow link RTT ${slow.rtts.join(", ")} ms; plain link ${fast.rtts.join(", ")} ms`);
    await t.setLink(0, false);
    assert.equal((await t.ping(0, t.linkAddress(0, 1), { count: 1 })).received, 0);
    await t.setLink(0, true);
    assert.ok(await t.reachable(0, t.linkAddress(0, 1), 10_000));
  },
);
