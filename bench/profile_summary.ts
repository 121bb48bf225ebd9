/**
 * Reads V8 CPU profiles (.cpuprofile) and attributes self time to data-path categories (TUN,
 * copies, AES-GCM, framing, data channel, node glue, event loop, GC, idle, …), then converts it
 * to microseconds per packet. Input: a directory written by bench/tunnel_profile.ts (runs.json
 * gives each run's iperf3 window and packet counts), or single profiles (whole profile, per
 * second of wall time).
 *
 *   deno run -A bench/profile_summary.ts DIR [--top 15] [--json]
 *   deno run -A bench/profile_summary.ts FILE.cpuprofile…
 *
 * A sample is attributed by walking its stack from the leaf upward to the first frame a rule
 * recognises, so a builtin (`TypedArray.set`, a napi call) counts for the module that called it;
 * copies are the exception: a copying builtin at the leaf counts as a copy wherever it was called.
 *
 * @module
 */

import { parseArgs } from "node:util";
import { basename, join } from "node:path";
import type { ProfiledRun, ThreadTimes } from "./tunnel_profile.ts";

/** V8 CPU profile (Profiler.stop result). */
export interface CpuProfile {
  nodes: {
    id: number;
    callFrame: { functionName: string; url: string; lineNumber: number };
    children?: number[];
  }[];
  /** µs, CLOCK_MONOTONIC. */
  startTime: number;
  endTime: number;
  samples: number[];
  timeDeltas: number[];
}

/** Categories in table order. */
export const CATEGORIES = [
  "TUN read/write (FFI)",
  "copies (TypedArray set/slice, alloc)",
  "AES-GCM (seal/open)",
  "framing (frame, batch, batcher)",
  "data channel send (engine call)",
  "data channel receive, tether",
  "node data path (packet, router, streams)",
  "control plane (NATS, handshakes, probes)",
  "event loop, promises, timers",
  "native, unattributed ((program))",
  "GC",
  "idle (waiting)",
  "other",
] as const;
/** One of CATEGORIES. */
export type Category = typeof CATEGORIES[number];

const COPY_BUILTINS = new Set([
  "set",
  "slice",
  "subarray",
  "copyWithin",
  "Uint8Array",
  "ArrayBuffer",
  "TypedArrayPrototypeSet",
  "TypedArrayPrototypeSlice",
  "concat",
  "fill",
]);

/** URL rules, first match wins (checked per frame, leaf first). */
const URL_RULES: [RegExp, Category][] = [
  [/\/ffi\/(tun|packet_batch|segment|virtio_net_hdr|icmp_echo)\.ts/, "TUN read/write (FFI)"],
  [/\/ffi\/aesgcm\.ts|\/core\/crypto\/aead\.ts/, "AES-GCM (seal/open)"],
  [
    /\/core\/wire\/frame|\/core\/tether\/batcher\.ts|\/core\/route\/link_frames/,
    "framing (frame, batch, batcher)",
  ],
  [/node-datachannel|werift|\/core\/tether\//, "data channel receive, tether"],
  [
    /\/core\/node\/|\/core\/route\/|\/core\/stream\/|\/core\/session\//,
    "node data path (packet, router, streams)",
  ],
  [/@noble|mlkem|\/core\/crypto\//, "control plane (NATS, handshakes, probes)"],
  [
    /@nats-io|\/core\/control\/|\/core\/discovery\/|protobuf|\/core\/wire\/gen\//,
    "control plane (NATS, handshakes, probes)",
  ],
];
/** Runtime frames count only when no project frame is on the stack. */
const RUNTIME = /^ext:|^node:|internal\/|deno_node/;
/** The engine's send: node-datachannel runs SCTP, DTLS and sendto inside this call. */
const ENGINE_SEND = /\/core\/tether\/engine_\w+\.ts/;
const SEND_NAMES = new Set(["send", "bufferedAmount"]);

/** Category of one stack (leaf first). */
export function categorize(
  stack: readonly { functionName: string; url: string }[],
): Category {
  const leaf = stack[0];
  if (leaf.functionName === "(idle)") return "idle (waiting)";
  if (leaf.functionName === "(garbage collector)") return "GC";
  if (leaf.functionName === "(program)") return "native, unattributed ((program))";
  if (!leaf.url && COPY_BUILTINS.has(leaf.functionName)) {
    return "copies (TypedArray set/slice, alloc)";
  }
  for (const frame of stack) {
    if (!frame.url || RUNTIME.test(frame.url)) continue;
    if (ENGINE_SEND.test(frame.url) && SEND_NAMES.has(frame.functionName)) {
      return "data channel send (engine call)";
    }
    for (const [re, cat] of URL_RULES) if (re.test(frame.url)) return cat;
  }
  return stack.some((f) => RUNTIME.test(f.url)) ? "event loop, promises, timers" : "other";
}

/** Self time per category and per function within [from, to] (µs on the profile clock). */
export interface Attribution {
  /** µs of samples inside the window. */
  totalUs: number;
  byCategory: Map<Category, number>;
  byFunction: Map<string, number>;
}

/** Attributes the samples of `profile` inside the window (whole profile by default). */
export function attribute(
  profile: CpuProfile,
  window: { fromUs?: number; toUs?: number } = {},
): Attribution {
  const byId = new Map(profile.nodes.map((n) => [n.id, n]));
  const parent = new Map<number, number>();
  for (const n of profile.nodes) for (const c of n.children ?? []) parent.set(c, n.id);
  const catCache = new Map<number, Category>();
  const stackOf = (id: number) => {
    const out = [];
    for (let at: number | undefined = id; at !== undefined; at = parent.get(at)) {
      const n = byId.get(at)!;
      if (n.callFrame.functionName !== "(root)") out.push(n.callFrame);
    }
    return out.length ? out : [{ functionName: "(root)", url: "", lineNumber: 0 }];
  };
  const from = window.fromUs ?? -Infinity;
  const to = window.toUs ?? Infinity;
  const byCategory = new Map<Category, number>();
  const byFunction = new Map<string, number>();
  let totalUs = 0;
  let t = profile.startTime;
  const { samples, timeDeltas } = profile;
  for (let i = 0; i < samples.length; i++) {
    t += timeDeltas[i];
    // A sample stands for the time until the next one.
    const dt = i + 1 < samples.length ? timeDeltas[i + 1] : 0;
    if (t < from || t >= to || dt <= 0) continue;
    const id = samples[i];
    let cat = catCache.get(id);
    if (!cat) {
      cat = categorize(stackOf(id));
      catCache.set(id, cat);
    }
    totalUs += dt;
    byCategory.set(cat, (byCategory.get(cat) ?? 0) + dt);
    const leaf = byId.get(id)!.callFrame;
    const key = `${leaf.functionName || "(anonymous)"} ${
      leaf.url ? `${basename(leaf.url)}:${leaf.lineNumber + 1}` : ""
    }`.trim();
    byFunction.set(key, (byFunction.get(key) ?? 0) + dt);
  }
  return { totalUs, byCategory, byFunction };
}

/** One column of the table: a profiled node. */
export interface Column {
  title: string;
  attribution: Attribution;
  /** Divisor: packets in the window (or seconds, for a bare profile). */
  packets: number;
}

function fmt(x: number): string {
  return x >= 100 ? x.toFixed(0) : x >= 10 ? x.toFixed(1) : x.toFixed(2);
}

/** Markdown table: µs per packet and share of wall time per category, one column per node. */
export function markdownTable(columns: readonly Column[], unit = "µs/packet"): string {
  const head = `| category | ${columns.map((c) => `${c.title} ${unit} (% of wall)`).join(" | ")} |`;
  const rule = `| --- | ${columns.map(() => "---:").join(" | ")} |`;
  const rows = CATEGORIES.map((cat) => {
    const cells = columns.map((c) => {
      const us = c.attribution.byCategory.get(cat) ?? 0;
      const pct = (100 * us) / Math.max(1, c.attribution.totalUs);
      return `${fmt(us / c.packets)} (${pct.toFixed(0)} %)`;
    });
    return `| ${cat} | ${cells.join(" | ")} |`;
  });
  const busy = columns.map((c) => {
    const idle = c.attribution.byCategory.get("idle (waiting)") ?? 0;
    return `**${fmt((c.attribution.totalUs - idle) / c.packets)}**`;
  });
  const total = columns.map((c) => fmt(c.attribution.totalUs / c.packets));
  return [
    head,
    rule,
    ...rows,
    `| **busy (all but idle)** | ${busy.join(" | ")} |`,
    `| wall time | ${total.join(" | ")} |`,
  ].join("\n");
}

function topFunctions(a: Attribution, n: number): string {
  return [...a.byFunction.entries()].sort((x, y) => y[1] - x[1]).slice(0, n)
    .map(([k, us]) => `  ${((100 * us) / a.totalUs).toFixed(1).padStart(5)} %  ${k}`).join("\n");
}

/** On-CPU time of one thread group from `perf record`: cores used and the kernel's share. */
export interface ThreadUse {
  thread: string;
  cores: number;
  kernelShare: number;
}

/** perf's sampling rate in bench/tunnel_profile.ts (`-F 999`). */
const PERF_HZ = 999;

/**
 * Parses `perf report --sort comm,dso -n -g none --stdio` output into cores per thread name over
 * `seconds` (samples / rate / seconds; perf only samples a thread while it is on a CPU).
 */
export function parsePerfThreads(report: string, seconds: number, hz = PERF_HZ): ThreadUse[] {
  const by = new Map<string, { samples: number; kernel: number }>();
  for (const line of report.split("\n")) {
    if (line.startsWith("#")) continue;
    const cols = line.trim().split(/\s{2,}/);
    if (cols.length < 4 || !cols[0].endsWith("%")) continue;
    const samples = Number(cols[1]);
    if (!Number.isFinite(samples)) continue;
    const e = by.get(cols[2]) ?? { samples: 0, kernel: 0 };
    e.samples += samples;
    if (cols[3].includes("kernel")) e.kernel += samples;
    by.set(cols[2], e);
  }
  return [...by.entries()].sort((a, b) => b[1].samples - a[1].samples).map(([thread, e]) => ({
    thread,
    cores: e.samples / hz / seconds,
    kernelShare: e.kernel / Math.max(1, e.samples),
  }));
}

async function perfThreads(file: string, seconds: number): Promise<ThreadUse[] | null> {
  try {
    const out = await new Deno.Command("perf", {
      args: [
        "report",
        "-i",
        file,
        "--stdio",
        "--no-children",
        "-n",
        "-g",
        "none",
        "--sort",
        "comm,dso",
      ],
      stdout: "piped",
      stderr: "null",
    }).output();
    return out.success ? parsePerfThreads(new TextDecoder().decode(out.stdout), seconds) : null;
  } catch {
    return null; // no perf here
  }
}

/** Markdown table of on-CPU cores per thread, one column per node, and CPU µs per segment. */
function threadTable(
  titles: string[],
  uses: ThreadUse[][],
  perSegment: { seconds: number; segments: number },
): string {
  const names = [...new Set(uses.flat().map((u) => u.thread))];
  const rows = names.map((name) => {
    const cells = uses.map((list) => {
      const u = list.find((x) => x.thread === name);
      return u ? `${u.cores.toFixed(2)} (${(100 * u.kernelShare).toFixed(0)} % kernel)` : "–";
    });
    return `| ${name} | ${cells.join(" | ")} |`;
  });
  const cores = uses.map((list) => list.reduce((n, u) => n + u.cores, 0));
  const total = cores.map((c) => c.toFixed(2));
  const us = cores.map((c) => ((c * perSegment.seconds * 1e6) / perSegment.segments).toFixed(1));
  return [
    `| thread (perf, on-CPU) | ${titles.map((t) => `${t} cores`).join(" | ")} |`,
    `| --- | ${titles.map(() => "---:").join(" | ")} |`,
    ...rows,
    `| **process total** | ${total.map((t) => `**${t}**`).join(" | ")} |`,
    `| CPU µs per segment, all threads | ${us.join(" | ")} |`,
  ].join("\n");
}

/**
 * Markdown table from schedstat deltas: per thread name, cores on a CPU, cores' worth of time
 * runnable but waiting for a CPU, and (single threads) the rest of the window asleep or blocked.
 */
export function schedTable(titles: string[], nodes: ThreadTimes[][], seconds: number): string {
  const ns = seconds * 1e9;
  const names: string[] = [];
  for (const list of nodes) {
    for (const t of list) {
      if (t.cpuNs + t.waitNs > 0.01 * ns && !names.includes(t.thread)) names.push(t.thread);
    }
  }
  const rows = names.map((name) => {
    const cells = nodes.map((list) => {
      const t = list.find((x) => x.thread === name);
      if (!t) return "–";
      const asleep = t.count === 1 ? ` / ${(1 - (t.cpuNs + t.waitNs) / ns).toFixed(2)}` : "";
      return `${(t.cpuNs / ns).toFixed(2)} / ${(t.waitNs / ns).toFixed(2)}${asleep}`;
    });
    return `| ${name} | ${cells.join(" | ")} |`;
  });
  return [
    `| thread (schedstat): on CPU / waiting for a CPU / asleep | ${titles.join(" | ")} |`,
    `| --- | ${titles.map(() => "---:").join(" | ")} |`,
    ...rows,
  ].join("\n");
}

async function readProfile(path: string): Promise<CpuProfile> {
  return JSON.parse(await Deno.readTextFile(path)) as CpuProfile;
}

/**
 * Data packets a node's counters show for the run: TUN reads sealed (sender), packets written
 * to the TUN (receiver), frames relayed (relay). With offloads a "packet" is a super-packet.
 */
function nodePackets(n: ProfiledRun["nodes"][number]): number | null {
  const b = n.statsBefore;
  const a = n.statsAfter;
  if (a && b) {
    const d = n.role === "sender"
      ? a.packets_out - b.packets_out
      : n.role === "receiver"
      ? a.packets_in - b.packets_in
      : (a.frames_relayed ?? 0) - (b.frames_relayed ?? 0);
    if (d > 0) return d;
  }
  return null;
}

if (import.meta.main) {
  const { values, positionals } = parseArgs({
    allowPositionals: true,
    options: { top: { type: "string", default: "15" }, json: { type: "boolean", default: false } },
  });
  const top = Number(values.top);
  if (positionals.length === 0) {
    console.error("usage: profile_summary.ts DIR | FILE.cpuprofile…");
    Deno.exit(2);
  }
  const first = positionals[0];
  const isDir = (await Deno.stat(first)).isDirectory;
  const json: unknown[] = [];
  if (isDir) {
    const runs = JSON.parse(await Deno.readTextFile(join(first, "runs.json"))) as ProfiledRun[];
    for (const run of runs) {
      const columns: Column[] = [];
      const window = { fromUs: run.windowStart * 1e6, toUs: run.windowEnd * 1e6 };
      for (const n of run.nodes) {
        const profile = await readProfile(join(first, n.profile));
        // Per 1,448-byte TCP segment (MSS at MTU 1500): comparable with or without offloads.
        columns.push({
          title: n.role,
          attribution: attribute(profile, window),
          packets: Math.max(1, Math.round((run.iperfBytes ?? 0) / 1448)),
        });
      }
      const segments = columns[0].packets;
      const counters = run.nodes.map((n) => `${n.role} ${nodePackets(n) ?? "?"}`).join(", ");
      console.log(
        `### ${run.name} (${run.engine}): iperf3 1 stream ${run.iperfMbps} Mbit/s over ` +
          `${(run.windowEnd - run.windowStart).toFixed(1)} s = ${segments} segments of 1,448 ` +
          `bytes; node packet counters (super-packets with offloads): ${counters}\n`,
      );
      console.log(markdownTable(columns, "µs/segment") + "\n");
      const seconds = run.windowEnd - run.windowStart;
      if (run.nodes.every((n) => n.threads)) {
        const lists = run.nodes.map((n) => n.threads!);
        console.log(schedTable(run.nodes.map((n) => n.role), lists, seconds) + "\n");
      }
      const perf = await Promise.all(
        run.nodes.map((n) => n.perf ? perfThreads(join(first, n.perf), seconds) : null),
      );
      if (perf.every((p) => p)) {
        const table = threadTable(run.nodes.map((n) => n.role), perf as ThreadUse[][], {
          seconds,
          segments: columns[0].packets,
        });
        console.log(table + "\n");
      }
      for (const c of columns) {
        console.log(
          `top self time, ${run.name} ${c.title}:\n${topFunctions(c.attribution, top)}\n`,
        );
      }
      json.push({
        run: run.name,
        mbps: run.iperfMbps,
        columns: columns.map((c) => ({
          node: c.title,
          segments: c.packets,
          usPerPacket: Object.fromEntries(
            CATEGORIES.map((cat) => [cat, (c.attribution.byCategory.get(cat) ?? 0) / c.packets]),
          ),
        })),
      });
    }
  } else {
    const columns: Column[] = [];
    for (const file of positionals) {
      const a = attribute(await readProfile(file));
      columns.push({ title: basename(file), attribution: a, packets: a.totalUs / 1e6 });
      console.log(`top self time, ${basename(file)}:\n${topFunctions(a, top)}\n`);
    }
    console.log(markdownTable(columns, "µs per wall second"));
  }
  if (values.json) console.log(JSON.stringify(json, null, 2));
}
