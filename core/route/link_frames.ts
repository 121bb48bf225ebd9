/**
 * The routing traffic between two tether neighbours, carried as frames on the tether itself
 * (beside the data frames, in the same batches): liveness probes and their replies, and route
 * messages (queries and estimate reports).
 *
 * These frames are not signed one by one: the tether is a DTLS association whose certificate
 * fingerprint travelled in an ML-DSA-signed SIGNAL envelope, so everything that arrives on it comes
 * from the conflux that signed the offer or answer. That keeps route feedback free of per-message
 * signatures (which cost milliseconds each).
 *
 * Layouts (20-byte frame header from core/wire/frame.ts with hop limit 1, destination 0, stream
 * id 0, counter 0):
 * - Probe: payload u32 probe id.
 * - ProbeReply: payload u32 probe id (echoed).
 * - Feedback: payload u8 envelope message type (ROUTE_QUERY = 6 or ROUTE_REPLY = 7) ‖ protobuf
 *   body (`RouteQuery` or `RouteReport`, see core/route/codec.ts).
 *
 * @module
 */
import {
  encodeFrame,
  type Frame,
  FRAME_HEADER_LENGTH,
  FrameType,
  MAX_FRAME_BYTES,
} from "../wire/frame.ts";
import { MessageType } from "../wire/gen/veilnet_pb.ts";
import { decodeRouteMessage, encodeRouteMessage } from "./codec.ts";
import { RouteError } from "./errors.ts";
import type { RouteMessage } from "./messages.ts";

/** Length of a probe or probe-reply payload. */
export const PROBE_PAYLOAD_LENGTH = 4;

/** A routing frame after decoding. */
export type LinkFrame =
  | { kind: "probe"; probeId: number }
  | { kind: "probe-reply"; probeId: number }
  | { kind: "route"; message: RouteMessage };

function frame(type: FrameType, payload: Uint8Array): Uint8Array {
  return encodeFrame({
    type,
    hopLimit: 1,
    flags: 0,
    destination: 0,
    streamId: 0,
    counter: 0n,
    payload,
  });
}

function probePayload(probeId: number): Uint8Array {
  const out = new Uint8Array(PROBE_PAYLOAD_LENGTH);
  new DataView(out.buffer).setUint32(0, probeId >>> 0);
  return out;
}

/** Encodes a liveness probe for the tether neighbour. */
export function encodeProbeFrame(probeId: number): Uint8Array {
  return frame(FrameType.Probe, probePayload(probeId));
}

/** Encodes the answer to a probe. */
export function encodeProbeReplyFrame(probeId: number): Uint8Array {
  return frame(FrameType.ProbeReply, probePayload(probeId));
}

/** Encodes a route query or report; throws {@link RouteError} "oversized" past the frame limit. */
export function encodeRouteFrame(message: RouteMessage): Uint8Array {
  const { type, body } = encodeRouteMessage(message);
  if (1 + body.length > MAX_FRAME_BYTES - FRAME_HEADER_LENGTH) {
    throw new RouteError("oversized", `route message body of ${body.length} bytes`);
  }
  const payload = new Uint8Array(1 + body.length);
  payload[0] = type;
  payload.set(body, 1);
  return frame(FrameType.Feedback, payload);
}

/**
 * Reads a decoded Probe, ProbeReply or Feedback frame. Throws {@link RouteError} ("malformed",
 * "oversized") for anything else, never another error.
 */
export function decodeLinkFrame(f: Frame): LinkFrame {
  if (f.type === FrameType.Probe || f.type === FrameType.ProbeReply) {
    if (f.payload.length !== PROBE_PAYLOAD_LENGTH) {
      throw new RouteError("malformed", "probe payload must be 4 bytes");
    }
    const probeId = new DataView(f.payload.buffer, f.payload.byteOffset, 4).getUint32(0);
    return { kind: f.type === FrameType.Probe ? "probe" : "probe-reply", probeId };
  }
  if (f.type === FrameType.Feedback) {
    if (f.payload.length < 1) throw new RouteError("malformed", "empty feedback frame");
    const type = f.payload[0];
    if (type !== MessageType.ROUTE_QUERY && type !== MessageType.ROUTE_REPLY) {
      throw new RouteError("malformed", `feedback message type ${type}`);
    }
    return { kind: "route", message: decodeRouteMessage(type, f.payload.subarray(1)) };
  }
  throw new RouteError("malformed", `frame type ${f.type} is not a routing frame`);
}
