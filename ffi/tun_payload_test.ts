import assert from "node:assert/strict";
import { PacketBatch } from "./packet_batch.ts";
import {
  PAYLOAD_HEADER_LENGTH,
  PayloadReader,
  PayloadWriter,
  validOffload,
} from "./tun_payload.ts";
import { emptyHeader, encodeVirtioNetHeader, GsoType } from "./virtio_net_hdr.ts";

function ipv4(length: number, proto = 17): Uint8Array {
  const p = new Uint8Array(length);
  p[0] = 0x45;
  new DataView(p.buffer).setUint16(2, length);
  p[9] = proto;
  return p;
}

Deno.test("tun payload: plain packets become zero-header payloads in a reused buffer", () => {
  const batch = new PacketBatch({ capacity: 4, slotSize: 2048 });
  batch.push(ipv4(60));
  batch.push(ipv4(100));
  const reader = new PayloadReader(4096, () => new PacketBatch());
  const seen: number[] = [];
  reader.forEach(batch, 2, false, (payload) => {
    assert.deepEqual(payload.subarray(0, PAYLOAD_HEADER_LENGTH), new Uint8Array(10));
    seen.push(payload.length - PAYLOAD_HEADER_LENGTH);
  });
  assert.deepEqual(seen, [60, 100]);
});

Deno.test("tun payload: the writer refuses short payloads and offloads the kernel must not run", () => {
  const batch = new PacketBatch({ capacity: 4, slotSize: 2048 });
  const writer = new PayloadWriter(true);
  const flush = () => batch.clear();
  assert.equal(writer.push(new Uint8Array(PAYLOAD_HEADER_LENGTH + 10), batch, flush), false);
  const bad = new Uint8Array(PAYLOAD_HEADER_LENGTH + 60);
  bad.set(ipv4(60), PAYLOAD_HEADER_LENGTH);
  encodeVirtioNetHeader({ ...emptyHeader(), gsoType: 0x33 }, bad, 0);
  assert.equal(writer.push(bad, batch, flush), false);
  const plain = new Uint8Array(PAYLOAD_HEADER_LENGTH + 60);
  plain.set(ipv4(60), PAYLOAD_HEADER_LENGTH);
  assert.equal(writer.push(plain, batch, flush), true);
  assert.equal(batch.count, 1);
});

Deno.test("tun payload: a full write batch is flushed before the next packet", () => {
  const batch = new PacketBatch({ capacity: 2, slotSize: 2048 });
  const writer = new PayloadWriter(false);
  let flushes = 0;
  const flush = () => {
    flushes++;
    batch.clear();
  };
  const plain = new Uint8Array(PAYLOAD_HEADER_LENGTH + 60);
  plain.set(ipv4(60), PAYLOAD_HEADER_LENGTH);
  for (let i = 0; i < 5; i++) assert.equal(writer.push(plain, batch, flush), true);
  assert.equal(flushes, 2);
  assert.equal(batch.count, 1);
});

Deno.test("tun payload: validOffload accepts TCP segmentation within bounds only", () => {
  const h = { ...emptyHeader(), gsoType: GsoType.TCPV4, gsoSize: 1448, hdrLen: 52 };
  assert.equal(validOffload(h, 9000), true);
  assert.equal(validOffload({ ...h, gsoSize: 0 }, 9000), false);
  assert.equal(validOffload({ ...h, hdrLen: 10_000 }, 9000), false);
  assert.equal(validOffload({ ...h, flags: 0x80 }, 9000), false);
});
