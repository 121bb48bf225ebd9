/**
 * Child process for the TUN tests and benchmark, run inside a network namespace with
 * `ip netns exec`. Not a test itself.
 *
 * - `serve <json TunOptions & {cidrs, routes}>`: opens and configures a TUN, answers ICMP
 *   echo requests on it, and executes JSON-line commands from stdin (`{"op": "addRoute",
 *   "cidr": ...}` etc.), replying one JSON line each; `{"op":"close"}` closes it while a read
 *   is pending and reports how that went.
 * - `forward <json>`: opens two TUNs, configures A here, moves B to another namespace, then
 *   forwards packets between them (with software segmentation when only A has offloads)
 *   until stdin closes; prints counters.
 * - `loop <json>`: writes batches into one TUN that the namespace's kernel forwards straight
 *   back out of it, reads them again, and prints packets and bytes moved (benchmark).
 *
 * @module
 */

import { echoReplyInPlace } from "../ffi/icmp_echo.ts";
import { segmentGso, Tun, TunError, type TunOptions, type VirtioNetHeader } from "../ffi/tun.ts";
import { PacketBatch } from "../ffi/packet_batch.ts";

const encoder = new TextEncoder();
function emit(obj: unknown): void {
  Deno.stdout.writeSync(encoder.encode(JSON.stringify(obj) + "\n"));
}

function errorReply(e: unknown): Record<string, unknown> {
  if (e instanceof TunError) return { ok: false, code: e.code, message: e.message };
  return { ok: false, code: "exception", message: String(e) };
}

async function* stdinLines(): AsyncGenerator<string> {
  const decoder = new TextDecoder();
  let pending = "";
  for await (const chunk of Deno.stdin.readable) {
    pending += decoder.decode(chunk, { stream: true });
    let nl;
    while ((nl = pending.indexOf("\n")) >= 0) {
      yield pending.slice(0, nl);
      pending = pending.slice(nl + 1);
    }
  }
}

interface ServeArgs extends TunOptions {
  cidrs?: string[];
  routes?: string[];
}

async function serve(args: ServeArgs): Promise<void> {
  let tun: Tun;
  try {
    tun = await Tun.open(args);
    for (const c of args.cidrs ?? []) await tun.setAddress(c);
    await tun.setUp(true);
    for (const r of args.routes ?? []) await tun.addRoute(r);
  } catch (e) {
    emit({ ready: false, ...errorReply(e) });
    return;
  }
  emit({ ready: true, ok: true, name: tun.name, offload: tun.offloadFlags, shim: tun.shim.origin });
  let replies = 0;
  let readEnd = "";
  const batch = tun.newBatch(32);
  const loop = (async () => {
    try {
      while (true) {
        const n = await tun.readBatch(batch, { timeoutMs: -1 });
        let out = 0;
        for (let i = 0; i < n; i++) {
          if (echoReplyInPlace(batch.packet(i))) {
            // Keep replies contiguous at the front of the batch.
            if (out !== i) {
              batch.buffer.copyWithin(
                batch.offsets[out],
                batch.offsets[i],
                batch.offsets[i] + batch.lengths[i],
              );
              batch.lengths[out] = batch.lengths[i];
            }
            out++;
          }
        }
        // A lone reply goes through write(), several through writeBatch(): both paths used.
        if (out === 1) replies += tun.write(batch.packet(0)) ? 1 : 0;
        else replies += tun.writeBatch(batch, { count: out });
      }
    } catch (e) {
      readEnd = e instanceof TunError ? e.code : String(e);
    }
  })();
  const others: Tun[] = [];
  for await (const line of stdinLines()) {
    let cmd: Record<string, unknown>;
    try {
      cmd = JSON.parse(line);
    } catch {
      emit({ ok: false, code: "bad-command" });
      continue;
    }
    const op = String(cmd.op);
    try {
      if (op === "close") {
        const t0 = performance.now();
        await tun.close();
        const closeMs = performance.now() - t0;
        await loop;
        emit({ ok: true, closeMs, readEnd, replies });
        break;
      } else if (op === "open") {
        const other = await Tun.open(cmd as unknown as TunOptions);
        others.push(other);
        emit({ ok: true, name: other.name });
      } else if (op === "setAddress") {
        await tun.setAddress(String(cmd.cidr));
        emit({ ok: true });
      } else if (op === "removeAddress") {
        await tun.removeAddress(String(cmd.cidr));
        emit({ ok: true });
      } else if (op === "addRoute") {
        await tun.addRoute(String(cmd.cidr));
        emit({ ok: true });
      } else if (op === "removeRoute") {
        await tun.removeRoute(String(cmd.cidr));
        emit({ ok: true });
      } else if (op === "setMtu") {
        await tun.setMtu(Number(cmd.mtu));
        emit({ ok: true, mtu: await tun.getMtu() });
      } else if (op === "setUp") {
        await tun.setUp(Boolean(cmd.up));
        emit({ ok: true });
      } else if (op === "readTwice") {
        // A second read while the loop's read is pending must be refused.
        await tun.readBatch(tun.newBatch(1), { timeoutMs: 0 });
        emit({ ok: true });
      } else {
        emit({ ok: false, code: "bad-command" });
      }
    } catch (e) {
      emit(errorReply(e));
    }
  }
  for (const o of others) await o.close();
  await tun.close();
  await loop;
}

interface ForwardArgs {
  a: { name: string; cidr: string; offload: boolean };
  b: { name: string; offload: boolean; netns: string };
  batch: number;
}

interface Counters {
  packets: number;
  bytes: number;
  /** Packets read with a virtio_net_hdr saying GSO (super-packets). */
  gso: number;
  segments: number;
  drops: number;
}

async function pump(
  from: Tun,
  to: Tun,
  c: Counters,
  capacity: number,
): Promise<void> {
  const inBatch = from.newBatch(capacity);
  const segmenting = from.vnetHeader && !to.vnetHeader;
  const outBatch = segmenting ? new PacketBatch({ capacity: 256, slotSize: 2048 }) : inBatch;
  const h: VirtioNetHeader = {
    flags: 0,
    gsoType: 0,
    hdrLen: 0,
    gsoSize: 0,
    csumStart: 0,
    csumOffset: 0,
  };
  try {
    while (true) {
      const n = await from.readBatch(inBatch, { timeoutMs: -1 });
      c.packets += n;
      for (let i = 0; i < n; i++) {
        c.bytes += inBatch.lengths[i];
        if (from.vnetHeader && inBatch.header(i, h).gsoType !== 0 && h.gsoSize > 0) c.gso++;
      }
      if (!segmenting) {
        c.drops += n - to.writeBatch(inBatch);
        continue;
      }
      outBatch.clear();
      for (let i = 0; i < n; i++) {
        inBatch.header(i, h);
        if (outBatch.capacity - outBatch.count < 128) {
          c.drops += outBatch.count - to.writeBatch(outBatch);
          outBatch.clear();
        }
        try {
          c.segments += segmentGso(inBatch.packet(i), h, outBatch);
        } catch {
          c.drops++;
        }
      }
      c.drops += outBatch.count - to.writeBatch(outBatch);
    }
  } catch (e) {
    if (!(e instanceof TunError && e.code === "closed")) throw e;
  }
}

async function forward(args: ForwardArgs): Promise<void> {
  const a = await Tun.open({ name: args.a.name, offload: args.a.offload });
  const b = await Tun.open({ name: args.b.name, offload: args.b.offload });
  await a.setAddress(args.a.cidr);
  await a.setUp(true);
  const moved = await new Deno.Command("ip", {
    args: ["link", "set", b.name, "netns", args.b.netns],
  }).output();
  if (!moved.success) {
    emit({ ready: false, message: new TextDecoder().decode(moved.stderr) });
    await a.close();
    await b.close();
    return;
  }
  const ab: Counters = { packets: 0, bytes: 0, gso: 0, segments: 0, drops: 0 };
  const ba: Counters = { packets: 0, bytes: 0, gso: 0, segments: 0, drops: 0 };
  emit({ ready: true, offloadA: a.offloadFlags, offloadB: b.offloadFlags });
  const t0 = performance.now();
  const pumps = [pump(a, b, ab, args.batch), pump(b, a, ba, args.batch)];
  for await (const line of stdinLines()) {
    // {"op":"stats"} reports the counters so far; any other line or EOF ends the run.
    let op = "";
    try {
      op = String(JSON.parse(line).op);
    } catch {
      // not a command: stop
    }
    if (op !== "stats") break;
    emit({ elapsedMs: performance.now() - t0, ab, ba });
  }
  const elapsedMs = performance.now() - t0;
  await a.close();
  await b.close();
  await Promise.all(pumps);
  emit({ done: true, elapsedMs, ab, ba });
}

interface LoopArgs {
  name: string;
  batch: number;
  size: number;
  offload: boolean;
  seconds: number;
  eager: boolean;
}

function ipv4Checksum(p: Uint8Array): void {
  let sum = 0;
  for (let i = 0; i < 20; i += 2) sum += (p[i] << 8) | p[i + 1];
  while (sum > 0xffff) sum = (sum & 0xffff) + (sum >>> 16);
  const c = 0xffff - sum;
  p[10] = c >> 8;
  p[11] = c & 0xff;
}

/**
 * Kernel round trip through one TUN: packets written to it from 100.64.97.2 to 100.64.96.5
 * are forwarded by the namespace's kernel straight back out of the same TUN and read again.
 * With offload the packets are 64 KB TCP super-packets the kernel forwards unsegmented.
 */
async function loop(args: LoopArgs): Promise<void> {
  const tun = await Tun.open({ name: args.name, offload: args.offload });
  await tun.setAddress("100.64.97.1/24");
  await tun.setUp(true);
  await tun.addRoute("100.64.96.0/24");
  const out = tun.newBatch(args.batch);
  const inb = tun.newBatch(args.batch);
  const size = args.size;
  const h: VirtioNetHeader = {
    flags: 1,
    gsoType: 1,
    hdrLen: 40,
    gsoSize: 1448,
    csumStart: 20,
    csumOffset: 16,
  };
  for (let i = 0; i < args.batch; i++) {
    const p = out.slot(i);
    p.fill(0, 0, size);
    p[0] = 0x45;
    p[2] = size >> 8;
    p[3] = size & 0xff;
    p[8] = 64;
    p[9] = args.offload ? 6 : 17;
    p.set([100, 64, 97, 2, 100, 64, 96, 5], 12);
    ipv4Checksum(p);
    p[20] = 0x9c;
    p[22] = 0x14;
    p[23] = 0x51;
    if (args.offload) {
      p[32] = 0x50; // TCP header length 20
      p[33] = 0x10; // ACK
      p[34] = 0xff;
    } else {
      p[24] = (size - 20) >> 8;
      p[25] = (size - 20) & 0xff;
    }
    out.commit(size, args.offload ? h : undefined);
  }
  let sent = 0;
  let received = 0;
  let bytes = 0;
  let lost = 0;
  const t0 = performance.now();
  const end = t0 + args.seconds * 1000;
  while (performance.now() < end) {
    const w = tun.writeBatch(out);
    sent += w;
    let want = w;
    while (want > 0) {
      const n = await tun.readBatch(inb, { timeoutMs: 200, eager: args.eager });
      if (n === 0) {
        lost += want;
        break;
      }
      // Only the forwarded packets count (not e.g. an IPv6 router solicitation).
      for (let i = 0; i < n; i++) {
        if (inb.lengths[i] === size) {
          received++;
          bytes += size;
          want--;
        }
      }
    }
  }
  const elapsedMs = performance.now() - t0;
  await tun.close();
  emit({ done: true, sent, received, lost, bytes, elapsedMs });
}

const [mode, json] = Deno.args;
if (mode === "serve") await serve(JSON.parse(json));
else if (mode === "forward") await forward(JSON.parse(json));
else if (mode === "loop") await loop(JSON.parse(json));
else {
  console.error("usage: tun_helper.ts serve|forward|loop <json>");
  Deno.exit(2);
}
