/**
 * Parent side of tests/tether_peer.ts: spawns one tether end as a subprocess (optionally inside
 * a network namespace) and exposes its signals as a Signaler and its events as a queue.
 *
 * @module
 */

import { parseSignal, type Signal, type Signaler, SignalQueue } from "../core/tether/signaler.ts";

/** An event line from the child. */
export interface PeerEvent {
  event: "open" | "stats" | "closed" | "sent";
  [key: string]: unknown;
}

/** A running child tether end. */
export interface PeerChild {
  /** Signaler whose incoming signals come from the child and whose sends go to it. */
  signaler: Signaler;
  /** Waits for the next event of `kind` (with a deadline). */
  next(kind: PeerEvent["event"], timeoutMs?: number): Promise<PeerEvent>;
  /** Sends a command line with optional numeric arguments. */
  command(cmd: string, args?: Record<string, number>): Promise<void>;
  /** Kills the child and waits for it. */
  stop(): Promise<void>;
  /** The child's stderr so far (for failure messages). */
  stderr(): string;
}

/** Options of spawnPeer. */
export interface SpawnPeerOptions {
  role: "offerer" | "answerer";
  engine: string;
  host?: string;
  channels?: number;
  mode?: "echo" | "sink";
  mtu?: number;
  /** Per-channel water marks in bytes. */
  highWater?: number;
  lowWater?: number;
  /** Run inside this network namespace (`ip netns exec`). */
  netns?: string;
}

const PEER = new URL("./tether_peer.ts", import.meta.url).pathname;
const CONFIG = new URL("../deno.json", import.meta.url).pathname;

/** Spawns tests/tether_peer.ts. */
export function spawnPeer(options: SpawnPeerOptions): PeerChild {
  const args = [
    "run",
    "-A",
    "--config",
    CONFIG,
    PEER,
    "--role",
    options.role,
    "--engine",
    options.engine,
    "--channels",
    String(options.channels ?? 4),
    "--mode",
    options.mode ?? "echo",
    "--mtu",
    String(options.mtu ?? 1400),
    "--high",
    String(options.highWater ?? 65536),
    "--low",
    String(options.lowWater ?? 16384),
    ...(options.host ? ["--host", options.host] : []),
  ];
  const child = new Deno.Command(options.netns ? "ip" : Deno.execPath(), {
    args: options.netns ? ["netns", "exec", options.netns, Deno.execPath(), ...args] : args,
    stdin: "piped",
    stdout: "piped",
    stderr: "piped",
  }).spawn();
  const writer = child.stdin.getWriter();
  const encoder = new TextEncoder();
  const write = (line: unknown) => writer.write(encoder.encode(JSON.stringify(line) + "\n"));
  const signals = new SignalQueue();
  const events: PeerEvent[] = [];
  const waiters: (() => void)[] = [];
  let errText = "";

  (async () => {
    const decoder = new TextDecoder();
    for await (const chunk of child.stderr) errText += decoder.decode(chunk, { stream: true });
  })();
  (async () => {
    let buffer = "";
    const decoder = new TextDecoder();
    for await (const chunk of child.stdout) {
      buffer += decoder.decode(chunk, { stream: true });
      let nl;
      while ((nl = buffer.indexOf("\n")) >= 0) {
        const line = buffer.slice(0, nl);
        buffer = buffer.slice(nl + 1);
        let msg: { signal?: unknown; event?: string };
        try {
          msg = JSON.parse(line);
        } catch {
          continue;
        }
        if (msg.signal) signals.push(parseSignal(msg.signal));
        else if (msg.event) {
          events.push(msg as PeerEvent);
          for (const w of waiters.splice(0)) w();
        }
      }
    }
    signals.close();
    for (const w of waiters.splice(0)) w();
  })();

  let exited = false;
  const status = child.status.then((s) => {
    exited = true;
    for (const w of waiters.splice(0)) w();
    return s;
  });

  return {
    signaler: { send: (signal: Signal) => write({ signal }), incoming: signals },
    async next(kind, timeoutMs = 15_000) {
      const deadline = Date.now() + timeoutMs;
      for (;;) {
        const i = events.findIndex((e) => e.event === kind);
        if (i >= 0) return events.splice(i, 1)[0];
        if (exited) throw new Error(`peer exited before "${kind}": ${errText}`);
        const left = deadline - Date.now();
        if (left <= 0) throw new Error(`no "${kind}" event in ${timeoutMs} ms: ${errText}`);
        let timer: ReturnType<typeof setTimeout> | undefined;
        await new Promise<void>((resolve) => {
          waiters.push(resolve);
          timer = setTimeout(resolve, left);
        });
        clearTimeout(timer);
      }
    },
    command: (c, args) => write({ cmd: c, ...args }),
    async stop() {
      try {
        await writer.close();
      } catch { /* already closed */ }
      if (!exited) {
        const timer = setTimeout(() => {
          try {
            child.kill("SIGKILL");
          } catch { /* gone */ }
        }, 2000);
        await status;
        clearTimeout(timer);
      }
    },
    stderr: () => errText,
  };
}
