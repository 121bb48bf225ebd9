import assert from "node:assert/strict";
import { PacketBatch } from "./packet_batch.ts";
import { decodeVirtioNetHeader, encodeVirtioNetHeader, GsoType } from "./virtio_net_hdr.ts";
import { TunError } from "./errors.ts";

Deno.test("packet_batch: slots are strided views over one buffer", () => {
  const b = new PacketBatch({ capacity: 4, slotSize: 100 });
  assert.deepEqual([...b.offsets], [0, 100, 200, 300]);
  assert.equal(b.push(new Uint8Array([1, 2, 3])), true);
  b.slot(1).set([9, 9]);
  b.commit(2, {
    flags: 1,
    gsoType: GsoType.TCPV4,
    hdrLen: 52,
    gsoSize: 1448,
    csumStart: 20,
    csumOffset: 16,
  });
  assert.equal(b.count, 2);
  assert.deepEqual([...b.packet(0)], [1, 2, 3]);
  assert.deepEqual([...b.packet(1)], [9, 9]);
  assert.equal(b.packet(1).buffer, b.buffer.buffer);
  assert.deepEqual(b.header(1), {
    flags: 1,
    gsoType: 1,
    hdrLen: 52,
    gsoSize: 1448,
    csumStart: 20,
    csumOffset: 16,
  });
  assert.equal(b.header(0).gsoType, 0);
  b.push(new Uint8Array(1));
  b.push(new Uint8Array(1));
  assert.equal(b.push(new Uint8Array(1)), false);
  b.clear();
  assert.equal(b.count, 0);
});

Deno.test("packet_batch: bad sizes are invalid-argument", () => {
  const invalid = (e: unknown) => e instanceof TunError && e.code === "invalid-argument";
  assert.throws(() => new PacketBatch({ capacity: 0 }), invalid);
  assert.throws(() => new PacketBatch({ slotSize: 10 }), invalid);
  assert.throws(() => new PacketBatch({ slotSize: 1 << 20 }), invalid);
  const b = new PacketBatch({ capacity: 1, slotSize: 100 });
  assert.throws(() => b.push(new Uint8Array(101)), invalid);
  assert.throws(() => b.commit(101), invalid);
});

Deno.test("virtio_net_hdr: little-endian round trip at an offset", () => {
  const bytes = new Uint8Array(14);
  const h = { flags: 1, gsoType: 4, hdrLen: 0x1234, gsoSize: 1440, csumStart: 40, csumOffset: 16 };
  encodeVirtioNetHeader(h, bytes, 4);
  assert.deepEqual([...bytes.subarray(4, 8)], [1, 4, 0x34, 0x12]);
  assert.deepEqual(decodeVirtioNetHeader(bytes, 4), h);
});
