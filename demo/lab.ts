/**
 * Test lab for data-plane tests, the demo and the tunnel bench: network namespaces joined by a
 * bridge, a real nats-server and a real Guardian, and conflux nodes as separate processes.
 *
 * Layout: a hub namespace holds the bridge (198.18.0.1/24), nats-server (198.18.0.1:4222) and the
 * Guardian (198.18.0.1:8080); node namespace i gets a veth to the bridge with 198.18.0.(10+i).
 * The process that builds the lab stays outside; it reaches the Guardian API through a Unix-socket
 * forwarder running in the hub. Everything is removed by `close()`. IP forwarding is off in the hub:
 * it is a switch and a server, never a router. demo/topology.ts builds other networks on the same
 * hub (isolated ports, NAT routers, data links between hosts).
 *
 * @module
 */
import { join } from "node:path";
import { fetchStatus, type NodeInfo } from "../core/node/mod.ts";
import { NODE_V8_FLAGS } from "../core/node/options.ts";

const REPO = new URL("..", import.meta.url).pathname;
/** Underlay address of the hub (NATS, Guardian). */
export const HUB_IP = "198.18.0.1";
/** Port of the hub's STUN service (`startServices({ stun: true })`). */
export const STUN_PORT = 3478;
/** Guardian URL as seen from inside the namespaces. */
export const GUARDIAN_URL = `http://${HUB_IP}:8080`;
/** Client port of every nats-server of the lab. */
export const NATS_PORT = 4222;

/**
 * Hub address of server `k` of a super cluster (`startServices({ natsClusters })`): 198.18.0.2,
 * 198.18.0.3, … on the hub bridge, below the nodes' 198.18.0.10 + i.
 */
export function natsHost(k: number): string {
  if (!Number.isInteger(k) || k < 0 || k > 7) throw new RangeError(`no super-cluster server ${k}`);
  return `198.18.0.${2 + k}`;
}

/** Result of a finished command. */
export interface CommandResult {
  code: number;
  stdout: string;
  stderr: string;
}

/** Runs a command to completion (no shell). */
export async function run(
  cmd: string[],
  options: { check?: boolean } = {},
): Promise<CommandResult> {
  const out = await new Deno.Command(cmd[0], {
    args: cmd.slice(1),
    stdout: "piped",
    stderr: "piped",
  }).output();
  const r = {
    code: out.code,
    stdout: new TextDecoder().decode(out.stdout),
    stderr: new TextDecoder().decode(out.stderr),
  };
  if (options.check !== false && r.code !== 0) {
    throw new Error(`${cmd.join(" ")} failed (${r.code}): ${r.stderr.trim()}`);
  }
  return r;
}

/** A child process whose output lines are kept. */
export class Proc {
  readonly child: Deno.ChildProcess;
  readonly lines: string[] = [];
  readonly name: string;
  #done: Promise<void>;
  #echo: boolean;

  constructor(
    name: string,
    cmd: string[],
    options: { echo?: boolean; env?: Record<string, string> } = {},
  ) {
    this.name = name;
    this.#echo = options.echo ?? false;
    this.child = new Deno.Command(cmd[0], {
      args: cmd.slice(1),
      stdin: "null",
      stdout: "piped",
      stderr: "piped",
      env: options.env,
    }).spawn();
    this.#done = Promise.all([
      this.#pump(this.child.stdout),
      this.#pump(this.child.stderr),
    ]).then(() => {});
  }

  async #pump(stream: ReadableStream<Uint8Array>): Promise<void> {
    const decoder = new TextDecoder();
    let rest = "";
    try {
      for await (const chunk of stream) {
        rest += decoder.decode(chunk, { stream: true });
        let nl;
        while ((nl = rest.indexOf("\n")) >= 0) {
          const line = rest.slice(0, nl);
          rest = rest.slice(nl + 1);
          if (this.lines.length < 200_000) this.lines.push(line);
          if (this.#echo) console.error(`[${this.name}] ${line}`);
        }
      }
    } catch {
      // process gone
    }
    if (rest) this.lines.push(rest);
  }

  /** Resolves when a line matching `re` appears; rejects after `timeoutMs` or process exit. */
  async waitFor(re: RegExp, timeoutMs = 20_000): Promise<string> {
    const deadline = Date.now() + timeoutMs;
    let exited = false;
    this.child.status.then(() => exited = true);
    let seen = 0;
    while (Date.now() < deadline) {
      for (; seen < this.lines.length; seen++) {
        if (re.test(this.lines[seen])) return this.lines[seen];
      }
      if (exited) {
        await this.#done;
        for (; seen < this.lines.length; seen++) {
          if (re.test(this.lines[seen])) return this.lines[seen];
        }
        throw new Error(`${this.name} exited before printing ${re}:\n${this.tail()}`);
      }
      await new Promise((r) => setTimeout(r, 50));
    }
    throw new Error(`${this.name}: no ${re} within ${timeoutMs} ms:\n${this.tail()}`);
  }

  /** Last lines of output, for error messages. */
  tail(n = 30): string {
    return this.lines.slice(-n).join("\n");
  }

  /** SIGTERM, then SIGKILL after `graceMs`; resolves when the process is gone. */
  async stop(graceMs = 4000): Promise<void> {
    try {
      this.child.kill("SIGTERM");
    } catch {
      // already exited
    }
    const timer = setTimeout(() => {
      try {
        this.child.kill("SIGKILL");
      } catch {
        // already exited
      }
    }, graceMs);
    await this.child.status;
    clearTimeout(timer);
    await this.#done;
  }
}

/** One registered conflux of the lab. */
export interface LabConflux {
  confluxId: string;
  token: string;
  overlayIp: string;
}

/** Options of createLab. */
export interface LabOptions {
  /** Number of node namespaces. */
  nodes: number;
  /** Echo every child's output to stderr (demo, debugging). */
  echo?: boolean;
  /** Name prefix of namespaces (default "vndp"). */
  prefix?: string;
}

function v8Args(flags: string): string[] {
  return flags ? [`--v8-flags=${flags}`] : [];
}

/** A running lab. */
export class Lab {
  readonly id: string;
  readonly hub: string;
  readonly namespaces: string[];
  readonly dir: string;
  readonly procs: Proc[] = [];
  #nodeProcs = new Map<number, Proc>();
  #extra: string[] = [];
  #client?: Deno.HttpClient;
  #echo: boolean;
  #natsConfs: string[] = [];
  #natsMonitorPort?: number;
  #nats: (Proc | undefined)[] = [];
  /** Client URLs of the lab's nats-servers (one, or one per cluster of a super cluster). */
  natsUrls: string[] = [];
  /** Access token of the lab's user. */
  userToken = "";
  /** The lab's realm. */
  realmId = "";

  constructor(id: string, nodes: number, dir: string, echo: boolean) {
    this.id = id;
    this.hub = `${id}h`;
    this.namespaces = Array.from({ length: nodes }, (_, i) => `${id}n${i}`);
    this.dir = dir;
    this.#echo = echo;
  }

  /** Underlay address of node `i`. */
  underlay(i: number): string {
    return `198.18.0.${10 + i}`;
  }

  /**
   * Creates namespace `ns` with `lo` up; {@link close} removes it with the node and hub namespaces.
   * The name is recorded before creation so that a failure half-way still cleans up.
   */
  async addNamespace(ns: string): Promise<void> {
    if (ns !== this.hub && !this.namespaces.includes(ns) && !this.#extra.includes(ns)) {
      this.#extra.push(ns);
    }
    await run(["ip", "netns", "add", ns]);
    await run(["ip", "-n", ns, "link", "set", "lo", "up"]);
  }

  /** Runs `cmd` inside namespace `ns`. */
  exec(ns: string, cmd: string[], options: { check?: boolean } = {}): Promise<CommandResult> {
    return run(["ip", "netns", "exec", ns, ...cmd], options);
  }

  /** Spawns a long-running `cmd` inside namespace `ns`. */
  spawn(name: string, ns: string, cmd: string[], env?: Record<string, string>): Proc {
    const p = new Proc(name, ["ip", "netns", "exec", ns, ...cmd], { echo: this.#echo, env });
    this.procs.push(p);
    return p;
  }

  /** Calls the Guardian API (through the forwarder); throws on a non-2xx answer. */
  async api(
    method: string,
    path: string,
    body?: unknown,
    bearer: string | undefined = this.userToken,
  ): Promise<Record<string, unknown>> {
    const headers: Record<string, string> = {};
    if (bearer) headers.authorization = `Bearer ${bearer}`;
    if (body !== undefined) headers["content-type"] = "application/json";
    const res = await fetch(`http://guardian${path}`, {
      method,
      headers,
      body: body === undefined ? undefined : JSON.stringify(body),
      client: this.#client,
    });
    const text = await res.text();
    if (!res.ok) throw new Error(`${method} ${path}: ${res.status} ${text}`);
    return text ? JSON.parse(text) : {};
  }

  /** Starts the hub services: nats-server, Guardian, forwarder; creates user and realm. */
  async startServices(
    options: {
      sessionTtlSec?: number;
      /** Also run the Guardian's STUN service on the hub (handed out in sessions). */
      stun?: boolean;
      /**
       * The realm's policy: portal networks inside these are certified without an approval
       * (default none: a portal's networks then need {@link approveSubnets}).
       */
      autoApprove?: string[];
      /**
       * Also serve nats-server's monitoring endpoints (/varz, /connz) on HUB_IP:PORT, inside the
       * hub namespace (`-m PORT`).
       */
      natsMonitorPort?: number;
      /**
       * A super cluster of this many one-server clusters `c1`, `c2`, … joined by gateways instead
       * of one nats-server, as `guardian init --cluster/--gateway` sets it up: server k listens on
       * its own hub address {@link natsHost}(k) (client port 4222, gateway 7222, monitoring on
       * `natsMonitorPort` there); the Guardian and every session list them all.
       */
      natsClusters?: number;
    } = {},
  ): Promise<void> {
    const gdir = join(this.dir, "guardian");
    await Deno.mkdir(gdir, { recursive: true });
    const deno = Deno.execPath();
    const clusters = options.natsClusters ?? 1;
    let topology: string[];
    if (clusters > 1) {
      topology = [];
      for (let k = 0; k < clusters; k++) {
        const host = natsHost(k);
        await run(["ip", "-n", this.hub, "addr", "add", `${host}/24`, "dev", "br0"]);
        // One server per cluster: the route port is required by the flag, never listened on.
        topology.push("--cluster", `c${k + 1}=${host}:${NATS_PORT}:6222`);
        topology.push("--gateway", `c${k + 1}=${host}:7222`);
      }
    } else {
      topology = ["--nats-listen", `${HUB_IP}:${NATS_PORT}`];
    }
    const init = await this.exec(this.hub, [
      deno,
      "run",
      "-A",
      join(REPO, "guardian/main.ts"),
      "init",
      "--data",
      gdir,
      ...topology,
    ]);
    const written = [...init.stdout.matchAll(/wrote (\S+) \(server \S+, clients (\S+)\)/g)];
    if (written.length !== clusters) {
      throw new Error(
        `guardian init printed ${written.length} configs, not ${clusters}:\n${init.stdout}`,
      );
    }
    this.#natsConfs = written.map((m) => m[1]);
    this.natsUrls = written.map((m) => m[2]);
    this.#natsMonitorPort = options.natsMonitorPort;
    for (let k = 0; k < clusters; k++) await this.startNats(k);
    const guardian = this.spawn("guardian", this.hub, [
      deno,
      "run",
      "-A",
      join(REPO, "guardian/main.ts"),
      "serve",
      "--data",
      gdir,
      "--nats",
      this.natsUrls.join(","),
      "--listen",
      `${HUB_IP}:8080`,
      "--log-level",
      "info",
      "--session-ttl",
      String(options.sessionTtlSec ?? 600),
      ...(options.stun ? ["--stun", `${HUB_IP}:${STUN_PORT}`] : []),
    ]);
    await guardian.waitFor(/listening on/, 30_000);
    const sock = join(this.dir, "guardian.sock");
    const fwd = this.spawn("forward", this.hub, [
      deno,
      "run",
      "-A",
      join(REPO, "demo/forward.ts"),
      sock,
      `${HUB_IP}:8080`,
    ]);
    await fwd.waitFor(/forwarding/, 15_000);
    this.#client = Deno.createHttpClient({ proxy: { transport: "unix", path: sock } });
    const email = `lab-${this.id}@example.com`;
    const password = "lab-password-123";
    await this.api("POST", "/auth/signup", { email, password }, undefined);
    const login = await this.api("POST", "/auth/login", { email, password }, undefined);
    this.userToken = String(login.access_token);
    const realm = await this.api("POST", "/realm", {
      name: "lab",
      subnet: "100.64.0.0/24",
      ...(options.autoApprove ? { auto_approve: options.autoApprove } : {}),
    });
    this.realmId = String(realm.realm_id ?? realm.id);
  }

  /**
   * Starts nats-server `k` (of a super cluster; 0 for the only one) on the hub with the Guardian's
   * configuration ({@link startServices} does; call it again after {@link stopNats} to restart it).
   */
  async startNats(k = 0): Promise<Proc> {
    const conf = this.#natsConfs[k];
    if (!conf) throw new Error(k === 0 ? "startServices first" : `no nats-server ${k}`);
    if (this.#nats[k]) throw new Error(`nats-server ${k} is running`);
    const port = this.#natsMonitorPort;
    const nats = this.spawn(this.#natsConfs.length > 1 ? `nats-c${k + 1}` : "nats", this.hub, [
      "nats-server",
      "-c",
      conf,
      ...(port ? ["-m", String(port)] : []),
    ]);
    this.#nats[k] = nats;
    await nats.waitFor(/Server is ready/, 15_000);
    return nats;
  }

  /** Stops nats-server `k` (SIGTERM); nodes and the Guardian stay and reconnect once it is back. */
  async stopNats(k = 0): Promise<void> {
    await this.#nats[k]?.stop();
    this.#nats[k] = undefined;
  }

  /** Creates a team owned by the lab user; returns its id. */
  async createTeam(name: string): Promise<string> {
    const t = await this.api("POST", "/org/team", { name });
    return String(t.team_id);
  }

  /** Creates a registration token for the lab's realm (valid one day). */
  async registrationToken(): Promise<string> {
    const reg = await this.api("POST", "/auth/create/registration-token", {
      realm_id: this.realmId,
      expires_after: 1,
    });
    return String(reg.token);
  }

  /** Registers a conflux with `teams`; returns its id, token and address. */
  async register(tag: string, teams: string[]): Promise<LabConflux> {
    const r = await this.api("POST", "/conflux/register", {
      registration_token: await this.registrationToken(),
      tag,
      teams,
    }, undefined);
    return {
      confluxId: String(r.conflux_id),
      token: String(r.token),
      overlayIp: String(r.overlay_ip),
    };
  }

  /** Adds team `team` to a conflux through the Guardian API. */
  async addTeam(confluxId: string, team: string): Promise<void> {
    await this.api("POST", "/conflux/team", { conflux_id: confluxId, team });
  }

  /** Removes team `team` from a conflux through the Guardian API. */
  async removeTeam(confluxId: string, team: string): Promise<void> {
    await this.api("DELETE", "/conflux/team", { conflux_id: confluxId, team });
  }

  /** Approves portal networks of a conflux (they reach the running portal at once). */
  async approveSubnets(confluxId: string, subnets: string[]): Promise<Record<string, unknown>> {
    return await this.api("POST", "/conflux/subnets/approve", { conflux_id: confluxId, subnets });
  }

  /** Denies portal networks of a conflux (they leave its certificate at once). */
  async denySubnets(confluxId: string, subnets: string[]): Promise<Record<string, unknown>> {
    return await this.api("POST", "/conflux/subnets/deny", { conflux_id: confluxId, subnets });
  }

  /** What a portal asks to serve and what was decided (`GET /conflux/subnets`). */
  async portalSubnets(confluxId: string): Promise<Record<string, unknown>> {
    return await this.api("GET", `/conflux/subnets?conflux_id=${confluxId}`);
  }

  /** Config directory of node `i`. */
  configDir(i: number): string {
    return join(this.dir, `node${i}`);
  }

  /** Starts node `i` (runNode via demo/run_node.ts) and waits until it runs. */
  async startNode(
    i: number,
    conflux: LabConflux,
    options: {
      rtc?: string;
      idleMs?: number;
      tun?: string;
      env?: Record<string, string>;
      /** Extra flags for demo/run_node.ts (e.g. "--tamper-relay", "--no-relay"). */
      flags?: string[];
      /** V8 flags, comma-separated (default NODE_V8_FLAGS; "" for none). */
      v8Flags?: string;
    } = {},
  ): Promise<Proc> {
    await Deno.mkdir(this.configDir(i), { recursive: true });
    const args = [
      Deno.execPath(),
      "run",
      "-A",
      ...v8Args(options.v8Flags ?? NODE_V8_FLAGS),
      join(REPO, "demo/run_node.ts"),
      "--guardian",
      GUARDIAN_URL,
      "--token",
      conflux.token,
      "--config-dir",
      this.configDir(i),
      "--rtc",
      options.rtc ?? "auto",
    ];
    if (options.idleMs) args.push("--idle-ms", String(options.idleMs));
    if (options.tun) args.push("--tun", options.tun);
    args.push(...(options.flags ?? []));
    const p = this.spawn(`node${i}`, this.namespaces[i], args, options.env);
    this.#nodeProcs.set(i, p);
    await p.waitFor(/node running/, 40_000);
    return p;
  }

  /** Stops node `i`. */
  async stopNode(i: number): Promise<void> {
    await this.#nodeProcs.get(i)?.stop();
    this.#nodeProcs.delete(i);
  }

  /** /info of node `i` from its status socket. */
  info(i: number): Promise<NodeInfo> {
    return fetchStatus(join(this.configDir(i), "conflux.sock"));
  }

  /** Pings `ip` from node `i`; returns the number of replies and the RTTs. */
  async ping(
    i: number,
    ip: string,
    options: { count?: number; intervalS?: number; waitS?: number } = {},
  ): Promise<{ received: number; rtts: number[]; output: string }> {
    const r = await this.exec(this.namespaces[i], [
      "ping",
      "-n",
      "-c",
      String(options.count ?? 3),
      "-i",
      String(options.intervalS ?? 0.2),
      "-W",
      String(options.waitS ?? 1),
      ip,
    ], { check: false });
    const rtts = [...r.stdout.matchAll(/time=([\d.]+) ms/g)].map((m) => Number(m[1]));
    return { received: rtts.length, rtts, output: r.stdout };
  }

  /**
   * Pings `ip` from node `i` once a second until a reply arrives (the first packet to a new
   * destination waits for discovery, handshake and tether); true if one came within `timeoutMs`.
   */
  async reachable(i: number, ip: string, timeoutMs = 20_000): Promise<boolean> {
    const deadline = Date.now() + timeoutMs;
    while (Date.now() < deadline) {
      if ((await this.ping(i, ip, { count: 1, waitS: 2 })).received === 1) return true;
    }
    return false;
  }

  /**
   * Gives node `portal` a LAN: a namespace `<id>lan` whose host has `host` (a /24 address) on
   * eth0, joined by a veth to the node's `lan0` with `gateway`. The LAN has no route to the
   * underlay or the overlay. Returns the LAN namespace (removed by {@link close}).
   */
  async addLan(portal: number, gateway: string, host: string): Promise<string> {
    const ns = `${this.id}lan`;
    this.#extra.push(ns);
    await run(["ip", "netns", "add", ns]);
    await run(["ip", "-n", ns, "link", "set", "lo", "up"]);
    const pns = this.namespaces[portal];
    await veth(pns, "lan0", ns, "eth0");
    await run(["ip", "-n", pns, "addr", "add", `${gateway}/24`, "dev", "lan0"]);
    await run(["ip", "-n", pns, "link", "set", "lan0", "up"]);
    await run(["ip", "-n", ns, "addr", "add", `${host}/24`, "dev", "eth0"]);
    await run(["ip", "-n", ns, "link", "set", "eth0", "up"]);
    return ns;
  }

  /** Stops every process and removes namespaces and files. */
  async close(): Promise<void> {
    await Promise.allSettled(this.procs.map((p) => p.stop()));
    this.#client?.close();
    for (const ns of [...this.namespaces, this.hub, ...this.#extra]) {
      await run(["ip", "netns", "del", ns], { check: false });
    }
    await Deno.remove(this.dir, { recursive: true }).catch(() => {});
  }
}

/** A fresh lab id: `prefix`, this process's pid and random hex (unique across parallel labs). */
export function newLabId(prefix = "vndp"): string {
  const rand = crypto.getRandomValues(new Uint8Array(2));
  return `${prefix}${Deno.pid % 100000}${
    Array.from(rand, (b) => b.toString(16).padStart(2, "0")).join("")
  }`;
}

/**
 * Sets sysctls in namespace `ns`, keys as in sysctl(8) ("net.ipv4.ip_forward"). Written to
 * /proc/sys by `sh` inside the namespace (that view of /proc/sys/net is the namespace's own), so
 * that labs need no procps.
 */
export async function setSysctls(ns: string, settings: Record<string, string>): Promise<void> {
  const args = Object.entries(settings).flatMap(([k, v]) => [k.replaceAll(".", "/"), v]);
  await run([
    "ip",
    "netns",
    "exec",
    ns,
    "sh",
    "-c",
    'while [ $# -gt 1 ]; do echo "$2" > "/proc/sys/$1" || exit 1; shift 2; done',
    "sh",
    ...args,
  ]);
}

/**
 * Creates the hub namespace of `lab` with bridge br0 (HUB_IP/24). IP forwarding is turned off
 * explicitly (a new namespace inherits it from the host, where Docker and the like turn it on) so
 * that the hub never routes between the hosts attached to it.
 */
export async function createHub(lab: Lab): Promise<void> {
  await lab.addNamespace(lab.hub);
  await setSysctls(lab.hub, { "net.ipv4.ip_forward": "0" });
  await run(["ip", "-n", lab.hub, "link", "add", "br0", "type", "bridge"]);
  await run(["ip", "-n", lab.hub, "addr", "add", `${HUB_IP}/24`, "dev", "br0"]);
  await run(["ip", "-n", lab.hub, "link", "set", "br0", "up"]);
}

/** `ip link add NAME netns NS type veth peer name PEER netns PEER_NS`: a cable between two. */
export async function veth(ns: string, name: string, peerNs: string, peer: string): Promise<void> {
  const ends = ["netns", ns, "type", "veth", "peer", "name", peer, "netns", peerNs];
  await run(["ip", "link", "add", name, ...ends]);
}

/** Builds the namespaces and bridge; call `startServices` next. Cleans up after itself on error. */
export async function createLab(options: LabOptions): Promise<Lab> {
  const id = newLabId(options.prefix);
  const dir = await Deno.makeTempDir({ prefix: `veilnet-${id}-` });
  const lab = new Lab(id, options.nodes, dir, options.echo ?? false);
  try {
    await createHub(lab);
    for (let i = 0; i < lab.namespaces.length; i++) {
      const ns = lab.namespaces[i];
      await lab.addNamespace(ns);
      await veth(ns, "eth0", lab.hub, `p${i}`);
      await run(["ip", "-n", lab.hub, "link", "set", `p${i}`, "master", "br0", "up"]);
      await run(["ip", "-n", ns, "addr", "add", `${lab.underlay(i)}/24`, "dev", "eth0"]);
      await run(["ip", "-n", ns, "link", "set", "eth0", "up"]);
    }
  } catch (e) {
    await lab.close();
    throw e;
  }
  return lab;
}

/** True when this process may build labs (root, `ip` and nats-server present). */
export function labAvailable(): boolean {
  try {
    if (Deno.uid() !== 0) return false;
    Deno.statSync("/usr/sbin/nats-server");
    return true;
  } catch {
    return false;
  }
}
