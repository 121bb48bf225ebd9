/**
 * Test helper: runs a real `nats-server` (Debian package `nats-server`) on 127.0.0.1.
 *
 * ```ts
 * const nats = await startNatsServer(configPath);   // waits for "Server is ready"
 * try { ... nats.url ... } finally { await nats.stop(); }
 * ```
 *
 * The server is stopped by its PID only (`child.kill`), never by name.
 *
 * @module
 */

/** A running nats-server started by this process. */
export interface NatsServer {
  /** Client URL, e.g. `nats://127.0.0.1:41234`. */
  url: string;
  /** Client port. */
  port: number;
  /** PID of the nats-server process. */
  pid: number;
  /** Configuration file it runs with. */
  configPath: string;
  /** The server's log output so far (last 64 KiB), for diagnostics. */
  logs(): string;
  /** Stops the server (SIGTERM, then SIGKILL after 5 s) and waits for it to exit. Idempotent. */
  stop(): Promise<void>;
}

/** Options of {@link startNatsServer}. */
export interface StartNatsOptions {
  /** Give up waiting for readiness after this many ms (default 10,000). */
  readyTimeoutMs?: number;
  /** Extra nats-server arguments, e.g. `["-DV"]`. */
  args?: string[];
}

/** A TCP port on 127.0.0.1 that was free a moment ago. */
export function freePort(): number {
  const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const port = (listener.addr as Deno.NetAddr).port;
  listener.close();
  return port;
}

/** Several distinct free ports. */
export function freePorts(count: number): number[] {
  const listeners = Array.from(
    { length: count },
    () => Deno.listen({ hostname: "127.0.0.1", port: 0 }),
  );
  const ports = listeners.map((l) => (l.addr as Deno.NetAddr).port);
  for (const l of listeners) l.close();
  return ports;
}

/**
 * Starts `nats-server -c configPath` and resolves once it logs "Server is ready". The client
 * port is read from the config's `listen:` line. Throws (with the server's log) if it exits or
 * is not ready in time.
 */
export async function startNatsServer(
  configPath: string,
  options: StartNatsOptions = {},
): Promise<NatsServer> {
  const config = await Deno.readTextFile(configPath);
  const m = /^listen:\s*"?([^"\s]+):(\d+)"?\s*$/m.exec(config);
  if (!m) throw new Error(`no listen host:port in ${configPath}`);
  const port = Number(m[2]);
  const child = new Deno.Command("nats-server", {
    args: ["-c", configPath, ...(options.args ?? [])],
    stdin: "null",
    stdout: "piped",
    stderr: "piped",
  }).spawn();
  let log = "";
  let ready!: () => void;
  const readyP = new Promise<void>((r) => (ready = r));
  const pump = async (stream: ReadableStream<Uint8Array>) => {
    const decoder = new TextDecoder();
    for await (const chunk of stream) {
      log = (log + decoder.decode(chunk, { stream: true })).slice(-65536);
      if (log.includes("Server is ready")) ready();
    }
  };
  const pumps = Promise.all([pump(child.stdout), pump(child.stderr)]).catch(() => {});
  let exited = false;
  const status = child.status.then((s) => {
    exited = true;
    return s;
  });
  const timeout = options.readyTimeoutMs ?? 10_000;
  let timer: ReturnType<typeof setTimeout> | undefined;
  const outcome = await Promise.race([
    readyP.then(() => "ready" as const),
    status.then(() => "exited" as const),
    new Promise<"timeout">((r) => (timer = setTimeout(() => r("timeout"), timeout))),
  ]);
  clearTimeout(timer);
  let stopped: Promise<void> | null = null;
  const stop = (): Promise<void> => {
    stopped ??= (async () => {
      if (!exited) {
        try {
          child.kill("SIGTERM");
        } catch { /* already gone */ }
        const killTimer = setTimeout(() => {
          try {
            child.kill("SIGKILL");
          } catch { /* already gone */ }
        }, 5000);
        await status;
        clearTimeout(killTimer);
      } else {
        await status;
      }
      await pumps;
    })();
    return stopped;
  };
  if (outcome !== "ready") {
    await stop();
    throw new Error(`nats-server ${outcome} before ready (${configPath}):\n${log.slice(-2000)}`);
  }
  return {
    url: `nats://${m[1]}:${port}`,
    port,
    pid: child.pid,
    configPath,
    logs: () => log,
    stop,
  };
}
