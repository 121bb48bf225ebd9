/**
 * Shared plumbing for the multi-process TUN tests and the TUN benchmark: unique names,
 * network namespaces removed in `finally`, and the JSON-line child in tests/tun_helper.ts.
 *
 * @module
 */

const HELPER = new URL("./tun_helper.ts", import.meta.url).pathname;

/** True when running as root (the TUN tests need it). */
export function isRoot(): boolean {
  return Deno.uid() === 0;
}

/** A short unique name: prefix + pid + random, at most 15 characters (an interface name). */
export function uniqueName(prefix: string): string {
  const rand = crypto.getRandomValues(new Uint32Array(1))[0].toString(36).slice(0, 4);
  return `${prefix}${Deno.pid % 100000}${rand}`.slice(0, 15);
}

/** Result of a finished command. */
export interface RunResult {
  success: boolean;
  code: number;
  stdout: string;
  stderr: string;
}

/** Runs a command to completion, capturing its output; throws if it cannot start. */
export async function run(cmd: string[], options: { stdin?: string } = {}): Promise<RunResult> {
  const child = new Deno.Command(cmd[0], {
    args: cmd.slice(1),
    stdin: options.stdin !== undefined ? "piped" : "null",
    stdout: "piped",
    stderr: "piped",
  }).spawn();
  if (options.stdin !== undefined) {
    const w = child.stdin.getWriter();
    await w.write(new TextEncoder().encode(options.stdin));
    await w.close();
  }
  const out = await child.output();
  const dec = new TextDecoder();
  return {
    success: out.success,
    code: out.code,
    stdout: dec.decode(out.stdout),
    stderr: dec.decode(out.stderr),
  };
}

/** Runs a command and throws with its stderr when it fails. */
export async function mustRun(cmd: string[]): Promise<string> {
  const r = await run(cmd);
  if (!r.success) throw new Error(`${cmd.join(" ")} failed (${r.code}): ${r.stderr.trim()}`);
  return r.stdout;
}

/** Creates `count` fresh namespaces, runs `fn`, and deletes them afterwards, even on failure. */
export async function withNetns<T>(
  count: number,
  fn: (names: string[]) => Promise<T>,
): Promise<T> {
  const names: string[] = [];
  try {
    for (let i = 0; i < count; i++) {
      const name = `vn-tun-${Deno.pid}-${crypto.randomUUID().slice(0, 8)}`;
      await mustRun(["ip", "netns", "add", name]);
      names.push(name);
    }
    return await fn(names);
  } finally {
    for (const n of names) await run(["ip", "netns", "del", n]);
  }
}

/** A tests/tun_helper.ts child inside a namespace, spoken to in JSON lines. */
export class Helper {
  #child: Deno.ChildProcess;
  #writer: WritableStreamDefaultWriter<Uint8Array>;
  #lines: AsyncIterator<string>;
  #stderr: Promise<string>;

  private constructor(child: Deno.ChildProcess) {
    this.#child = child;
    this.#writer = child.stdin.getWriter();
    this.#lines = lines(child.stdout);
    this.#stderr = new Response(child.stderr).text();
  }

  /**
   * Starts `tun_helper.ts <mode> <json>` in namespace `netns`; `wrap` is put between
   * `ip netns exec NS` and deno (e.g. setpriv to drop capabilities).
   */
  static spawn(
    netns: string,
    mode: "serve" | "forward" | "loop",
    args: unknown,
    options: { wrap?: string[]; env?: Record<string, string> } = {},
  ): Helper {
    const argv = [
      "netns",
      "exec",
      netns,
      ...(options.wrap ?? []),
      Deno.execPath(),
      "run",
      "-A",
      "--quiet",
      HELPER,
      mode,
      JSON.stringify(args),
    ];
    const child = new Deno.Command("ip", {
      args: argv,
      stdin: "piped",
      stdout: "piped",
      stderr: "piped",
      env: options.env,
    }).spawn();
    return new Helper(child);
  }

  /** The next JSON line the child printed; throws with its stderr if it ended instead. */
  async next(): Promise<Record<string, unknown>> {
    const r = await this.#lines.next();
    if (r.done) {
      const status = await this.#child.status;
      throw new Error(`helper exited (${status.code}): ${await this.#stderr}`);
    }
    return JSON.parse(r.value);
  }

  /** Sends one command and returns the reply line. */
  async request(cmd: Record<string, unknown>): Promise<Record<string, unknown>> {
    await this.#writer.write(new TextEncoder().encode(JSON.stringify(cmd) + "\n"));
    return await this.next();
  }

  /** Closes stdin (the child's signal to finish) and waits for it to exit. */
  async finish(): Promise<Deno.CommandStatus> {
    await this.#writer.close().catch(() => {});
    const status = await this.#child.status;
    await this.#stderr;
    return status;
  }

  /** Ends the child by PID (used only on test failure paths). */
  async kill(): Promise<void> {
    try {
      this.#child.kill("SIGKILL");
    } catch {
      // already gone
    }
    await this.#writer.close().catch(() => {});
    await this.#child.status;
    await this.#stderr.catch(() => "");
  }
}

async function* lines(stream: ReadableStream<Uint8Array>): AsyncGenerator<string> {
  const decoder = new TextDecoder();
  let pending = "";
  for await (const chunk of stream) {
    pending += decoder.decode(chunk, { stream: true });
    let nl;
    while ((nl = pending.indexOf("\n")) >= 0) {
      yield pending.slice(0, nl);
      pending = pending.slice(nl + 1);
    }
  }
  if (pending) yield pending;
}

/** True if `cmd --version`-style probing finds the program. */
export async function hasProgram(name: string): Promise<boolean> {
  try {
    const r = await new Deno.Command("sh", {
      args: ["-c", `command -v ${name}`],
      stdout: "null",
      stderr: "null",
    }).output();
    return r.success;
  } catch {
    return false;
  }
}
