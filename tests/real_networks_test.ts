/**
 * Real networks (demo/topology.ts): every host's first interface is a management network on which
 * hosts reach the Guardian and NATS but not each other, data links come after it, and nothing is
 * warmed up. Tethers must form over the second interface, a relay must be found on a cold
 * network, and a running node must follow its addresses.
 *
 * @module
 */
import assert from "node:assert/strict";
import type { LabConflux } from "../demo/lab.ts";
import type { Topology } from "../demo/topology.ts";
import type { NodeInfo } from "../core/node/status_server.ts";
import { topologyTest } from "./helpers/lab_test.ts";
import { longestGap, repliesAfter, timedPing } from "./helpers/ping.ts";

/** h0–h1–h2 and h0–h3–h2: h0 and h2 share no link; h1 and h3 relay. */
const DIAMOND: [number, number][] = [[0, 1], [1, 2], [0, 3], [3, 2]];

async function startAll(
  t: Topology,
  count: number,
  options: { teams?: string[]; flags?: string[][]; rtc?: string } = {},
): Promise<LabConflux[]> {
  const teams = options.teams ?? ["dev"];
  for (const team of teams) await t.createTeam(team);
  const h: LabConflux[] = [];
  for (let i = 0; i < count; i++) h.push(await t.register(`h${i}`, teams));
  await Promise.all(
    h.map((c, i) => t.startNode(i, c, { flags: options.flags?.[i], rtc: options.rtc })),
  );
  return h;
}

/**
 * Pings with `count` echo requests `intervalS` apart and returns when the first reply arrived,
 * in ms after the first request (the first packet waits in the node for discovery, handshake
 * and tethers, then goes out: its own RTT says how long the cold start took).
 */
async function firstReplyMs(
  t: Topology,
  from: number,
  ip: string,
  options: { count?: number; intervalS?: number } = {},
): Promise<{ ms: number | null; output: string }> {
  const intervalS = options.intervalS ?? 0.25;
  const r = await t.exec(t.namespaces[from], [
    "ping",
    "-n",
    "-c",
    String(options.count ?? 40),
    "-i",
    String(intervalS),
    "-W",
    "8",
    ip,
  ], { check: false });
  let best: number | null = null;
  for (const m of r.stdout.matchAll(/icmp_seq=(\d+) .*time=([\d.]+) ms/g)) {
    const at = (Number(m[1]) - 1) * intervalS * 1000 + Number(m[2]);
    if (best === null || at < best) best = at;
  }
  return { ms: best === null ? null : Math.round(best), output: r.stdout };
}

function tetherTo(info: NodeInfo, peer: string) {
  return info.tethers.find((x) => x.peer === peer);
}

function describe(info: NodeInfo): string {
  return JSON.stringify({ underlay: info.underlay, tethers: info.tethers, routes: info.routes });
}

for (const rtc of ["libdatachannel", "werift"]) {
  topologyTest(
    `real networks (${rtc}): a tether forms over the second interface of multi-homed hosts`,
    { hosts: 2, links: [[0, 1]] },
    async (t) => {
      await t.startServices();
      const h = await startAll(t, 2, { rtc });
      const r = await firstReplyMs(t, 0, h[1].overlayIp, { count: 12 });
      const info = await t.info(0);
      assert.ok(r.ms !== null, `no reply over the data link:\n${r.output}\n${describe(info)}`);
      const tether = tetherTo(info, h[1].confluxId);
      assert.ok(tether, `no tether to h1: ${describe(info)}`);
      // The management network (eth0, first in interface order) cannot carry it: the link does.
      assert.ok(info.underlay?.includes(t.linkAddress(0, 0)), describe(info));
      assert.ok(info.underlay?.includes(t.hostAddress(0)), describe(info));
      assert.equal(tether.remote?.address, t.linkAddress(0, 1), describe(info));
      console.log(`first reply after ${r.ms} ms; pair ${JSON.stringify(tether)}`);
    },
  );
}

topologyTest(
  "real networks: a relay is found on a cold network (h0–h1–h2, h0–h3–h2, nothing warmed up)",
  { hosts: 4, links: DIAMOND },
  async (t) => {
    await t.startServices();
    const h = await startAll(t, 4);
    // No traffic before this first ping: no tether exists anywhere.
    for (let i = 0; i < 4; i++) assert.deepEqual((await t.info(i)).tethers, []);
    const r = await firstReplyMs(t, 0, h[2].overlayIp);
    const info = await t.info(0);
    assert.ok(r.ms !== null, `h0 never reached h2:\n${r.output}\n${describe(info)}`);
    const route = info.routes.find((x) => x.destination === h[2].overlayIp);
    assert.ok(
      route && [h[1].confluxId, h[3].confluxId].includes(route.next_hop),
      `h0's route to h2 is not through a relay: ${describe(info)}`,
    );
    assert.equal(tetherTo(info, h[2].confluxId), undefined, "h0 cannot tether h2 directly");
    console.log(`cold start h0 → h2 through a relay: first reply ${r.ms} ms`);
    // And back the other way, h2 → h0, now that tethers exist.
    const back = await t.ping(2, h[0].overlayIp, { count: 3 });
    assert.ok(back.received >= 2, back.output);
  },
);

topologyTest(
  "real networks: pings go on when the used relay's link goes down mid-flow",
  { hosts: 4, links: DIAMOND },
  async (t) => {
    await t.startServices();
    const h = await startAll(t, 4);
    assert.ok((await firstReplyMs(t, 0, h[2].overlayIp)).ms !== null, "h0 never reached h2");
    // Both relays offered: give the second relay's tethers a moment to open (failover path).
    await new Promise((r) => setTimeout(r, 1500));
    const pings = t.exec(t.namespaces[0], timedPing(h[2].overlayIp, 100, 0.05), { check: false });
    await new Promise((r) => setTimeout(r, 1500));
    const before = await t.info(0);
    const used = before.routes.find((x) => x.destination === h[2].overlayIp)?.next_hop;
    assert.ok(used === h[1].confluxId || used === h[3].confluxId, describe(before));
    // Link 0 is h0–h1, link 2 is h0–h3.
    const cutAt = Date.now() / 1000;
    await t.setLink(used === h[1].confluxId ? 0 : 2, false);
    const out = (await pings).stdout;
    const gapMs = longestGap(out, cutAt);
    const after = await t.info(0);
    console.log(`relay ${used} cut: longest ping gap after the cut ${gapMs} ms`);
    assert.ok(
      repliesAfter(out, cutAt + 2) > 0,
      `pings did not resume:\n${out}\n${describe(after)}`,
    );
    const now = after.routes.find((x) => x.destination === h[2].overlayIp)?.next_hop;
    assert.ok(now && now !== used, `traffic did not move off the cut relay: ${describe(after)}`);
  },
);

topologyTest(
  "real networks: a running node follows an address removed and added back",
  { hosts: 2, links: [[0, 1], [0, 1]] },
  async (t) => {
    await t.startServices();
    const h = await startAll(t, 2);
    assert.ok((await firstReplyMs(t, 0, h[1].overlayIp, { count: 12 })).ms !== null);
    const pairOf = async () => tetherTo(await t.info(0), h[1].confluxId)?.local?.address;
    const first = await pairOf();
    const links = [t.linkAddress(0, 0), t.linkAddress(1, 0)];
    assert.ok(first && links.includes(first), `tether not on a data link: ${first}`);
    const k = links.indexOf(first);
    const other = 1 - k;
    const pings = t.exec(t.namespaces[0], timedPing(h[1].overlayIp, 300, 0.05), { check: false });
    await new Promise((r) => setTimeout(r, 1000));
    // The address the tether runs over goes away (a NIC down, DHCP lost it).
    const cutAt = Date.now() / 1000;
    await t.removeAddress(0, `l${k}`, `${links[k]}/24`);
    await waitFor(async () => (await pairOf()) === links[other], 12_000);
    // It comes back; then the other one goes: the tether must use the address that came back.
    await t.addAddress(0, `l${k}`, `${links[k]}/24`);
    await new Promise((r) => setTimeout(r, 3000));
    const secondCut = Date.now() / 1000;
    await t.removeAddress(0, `l${other}`, `${links[other]}/24`);
    await waitFor(async () => (await pairOf()) === links[k], 12_000);
    const out = (await pings).stdout;
    console.log(
      `address ${links[k]} removed: longest gap ${longestGap(out, cutAt)} ms; ` +
        `after it came back and ${links[other]} went: ${longestGap(out, secondCut)} ms`,
    );
    assert.ok(repliesAfter(out, secondCut + 3) > 0, `pings did not resume:\n${out}`);
    assert.ok((await t.info(0)).underlay?.includes(links[k]));
  },
);

async function waitFor(check: () => Promise<boolean>, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (await check()) return;
    await new Promise((r) => setTimeout(r, 200));
  }
  throw new Error(`condition not met within ${timeoutMs} ms`);
}

topologyTest(
  "real networks: two hosts behind NATs reach each other directly through the realm's STUN",
  { hosts: 2, access: ["nat-cone", "nat-cone"] },
  async (t) => {
    await t.startServices({ stun: true });
    // No relay anywhere: a reply can only come over a direct, hole-punched tether.
    const h = await startAll(t, 2, { flags: [["--no-relay"], ["--no-relay"]] });
    const r = await firstReplyMs(t, 0, h[1].overlayIp, { count: 20 });
    const info = await t.info(0);
    assert.ok(r.ms !== null, `no reply across the NATs:\n${r.output}\n${describe(info)}`);
    const tether = tetherTo(info, h[1].confluxId);
    assert.ok(tether, describe(info));
    // Each end sees the other's NAT address, never its private one.
    assert.equal(tether.remote?.address, t.publicAddress(1), describe(info));
    console.log(`NAT to NAT direct: first reply ${r.ms} ms; pair ${JSON.stringify(tether)}`);
  },
);

topologyTest(
  "real networks: two hosts behind symmetric NATs reach each other through a public relay",
  { hosts: 3, access: ["nat-symmetric", "nat-symmetric", "open"] },
  async (t) => {
    await t.startServices({ stun: true });
    const h = await startAll(t, 3);
    const r = await firstReplyMs(t, 0, h[1].overlayIp, { count: 40 });
    const info = await t.info(0);
    assert.ok(r.ms !== null, `no reply between the NATed hosts:\n${r.output}\n${describe(info)}`);
    const route = info.routes.find((x) => x.destination === h[1].overlayIp);
    assert.equal(
      route?.next_hop,
      h[2].confluxId,
      `not relayed by the public host: ${describe(info)}`,
    );
    console.log(`symmetric NAT to symmetric NAT through a relay: first reply ${r.ms} ms`);
  },
);

topologyTest(
  "real networks: from a cold start, traffic settles on the faster of two relay paths",
  // The path through h3 is slow: +20 ms each way on both its links (the lab's delay line).
  { hosts: 4, links: DIAMOND, linkDelayMs: [0, 0, 20, 20] },
  async (t) => {
    await t.startServices();
    const h = await startAll(t, 4);
    assert.ok((await firstReplyMs(t, 0, h[2].overlayIp)).ms !== null, "h0 never reached h2");
    // Probes every 250 ms teach the agents both paths; then the fast one carries the flows.
    let route;
    for (let i = 0; i < 30; i++) {
      await t.ping(0, h[2].overlayIp, { count: 5, intervalS: 0.1 });
      route = (await t.info(0)).routes.find((x) => x.destination === h[2].overlayIp);
      if (route?.next_hop === h[1].confluxId && (route.candidates?.length ?? 0) >= 2) break;
    }
    const info = await t.info(0);
    assert.equal(route?.next_hop, h[1].confluxId, `not on the fast relay h1: ${describe(info)}`);
    const p = await t.ping(0, h[2].overlayIp, { count: 10, intervalS: 0.1 });
    const sorted = p.rtts.slice().sort((a, b) => a - b);
    console.log(`fast relay chosen; RTT p50 ${sorted[Math.floor(sorted.length / 2)]} ms`);
  },
);

topologyTest(
  "real networks: a chain h0–h1–h2–h3 on a cold network (a relay that needs a relay)",
  { hosts: 4, links: [[0, 1], [1, 2], [2, 3]] },
  async (t) => {
    await t.startServices();
    const h = await startAll(t, 4);
    const r = await firstReplyMs(t, 0, h[3].overlayIp);
    const info = await t.info(0);
    assert.ok(r.ms !== null, `h0 never reached h3:\n${r.output}\n${describe(info)}`);
    const route = info.routes.find((x) => x.destination === h[3].overlayIp);
    assert.equal(route?.next_hop, h[1].confluxId, describe(info));
    console.log(`cold start over three hops: first reply ${r.ms} ms`);
  },
);
