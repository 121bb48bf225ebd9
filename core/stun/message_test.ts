import assert from "node:assert/strict";
import {
  ATTR_FINGERPRINT,
  ATTR_MAPPED_ADDRESS,
  ATTR_SOFTWARE,
  ATTR_XOR_MAPPED_ADDRESS,
  BINDING_REQUEST,
  BINDING_SUCCESS,
  decodeMappedAddress,
  decodeStunMessage,
  decodeXorMappedAddress,
  encodeBindingRequest,
  encodeBindingSuccess,
  fingerprintOk,
  isBindingRequest,
  MAGIC_COOKIE,
  type MappedAddress,
  METHOD_BINDING,
  StunError,
} from "./message.ts";

/** Bytes from the hex dumps of RFC 5769 (whitespace and line breaks ignored). */
function hex(text: string): Uint8Array {
  const digits = text.replace(/\s+/g, "");
  return Uint8Array.from(digits.match(/../g)!, (b) => parseInt(b, 16));
}

// RFC 5769 §2.1: a Binding request with SOFTWARE, PRIORITY, ICE-CONTROLLED, USERNAME (padded
// with spaces), MESSAGE-INTEGRITY and FINGERPRINT.
const RFC5769_REQUEST = hex(`
  00 01 00 58 21 12 a4 42 b7 e7 a7 01 bc 34 d6 86 fa 87 df ae
  80 22 00 10 53 54 55 4e 20 74 65 73 74 20 63 6c 69 65 6e 74
  00 24 00 04 6e 00 01 ff
  80 29 00 08 93 2f f9 b1 51 26 3b 36
  00 06 00 09 65 76 74 6a 3a 68 36 76 59 20 20 20
  00 08 00 14 9a ea a7 0c bf d8 cb 56 78 1e f2 b5 b2 d3 f2 49 c1 b5 71 a2
  80 28 00 04 e5 7a 3b cf`);

// RFC 5769 §2.2: the IPv4 response, mapped address 192.0.2.1:32853.
const RFC5769_RESPONSE_V4 = hex(`
  01 01 00 3c 21 12 a4 42 b7 e7 a7 01 bc 34 d6 86 fa 87 df ae
  80 22 00 0b 74 65 73 74 20 76 65 63 74 6f 72 20
  00 20 00 08 00 01 a1 47 e1 12 a6 43
  00 08 00 14 2b 91 f5 99 fd 9e 90 c3 8c 74 89 f9 2a f9 ba 53 f0 6b e7 d7
  80 28 00 04 c0 7d 4c 96`);

// RFC 5769 §2.3: the IPv6 response, mapped address [2001:db8:1234:5678:11:2233:4455:6677]:32853.
const RFC5769_RESPONSE_V6 = hex(`
  01 01 00 48 21 12 a4 42 b7 e7 a7 01 bc 34 d6 86 fa 87 df ae
  80 22 00 0b 74 65 73 74 20 76 65 63 74 6f 72 20
  00 20 00 14 00 02 a1 47 01 13 a9 fa a5 d3 f1 79 bc 25 f4 b5 be d2 b9 d9
  00 08 00 14 a3 82 95 4e 4b e6 7b f1 17 84 c9 7c 82 92 c2 75 bf e3 ed 41
  80 28 00 04 c8 fb 0b 4c`);

const RFC5769_ID = hex("b7 e7 a7 01 bc 34 d6 86 fa 87 df ae");

function randomId(): Uint8Array {
  return crypto.getRandomValues(new Uint8Array(12));
}

/** Asserts `fn` throws a StunError with `code`. */
function throwsStun(fn: () => unknown, code: string): void {
  assert.throws(fn, (err: unknown) => err instanceof StunError && err.code === code);
}

Deno.test("stun: RFC 5769 sample request decodes, its FINGERPRINT checks out", () => {
  const msg = decodeStunMessage(RFC5769_REQUEST);
  assert.equal(msg.type, BINDING_REQUEST);
  assert.equal(msg.method, METHOD_BINDING);
  assert.equal(msg.class, "request");
  assert.ok(isBindingRequest(msg));
  assert.equal(msg.length, 0x58);
  assert.deepEqual(msg.transactionId, RFC5769_ID);
  assert.deepEqual(
    msg.attributes.map((a) => [a.type, a.value.length]),
    [[0x8022, 16], [0x0024, 4], [0x8029, 8], [0x0006, 9], [0x0008, 20], [0x8028, 4]],
  );
  assert.equal(new TextDecoder().decode(msg.attributes[0].value), "STUN test client");
  assert.equal(new TextDecoder().decode(msg.attributes[3].value), "evtj:h6vY");
  assert.ok(fingerprintOk(RFC5769_REQUEST));
});

Deno.test("stun: RFC 5769 IPv4 response gives 192.0.2.1:32853", () => {
  const msg = decodeStunMessage(RFC5769_RESPONSE_V4);
  assert.equal(msg.type, BINDING_SUCCESS);
  assert.equal(msg.class, "success");
  assert.equal(msg.method, METHOD_BINDING);
  assert.deepEqual(msg.transactionId, RFC5769_ID);
  assert.deepEqual(decodeXorMappedAddress(msg), { address: "192.0.2.1", port: 32853, family: 4 });
  assert.equal(decodeMappedAddress(msg), null, "the vector has no MAPPED-ADDRESS");
  assert.ok(fingerprintOk(RFC5769_RESPONSE_V4));
});

Deno.test("stun: RFC 5769 IPv6 response gives [2001:db8:1234:5678:11:2233:4455:6677]:32853", () => {
  const msg = decodeStunMessage(RFC5769_RESPONSE_V6);
  assert.equal(msg.class, "success");
  assert.deepEqual(decodeXorMappedAddress(msg), {
    address: "2001:db8:1234:5678:11:2233:4455:6677",
    port: 32853,
    family: 6,
  });
  assert.ok(fingerprintOk(RFC5769_RESPONSE_V6));
});

Deno.test("stun: a changed byte or a missing FINGERPRINT fails fingerprintOk", () => {
  for (const vector of [RFC5769_REQUEST, RFC5769_RESPONSE_V4, RFC5769_RESPONSE_V6]) {
    for (const at of [0, 7, 30, vector.length - 9, vector.length - 1]) {
      const bad = vector.slice();
      bad[at] ^= 0x01;
      assert.equal(fingerprintOk(bad), false, `flipped byte ${at}`);
    }
  }
  assert.equal(fingerprintOk(encodeBindingRequest(randomId())), false);
  assert.equal(fingerprintOk(new Uint8Array(3)), false, "garbage is simply not ok");
});

Deno.test("stun: our success response matches the RFC 5769 encoding of the same address", () => {
  // Same id and address as the vectors: the XOR-MAPPED-ADDRESS values must be byte-identical.
  for (
    const [vector, mapped] of [
      [RFC5769_RESPONSE_V4, { address: "192.0.2.1", port: 32853, family: 4 }],
      [
        RFC5769_RESPONSE_V6,
        { address: "2001:db8:1234:5678:11:2233:4455:6677", port: 32853, family: 6 },
      ],
    ] as const
  ) {
    const ours = decodeStunMessage(encodeBindingSuccess(RFC5769_ID, mapped));
    const theirs = decodeStunMessage(vector);
    const xor = (m: typeof ours) => m.attributes.find((a) => a.type === ATTR_XOR_MAPPED_ADDRESS);
    assert.deepEqual(xor(ours)!.value, xor(theirs)!.value);
  }
});

Deno.test("stun: request and success round trip, IPv4 and IPv6, with SOFTWARE and FINGERPRINT", () => {
  const id = randomId();
  const request = encodeBindingRequest(id);
  assert.equal(request.length, 20);
  const req = decodeStunMessage(request);
  assert.deepEqual(req, {
    type: BINDING_REQUEST,
    method: METHOD_BINDING,
    class: "request",
    length: 0,
    transactionId: id,
    attributes: [],
  });
  const cases: MappedAddress[] = [
    { address: "203.0.113.7", port: 54321, family: 4 },
    { address: "0.0.0.0", port: 0, family: 4 },
    { address: "255.255.255.255", port: 65535, family: 4 },
    { address: "2001:db8::1", port: 3478, family: 6 },
    { address: "::", port: 1, family: 6 },
    { address: "fe80::1:2:3:4", port: 9, family: 6 },
    { address: "2001:db8:0:0:1::", port: 40000, family: 6 },
  ];
  for (const mapped of cases) {
    for (const options of [{}, { software: "veilnet test", fingerprint: true }]) {
      const bytes = encodeBindingSuccess(id, mapped, options);
      const msg = decodeStunMessage(bytes);
      assert.equal(msg.type, BINDING_SUCCESS);
      assert.deepEqual(msg.transactionId, id);
      assert.deepEqual(decodeXorMappedAddress(msg), mapped);
      assert.deepEqual(decodeMappedAddress(msg), mapped);
      const types = msg.attributes.map((a) => a.type);
      if ("software" in options) {
        assert.deepEqual(types, [
          ATTR_XOR_MAPPED_ADDRESS,
          ATTR_MAPPED_ADDRESS,
          ATTR_SOFTWARE,
          ATTR_FINGERPRINT,
        ]);
        assert.ok(fingerprintOk(bytes));
        assert.equal(new TextDecoder().decode(msg.attributes[2].value), "veilnet test");
      } else {
        assert.deepEqual(types, [ATTR_XOR_MAPPED_ADDRESS, ATTR_MAPPED_ADDRESS]);
        assert.equal(fingerprintOk(bytes), false);
      }
    }
  }
});

Deno.test("stun: IPv6 text forms are normalised (RFC 5952) and IPv4 tails accepted", () => {
  const id = randomId();
  const roundTrip = (address: string) =>
    decodeXorMappedAddress(
      decodeStunMessage(encodeBindingSuccess(id, { address, port: 1, family: 6 })),
    )!.address;
  assert.equal(roundTrip("2001:DB8:0000:0000:0000:0000:0000:0001"), "2001:db8::1");
  assert.equal(roundTrip("2001:db8:0:1:0:0:0:1"), "2001:db8:0:1::1", "longest zero run wins");
  assert.equal(roundTrip("2001:0:0:1:0:0:0:0"), "2001:0:0:1::");
  assert.equal(roundTrip("2001:db8:1:1:1:1:0:1"), "2001:db8:1:1:1:1:0:1", "one zero stays");
  assert.equal(roundTrip("::ffff:192.0.2.1"), "::ffff:c000:201");
  assert.equal(roundTrip("fe80::1%eth0"), "fe80::1", "the zone is not on the wire");
});

Deno.test("stun: bad arguments to the encoders are StunError bad-argument", () => {
  const id = randomId();
  const bad: Array<() => unknown> = [
    () => encodeBindingRequest(new Uint8Array(11)),
    () => encodeBindingSuccess(new Uint8Array(16), { address: "192.0.2.1", port: 1, family: 4 }),
    () => encodeBindingSuccess(id, { address: "192.0.2.256", port: 1, family: 4 }),
    () => encodeBindingSuccess(id, { address: "192.0.2", port: 1, family: 4 }),
    () => encodeBindingSuccess(id, { address: "01.2.3.4", port: 1, family: 4 }),
    () => encodeBindingSuccess(id, { address: "2001:db8::1", port: 1, family: 4 }),
    () => encodeBindingSuccess(id, { address: "192.0.2.1", port: 1, family: 6 }),
    () => encodeBindingSuccess(id, { address: "1::2::3", port: 1, family: 6 }),
    () => encodeBindingSuccess(id, { address: "1:2:3:4:5:6:7:8:9", port: 1, family: 6 }),
    () => encodeBindingSuccess(id, { address: "1:2:3:4:5:6:7", port: 1, family: 6 }),
    () => encodeBindingSuccess(id, { address: "12345::", port: 1, family: 6 }),
    () => encodeBindingSuccess(id, { address: "1.2.3.4::", port: 1, family: 6 }),
    () => encodeBindingSuccess(id, { address: "192.0.2.1", port: 65536, family: 4 }),
    () => encodeBindingSuccess(id, { address: "192.0.2.1", port: -1, family: 4 }),
    () => encodeBindingSuccess(id, { address: "192.0.2.1", port: 1.5, family: 4 }),
    () =>
      encodeBindingSuccess(id, { address: "192.0.2.1", port: 1, family: 4 }, {
        software: "x".repeat(764),
      }),
  ];
  for (const fn of bad) throwsStun(fn, "bad-argument");
});

Deno.test("stun: each kind of malformed message is refused with its code", () => {
  const good = encodeBindingSuccess(randomId(), { address: "192.0.2.1", port: 7, family: 4 });
  const edit = (f: (b: Uint8Array, v: DataView) => void, bytes = good): Uint8Array => {
    const b = bytes.slice();
    f(b, new DataView(b.buffer));
    return b;
  };
  throwsStun(() => decodeStunMessage(new Uint8Array(0)), "short");
  throwsStun(() => decodeStunMessage(good.subarray(0, 19)), "short");
  throwsStun(() => decodeStunMessage(edit((b) => (b[0] |= 0x80))), "not-stun");
  throwsStun(() => decodeStunMessage(edit((b) => (b[0] |= 0x40))), "not-stun");
  throwsStun(() => decodeStunMessage(edit((_, v) => v.setUint16(2, 22))), "unaligned");
  throwsStun(() => decodeStunMessage(edit((_, v) => v.setUint16(2, 28))), "bad-length");
  throwsStun(() => decodeStunMessage(good.subarray(0, good.length - 4)), "bad-length");
  throwsStun(
    () => decodeStunMessage(edit((_, v) => v.setUint32(4, MAGIC_COOKIE ^ 1))),
    "bad-cookie",
  );
  // First attribute claims 200 bytes.
  throwsStun(() => decodeStunMessage(edit((_, v) => v.setUint16(22, 200))), "bad-attribute");
  // Last attribute claims one byte more than is left (padding would need 3 more).
  throwsStun(() => decodeStunMessage(edit((_, v) => v.setUint16(34, 9))), "bad-attribute");
  // A lone attribute header with length 1 in a 4-byte body: value and padding do not fit.
  const lone = new Uint8Array(24);
  new DataView(lone.buffer).setUint16(2, 4);
  new DataView(lone.buffer).setUint32(4, MAGIC_COOKIE);
  new DataView(lone.buffer).setUint16(22, 1);
  throwsStun(() => decodeStunMessage(lone), "bad-attribute");
  // RFC 3489 requests have no cookie: not for us.
  const rfc3489 = new Uint8Array(20);
  rfc3489[1] = 0x01;
  throwsStun(() => decodeStunMessage(rfc3489), "bad-cookie");
});

Deno.test("stun: unusable (XOR-)MAPPED-ADDRESS values decode to null", () => {
  const id = randomId();
  const bytes = encodeBindingSuccess(id, { address: "192.0.2.1", port: 7, family: 4 });
  const msg = decodeStunMessage(bytes);
  msg.attributes[0].value[1] = 0x03; // unknown family
  assert.equal(decodeXorMappedAddress(msg), null);
  msg.attributes[1].value = msg.attributes[1].value.subarray(0, 6); // truncated
  assert.equal(decodeMappedAddress(msg), null);
  msg.attributes[0].value = new Uint8Array(2);
  assert.equal(decodeXorMappedAddress(msg), null);
  assert.equal(decodeXorMappedAddress(decodeStunMessage(encodeBindingRequest(id))), null);
});

Deno.test("stun: fuzz: random, truncated and bit-flipped input only ever throws StunError", () => {
  // A fixed-seed generator keeps failures reproducible.
  let seed = 0x9e3779b9;
  const rand = () => {
    seed ^= seed << 13;
    seed ^= seed >>> 17;
    seed ^= seed << 5;
    return (seed >>> 0) / 0x100000000;
  };
  const samples = [
    RFC5769_REQUEST,
    RFC5769_RESPONSE_V4,
    RFC5769_RESPONSE_V6,
    encodeBindingRequest(randomId()),
    encodeBindingSuccess(randomId(), { address: "2001:db8::7", port: 9, family: 6 }, {
      software: "fuzz",
      fingerprint: true,
    }),
  ];
  let decoded = 0;
  const attempt = (bytes: Uint8Array) => {
    try {
      const msg = decodeStunMessage(bytes);
      decodeXorMappedAddress(msg);
      decodeMappedAddress(msg);
      decoded++;
    } catch (err) {
      if (!(err instanceof StunError)) throw err;
    }
    assert.equal(typeof fingerprintOk(bytes), "boolean");
  };
  for (let i = 0; i < 3000; i++) {
    const base = samples[Math.floor(rand() * samples.length)];
    const kind = i % 4;
    let bytes: Uint8Array;
    if (kind === 0) {
      bytes = base.subarray(0, Math.floor(rand() * (base.length + 1)));
    } else if (kind === 1) {
      bytes = base.slice();
      for (let n = 1 + Math.floor(rand() * 4); n > 0; n--) {
        bytes[Math.floor(rand() * bytes.length)] ^= 1 << Math.floor(rand() * 8);
      }
    } else if (kind === 2) {
      bytes = Uint8Array.from({ length: Math.floor(rand() * 120) }, () => rand() * 256);
    } else {
      // A valid header over random attribute bytes: exercises the attribute walk.
      const length = Math.floor(rand() * 25) * 4;
      bytes = Uint8Array.from({ length: 20 + length }, () => rand() * 256);
      const v = new DataView(bytes.buffer);
      v.setUint16(0, BINDING_SUCCESS);
      v.setUint16(2, length);
      v.setUint32(4, MAGIC_COOKIE);
    }
    attempt(bytes);
  }
  for (const s of samples) {
    for (let cut = 0; cut <= s.length; cut++) attempt(s.subarray(0, cut));
  }
  assert.ok(decoded > 0, "some inputs still decode");
});
