/**
 * Protobuf bodies of the route control messages (MESSAGE_TYPE_ROUTE_QUERY carries a
 * `RouteQuery`, MESSAGE_TYPE_ROUTE_REPLY a `RouteReport`; schema in proto/veilnet.proto).
 *
 * The runtime puts the body in a signed envelope and sends it to the named neighbour; on
 * receipt it decodes the body here, which also validates it, before `RouteAgent.receive`.
 *
 * @module
 */

import { create, fromBinary, toBinary } from "@bufbuild/protobuf";
import { MessageType, RouteQuerySchema, RouteReportSchema } from "../wire/gen/veilnet_pb.ts";
import { RouteError } from "./errors.ts";
import { parseRouteMessage } from "./messages.ts";
import type { RouteMessage } from "./messages.ts";

/** Largest encoded route message body accepted (bytes). */
export const MAX_ROUTE_BODY = 64 * 1024;

/** An encoded route message: the envelope type and the protobuf body. */
export interface EncodedRouteMessage {
  type: MessageType.ROUTE_QUERY | MessageType.ROUTE_REPLY;
  body: Uint8Array;
}

/** Encodes a route message as an envelope type plus protobuf body. */
export function encodeRouteMessage(message: RouteMessage): EncodedRouteMessage {
  if (message.kind === "query") {
    return {
      type: MessageType.ROUTE_QUERY,
      body: toBinary(
        RouteQuerySchema,
        create(RouteQuerySchema, {
          queryId: message.queryId,
          origin: message.origin,
          destination: message.destination,
          ttl: message.ttl,
          path: message.path,
          closestMs: message.closestMs,
          stall: message.stall,
        }),
      ),
    };
  }
  return {
    type: MessageType.ROUTE_REPLY,
    body: toBinary(
      RouteReportSchema,
      create(RouteReportSchema, {
        estimates: message.estimates.map((e) => ({
          destination: e.destination,
          estimateMs: e.estimateMs,
          hops: e.hops,
        })),
      }),
    ),
  };
}

/**
 * Decodes and validates a route message body of envelope type `type`. Throws
 * {@link RouteError} (`malformed` / `oversized`) on anything else, never another error.
 */
export function decodeRouteMessage(type: MessageType, body: Uint8Array): RouteMessage {
  if (body.length > MAX_ROUTE_BODY) {
    throw new RouteError("oversized", `route message body over ${MAX_ROUTE_BODY} bytes`);
  }
  let raw: unknown;
  try {
    if (type === MessageType.ROUTE_QUERY) {
      const q = fromBinary(RouteQuerySchema, body);
      raw = {
        kind: "query",
        queryId: q.queryId,
        origin: q.origin,
        destination: q.destination,
        ttl: q.ttl,
        path: q.path,
        closestMs: q.closestMs,
        stall: q.stall,
      };
    } else if (type === MessageType.ROUTE_REPLY) {
      const r = fromBinary(RouteReportSchema, body);
      raw = {
        kind: "report",
        estimates: r.estimates.map((e) => ({
          destination: e.destination,
          estimateMs: e.estimateMs,
          hops: e.hops,
        })),
      };
    } else {
      throw new RouteError("malformed", `message type ${type} is not a route message`);
    }
  } catch (e) {
    if (e instanceof RouteError) throw e;
    throw new RouteError("malformed", `undecodable route message: ${(e as Error).message}`);
  }
  return parseRouteMessage(raw);
}
