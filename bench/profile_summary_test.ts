import assert from "node:assert/strict";
import {
  attribute,
  categorize,
  type CpuProfile,
  markdownTable,
  parsePerfThreads,
} from "./profile_summary.ts";

const frame = (functionName: string, url = "") => ({ functionName, url, lineNumber: 0 });

Deno.test("categorize: a builtin counts for the module that called it", () => {
  const sealCall = [frame("sealInto"), frame("seal", "file:///r/ffi/aesgcm.ts")];
  assert.equal(categorize(sealCall), "AES-GCM (seal/open)");
  const send = [frame("sendMessageBinary"), frame("send", "file:///r/core/tether/engine_x.ts")];
  assert.equal(categorize(send), "data channel send (engine call)");
  const recv = [frame("(anonymous)"), frame("onMsg", "file:///r/core/tether/channel_tether.ts")];
  assert.equal(categorize(recv), "data channel receive, tether");
  const op = [frame("op_ffi_call_nonblocking"), frame("f", "ext:deno_ffi/00_ffi.js")];
  assert.equal(
    categorize([...op, frame("readBatch", "file:///r/ffi/tun.ts")]),
    "TUN read/write (FFI)",
  );
  assert.equal(categorize(op), "event loop, promises, timers");
  assert.equal(categorize([frame("readBatch", "file:///r/ffi/tun.ts")]), "TUN read/write (FFI)");
});

Deno.test("categorize: copies at the leaf, idle, GC and unknown frames", () => {
  const copy = [frame("set"), frame("seal", "file:///r/ffi/aesgcm.ts")];
  assert.equal(categorize(copy), "copies (TypedArray set/slice, alloc)");
  assert.equal(categorize([frame("(idle)")]), "idle (waiting)");
  assert.equal(categorize([frame("(garbage collector)")]), "GC");
  assert.equal(categorize([frame("f", "file:///elsewhere/x.ts")]), "other");
});

/** root → a (framing) and root → b (TUN); samples alternate with given gaps. */
function profile(): CpuProfile {
  return {
    nodes: [
      { id: 1, callFrame: frame("(root)"), children: [2, 3, 4] },
      { id: 2, callFrame: frame("encodeBatch", "file:///r/core/wire/frame.ts") },
      { id: 3, callFrame: frame("write", "file:///r/ffi/packet_batch.ts") },
      { id: 4, callFrame: frame("(idle)") },
    ],
    startTime: 1_000_000,
    endTime: 1_000_000 + 700,
    samples: [2, 3, 4, 2, 3, 4, 2],
    timeDeltas: [0, 100, 100, 100, 100, 100, 100],
  };
}

Deno.test("attribute: each sample holds the time until the next; windows cut samples", () => {
  const all = attribute(profile());
  // Six intervals of 100 µs: frame, tun, idle, frame, tun, idle (the last sample has none).
  assert.equal(all.totalUs, 600);
  assert.equal(all.byCategory.get("framing (frame, batch, batcher)"), 200);
  assert.equal(all.byCategory.get("TUN read/write (FFI)"), 200);
  assert.equal(all.byCategory.get("idle (waiting)"), 200);
  // Samples at t = start+0..600 step 100; [start+300, start+500) holds the 4th and 5th.
  const part = attribute(profile(), { fromUs: 1_000_300, toUs: 1_000_500 });
  assert.equal(part.totalUs, 200);
  assert.equal(part.byCategory.get("framing (frame, batch, batcher)"), 100);
  assert.equal(part.byCategory.get("TUN read/write (FFI)"), 100);
});

Deno.test("markdownTable: per-packet figures divide by the packet count", () => {
  const a = attribute(profile());
  const table = markdownTable([{ title: "sender", attribution: a, packets: 4 }]);
  assert.match(table, /\| TUN read\/write \(FFI\) \| 50\.0 \(33 %\) \|/);
  // busy = 400 µs of 600 over 4 packets.
  assert.match(table, /\| \*\*busy \(all but idle\)\*\* \| \*\*100\*\* \|/);
});

Deno.test("parsePerfThreads: cores per thread name and the kernel's share", () => {
  const report = [
    "# Samples: 3K of event 'cpu-clock:ppp'",
    "    21.72%           600  deno             [kernel.kallsyms]",
    "     8.32%           400  deno             deno",
    "     7.01%           300  RTC worker       node_datachannel.node",
    "     5.70%           100  RTC worker       [kernel.kallsyms]",
    "",
  ].join("\n");
  const rows = parsePerfThreads(report, 2, 100);
  assert.deepEqual(rows.map((r) => r.thread), ["deno", "RTC worker"]);
  // 1,000 samples at 100 Hz over 2 s = 5 cores; 600 of them in the kernel.
  assert.equal(rows[0].cores, 1000 / 100 / 2);
  assert.equal(rows[0].kernelShare, 600 / 1000);
  assert.equal(rows[1].cores, 400 / 100 / 2);
  assert.equal(rows[1].kernelShare, 100 / 400);
});
