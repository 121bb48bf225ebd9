import assert from "node:assert/strict";
import { MessageType } from "../wire/gen/veilnet_pb.ts";
import { decodeRouteMessage, encodeRouteMessage } from "./codec.ts";
import type { RouteMessage } from "./messages.ts";

Deno.test("route messages survive protobuf encoding, infinity included", () => {
  const messages: RouteMessage[] = [
    {
      kind: "query",
      queryId: 0xfffffff0,
      origin: "a",
      destination: "d",
      ttl: 16,
      path: ["a", "b", "c"],
      closestMs: Infinity,
      stall: 2,
    },
    {
      kind: "report",
      estimates: [
        { destination: "d", estimateMs: 12.25, hops: 3 },
        { destination: "e", estimateMs: Infinity, hops: 0 },
      ],
    },
  ];
  for (const m of messages) {
    const { type, body } = encodeRouteMessage(m);
    assert.equal(type, m.kind === "query" ? MessageType.ROUTE_QUERY : MessageType.ROUTE_REPLY);
    assert.deepEqual(decodeRouteMessage(type, body), m);
  }
});

Deno.test("bad route bodies give a typed error", () => {
  const garbage = new Uint8Array([0xff, 0xff, 0xff, 0xff, 0x0f]);
  assert.throws(() => decodeRouteMessage(MessageType.ROUTE_QUERY, garbage), {
    name: "RouteError",
  });
  const empty = new Uint8Array(0); // decodes to an empty query: origin missing
  assert.throws(() => decodeRouteMessage(MessageType.ROUTE_QUERY, empty), {
    name: "RouteError",
    code: "malformed",
  });
  assert.throws(() => decodeRouteMessage(MessageType.SIGNAL, empty), { name: "RouteError" });
  assert.throws(
    () => decodeRouteMessage(MessageType.ROUTE_REPLY, new Uint8Array(70_000)),
    { name: "RouteError", code: "oversized" },
  );
});
