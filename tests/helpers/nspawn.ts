/**
 * A booted systemd for tests: a minimal Debian bookworm root made once with debootstrap and cached
 * under `.cache/nspawn/` (VEILNET_NSPAWN_CACHE elsewhere), booted by the test with
 * `systemd-nspawn --boot`. Shared by the service test and the systemd-resolved test.
 *
 * @module
 */
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";

const REPO = dirname(dirname(dirname(fileURLToPath(import.meta.url))));
/** Where the roots are cached. */
export const NSPAWN_CACHE = Deno.env.get("VEILNET_NSPAWN_CACHE") ?? join(REPO, ".cache", "nspawn");

/** Whether `program` is on PATH (or in the sbin folders). */
export function which(program: string): boolean {
  for (const dir of (Deno.env.get("PATH") ?? "").split(":").concat(["/usr/sbin", "/sbin"])) {
    try {
      if (Deno.statSync(join(dir, program)).isFile) return true;
    } catch { /* keep looking */ }
  }
  return false;
}

/** Why an nspawn test cannot run here (null when it can): not root, or programs missing. */
export function nspawnSkipReason(): string | null {
  const missing = ["systemd-nspawn", "debootstrap", "ip", "nsenter", "nats-server"].filter((p) =>
    !which(p)
  );
  if (Deno.uid() !== 0) return "needs root";
  if (missing.length === 0) return null;
  return `missing ${missing.join(", ")} (apt-get install systemd-container debootstrap iproute2 ` +
    "nats-server)";
}

/** What a program printed. */
export interface Output {
  code: number;
  stdout: string;
  stderr: string;
}

/** Runs `program` to the end (killed after `timeoutMs`). */
export async function exec(program: string, args: string[], timeoutMs = 120_000): Promise<Output> {
  const out = await new Deno.Command(program, {
    args,
    stdin: "null",
    stdout: "piped",
    stderr: "piped",
    signal: AbortSignal.timeout(timeoutMs),
  }).output();
  const d = new TextDecoder();
  return { code: out.code, stdout: d.decode(out.stdout), stderr: d.decode(out.stderr) };
}

/** The apt mirror configured on this host (deb822 or one-line format), for debootstrap. */
export function aptMirror(): string {
  const texts: string[] = [];
  try {
    for (const e of Deno.readDirSync("/etc/apt/sources.list.d")) {
      if (e.name.endsWith(".sources") || e.name.endsWith(".list")) {
        texts.push(Deno.readTextFileSync(join("/etc/apt/sources.list.d", e.name)));
      }
    }
  } catch { /* none */ }
  try {
    texts.push(Deno.readTextFileSync("/etc/apt/sources.list"));
  } catch { /* none */ }
  for (const text of texts) {
    const uri = /^URIs:\s*(\S+)/m.exec(text)?.[1] ??
      /^deb\s+(?:\[[^\]]*\]\s+)?(\S+)\s+bookworm\s/m.exec(text)?.[1];
    if (uri && !uri.includes("security")) return uri;
  }
  return "http://deb.debian.org/debian";
}

/**
 * The cached Debian root `name` with systemd and the packages `include`, made once with
 * debootstrap (ready when `marker` exists in it; concurrent runs wait on a lock folder for up to
 * `lockMinutes`); returns its path.
 */
export async function ensureRoot(
  name: string,
  include: string[],
  options: { marker?: string; lockMinutes?: number } = {},
): Promise<string> {
  const root = join(NSPAWN_CACHE, name);
  const lockMinutes = options.lockMinutes ?? 15;
  const ready = () => {
    try {
      return Deno.statSync(join(root, options.marker ?? "usr/lib/systemd/systemd")).isFile;
    } catch {
      return false;
    }
  };
  if (ready()) return root;
  await Deno.mkdir(NSPAWN_CACHE, { recursive: true });
  const lock = `${root}.lock`;
  for (let i = 0;; i++) {
    try {
      Deno.mkdirSync(lock);
      break;
    } catch {
      if (ready()) return root;
      if (i > lockMinutes * 60) {
        throw new Error(`${lock} held for ${lockMinutes} minutes: remove it if stale`);
      }
      await new Promise((r) => setTimeout(r, 1000));
    }
  }
  try {
    if (ready()) return root;
    const temp = `${root}.tmp-${Deno.pid}`;
    await Deno.remove(temp, { recursive: true }).catch(() => {});
    const r = await exec("debootstrap", [
      "--variant=minbase",
      `--include=${["systemd", "systemd-sysv", "dbus", ...include].join(",")}`,
      "bookworm",
      temp,
      aptMirror(),
    ], 900_000);
    if (r.code !== 0) {
      await Deno.remove(temp, { recursive: true }).catch(() => {});
      throw new Error(`debootstrap failed (${r.code}):\n${(r.stdout + r.stderr).slice(-2000)}`);
    }
    await Deno.remove(root, { recursive: true }).catch(() => {});
    await Deno.rename(temp, root);
    return root;
  } finally {
    await Deno.remove(lock).catch(() => {});
  }
}

/** Reads lines from a child's stdout. */
export function lineReader(stream: ReadableStream<Uint8Array>): () => Promise<string> {
  const reader = stream.pipeThrough(new TextDecoderStream()).getReader();
  let buffered = "";
  return async () => {
    for (;;) {
      const nl = buffered.indexOf("\n");
      if (nl >= 0) {
        const line = buffered.slice(0, nl);
        buffered = buffered.slice(nl + 1);
        return line;
      }
      const { done, value } = await reader.read();
      if (done) throw new Error(`stream ended; partial: ${buffered}`);
      buffered += value;
    }
  };
}

/** The booted container's PID 1 (systemd), a descendant of the nspawn process. */
export function containerInit(nspawnPid: number): number | null {
  const queue = [nspawnPid];
  while (queue.length > 0) {
    const pid = queue.shift()!;
    let children: number[] = [];
    try {
      children = Deno.readTextFileSync(`/proc/${pid}/task/${pid}/children`).trim().split(/\s+/)
        .filter(Boolean).map(Number);
    } catch {
      continue;
    }
    for (const c of children) {
      try {
        if (Deno.readTextFileSync(`/proc/${c}/comm`).trim() === "systemd") return c;
      } catch { /* gone */ }
      queue.push(c);
    }
  }
  return null;
}
