/**
 * Tests of ffi/udp.ts on loopback (127.0.0.1 only; no root needed — as root the socket buffers
 * are forced, otherwise capped by rmem_max/wmem_max, which these tests stay well under).
 *
 *   deno test -A ffi/udp_test.ts
 */

import nodeAssert from "node:assert/strict";
import {
  DatagramBatch,
  formatIpv4,
  parseIpv4,
  UdpError,
  type UdpErrorCode,
  UdpSocket,
} from "./udp.ts";

const LO = parseIpv4("127.0.0.1");

function assert(cond: unknown, msg?: string): asserts cond {
  nodeAssert.ok(cond, msg);
}

function assertEquals(actual: unknown, expected: unknown, msg?: string): void {
  nodeAssert.deepStrictEqual(actual, expected, msg);
}

function assertThrows<E extends Error>(fn: () => unknown, type: new (...a: never[]) => E): E {
  try {
    fn();
  } catch (e) {
    nodeAssert.ok(e instanceof type, `expected ${type.name}, got ${e}`);
    return e as E;
  }
  throw new Error("expected a throw");
}

async function assertRejects<E extends Error>(
  fn: () => Promise<unknown>,
  type: new (...a: never[]) => E,
  includes?: string,
): Promise<E> {
  try {
    await fn();
  } catch (e) {
    nodeAssert.ok(e instanceof type, `expected ${type.name}, got ${e}`);
    if (includes) nodeAssert.ok((e as Error).message.includes(includes), (e as Error).message);
    return e as E;
  }
  throw new Error("expected a rejection");
}

function fillPattern(bytes: Uint8Array, seq: number): void {
  const v = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  if (bytes.length >= 4) v.setUint32(0, seq);
  for (let i = 4; i < bytes.length; i++) bytes[i] = (seq * 31 + i) & 255;
}

function checkPattern(bytes: Uint8Array, seq: number): boolean {
  const v = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  if (bytes.length >= 4 && v.getUint32(0) !== seq) return false;
  for (let i = 4; i < bytes.length; i++) if (bytes[i] !== ((seq * 31 + i) & 255)) return false;
  return true;
}

function seqOf(bytes: Uint8Array): number {
  return new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength).getUint32(0);
}

/** Receives until `want` datagrams arrived or a 2 s quiet period; returns them copied. */
async function receiveAll(
  sock: UdpSocket,
  want: number,
  capacity = 64,
): Promise<{ data: Uint8Array; addr: number; port: number }[]> {
  const batch = new DatagramBatch({ capacity, slotSize: 2048 });
  const out: { data: Uint8Array; addr: number; port: number }[] = [];
  while (out.length < want) {
    const n = await sock.recvBatch(batch, { timeoutMs: 2000 });
    if (n === 0) break;
    for (let i = 0; i < n; i++) {
      out.push({ data: batch.datagram(i).slice(), addr: batch.addresses[i], port: batch.ports[i] });
    }
  }
  return out;
}

function assertUdpError(fn: () => unknown, code: UdpErrorCode): void {
  const e = assertThrows(fn, UdpError);
  assertEquals(e.code, code, e.message);
}

Deno.test("udp: open reports the bound address and port", async () => {
  const a = await UdpSocket.open({ address: "127.0.0.1", port: 0 });
  const b = await UdpSocket.open({ address: "0.0.0.0" });
  try {
    assertEquals(a.localAddress, "127.0.0.1");
    assertEquals(a.localAddressU32, LO);
    assert(a.localPort > 0 && a.localPort < 65536);
    assertEquals(b.localAddress, "0.0.0.0");
    assert(b.localPort > 0 && b.localPort !== a.localPort);
    assert(a.receiveBufferBytes > 200_000, `rcvbuf ${a.receiveBufferBytes}`);
    assert(a.sendBufferBytes > 200_000, `sndbuf ${a.sendBufferBytes}`);
    assert(a.gro);
  } finally {
    await a.close();
    await b.close();
  }
});

for (
  const mode of [{ gso: true, gro: true }, { gso: false, gro: false }, {
    gso: true,
    gro: false,
  }, { gso: false, gro: true }]
) {
  Deno.test(`udp: round trip of mixed sizes from two senders (gso ${mode.gso}, gro ${mode.gro})`, async () => {
    const rx = await UdpSocket.open({ address: "127.0.0.1", gro: mode.gro });
    const tx1 = await UdpSocket.open({ address: "127.0.0.1", gso: mode.gso });
    const tx2 = await UdpSocket.open({ address: "127.0.0.1", gso: mode.gso });
    try {
      const sizes = [1, 4, 100, 1400, 1400, 1400, 1400, 700, 1400, 1400, 0, 1472, 33, 2000];
      const total = 1200;
      const batch = new DatagramBatch({ capacity: 200, slotSize: 2048 });
      let seq = 0;
      const sent = new Map<number, { len: number; port: number }>();
      while (seq < total) {
        batch.clear();
        const tx = (seq / 200) % 2 === 0 ? tx1 : tx2;
        while (batch.count < batch.capacity && seq < total) {
          const len = Math.max(4, sizes[seq % sizes.length]);
          fillPattern(batch.slot(batch.count).subarray(0, len), seq);
          batch.commit(len, rx.localAddressU32, rx.localPort);
          sent.set(seq, { len, port: tx.localPort });
          seq++;
        }
        assertEquals(tx.sendBatch(batch), batch.count);
      }
      const got = await receiveAll(rx, total);
      assertEquals(got.length, total);
      const seen = new Set<number>();
      for (const d of got) {
        const s = seqOf(d.data);
        const want = sent.get(s)!;
        assert(want, `unknown seq ${s}`);
        assertEquals(d.data.length, want.len, `length of ${s}`);
        assert(checkPattern(d.data, s), `content of ${s}`);
        assertEquals(formatIpv4(d.addr), "127.0.0.1");
        assertEquals(d.port, want.port, `source port of ${s}`);
        seen.add(s);
      }
      assertEquals(seen.size, total);
      const st = tx1.stats();
      assertEquals(st.sent, 600);
      if (mode.gso) assert(st.gsoMessages > 0, "equal-size runs went as GSO");
      else assertEquals(st.gsoMessages, 0);
    } finally {
      await rx.close();
      await tx1.close();
      await tx2.close();
    }
  });
}

Deno.test("udp: GSO sends equal-size runs as one message; GRO reads are split", async () => {
  const rx = await UdpSocket.open({ address: "127.0.0.1", gro: true });
  const rxPlain = await UdpSocket.open({ address: "127.0.0.1", gro: false });
  const tx = await UdpSocket.open({ address: "127.0.0.1", gso: true });
  try {
    assert(tx.gso, "kernel supports UDP_SEGMENT");
    const batch = new DatagramBatch({ capacity: 200, slotSize: 2048 });
    // Runs are cut at 64 segments and at 65,507 payload bytes; a shorter datagram ends one:
    // 70 × 900 + 400 to rx → [64 × 900] [6 × 900 + 400]; 40 × 1000 to rxPlain → [40 × 1000];
    // 60 × 1200 + 900 to rx → [54 × 1200] [6 × 1200 + 900]. Five GSO messages in all.
    let seq = 0;
    const push = (len: number, to: UdpSocket) => {
      fillPattern(batch.slot(batch.count).subarray(0, len), seq++);
      batch.commit(len, LO, to.localPort);
    };
    for (let i = 0; i < 70; i++) push(900, rx);
    push(400, rx);
    for (let i = 0; i < 40; i++) push(1000, rxPlain);
    for (let i = 0; i < 60; i++) push(1200, rx);
    push(900, rx);
    assertEquals(tx.sendBatch(batch), 172);
    const st = tx.stats();
    assertEquals(st.sent, 172);
    assertEquals(st.sendMessages, 5);
    assertEquals(st.gsoMessages, 5);

    // Small batches so that a coalesced read spans several recvBatch calls.
    const got = await receiveAll(rx, 132, 10);
    assertEquals(got.length, 132);
    const wantLens = [...Array(70).fill(900), 400, ...Array(60).fill(1200), 900];
    const wantSeqs = [...Array(71).keys(), ...Array.from({ length: 61 }, (_, i) => 111 + i)];
    for (let i = 0; i < got.length; i++) {
      assertEquals(got[i].data.length, wantLens[i], `length #${i}`);
      assertEquals(seqOf(got[i].data), wantSeqs[i], `order #${i}`);
      assert(checkPattern(got[i].data, wantSeqs[i]), `content #${i}`);
      assertEquals(got[i].port, tx.localPort);
      assertEquals(got[i].addr, LO);
    }
    const rs = rx.stats();
    assertEquals(rs.groMessages, 4, "each GSO message arrived as one coalesced read");
    assertEquals(rs.recvMessages, 4);
    assertEquals(rs.received, 132);

    // Without UDP_GRO the kernel segments the GSO message on delivery.
    const plain = await receiveAll(rxPlain, 40);
    assertEquals(plain.length, 40);
    plain.forEach((d, i) => {
      assertEquals(d.data.length, 1000);
      assertEquals(seqOf(d.data), 71 + i);
    });
    assertEquals(rxPlain.stats().groMessages, 0);
  } finally {
    await rx.close();
    await rxPlain.close();
    await tx.close();
  }
});

Deno.test("udp: datagrams larger than the slot are dropped; empty ones arrive", async () => {
  for (const gro of [true, false]) {
    const rx = await UdpSocket.open({ address: "127.0.0.1", gro });
    const tx = await UdpSocket.open({ address: "127.0.0.1" });
    try {
      const b = new DatagramBatch({ capacity: 4, slotSize: 2048 });
      b.push(new Uint8Array(600), LO, rx.localPort);
      b.push(new Uint8Array(50).fill(7), LO, rx.localPort);
      b.push(new Uint8Array(0), LO, rx.localPort); // empty datagrams are datagrams too
      assertEquals(tx.sendBatch(b), 3);
      const small = new DatagramBatch({ capacity: 4, slotSize: 100 });
      let n = 0;
      while (n < 2) {
        const got = await rx.recvBatch(small, { timeoutMs: 1000 });
        assert(got > 0);
        for (let i = 0; i < got; i++) {
          assertEquals(small.datagram(i), n === 0 ? new Uint8Array(50).fill(7) : new Uint8Array());
          assertEquals(small.ports[i], tx.localPort);
          n++;
        }
      }
      assertEquals(n, 2);
      assertEquals(rx.stats().recvDropped, 1);
    } finally {
      await rx.close();
      await tx.close();
    }
  }
});

Deno.test("udp: a full send buffer returns fewer without throwing", async () => {
  // Loopback frees the sender's buffer as soon as a datagram is queued at the receiver, so
  // EAGAIN cannot be provoked there: the library's test hook fails the 3rd message with it.
  const rx = await UdpSocket.open({ address: "127.0.0.1" });
  const tx = await UdpSocket.open({ address: "127.0.0.1", gso: false });
  try {
    const b = new DatagramBatch({ capacity: 100, slotSize: 256 });
    for (let i = 0; i < 100; i++) {
      fillPattern(b.slot(i).subarray(0, 100), i);
      b.commit(100, LO, rx.localPort);
    }
    tx.debugFailSends(2, 11);
    assertEquals(tx.sendBatch(b), 2);
    assertEquals(tx.stats().sendFull, 1);
    assertEquals(tx.sendBatch(b, { start: 2 }), 98);
    const got = await receiveAll(rx, 100);
    assertEquals(got.map((d) => seqOf(d.data)), [...Array(100).keys()]);
    // ENOBUFS (a full qdisc) is treated the same.
    tx.debugFailSends(0, 105);
    assertEquals(tx.sendBatch(b), 0);
    assertEquals(tx.stats().sendFull, 2);
    await receiveAll(rx, 0);
  } finally {
    await rx.close();
    await tx.close();
  }
});

Deno.test("udp: GSO EIO turns GSO off and resends; EINVAL resends the run plainly", async () => {
  const rx = await UdpSocket.open({ address: "127.0.0.1" });
  const tx = await UdpSocket.open({ address: "127.0.0.1", gso: true });
  try {
    const b = new DatagramBatch({ capacity: 20, slotSize: 2048 });
    for (let i = 0; i < 20; i++) {
      fillPattern(b.slot(i).subarray(0, 1000), i);
      b.commit(1000, LO, rx.localPort);
    }
    tx.debugFailSends(0, 22); // EINVAL on the GSO message
    assertEquals(tx.sendBatch(b), 20);
    let st = tx.stats();
    assert(st.gso, "EINVAL keeps GSO for later runs");
    assertEquals(st.sendMessages, 20);
    assertEquals(st.gsoMessages, 0);
    assertEquals((await receiveAll(rx, 20)).map((d) => seqOf(d.data)), [...Array(20).keys()]);

    tx.debugFailSends(0, 5); // EIO: the device cannot do GSO
    assertEquals(tx.sendBatch(b), 20);
    st = tx.stats();
    assertEquals(st.gso, false);
    assertEquals(st.gsoOffErrno, 5);
    assertEquals(tx.gso, false);
    assertEquals((await receiveAll(rx, 20)).length, 20);
  } finally {
    await rx.close();
    await tx.close();
  }
});

Deno.test("udp: a per-destination error drops that datagram and sends the rest", async () => {
  const rx = await UdpSocket.open({ address: "127.0.0.1" });
  const tx = await UdpSocket.open({ address: "127.0.0.1" });
  try {
    const b = new DatagramBatch({ capacity: 3, slotSize: 64 });
    b.push(new Uint8Array([1, 1, 1, 1]), LO, rx.localPort);
    // Broadcast without SO_BROADCAST: EACCES from the socket layer, nothing leaves the host.
    b.push(new Uint8Array([2, 2, 2, 2]), parseIpv4("255.255.255.255"), 9);
    b.push(new Uint8Array([3, 3, 3, 3]), LO, rx.localPort);
    assertEquals(tx.sendBatch(b), 3);
    const st = tx.stats();
    assertEquals(st.sendDropped, 1);
    assertEquals(st.lastSendErrno, 13);
    assertEquals(st.sent, 2);
    const got = await receiveAll(rx, 2);
    assertEquals(got.map((d) => d.data[0]), [1, 3]);
  } finally {
    await rx.close();
    await tx.close();
  }
});

Deno.test("udp: recv timeout resolves 0", async () => {
  const rx = await UdpSocket.open({ address: "127.0.0.1" });
  try {
    const b = new DatagramBatch({ capacity: 8 });
    assertEquals(await rx.recvBatch(b, { timeoutMs: 0 }), 0);
    const t0 = performance.now();
    assertEquals(await rx.recvBatch(b, { timeoutMs: 80 }), 0);
    const dt = performance.now() - t0;
    assert(dt >= 70 && dt < 1000, `waited ${dt} ms`);
    assertEquals(b.count, 0);
  } finally {
    await rx.close();
  }
});

Deno.test("udp: a waiting recv gets data that arrives later", async () => {
  const rx = await UdpSocket.open({ address: "127.0.0.1" });
  const tx = await UdpSocket.open({ address: "127.0.0.1" });
  try {
    const b = new DatagramBatch({ capacity: 8 });
    const p = rx.recvBatch(b, { timeoutMs: 5000 });
    await new Promise((r) => setTimeout(r, 30));
    const s = new DatagramBatch({ capacity: 1, slotSize: 64 });
    s.push(new Uint8Array([9, 8, 7]), LO, rx.localPort);
    assertEquals(tx.sendBatch(s), 1);
    assertEquals(await p, 1);
    assertEquals(b.datagram(0), new Uint8Array([9, 8, 7]));
    assertEquals(b.ports[0], tx.localPort);
  } finally {
    await rx.close();
    await tx.close();
  }
});

Deno.test("udp: wake ends a wait with 0; a second recv while one waits is busy", async () => {
  const rx = await UdpSocket.open({ address: "127.0.0.1" });
  try {
    const b = new DatagramBatch({ capacity: 8 });
    const t0 = performance.now();
    const p = rx.recvBatch(b, { timeoutMs: -1 });
    await assertRejects(() => rx.recvBatch(new DatagramBatch()), UdpError, "already pending");
    setTimeout(() => rx.wake(), 30);
    assertEquals(await p, 0);
    assert(performance.now() - t0 < 2000);
    // The wake was consumed: the next wait times out normally.
    const t1 = performance.now();
    assertEquals(await rx.recvBatch(b, { timeoutMs: 50 }), 0);
    assert(performance.now() - t1 >= 40);
    // A wake with no wait pending ends the next wait at once.
    rx.wake();
    const t2 = performance.now();
    assertEquals(await rx.recvBatch(b, { timeoutMs: 5000 }), 0);
    assert(performance.now() - t2 < 1000);
  } finally {
    await rx.close();
  }
});

Deno.test("udp: close while waiting rejects the recv with closed", async () => {
  const rx = await UdpSocket.open({ address: "127.0.0.1" });
  const b = new DatagramBatch({ capacity: 8 });
  const p = rx.recvBatch(b, { timeoutMs: -1 });
  const closing = new Promise<void>((r) => setTimeout(() => rx.close().then(r), 30));
  const e = await assertRejects(() => p, UdpError);
  assertEquals(e.code, "closed");
  await closing;
  assert(rx.closed);
  await rx.close(); // idempotent
  await assertRejects(() => rx.recvBatch(b), UdpError, "closed");
  assertUdpError(() => rx.sendBatch(b), "closed");
  rx.wake(); // harmless after close
});

Deno.test("udp: bad arguments are rejected before any system call", async () => {
  for (const address of ["1.2.3", "::1", "256.0.0.1", "01.2.3.4", "a.b.c.d", ""]) {
    const e = await assertRejects(() => UdpSocket.open({ address }), UdpError);
    assertEquals(e.code, "invalid-argument", address);
  }
  for (const port of [-1, 65536, 1.5, NaN]) {
    const e = await assertRejects(() => UdpSocket.open({ address: "127.0.0.1", port }), UdpError);
    assertEquals(e.code, "invalid-argument", String(port));
  }
  const e = await assertRejects(
    () => UdpSocket.open({ address: "127.0.0.1", bufferBytes: -5 }),
    UdpError,
  );
  assertEquals(e.code, "invalid-argument");

  assertUdpError(() => new DatagramBatch({ capacity: 0 }), "invalid-argument");
  assertUdpError(() => new DatagramBatch({ capacity: 1025 }), "invalid-argument");
  assertUdpError(() => new DatagramBatch({ slotSize: 0 }), "invalid-argument");
  assertUdpError(() => new DatagramBatch({ slotSize: 65_508 }), "invalid-argument");
  const b = new DatagramBatch({ capacity: 2, slotSize: 16 });
  assertUdpError(() => b.push(new Uint8Array(4), LO, 0), "invalid-argument");
  assertUdpError(() => b.push(new Uint8Array(4), LO, 65536), "invalid-argument");
  assertUdpError(() => b.push(new Uint8Array(4), -1, 9), "invalid-argument");
  assertUdpError(() => b.push(new Uint8Array(4), 2 ** 32, 9), "invalid-argument");
  assertUdpError(() => b.push(new Uint8Array(17), LO, 9), "invalid-argument");
  assertUdpError(() => b.commit(17, LO, 9), "invalid-argument");
  assertEquals(b.count, 0);
  assert(b.push(new Uint8Array(4), LO, 9));
  b.commit(16, LO, 9);
  assertEquals(b.push(new Uint8Array(4), LO, 9), false);
  assertUdpError(() => b.commit(1, LO, 9), "invalid-argument");

  const sock = await UdpSocket.open({ address: "127.0.0.1" });
  try {
    assertUdpError(() => sock.sendBatch(b, { start: 1, count: 2 }), "invalid-argument");
    assertUdpError(() => sock.sendBatch(b, { start: -1 }), "invalid-argument");
    await assertRejects(() => sock.recvBatch(b, { timeoutMs: -2 }), UdpError, "timeoutMs");
    await assertRejects(() => sock.recvBatch(b, { timeoutMs: 1.5 }), UdpError, "timeoutMs");
    // Kernel errors map to codes.
    const taken = await assertRejects(
      () => UdpSocket.open({ address: "127.0.0.1", port: sock.localPort }),
      UdpError,
    );
    assertEquals(taken.code, "address-in-use");
    assertEquals(taken.errno, 98);
    const foreign = await assertRejects(
      () => UdpSocket.open({ address: "192.0.2.1" }),
      UdpError,
    );
    assertEquals(foreign.code, "address-not-available");
  } finally {
    await sock.close();
  }
});

Deno.test("udp: parseIpv4 / formatIpv4", () => {
  assertEquals(parseIpv4("127.0.0.1"), 0x7f000001);
  assertEquals(parseIpv4("198.18.0.5"), 0xc6120005);
  assertEquals(parseIpv4("255.255.255.255"), 0xffffffff);
  assertEquals(formatIpv4(0xc6120005), "198.18.0.5");
  assertEquals(formatIpv4(0), "0.0.0.0");
});
