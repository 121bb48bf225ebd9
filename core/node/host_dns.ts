/**
 * The host's resolver configuration for our names, with a clean undo (run.ts calls it at start
 * and the returned undo at stop):
 *
 * - Linux with systemd-resolved: per-link settings on the TUN (`resolvectl dns`, `domain
 *   ~<suffix> ~<reverse zones>`, `default-route false`, LLMNR and mDNS off), reverted at stop;
 *   after a crash the TUN
 *   is gone and resolved drops its link settings by itself.
 * - Linux without resolved: nothing, unless `--dns-config resolv.conf`: then one marked
 *   `nameserver` line goes first in /etc/resolv.conf, edited in place (a bind-mounted file, as
 *   in containers and `ip netns exec`, refuses rename), and exactly the marked lines are removed
 *   at stop and at the next start after a crash.
 * - macOS: a marked `/etc/resolver/<suffix>` file. Windows: an NRPT rule for the suffix,
 *   removed at start and stop.
 *
 * @module
 */

/** `--dns-config`: how the host is told about our names. */
export type DnsConfigMode = "auto" | "resolv.conf";

/** Runs a program; resolves with its exit code and output. */
export type CommandRunner = (
  program: string,
  args: string[],
) => Promise<{ code: number; stdout: string; stderr: string }>;

/** What configuring needs; the file and command parts are replaceable for tests. */
export interface HostDnsOptions {
  mode: DnsConfigMode;
  os: typeof Deno.build.os;
  tunName: string;
  /** The resolver's address (our overlay IP). */
  server: string;
  suffix: string;
  reverseZones: readonly string[];
  run?: CommandRunner;
  /** Default /etc/resolv.conf. */
  resolvConfPath?: string;
  /** Default /etc/resolver (macOS). */
  resolverDir?: string;
  /** Whether systemd-resolved runs (default: its runtime directory exists and resolvectl runs). */
  resolvedRunning?: () => Promise<boolean>;
}

/** What was configured, and how to undo it. */
export interface HostDns {
  /** "systemd-resolved", "resolv.conf", "macos-resolver", "windows-nrpt" or "none". */
  host: string;
  /** One line for `info`. */
  detail: string;
  /** Removes exactly what was added; never throws. */
  undo(): Promise<void>;
}

/** The marker on every line or file we add (with the TUN name: several nodes on one host). */
export function dnsMarker(tunName: string): string {
  return `veilnet-conflux ${tunName}`;
}

/** The comment ending our resolv.conf line. */
function resolvComment(tunName: string): string {
  return `# added by ${dnsMarker(tunName)}; removed when it stops`;
}

/**
 * `text` without the lines we marked for `tunName` (left by a crash, or ours at stop). Every
 * other byte stays as it was.
 */
export function removeMarkedLines(text: string, tunName: string): string {
  const comment = resolvComment(tunName);
  return text.split(/(?<=\n)/).filter((line) => !line.replace(/\r?\n$/, "").endsWith(comment))
    .join("");
}

/** `text` with our nameserver line first (resolvers try servers in order). */
export function addNameserverLine(text: string, server: string, tunName: string): string {
  return `nameserver ${server} ${resolvComment(tunName)}\n` + removeMarkedLines(text, tunName);
}

/** Writes `text` into `path` in place (truncate and write: works on a bind-mounted file). */
async function writeInPlace(path: string, text: string): Promise<void> {
  const f = await Deno.open(path, { write: true, truncate: true });
  try {
    const bytes = new TextEncoder().encode(text);
    let written = 0;
    while (written < bytes.length) written += await f.write(bytes.subarray(written));
    await f.sync();
  } finally {
    f.close();
  }
}

/** Runs a program with Deno.Command. */
export const systemRunner: CommandRunner = async (program, args) => {
  const out = await new Deno.Command(program, { args, stdout: "piped", stderr: "piped" })
    .output();
  const d = new TextDecoder();
  return { code: out.code, stdout: d.decode(out.stdout), stderr: d.decode(out.stderr) };
};

async function defaultResolvedRunning(run: CommandRunner): Promise<boolean> {
  try {
    await Deno.stat("/run/systemd/resolve/io.systemd.Resolve");
  } catch {
    return false;
  }
  try {
    return (await run("resolvectl", ["status", "--no-pager"])).code === 0;
  } catch {
    return false;
  }
}

/**
 * Removes what a previous run left for this TUN (resolv.conf lines, a macOS resolver file, a
 * Windows NRPT rule), then configures the host as `o.mode` and the OS allow. Failures are not
 * fatal: the result says "none" and why.
 */
export async function configureHostDns(o: HostDnsOptions): Promise<HostDns> {
  const run = o.run ?? systemRunner;
  const none = (detail: string): HostDns => ({ host: "none", detail, undo: async () => {} });
  const where = `${o.server}:53`;
  try {
    if (o.mode === "resolv.conf") {
      if (o.os === "windows") return none("--dns-config resolv.conf is not for Windows");
      return await resolvConf(o);
    }
    if (o.os === "linux") {
      // A line left by a crash of a run that used --dns-config resolv.conf goes in any case.
      await cleanResolvConf(o);
      const running = await (o.resolvedRunning ?? (() => defaultResolvedRunning(run)))();
      if (!running) {
        return none(
          `no systemd-resolved: the host's resolver is left alone (query ${where}, or use --dns-config resolv.conf)`,
        );
      }
      return await resolved(o, run);
    }
    if (o.os === "darwin") return await macResolver(o);
    if (o.os === "windows") return await nrpt(o, run);
    return none(`no DNS configuration on ${o.os}: query ${where}`);
  } catch (e) {
    return none(`the host's DNS could not be configured: ${e instanceof Error ? e.message : e}`);
  }
}

async function cleanResolvConf(o: HostDnsOptions): Promise<void> {
  const path = o.resolvConfPath ?? "/etc/resolv.conf";
  let text: string;
  try {
    text = await Deno.readTextFile(path);
  } catch {
    return;
  }
  const cleaned = removeMarkedLines(text, o.tunName);
  if (cleaned !== text) await writeInPlace(path, cleaned);
}

async function resolvConf(o: HostDnsOptions): Promise<HostDns> {
  const path = o.resolvConfPath ?? "/etc/resolv.conf";
  const text = await Deno.readTextFile(path);
  await writeInPlace(path, addNameserverLine(text, o.server, o.tunName));
  return {
    host: "resolv.conf",
    detail: `nameserver ${o.server} first in ${path} (marked "${dnsMarker(o.tunName)}")`,
    undo: async () => {
      try {
        const now = await Deno.readTextFile(path);
        const cleaned = removeMarkedLines(now, o.tunName);
        if (cleaned !== now) await writeInPlace(path, cleaned);
      } catch {
        // the file went away: nothing of ours is left in it
      }
    },
  };
}

async function resolved(o: HostDnsOptions, run: CommandRunner): Promise<HostDns> {
  const must = async (args: string[]) => {
    const r = await run("resolvectl", args);
    if (r.code !== 0) throw new Error(`resolvectl ${args.join(" ")}: ${r.stderr.trim()}`);
  };
  const domains = [o.suffix, ...o.reverseZones].map((d) => `~${d}`);
  try {
    await must(["dns", o.tunName, o.server]);
    await must(["domain", o.tunName, ...domains]);
    await must(["default-route", o.tunName, "false"]);
    // No LLMNR or mDNS multicast into the overlay (best effort: older resolved lack them).
    await run("resolvectl", ["llmnr", o.tunName, "no"]).catch(() => {});
    await run("resolvectl", ["mdns", o.tunName, "no"]).catch(() => {});
  } catch (e) {
    await run("resolvectl", ["revert", o.tunName]).catch(() => {});
    throw e;
  }
  return {
    host: "systemd-resolved",
    detail: `link ${o.tunName}: dns ${o.server}, domain ~${o.suffix}` +
      (o.reverseZones.length ? ` and ${o.reverseZones.length} reverse zone(s)` : "") +
      ", default-route false, no LLMNR/mDNS",
    undo: async () => {
      await run("resolvectl", ["revert", o.tunName]).catch(() => {});
    },
  };
}

/** The macOS resolver file's content (marked). */
export function macResolverFile(server: string, tunName: string): string {
  return `# ${dnsMarker(tunName)}: removed when it stops\nnameserver ${server}\nport 53\n`;
}

async function macResolver(o: HostDnsOptions): Promise<HostDns> {
  const dir = o.resolverDir ?? "/etc/resolver";
  const path = `${dir}/${o.suffix}`;
  const marker = `# ${dnsMarker(o.tunName)}`;
  let existing: string | undefined;
  try {
    existing = await Deno.readTextFile(path);
  } catch {
    existing = undefined;
  }
  if (existing !== undefined && !existing.startsWith(marker)) {
    return {
      host: "none",
      detail: `${path} exists and is not ours: left alone`,
      undo: async () => {},
    };
  }
  await Deno.mkdir(dir, { recursive: true });
  await Deno.writeTextFile(path, macResolverFile(o.server, o.tunName));
  return {
    host: "macos-resolver",
    detail: `${path} → ${o.server}`,
    undo: async () => {
      try {
        if ((await Deno.readTextFile(path)).startsWith(marker)) await Deno.remove(path);
      } catch {
        // gone already
      }
    },
  };
}

/** A PowerShell single-quoted string. */
function psQuote(text: string): string {
  return `'${text.replaceAll("'", "''")}'`;
}

/** The PowerShell that removes our NRPT rules. */
export function nrptRemoveScript(tunName: string): string {
  return `Get-DnsClientNrptRule | Where-Object { $_.Comment -eq ${
    psQuote(dnsMarker(tunName))
  } } | ` +
    `Remove-DnsClientNrptRule -Force`;
}

/** The PowerShell that adds our NRPT rule. */
export function nrptAddScript(suffix: string, server: string, tunName: string): string {
  return `Add-DnsClientNrptRule -Namespace ${psQuote(`.${suffix}`)} -NameServers ${
    psQuote(server)
  } -Comment ${psQuote(dnsMarker(tunName))}`;
}

async function nrpt(o: HostDnsOptions, run: CommandRunner): Promise<HostDns> {
  const ps = (script: string) =>
    run("powershell.exe", ["-NoProfile", "-NonInteractive", "-Command", script]);
  await ps(nrptRemoveScript(o.tunName));
  const r = await ps(nrptAddScript(o.suffix, o.server, o.tunName));
  if (r.code !== 0) throw new Error(`Add-DnsClientNrptRule: ${r.stderr.trim()}`);
  return {
    host: "windows-nrpt",
    detail: `NRPT rule .${o.suffix} → ${o.server}`,
    undo: async () => {
      await ps(nrptRemoveScript(o.tunName)).catch(() => {});
    },
  };
}
