import assert from "node:assert/strict";
import { WireError } from "./errors.ts";
import { decodeFrame, FrameType } from "./frame.ts";
import { decodeLaneHello, encodeLaneHelloFrame } from "./lane.ts";

Deno.test("lane: a hello travels in a Lane frame and decodes to itself", () => {
  const token = new Uint8Array([1, 2, 3, 4, 5, 6, 7, 8]);
  const frame = decodeFrame(encodeLaneHelloFrame({ token, address: 0xc612_0005, port: 40123 }));
  assert.equal(frame.type, FrameType.Lane);
  assert.deepEqual(decodeLaneHello(frame.payload), { token, address: 0xc612_0005, port: 40123 });
});

Deno.test("lane: malformed hellos are refused", () => {
  const token = new Uint8Array(8);
  const good = decodeFrame(encodeLaneHelloFrame({ token, address: 1, port: 1 })).payload;
  for (
    const bad of [new Uint8Array(0), good.subarray(1), new Uint8Array([2, ...good.subarray(1)])]
  ) {
    assert.throws(() => decodeLaneHello(bad), WireError);
  }
  const zeroPort = good.slice();
  zeroPort[13] = zeroPort[14] = 0;
  assert.throws(() => decodeLaneHello(zeroPort), WireError);
  assert.throws(() => encodeLaneHelloFrame({ token: new Uint8Array(7), address: 1, port: 1 }));
  assert.throws(() => encodeLaneHelloFrame({ token, address: 1, port: 70000 }));
});
