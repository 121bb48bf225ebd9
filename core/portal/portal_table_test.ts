import assert from "node:assert/strict";
import { parseCidr, parseIpv4 } from "../node/packet.ts";
import { longestMatch, PortalTable } from "./portal_table.ts";

const nets = (...c: string[]) => c.map((x) => parseCidr(x)!);
const P1 = parseIpv4("100.64.0.2"), P2 = parseIpv4("100.64.0.5");

Deno.test("portal table: learns, routes by longest prefix, expires silent portals", () => {
  const t = new PortalTable({ ttlMs: 1000 });
  assert.equal(t.learn({ id: "c2", ip: P1, subnets: nets("198.19.0.0/16"), seenAt: 0 }), true);
  assert.equal(t.learn({ id: "c5", ip: P2, subnets: nets("198.19.77.0/24"), seenAt: 0 }), true);
  // The same announcement again changes nothing.
  assert.equal(t.learn({ id: "c2", ip: P1, subnets: nets("198.19.0.0/16"), seenAt: 500 }), false);
  const routes = t.routes().sort((a, b) => b.subnet.prefix - a.subnet.prefix);
  assert.equal(longestMatch(routes, parseIpv4("198.19.77.9"))?.portalIp, P2);
  assert.equal(longestMatch(routes, parseIpv4("198.19.1.1"))?.portalIp, P1);
  assert.equal(longestMatch(routes, parseIpv4("198.18.1.1")), null);
  assert.equal(t.expire(1200), true); // c5 last heard at 0
  assert.deepEqual(t.portals().map((p) => p.id), ["c2"]);
  assert.equal(t.expire(1400), false);
});

Deno.test("portal table: one subnet from two portals goes to the lower id; bounded", () => {
  const t = new PortalTable({ ttlMs: 1000, maxPortals: 2 });
  t.learn({ id: "cb", ip: P2, subnets: nets("198.19.77.0/24"), seenAt: 0 });
  t.learn({ id: "ca", ip: P1, subnets: nets("198.19.77.0/24"), seenAt: 0 });
  assert.deepEqual(t.routes().map((r) => [r.text, r.portalId]), [["198.19.77.0/24", "ca"]]);
  assert.equal(t.learn({ id: "cc", ip: P1, subnets: nets("198.19.1.0/24"), seenAt: 0 }), false);
  assert.equal(t.portals().length, 2);
  assert.equal(t.has("cc"), false);
  // A portal whose subnets changed is a change; forgetting one is too.
  assert.equal(t.learn({ id: "ca", ip: P1, subnets: nets("198.19.78.0/24"), seenAt: 1 }), true);
  assert.equal(t.forget("ca"), true);
  assert.deepEqual(t.routes().map((r) => r.portalId), ["cb"]);
});
