/**
 * Topology lab: the lab of demo/lab.ts (hub with br0 198.18.0.1/24, nats-server, Guardian,
 * forwarder; nodes as processes) on networks users have instead of one flat LAN.
 *
 * Address plan (all inside the underlay 198.18.0.0/15):
 * - hub: br0 198.18.0.1/24 (NATS, Guardian, STUN), IP forwarding off;
 * - host i, access "isolated" or "open": eth0 198.18.0.(10+i)/24, hub port `p<i>` on br0;
 * - host i behind a NAT ("nat-cone", "nat-symmetric"): eth0 198.18.(200+i).2/24, default route via
 *   its router namespace `<id>r<i>` (lan0 198.18.(200+i).1/24, wan0 198.18.0.(10+i)/24 on br0,
 *   hub port `p<i>`, forwarding on, nftables masquerade out of wan0);
 * - data link k = [a, b]: veth `l<k>` on both hosts, 198.18.(100+k).1/24 on a, .2/24 on b.
 *   A slow link (`linkDelayMs[k]`) runs through a middle namespace `<id>m<k>` (veths `a<k>`,
 *   `b<k>` with .253/32 and .254/32, proxy ARP, TUNs `ta<k>`/`tb<k>` joined by demo/delay_line.ts).
 *
 * Inherited {@link Lab.underlay} stays 198.18.0.(10+i), which is {@link Topology.publicAddress}.
 *
 * @module
 */
import { type CommandResult, createHub, Lab, newLabId, run, setSysctls, veth } from "./lab.ts";

/** How a host's eth0 meets the hub bridge; see {@link TopologyOptions.access}. */
export type Access = "isolated" | "open" | "nat-cone" | "nat-symmetric";

/** Shape of a topology lab. */
export interface TopologyOptions {
  /** Node namespaces, index 0..hosts-1 as in Lab. */
  hosts: number;
  /**
   * How each host's first interface eth0 meets the hub bridge (default "isolated"):
   * "isolated": on br0 with its port isolated (the bridge flag, plus an nftables bridge rule because
   * the flag alone still lets it reach open ports): the host reaches the hub (NATS, Guardian, STUN
   * at 198.18.0.1) but no other host over it (a management network);
   * "open": on br0, reaches the hub, every other "open" host and every NAT router's public side
   * (the "public internet");
   * "nat-cone" / "nat-symmetric": behind its own NAT router namespace (full cone: plain
   * masquerade, which keeps the source port, and unsolicited UDP let in to the host; or
   * symmetric: `masquerade random`, a new port per destination, only replies let in). The host
   * reaches the hub only through the NAT.
   */
  access?: Access[];
  /**
   * Data links: each [a, b] is a veth pair `l<k>` between hosts a and b (k = index in this list),
   * created after eth0 so that it comes later in interface order, on 198.18.(100+k).0/24: a gets .1,
   * b gets .2.
   */
  links?: [number, number][];
  /**
   * Extra delay (ms, each direction) per link, by link index; 0 or absent: none. A slow link runs
   * through a middle namespace `<id>m<k>` whose two TUNs a delay line joins (demo/delay_line.ts;
   * this kernel has no netem): proxy ARP keeps both ends on one /24, policy routing sends what
   * arrives from each end into its own TUN.
   */
  linkDelayMs?: number[];
}

/** Most data links: their /24s 198.18.100-199 stay below the NAT networks at 198.18.200+. */
const MAX_LINKS = 100;
/** Most hosts: 198.18.0.(10+i) must stay a host address of the hub's /24. */
const MAX_HOSTS = 245;
/** Most NAT hosts' index: the private /24 198.18.(200+i) must stay inside 198.18.0.0/16. */
const MAX_NAT_INDEX = 55;

function isNat(access: Access): boolean {
  return access === "nat-cone" || access === "nat-symmetric";
}

/** A built topology: a {@link Lab} (services, nodes, ping, close) with access to its wiring. */
export class Topology extends Lab {
  /** Access of each host. */
  readonly access: readonly Access[];
  /** Data links as given: link k joins hosts links[k][0] (side 0) and links[k][1] (side 1). */
  readonly links: readonly (readonly [number, number])[];
  /** Router namespace of each NAT host, undefined for hosts on br0. */
  readonly routers: readonly (string | undefined)[];

  /** Use {@link createTopology}; this only names things. */
  constructor(
    id: string,
    dir: string,
    echo: boolean,
    access: readonly Access[],
    links: readonly (readonly [number, number])[],
  ) {
    super(id, access.length, dir, echo);
    this.access = access;
    this.links = links;
    this.routers = access.map((a, i) => isNat(a) ? `${id}r${i}` : undefined);
  }

  /** Address of host `i`'s eth0 (for NAT hosts the private one). */
  hostAddress(i: number): string {
    return isNat(this.#accessOf(i)) ? `198.18.${200 + i}.2` : `198.18.0.${10 + i}`;
  }

  /** What the hub (and every open host) sees as host `i`'s source: for NAT hosts the router. */
  publicAddress(i: number): string {
    this.#accessOf(i);
    return `198.18.0.${10 + i}`;
  }

  /** Address of link `k` on its host a (side 0) or b (side 1). */
  linkAddress(k: number, side: 0 | 1): string {
    this.#link(k);
    return `198.18.${100 + k}.${1 + side}`;
  }

  /** Runs `cmd` inside host `i`'s namespace. */
  execHost(i: number, cmd: string[], options: { check?: boolean } = {}): Promise<CommandResult> {
    this.#accessOf(i);
    return this.exec(this.namespaces[i], cmd, options);
  }

  /** Takes link `k` down or up on both ends (failover tests); addresses stay configured. */
  async setLink(k: number, up: boolean): Promise<void> {
    const [a, b] = this.#link(k);
    const state = up ? "up" : "down";
    await run(["ip", "-n", this.namespaces[a], "link", "set", `l${k}`, state]);
    await run(["ip", "-n", this.namespaces[b], "link", "set", `l${k}`, state]);
  }

  /** Adds `cidr` (e.g. "198.18.150.1/24") to `iface` of host `i` (address-change tests). */
  async addAddress(i: number, iface: string, cidr: string): Promise<void> {
    await this.execHost(i, ["ip", "addr", "add", cidr, "dev", iface]);
  }

  /**
   * Removes `cidr` from `iface` of host `i`. Routes through that address go with it (on a NAT
   * host's eth0 that is the default route; add it back with `execHost`).
   */
  async removeAddress(i: number, iface: string, cidr: string): Promise<void> {
    await this.execHost(i, ["ip", "addr", "del", cidr, "dev", iface]);
  }

  #accessOf(i: number): Access {
    const a = this.access[i];
    if (a === undefined) throw new RangeError(`no host ${i} (hosts: ${this.access.length})`);
    return a;
  }

  #link(k: number): readonly [number, number] {
    const l = this.links[k];
    if (l === undefined) throw new RangeError(`no link ${k} (links: ${this.links.length})`);
    return l;
  }
}

function validate(
  hosts: number,
  access: readonly Access[],
  links: readonly [number, number][],
): void {
  if (!Number.isInteger(hosts) || hosts < 0 || hosts > MAX_HOSTS) {
    throw new RangeError(`hosts must be 0..${MAX_HOSTS}, got ${hosts}`);
  }
  if (access.length !== hosts) {
    throw new RangeError(`access has ${access.length} entries for ${hosts} hosts`);
  }
  access.forEach((a, i) => {
    if (isNat(a) && i > MAX_NAT_INDEX) {
      throw new RangeError(`host ${i}: NAT hosts must have index <= ${MAX_NAT_INDEX}`);
    }
  });
  if (links.length > MAX_LINKS) throw new RangeError(`at most ${MAX_LINKS} links`);
  links.forEach(([a, b], k) => {
    const ok = (h: number) => Number.isInteger(h) && h >= 0 && h < hosts;
    if (!ok(a) || !ok(b) || a === b) throw new RangeError(`link ${k} [${a}, ${b}] is not valid`);
  });
}

/** Puts host `i` on br0 through hub port p<i>. */
async function attachToBridge(t: Topology, i: number, isolated: boolean): Promise<void> {
  const ns = t.namespaces[i];
  await veth(ns, "eth0", t.hub, `p${i}`);
  await run(["ip", "-n", t.hub, "link", "set", `p${i}`, "master", "br0", "up"]);
  if (isolated) {
    await t.exec(t.hub, ["bridge", "link", "set", "dev", `p${i}`, "isolated", "on"]);
  }
  await run(["ip", "-n", ns, "addr", "add", `${t.hostAddress(i)}/24`, "dev", "eth0"]);
  await run(["ip", "-n", ns, "link", "set", "eth0", "up"]);
}

/** Puts host `i` behind its own router namespace, whose wan0 is an open port on br0. */
async function attachBehindNat(t: Topology, i: number, symmetric: boolean): Promise<void> {
  const ns = t.namespaces[i];
  const router = t.routers[i]!;
  const gateway = `198.18.${200 + i}.1`;
  await t.addNamespace(router);
  // A router forwards; loose rp_filter so that nothing it forwards is judged by a strict check.
  await setSysctls(router, {
    "net.ipv4.ip_forward": "1",
    "net.ipv4.conf.all.rp_filter": "2",
    "net.ipv4.conf.default.rp_filter": "2",
  });
  await veth(ns, "eth0", router, "lan0");
  await veth(router, "wan0", t.hub, `p${i}`);
  await run(["ip", "-n", t.hub, "link", "set", `p${i}`, "master", "br0", "up"]);
  await run(["ip", "-n", router, "addr", "add", `${gateway}/24`, "dev", "lan0"]);
  await run(["ip", "-n", router, "addr", "add", `${t.publicAddress(i)}/24`, "dev", "wan0"]);
  await run(["ip", "-n", router, "link", "set", "lan0", "up"]);
  await run(["ip", "-n", router, "link", "set", "wan0", "up"]);
  await run(["ip", "-n", ns, "addr", "add", `${t.hostAddress(i)}/24`, "dev", "eth0"]);
  await run(["ip", "-n", ns, "link", "set", "eth0", "up"]);
  await run(["ip", "-n", ns, "route", "add", "default", "via", gateway, "dev", "eth0"]);
  // Plain masquerade keeps the source port unless it is taken (the same mapping for every
  // destination); `random` draws a new port for each new flow, i.e. for each destination
  // (symmetric NAT), and conntrack lets in only replies to known flows. The cone NAT also lets
  // unsolicited UDP to a mapped port in (full cone: endpoint-independent filtering): without it a
  // peer's first check, arriving before our own left, leaves an entry that clashes with our
  // outbound flow, masquerade picks another port, and hole punching fails both ways.
  const masquerade = symmetric ? "masquerade random" : "masquerade";
  const inbound = symmetric ? "" : `
  chain prerouting {
    type nat hook prerouting priority dstnat; policy accept;
    iifname "wan0" udp dport 1024-65535 dnat to ${t.hostAddress(i)}
  }`;
  await nft(
    router,
    `table ip topology_nat {
  chain postrouting {
    type nat hook postrouting priority srcnat; policy accept;
    oifname "wan0" ${masquerade}
  }${inbound}
}
`,
  );
}

/**
 * Link `k` through a middle namespace that delays every packet by `delayMs` each way: veths
 * `l<k>` (host a) – `a<k>` (middle) and `b<k>` (middle) – `l<k>` (host b); the middle answers ARP
 * for each end on the other side and sends what arrives on each veth into its own TUN, whose
 * packets the delay line writes into the other TUN after the delay, to be routed on.
 */
async function slowLink(t: Topology, k: number, delayMs: number): Promise<void> {
  const [a, b] = t.links[k];
  const mid = `${t.id}m${k}`;
  await t.addNamespace(mid);
  // rp_filter off: a packet from host a comes out of TUN B, not the veth that leads back to a.
  await setSysctls(mid, {
    "net.ipv4.ip_forward": "1",
    "net.ipv4.conf.all.rp_filter": "0",
    "net.ipv4.conf.default.rp_filter": "0",
    "net.ipv4.conf.all.proxy_arp": "1",
    "net.ipv4.conf.default.proxy_arp": "1",
  });
  await veth(t.namespaces[a], `l${k}`, mid, `a${k}`);
  await veth(t.namespaces[b], `l${k}`, mid, `b${k}`);
  // Proxied ARP answers wait up to 0.8 s by default (the first packets would wait with them);
  // namespaces here have no neigh/default, so per interface.
  await setSysctls(mid, {
    [`net.ipv4.neigh.a${k}.proxy_delay`]: "0",
    [`net.ipv4.neigh.b${k}.proxy_delay`]: "0",
  });
  const ip = (args: string[]) => run(["ip", "-n", mid, ...args]);
  for (const [side, dev, own] of [[0, `a${k}`, 253], [1, `b${k}`, 254]] as const) {
    await ip(["addr", "add", `198.18.${100 + k}.${own}/32`, "dev", dev]);
    await ip(["link", "set", dev, "up"]);
    await ip(["route", "add", `${t.linkAddress(k, side)}/32`, "dev", dev]);
  }
  const line = t.spawn(`delay${k}`, mid, [
    Deno.execPath(),
    "run",
    "-A",
    new URL("./delay_line.ts", import.meta.url).pathname,
    `ta${k}`,
    `tb${k}`,
    String(delayMs),
  ]);
  await line.waitFor(/delay line ready/, 20_000);
  for (const [dev, tun, table] of [[`a${k}`, `ta${k}`, 100], [`b${k}`, `tb${k}`, 101]] as const) {
    await ip(["route", "add", "default", "dev", tun, "table", String(table)]);
    await ip(["rule", "add", "iif", dev, "lookup", String(table)]);
  }
}

/** Loads an nftables ruleset into namespace `ns`. */
async function nft(ns: string, ruleset: string): Promise<void> {
  const child = new Deno.Command("ip", {
    args: ["netns", "exec", ns, "nft", "-f", "-"],
    stdin: "piped",
    stdout: "piped",
    stderr: "piped",
  }).spawn();
  const writer = child.stdin.getWriter();
  await writer.write(new TextEncoder().encode(ruleset));
  await writer.close();
  const out = await child.output();
  if (out.code !== 0) {
    throw new Error(`nft in ${ns} failed: ${new TextDecoder().decode(out.stderr).trim()}`);
  }
}

/**
 * Builds a topology (namespaces, bridge, NAT routers, links); call `startServices` next as with
 * {@link Lab}. Cleans up after itself on error. Default prefix "vntopo".
 */
export async function createTopology(
  options: TopologyOptions & { echo?: boolean; prefix?: string },
): Promise<Topology> {
  const access: Access[] = options.access ?? Array(options.hosts).fill("isolated");
  const links = options.links ?? [];
  validate(options.hosts, access, links);
  const id = newLabId(options.prefix ?? "vntopo");
  const dir = await Deno.makeTempDir({ prefix: `veilnet-${id}-` });
  const t = new Topology(
    id,
    dir,
    options.echo ?? false,
    [...access],
    links.map(([a, b]) => [a, b] as const),
  );
  try {
    await createHub(t);
    for (let i = 0; i < options.hosts; i++) {
      await t.addNamespace(t.namespaces[i]);
      // Hosts are hosts: no forwarding between their interfaces unless a test (or a portal node)
      // turns it on. Loose rp_filter because a multi-homed host may see replies to one address
      // arrive on another interface.
      await setSysctls(t.namespaces[i], {
        "net.ipv4.ip_forward": "0",
        "net.ipv4.conf.all.rp_filter": "2",
        "net.ipv4.conf.default.rp_filter": "2",
      });
      const a = access[i];
      if (isNat(a)) await attachBehindNat(t, i, a === "nat-symmetric");
      else await attachToBridge(t, i, a === "isolated");
    }
    // Links after every eth0, so that each host lists eth0 first (the management interface).
    for (let k = 0; k < links.length; k++) {
      const [a, b] = links[k];
      const [na, nb] = [t.namespaces[a], t.namespaces[b]];
      const delayMs = options.linkDelayMs?.[k] ?? 0;
      if (delayMs > 0) await slowLink(t, k, delayMs);
      else await veth(na, `l${k}`, nb, `l${k}`);
      await run(["ip", "-n", na, "addr", "add", `${t.linkAddress(k, 0)}/24`, "dev", `l${k}`]);
      await run(["ip", "-n", nb, "addr", "add", `${t.linkAddress(k, 1)}/24`, "dev", `l${k}`]);
      await run(["ip", "-n", na, "link", "set", `l${k}`, "up"]);
      await run(["ip", "-n", nb, "link", "set", `l${k}`, "up"]);
    }
    // The kernel's isolated flag only stops isolated-to-isolated forwarding; an isolated host
    // could still reach open hosts and NAT routers. Dropping every bridged frame from or to an
    // isolated port keeps it on the hub alone (frames to br0 itself take the input hook, not this).
    const isolated = access.flatMap((a, i) => a === "isolated" ? [`"p${i}"`] : []);
    if (isolated.length > 0) {
      const ports = `{ ${isolated.join(", ")} }`;
      await nft(
        t.hub,
        `table bridge topology_isolation {
  chain forward {
    type filter hook forward priority filter; policy accept;
    iifname ${ports} drop
    oifname ${ports} drop
  }
}
`,
      );
    }
  } catch (e) {
    await t.close();
    throw e;
  }
  return t;
}
