/**
 * One tether end in its own process, for tests and benches that put the two ends in different
 * processes or network namespaces. Signals and commands travel as JSON lines: stdin carries
 * `{signal}` and `{cmd}` lines from the parent, stdout carries `{signal}` and `{event}` lines back.
 *
 * Usage: deno run -A tests/tether_peer.ts --role offerer|answerer --engine auto|werift|libdatachannel
 *        --host ADDR --channels K --mode echo|sink [--mtu N --high BYTES --low BYTES]
 *
 * Modes: echo sends every data message back; sink counts messages and bytes.
 * Commands: {cmd:"stats"} → {event:"stats", received, bytes, ...}; {cmd:"close"} closes the tether.
 *
 * @module
 */

import { parseArgs } from "node:util";
import process from "node:process";
import { openTether } from "../core/tether/open.ts";
import { parseSignal, type Signal, SignalQueue } from "../core/tether/signaler.ts";
import { parseEngineChoice } from "../core/tether/select.ts";

const { values } = parseArgs({
  options: {
    role: { type: "string", default: "answerer" },
    engine: { type: "string", default: "auto" },
    host: { type: "string" },
    channels: { type: "string", default: "4" },
    mode: { type: "string", default: "echo" },
    mtu: { type: "string", default: "1400" },
    high: { type: "string", default: "65536" },
    low: { type: "string", default: "16384" },
  },
});

const encoder = new TextEncoder();
/** Up to 20 message numbers below the highest seen that never arrived. */
function missing(): number[] {
  const out: number[] = [];
  const max = Math.max(-1, ...seen);
  for (let i = 0; i <= max && out.length < 20; i++) if (!seen.has(i)) out.push(i);
  return out;
}
/** Process CPU time (user + system) in ms. */
function cpuMs(): number {
  const u = process.cpuUsage();
  return (u.user + u.system) / 1000;
}
function emit(line: unknown): void {
  Deno.stdout.writeSync(encoder.encode(JSON.stringify(line) + "\n"));
}

const queue = new SignalQueue();
/** Filled in once the tether is open; commands before that are ignored. */
const hooks: {
  close?: () => void;
  stats?: () => unknown;
  sendPaced?: (count: number, size: number) => void;
  blast?: (ms: number, size: number) => void;
} = {};
let received = 0;
let bytes = 0;

(async () => {
  const decoder = new TextDecoderStream();
  let buffer = "";
  for await (const chunk of Deno.stdin.readable.pipeThrough(decoder)) {
    buffer += chunk;
    let nl;
    while ((nl = buffer.indexOf("\n")) >= 0) {
      const line = buffer.slice(0, nl);
      buffer = buffer.slice(nl + 1);
      if (!line.trim()) continue;
      const msg = JSON.parse(line) as {
        signal?: unknown;
        cmd?: string;
        count?: number;
        size?: number;
        ms?: number;
      };
      if (msg.signal) queue.push(parseSignal(msg.signal));
      else if (msg.cmd === "stats") {
        emit({
          event: "stats",
          received,
          bytes,
          cpuMs: cpuMs(),
          missing: missing(),
          tether: hooks.stats?.(),
        });
      } else if (msg.cmd === "close") hooks.close?.();
      else if (msg.cmd === "send") hooks.sendPaced?.(msg.count ?? 0, msg.size ?? 1000);
      else if (msg.cmd === "blast") hooks.blast?.(msg.ms ?? 1000, msg.size ?? 1400);
    }
  }
  // Parent went away: leave.
  Deno.exit(0);
})();

const tether = await openTether({
  peerId: "parent",
  role: values.role === "offerer" ? "offerer" : "answerer",
  engine: parseEngineChoice(values.engine!),
  channels: Number(values.channels),
  hostAddresses: values.host ? [values.host] : undefined,
  mtu: Number(values.mtu),
  highWater: Number(values.high),
  lowWater: Number(values.low),
  signaler: { send: (signal: Signal) => emit({ signal }), incoming: queue },
});
hooks.close = () => tether.close();
hooks.stats = () => tether.stats();
const echo = values.mode === "echo";
const echoQueue: Uint8Array[] = [];
// Numbers (first 4 bytes) of the first messages seen, to tell which ones went missing.
const seen = new Set<number>();
tether.onMessage((m) => {
  received++;
  bytes += m.byteLength;
  if (seen.size < 100_000 && m.byteLength >= 4) {
    seen.add(new DataView(m.buffer, m.byteOffset, 4).getUint32(0));
  }
  if (!echo) return;
  // Echoes respect back-pressure: wait in a bounded queue rather than being dropped.
  if (echoQueue.length > 0 || !tether.send(m)) {
    if (echoQueue.length < 100_000) echoQueue.push(m);
  }
});
tether.onClose((reason) => {
  emit({ event: "closed", reason });
  setTimeout(() => Deno.exit(0), 50);
});
const drained = () => new Promise<void>((resolve) => drainWaiters.push(resolve));
const drainWaiters: (() => void)[] = [];
tether.onDrain(() => {
  let sent = 0;
  while (sent < echoQueue.length && tether.send(echoQueue[sent])) sent++;
  echoQueue.splice(0, sent);
  for (const w of drainWaiters.splice(0)) w();
});
// Moderate rate: 10 messages per millisecond tick at most, each numbered in its first 4 bytes.
hooks.sendPaced = async (count, size) => {
  let sent = 0;
  while (sent < count && tether.open) {
    for (let i = 0; i < 2 && sent < count; i++) {
      const m = new Uint8Array(size);
      new DataView(m.buffer).setUint32(0, sent);
      if (tether.send(m)) sent++;
      else await drained();
    }
    await new Promise((r) => setTimeout(r, 1));
  }
  emit({ event: "sent", messages: sent });
};
// As fast as back-pressure allows, for `ms` milliseconds.
hooks.blast = async (ms, size) => {
  const m = new Uint8Array(size);
  const cpuStart = cpuMs();
  const end = performance.now() + ms;
  let messages = 0;
  while (performance.now() < end && tether.open) {
    for (let i = 0; i < 256; i++) {
      if (!tether.send(m)) {
        await drained();
        break;
      }
      messages++;
    }
    // Let incoming events run between bursts.
    if (messages % 4096 < 256) await new Promise((r) => setTimeout(r, 0));
  }
  emit({ event: "sent", messages, bytes: messages * size, ms, cpuMs: cpuMs() - cpuStart });
};
emit({ event: "open", engine: tether.engine, setupMs: tether.stats().setupMs });
