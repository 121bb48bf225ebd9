/**
 * The datagram lane's wire formats (PROTOCOL.md, "Datagram lane").
 *
 * Over the tether, one Lane frame (FrameType.Lane) per direction says where to send datagrams
 * and which token to put on them:
 *
 *     kind u8 (1 = hello) | token 8 bytes | IPv4 address u32 | port u16
 *
 * On the lane (UDP), every datagram starts with the token the receiver chose for this sender, so
 * the receiver knows the sending peer and drops anything else before any other work:
 *
 *     token 8 bytes | kind u8 | body
 *     kind 1 = probe:      nonce 8 bytes | padding (a large probe tests fragmented datagrams)
 *     kind 2 = probe ack:  nonce 8 bytes | size of the probe u16
 *     kind 3 = frame:      one encoded frame (core/wire/frame.ts)
 *
 * @module
 */
import { WireError } from "./errors.ts";
import { encodeFrame, FrameType } from "./frame.ts";

/** Bytes of the token that starts every lane datagram. */
export const LANE_TOKEN_LENGTH = 8;
/** Bytes in front of a frame in a lane datagram (token and kind). */
export const LANE_PREFIX_LENGTH = LANE_TOKEN_LENGTH + 1;
/** Datagram kinds. */
export const LaneKind = { Probe: 1, ProbeAck: 2, Frame: 3 } as const;
const HELLO = 1;
const HELLO_LENGTH = 1 + LANE_TOKEN_LENGTH + 4 + 2;

/** What one end tells the other over the tether. */
export interface LaneHello {
  /** Token the receiver of this hello puts on every datagram it sends to us. */
  token: Uint8Array;
  /** Where to send them. */
  address: number;
  port: number;
}

/** A Lane frame carrying `hello` (sent over the tether). */
export function encodeLaneHelloFrame(hello: LaneHello): Uint8Array {
  if (hello.token.length !== LANE_TOKEN_LENGTH) throw new WireError("malformed", "lane: token");
  if (!Number.isInteger(hello.port) || hello.port < 1 || hello.port > 65535) {
    throw new WireError("malformed", "lane: port out of range");
  }
  const payload = new Uint8Array(HELLO_LENGTH);
  const v = new DataView(payload.buffer);
  payload[0] = HELLO;
  payload.set(hello.token, 1);
  v.setUint32(1 + LANE_TOKEN_LENGTH, hello.address >>> 0);
  v.setUint16(1 + LANE_TOKEN_LENGTH + 4, hello.port);
  return encodeFrame({
    type: FrameType.Lane,
    hopLimit: 1,
    flags: 0,
    destination: 0,
    streamId: 0,
    counter: 0n,
    payload,
  });
}

/** The hello in a Lane frame's payload; throws WireError when it is not one. */
export function decodeLaneHello(payload: Uint8Array): LaneHello {
  if (payload.length !== HELLO_LENGTH || payload[0] !== HELLO) {
    throw new WireError("malformed", "lane: not a hello");
  }
  const v = new DataView(payload.buffer, payload.byteOffset, payload.byteLength);
  const port = v.getUint16(1 + LANE_TOKEN_LENGTH + 4);
  if (port === 0) throw new WireError("malformed", "lane: port 0");
  return {
    token: payload.slice(1, 1 + LANE_TOKEN_LENGTH),
    address: v.getUint32(1 + LANE_TOKEN_LENGTH),
    port,
  };
}

/** Writes the token and kind of a datagram at the start of `out`. */
export function writeLanePrefix(out: Uint8Array, token: Uint8Array, kind: number): void {
  out.set(token, 0);
  out[LANE_TOKEN_LENGTH] = kind;
}
