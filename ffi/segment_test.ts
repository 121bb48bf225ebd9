import assert from "node:assert/strict";
import { completeChecksum, segmentGso } from "./segment.ts";
import { PacketBatch } from "./packet_batch.ts";
import { GsoType, VIRTIO_NET_HDR_F_NEEDS_CSUM, type VirtioNetHeader } from "./virtio_net_hdr.ts";
import { TunError } from "./errors.ts";

// An independent ones'-complement verifier (deliberately not the code under test).
function onesSum(parts: number[][]): number {
  let s = 0;
  for (const bytes of parts) {
    for (let i = 0; i < bytes.length; i += 2) {
      s += bytes[i] * 256 + (i + 1 < bytes.length ? bytes[i + 1] : 0);
      s = (s & 0xffff) + (s >>> 16);
    }
  }
  return s;
}

function transportValid(seg: Uint8Array): boolean {
  const v = seg[0] >> 4;
  const l4 = v === 4 ? (seg[0] & 15) * 4 : 40;
  const proto = v === 4 ? seg[9] : seg[6];
  const len = seg.length - l4;
  const pseudo = v === 4
    ? [...seg.subarray(12, 20), 0, proto, len >> 8, len & 255]
    : [...seg.subarray(8, 40), 0, 0, len >> 8, len & 255, 0, 0, 0, proto];
  return onesSum([pseudo, [...seg.subarray(l4)]]) === 0xffff;
}

function ipv4HeaderValid(seg: Uint8Array): boolean {
  return onesSum([[...seg.subarray(0, (seg[0] & 15) * 4)]]) === 0xffff;
}

function random(n: number): Uint8Array {
  const out = new Uint8Array(n);
  for (let i = 0; i < n; i += 65536) crypto.getRandomValues(out.subarray(i, i + 65536));
  return out;
}

interface Built {
  packet: Uint8Array;
  header: VirtioNetHeader;
  payload: Uint8Array;
  l4: number;
  hdrEnd: number;
}

/** A super-packet as the kernel hands it over with TSO/USO (partial checksum). */
function superPacket(version: 4 | 6, proto: 6 | 17, payloadLen: number, mss: number): Built {
  const l4 = version === 4 ? 20 : 40;
  const thl = proto === 6 ? 32 : 8; // TCP with 12 bytes of options (timestamps)
  const hdrEnd = l4 + thl;
  const payload = random(payloadLen);
  const p = new Uint8Array(hdrEnd + payloadLen);
  const dv = new DataView(p.buffer);
  if (version === 4) {
    p[0] = 0x45;
    dv.setUint16(2, p.length);
    dv.setUint16(4, 0xfff0); // id wraps during segmentation
    p[6] = 0x40;
    p[8] = 64;
    p[9] = proto;
    p.set([100, 64, 1, 1, 100, 64, 1, 2], 12);
    const c = 0xffff - onesSum([[...p.subarray(0, 20)]]);
    dv.setUint16(10, c);
  } else {
    p[0] = 0x60;
    dv.setUint16(4, p.length - 40);
    p[6] = proto;
    p[7] = 64;
    p.set([0x20, 0x01, 0, 2, 0, 0, 0, 0x77, 0, 0, 0, 0, 0, 0, 0, 1], 8);
    p.set([0x20, 0x01, 0, 2, 0, 0, 0, 0x77, 0, 0, 0, 0, 0, 0, 0, 2], 24);
  }
  dv.setUint16(l4, 40000);
  dv.setUint16(l4 + 2, 5201);
  if (proto === 6) {
    dv.setUint32(l4 + 4, 0xfffff000); // sequence number wraps too
    dv.setUint32(l4 + 8, 12345);
    p[l4 + 12] = (thl / 4) << 4;
    p[l4 + 13] = 0x18 | 0x01 | 0x80; // PSH ACK FIN CWR
    dv.setUint16(l4 + 14, 502);
    p.set([1, 1, 8, 10, 0, 0, 0, 1, 0, 0, 0, 2], l4 + 20);
  } else {
    dv.setUint16(l4 + 4, p.length - l4);
  }
  p.set(payload, hdrEnd);
  // Partial checksum: the folded pseudo-header sum, as the kernel leaves it.
  const len = p.length - l4;
  const pseudo = version === 4
    ? [...p.subarray(12, 20), 0, proto, len >> 8, len & 255]
    : [...p.subarray(8, 40), 0, 0, len >> 8, len & 255, 0, 0, 0, proto];
  dv.setUint16(l4 + (proto === 6 ? 16 : 6), onesSum([pseudo]));
  const gsoType = proto === 17 ? GsoType.UDP_L4 : version === 4 ? GsoType.TCPV4 : GsoType.TCPV6;
  return {
    packet: p,
    payload,
    l4,
    hdrEnd,
    header: {
      flags: VIRTIO_NET_HDR_F_NEEDS_CSUM,
      gsoType,
      hdrLen: hdrEnd,
      gsoSize: mss,
      csumStart: l4,
      csumOffset: proto === 6 ? 16 : 6,
    },
  };
}

for (const [version, proto] of [[4, 6], [6, 6], [4, 17], [6, 17]] as const) {
  Deno.test(`segment: IPv${version} ${proto === 6 ? "TCP" : "UDP"} super-packet splits into valid packets`, () => {
    const mss = 1448;
    const b = superPacket(version, proto, 30_000, mss);
    const out = new PacketBatch({ capacity: 64, slotSize: 2048 });
    out.push(new Uint8Array(100)); // existing content stays in front
    const n = segmentGso(b.packet, b.header, out);
    assert.equal(n, Math.ceil(30_000 / mss));
    assert.equal(out.count, n + 1);
    const joined: number[] = [];
    for (let k = 0; k < n; k++) {
      const seg = out.packet(k + 1);
      const dv = new DataView(seg.buffer, seg.byteOffset, seg.length);
      assert.ok(seg.length <= b.hdrEnd + mss);
      assert.ok(transportValid(seg), `segment ${k} transport checksum`);
      if (version === 4) {
        assert.ok(ipv4HeaderValid(seg), `segment ${k} IPv4 header checksum`);
        assert.equal(dv.getUint16(2), seg.length);
        assert.equal(dv.getUint16(4), (0xfff0 + k) & 0xffff);
      } else {
        assert.equal(dv.getUint16(4), seg.length - 40);
      }
      if (proto === 6) {
        assert.equal(dv.getUint32(b.l4 + 4), (0xfffff000 + k * mss) >>> 0);
        const flags = seg[b.l4 + 13];
        assert.equal(Boolean(flags & 0x01), k === n - 1, "FIN only on the last");
        assert.equal(Boolean(flags & 0x08), k === n - 1, "PSH only on the last");
        assert.equal(Boolean(flags & 0x80), k === 0, "CWR only on the first");
        assert.ok(flags & 0x10, "ACK on all");
      } else {
        assert.equal(dv.getUint16(b.l4 + 4), seg.length - b.l4);
      }
      joined.push(...seg.subarray(b.hdrEnd));
    }
    assert.deepEqual(new Uint8Array(joined), b.payload);
  });
}

Deno.test("segment: a corrupted segment fails the independent verifier (the check has teeth)", () => {
  const b = superPacket(4, 6, 5000, 1000);
  const out = new PacketBatch({ capacity: 8 });
  segmentGso(b.packet, b.header, out);
  const seg = out.packet(2);
  seg[seg.length - 1] ^= 0x40;
  assert.equal(transportValid(seg), false);
});

Deno.test("segment: a non-GSO packet with a partial checksum is completed", () => {
  const b = superPacket(6, 6, 900, 1448);
  const plain: VirtioNetHeader = { ...b.header, gsoType: GsoType.NONE, gsoSize: 0 };
  assert.equal(transportValid(b.packet), false);
  const out = new PacketBatch({ capacity: 2 });
  assert.equal(segmentGso(b.packet, plain, out), 1);
  assert.ok(transportValid(out.packet(0)));
  const inPlace = b.packet.slice();
  completeChecksum(inPlace, plain);
  assert.deepEqual(inPlace, out.packet(0));
  // Without NEEDS_CSUM nothing is touched.
  const untouched = b.packet.slice();
  completeChecksum(untouched, { ...plain, flags: 0 });
  assert.deepEqual(untouched, b.packet);
});

Deno.test("segment: bad input is a typed error and appends nothing", () => {
  const b = superPacket(4, 6, 20_000, 1000);
  const small = new PacketBatch({ capacity: 4 });
  const isBad = (e: unknown) => e instanceof TunError && e.code === "invalid-argument";
  assert.throws(() => segmentGso(b.packet, b.header, small), isBad);
  assert.equal(small.count, 0);
  const out = new PacketBatch({ capacity: 64 });
  assert.throws(() => segmentGso(b.packet.subarray(0, 30), b.header, out), isBad);
  assert.throws(() => segmentGso(b.packet, { ...b.header, gsoType: GsoType.TCPV6 }, out), isBad);
  assert.throws(() => segmentGso(b.packet, { ...b.header, gsoType: GsoType.UDP_L4 }, out), isBad);
  assert.throws(() => segmentGso(b.packet, { ...b.header, gsoSize: 0 }, out), isBad);
  assert.throws(() => segmentGso(new Uint8Array(64).fill(0x70), b.header, out), isBad);
  assert.throws(
    () => completeChecksum(b.packet.subarray(0, 10), { ...b.header, gsoType: 0 }),
    isBad,
  );
  assert.equal(out.count, 0);
});
