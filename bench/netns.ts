/**
 * Test hosts as network namespaces for benchmarks (root only): unique namespace names (PID +
 * random suffix), veth links with underlay addresses from 198.18.0.0/15, optional `tc netem`
 * delay, processes started inside a namespace and stopped by PID, iperf3 and ping measurements
 * with pure parsers, and RSS of a PID. Everything created is removed by {@link Testbed.close},
 * which {@link withTestbed} calls in `finally` and on SIGINT.
 *
 * @module
 */

/** Error raised when a command the testbed runs fails or its output cannot be parsed. */
export class NetnsError extends Error {
  /** Creates the error with a message naming the failed step. */
  constructor(message: string) {
    super(message);
    this.name = "NetnsError";
  }
}

/** Result of a command run to completion. */
export interface CommandResult {
  /** Exit code. */
  code: number;
  /** Standard output as text. */
  stdout: string;
  /** Standard error as text. */
  stderr: string;
}

/** Runs a command to completion; throws {@link NetnsError} on a non-zero exit unless `allowFail`. */
export async function sh(
  argv: string[],
  options: { allowFail?: boolean; stdin?: string } = {},
): Promise<CommandResult> {
  const cmd = new Deno.Command(argv[0], {
    args: argv.slice(1),
    stdin: options.stdin === undefined ? "null" : "piped",
    stdout: "piped",
    stderr: "piped",
  });
  const child = cmd.spawn();
  if (options.stdin !== undefined) {
    const w = child.stdin.getWriter();
    await w.write(new TextEncoder().encode(options.stdin));
    await w.close();
  }
  const out = await child.output();
  const res = {
    code: out.code,
    stdout: new TextDecoder().decode(out.stdout),
    stderr: new TextDecoder().decode(out.stderr),
  };
  if (res.code !== 0 && !options.allowFail) {
    throw new NetnsError(`${argv.join(" ")} failed (${res.code}): ${res.stderr.trim()}`);
  }
  return res;
}

/** A process started inside a namespace; stop it with {@link Proc.stop}. */
export interface Proc {
  /** OS process id (of the command itself: `ip netns exec` execs it). */
  pid: number;
  /** Label for logs. */
  name: string;
  /** Resolves with the exit code when the process ends. */
  exited: Promise<number>;
  /** Collected stdout so far (only when started with `capture`). */
  output(): string;
  /** Sends SIGTERM, then SIGKILL after `graceMs` (default 2000), and waits for exit. */
  stop(graceMs?: number): Promise<void>;
}

/** One test host: a namespace with a unique name. */
export interface Host {
  /** Short label given at creation (e.g. "h1"). */
  label: string;
  /** Unique namespace name (`vn<pid><rand><label>`). */
  ns: string;
}

/** A veth link between two hosts with its underlay addresses. */
export interface Link {
  /** Host at side A. */
  a: Host;
  /** Host at side B. */
  b: Host;
  /** Interface name in A. */
  ifA: string;
  /** Interface name in B. */
  ifB: string;
  /** Underlay address of A (no prefix length). */
  ipA: string;
  /** Underlay address of B (no prefix length). */
  ipB: string;
}

/** Options for {@link Testbed.link}. */
export interface LinkOptions {
  /** One-way `tc netem` delay in ms added on both ends (so RTT grows by 2×). */
  delayMs?: number;
}

/** Options for {@link Testbed.spawn}. */
export interface SpawnOptions {
  /** Keep stdout in memory (for {@link Proc.output}); otherwise it is discarded. */
  capture?: boolean;
  /** Extra environment variables. */
  env?: Record<string, string>;
}

/** The set of namespaces, links and processes of one benchmark; closed once. */
export interface Testbed {
  /** Unique prefix of every name created (`vn<pid><rand>`). */
  prefix: string;
  /** Hosts created so far, in order. */
  hosts: Host[];
  /** Creates a host (namespace with loopback up). */
  host(label: string): Promise<Host>;
  /** Links two hosts with a veth pair on a fresh /30 of 198.18.0.0/15. */
  link(a: Host, b: Host, options?: LinkOptions): Promise<Link>;
  /** Runs a command in a host's namespace to completion. */
  exec(host: Host, argv: string[], options?: { allowFail?: boolean }): Promise<CommandResult>;
  /** Starts a long-running command in a host's namespace; it is stopped by {@link close}. */
  spawn(host: Host, argv: string[], options?: SpawnOptions): Proc;
  /** Creates a temporary directory removed by {@link close} (for configs and keys). */
  tempDir(): Promise<string>;
  /** Stops every process (by PID), deletes the namespaces and temp dirs. Idempotent. */
  close(): Promise<void>;
}

/** Underlay /30 number n → [a, b] addresses inside 198.18.0.0/15 (n < 32768). */
export function underlayPair(n: number): [string, string] {
  if (!Number.isInteger(n) || n < 0 || n >= 32768) throw new NetnsError(`bad link index ${n}`);
  const base = n * 4; // offset inside 198.18.0.0/15 (131072 addresses)
  const third = 18 + Math.floor(base / 65536);
  const rest = base % 65536;
  const x = Math.floor(rest / 256);
  const y = rest % 256;
  return [`198.${third}.${x}.${y + 1}`, `198.${third}.${x}.${y + 2}`];
}

/** Creates an empty testbed; prefer {@link withTestbed}, which always closes it. */
export function createTestbed(): Testbed {
  const rand = crypto.getRandomValues(new Uint8Array(2));
  const prefix = `vn${Deno.pid}${rand[0].toString(16)}${rand[1].toString(16)}`;
  const hosts: Host[] = [];
  const procs: Proc[] = [];
  const dirs: string[] = [];
  // Each testbed gets its own block of /30s so parallel testbeds in one process do not clash.
  const linkBase = (Deno.pid % 512) * 64;
  let links = 0;
  let closed = false;
  const tb: Testbed = {
    prefix,
    hosts,
    async host(label) {
      const ns = `${prefix}${label}`.slice(0, 30);
      await sh(["ip", "netns", "add", ns]);
      const h = { label, ns };
      hosts.push(h);
      await sh(["ip", "-n", ns, "link", "set", "lo", "up"]);
      return h;
    },
    async link(a, b, options = {}) {
      const n = links++;
      const ifA = `v${n}${b.label}`.slice(0, 15);
      const ifB = `v${n}${a.label}`.slice(0, 15);
      // Create with a unique temp name in the root ns, then move: names only clash in the root ns.
      const tmpA = `${prefix}a${n}`.slice(0, 15);
      const tmpB = `${prefix}b${n}`.slice(0, 15);
      await sh(["ip", "link", "add", tmpA, "type", "veth", "peer", "name", tmpB]);
      await sh(["ip", "link", "set", tmpA, "netns", a.ns, "name", ifA]);
      await sh(["ip", "link", "set", tmpB, "netns", b.ns, "name", ifB]);
      const [ipA, ipB] = underlayPair(linkBase + n);
      for (const [h, ifn, ip] of [[a, ifA, ipA], [b, ifB, ipB]] as const) {
        await sh(["ip", "-n", h.ns, "addr", "add", `${ip}/30`, "dev", ifn]);
        await sh(["ip", "-n", h.ns, "link", "set", ifn, "up"]);
        if (options.delayMs) {
          await sh([
            "ip",
            "netns",
            "exec",
            h.ns,
            "tc",
            "qdisc",
            "add",
            "dev",
            ifn,
            "root",
            "netem",
            "delay",
            `${options.delayMs}ms`,
          ]);
        }
      }
      return { a, b, ifA, ifB, ipA, ipB };
    },
    exec(host, argv, options = {}) {
      return sh(["ip", "netns", "exec", host.ns, ...argv], options);
    },
    spawn(host, argv, options = {}) {
      const child = new Deno.Command("ip", {
        args: ["netns", "exec", host.ns, ...argv],
        stdin: "null",
        stdout: options.capture ? "piped" : "null",
        stderr: "null",
        env: options.env,
      }).spawn();
      let text = "";
      let drained: Promise<void> = Promise.resolve();
      if (options.capture) {
        drained = (async () => {
          const dec = new TextDecoder();
          for await (const chunk of child.stdout) text += dec.decode(chunk, { stream: true });
        })();
      }
      const exited = child.status.then(async (s) => {
        await drained.catch(() => {});
        return s.code;
      });
      let done = false;
      exited.finally(() => (done = true));
      const proc: Proc = {
        pid: child.pid,
        name: `${host.label}:${argv[0]}`,
        exited,
        output: () => text,
        async stop(graceMs = 2000) {
          if (done) return;
          try {
            child.kill("SIGTERM");
          } catch { /* already gone */ }
          const t = setTimeout(() => {
            try {
              child.kill("SIGKILL");
            } catch { /* already gone */ }
          }, graceMs);
          await exited;
          clearTimeout(t);
        },
      };
      procs.push(proc);
      return proc;
    },
    async tempDir() {
      const d = await Deno.makeTempDir({ prefix: `${prefix}-` });
      dirs.push(d);
      return d;
    },
    async close() {
      if (closed) return;
      closed = true;
      await Promise.all(procs.map((p) => p.stop().catch(() => {})));
      for (const h of hosts) await sh(["ip", "netns", "del", h.ns], { allowFail: true });
      for (const d of dirs) await Deno.remove(d, { recursive: true }).catch(() => {});
    },
  };
  return tb;
}

/**
 * Runs `fn` with a fresh testbed and closes it afterwards, on error, and on SIGINT (then exits
 * with 130).
 */
export async function withTestbed<T>(fn: (tb: Testbed) => Promise<T>): Promise<T> {
  const tb = createTestbed();
  const onInt = () => {
    tb.close().finally(() => Deno.exit(130));
  };
  Deno.addSignalListener("SIGINT", onInt);
  try {
    return await fn(tb);
  } finally {
    Deno.removeSignalListener("SIGINT", onInt);
    await tb.close();
  }
}

/** Resolves once `ip` answers a ping from `from`, or throws after `timeoutMs` (default 10000). */
export async function waitForPing(
  tb: Testbed,
  from: Host,
  options: { ip: string; timeoutMs?: number },
): Promise<void> {
  const deadline = Date.now() + (options.timeoutMs ?? 10000);
  while (Date.now() < deadline) {
    const r = await tb.exec(from, ["ping", "-c", "1", "-W", "1", options.ip], { allowFail: true });
    if (r.code === 0) return;
    await new Promise((r) => setTimeout(r, 200));
  }
  throw new NetnsError(`${options.ip} did not answer ping from ${from.label}`);
}

/** Throughput figures parsed from `iperf3 -J` client output. */
export interface IperfResult {
  /** Receiver-side throughput in Gbit/s. */
  gbps: number;
  /** Sender retransmits (TCP), 0 when absent. */
  retransmits: number;
}

/** Parses `iperf3 -J` client JSON; throws {@link NetnsError} on an error report or bad JSON. */
export function parseIperfJson(text: string): IperfResult {
  let doc: unknown;
  try {
    doc = JSON.parse(text);
  } catch {
    throw new NetnsError("iperf3 output is not JSON");
  }
  const d = doc as {
    error?: string;
    end?: {
      sum_received?: { bits_per_second?: number };
      sum_sent?: { retransmits?: number; bits_per_second?: number };
    };
  };
  if (d.error) throw new NetnsError(`iperf3: ${d.error}`);
  const bps = d.end?.sum_received?.bits_per_second;
  if (typeof bps !== "number") throw new NetnsError("iperf3 JSON has no end.sum_received");
  return { gbps: bps / 1e9, retransmits: d.end?.sum_sent?.retransmits ?? 0 };
}

/** Round-trip figures parsed from ping output. */
export interface PingResult {
  /** RTT samples in ms, in order received. */
  samples: number[];
  /** Median RTT (ms), null when no reply. */
  p50: number | null;
  /** 99th percentile RTT (ms), null when no reply. */
  p99: number | null;
  /** Packets transmitted per the summary line (0 when absent). */
  sent: number;
}

/** Nearest-rank percentile of a list (`p` in 0..1); null for an empty list. */
export function percentile(values: number[], p: number): number | null {
  if (values.length === 0) return null;
  const s = [...values].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.max(0, Math.ceil(p * s.length) - 1))];
}

/** Parses iputils `ping` output into RTT samples and p50/p99. */
export function parsePing(text: string): PingResult {
  const samples: number[] = [];
  for (const m of text.matchAll(/time[=<]([\d.]+) ms/g)) samples.push(Number(m[1]));
  const sent = Number(/(\d+) packets transmitted/.exec(text)?.[1] ?? 0);
  return { samples, p50: percentile(samples, 0.5), p99: percentile(samples, 0.99), sent };
}

/** Options for {@link iperf}. */
export interface IperfOptions {
  /** Server host. */
  server: Host;
  /** Address the client connects to. */
  ip: string;
  /** Parallel streams (-P), default 1. */
  streams?: number;
  /** Duration in seconds (-t), default 5. */
  seconds?: number;
  /** Server port, default random in 20000–29999. */
  port?: number;
}

/** Runs an iperf3 server in `server` and a bounded client in `client`; returns Gbit/s. */
export async function iperf(
  tb: Testbed,
  client: Host,
  options: IperfOptions,
): Promise<IperfResult> {
  const port = options.port ?? 20000 + Math.floor(Math.random() * 10000);
  const seconds = options.seconds ?? 5;
  const srv = tb.spawn(options.server, ["iperf3", "-s", "-1", "-p", String(port)]);
  try {
    // On a busy machine the server can take seconds to listen: wait for its socket first.
    const listenBy = Date.now() + 10000;
    while (Date.now() < listenBy) {
      const ss = await tb.exec(options.server, ["ss", "-Hltn", `sport = :${port}`], {
        allowFail: true,
      });
      if (ss.code !== 0 || ss.stdout.trim() !== "") break;
      await new Promise((res) => setTimeout(res, 100));
    }
    const deadline = Date.now() + 10000;
    let last = "";
    while (Date.now() < deadline) {
      const r = await tb.exec(client, [
        "timeout",
        String(seconds + 20),
        "iperf3",
        "-J",
        "-c",
        options.ip,
        "-p",
        String(port),
        "-t",
        String(seconds),
        "-P",
        String(options.streams ?? 1),
      ], { allowFail: true });
      last = r.stdout;
      if (r.code === 0) return parseIperfJson(r.stdout);
      if (!/refused|connect/i.test(r.stdout)) break;
      await new Promise((res) => setTimeout(res, 200));
    }
    return parseIperfJson(last);
  } finally {
    await srv.stop();
  }
}

/** Pings `ip` from `from` `count` times at `intervalS` (default 0.01 s) and parses RTTs. */
export async function ping(
  tb: Testbed,
  from: Host,
  options: { ip: string; count?: number; intervalS?: number },
): Promise<PingResult> {
  const count = options.count ?? 100;
  const r = await tb.exec(from, [
    "ping",
    "-c",
    String(count),
    "-i",
    String(options.intervalS ?? 0.01),
    "-W",
    "1",
    "-w",
    String(Math.ceil(count * (options.intervalS ?? 0.01)) + 5),
    options.ip,
  ], { allowFail: true });
  return parsePing(r.stdout);
}

/** Parses VmRSS from the text of /proc/PID/status, in MB (10^6 bytes); null when absent. */
export function parseVmRss(status: string): number | null {
  const m = /^VmRSS:\s+(\d+)\s+kB/m.exec(status);
  return m ? Number(m[1]) * 1024 / 1e6 : null;
}

/** RSS of a process in MB from /proc/PID/status (null when the process is gone). */
export async function rssMb(pid: number): Promise<number | null> {
  try {
    return parseVmRss(await Deno.readTextFile(`/proc/${pid}/status`));
  } catch {
    return null;
  }
}

/** The peers' topology: hosts h1–h2–h3 with links h1↔h2 and h2↔h3 (h1 and h3 share none). */
export interface Chain {
  h1: Host;
  h2: Host;
  h3: Host;
  l12: Link;
  l23: Link;
}

/** Builds {@link Chain} in `tb`. */
export async function chain(tb: Testbed): Promise<Chain> {
  const h1 = await tb.host("h1");
  const h2 = await tb.host("h2");
  const h3 = await tb.host("h3");
  return { h1, h2, h3, l12: await tb.link(h1, h2), l23: await tb.link(h2, h3) };
}
