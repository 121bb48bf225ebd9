import assert from "node:assert/strict";
import { DIRECT_RETRY_MS, PeerTable } from "./peer_table.ts";
import { unverifiedPeer } from "./peer_ref.ts";
import { parseIpv4 } from "./packet.ts";

const ip = (s: string) => parseIpv4(s);

Deno.test("peer table: one record found by id, address and routing name", () => {
  const t = new PeerTable();
  const p = t.learn("cx-a", ip("100.64.0.5"));
  assert.equal(t.get("cx-a"), p);
  assert.equal(t.byIp(ip("100.64.0.5")), p);
  assert.equal(p.ipText, "100.64.0.5");
  // Not a neighbour until its tether opens.
  assert.equal(t.neighbourId("100.64.0.5"), undefined);
  p.neighbour = true;
  assert.equal(t.neighbourId("100.64.0.5"), "cx-a");
  assert.equal(t.learn("cx-a", ip("100.64.0.5")), p);
  assert.equal(t.size, 1);
});

Deno.test("peer table: an address taken over by another conflux moves with it", () => {
  const t = new PeerTable();
  t.learn("cx-old", ip("100.64.0.9"));
  const fresh = t.learn("cx-new", ip("100.64.0.9"));
  assert.equal(t.byIp(ip("100.64.0.9")), fresh);
  // A conflux whose address changed is found under the new one only.
  t.learn("cx-new", ip("100.64.0.10"));
  assert.equal(t.byIp(ip("100.64.0.9")), undefined);
  assert.equal(t.byIp(ip("100.64.0.10"))?.id, "cx-new");
});

Deno.test("peer table: a stale address is forgotten unless a tether is open", () => {
  const t = new PeerTable();
  t.verify(unverifiedPeer("cx-a", ip("100.64.0.2")), 1000);
  t.forgetAddress(ip("100.64.0.2"));
  assert.equal(t.get("cx-a"), undefined);
  const b = t.verify(unverifiedPeer("cx-b", ip("100.64.0.3")), 1000);
  b.neighbour = true;
  t.forgetAddress(ip("100.64.0.3"));
  assert.equal(t.get("cx-b"), b);
  assert.equal(b.verified, undefined);
});

Deno.test("peer table: a closed tether clears the ways back through it", () => {
  const t = new PeerTable();
  const relay = t.learn("cx-r", ip("100.64.0.2"));
  relay.neighbour = true;
  relay.dataAt = 5;
  const far = t.learn("cx-far", ip("100.64.0.3"));
  far.heardVia = "cx-r";
  t.tetherClosed("cx-r");
  assert.equal(relay.neighbour, false);
  assert.equal(relay.dataAt, undefined);
  assert.equal(far.heardVia, undefined);
});

Deno.test("peer table: verified facts expire after the idle time, direct failures after a minute", () => {
  const t = new PeerTable();
  const p = t.verify(unverifiedPeer("cx-a", ip("100.64.0.2")), 0);
  p.directFailedAt = 0;
  assert.equal(t.directFailedRecently("cx-a", DIRECT_RETRY_MS), true);
  t.sweep(999, 1000);
  assert.ok(p.verified);
  t.sweep(1000, 1000);
  assert.equal(p.verified, undefined);
  t.sweep(DIRECT_RETRY_MS + 1, 1000);
  assert.equal(t.directFailedRecently("cx-a", DIRECT_RETRY_MS + 1), false);
});
