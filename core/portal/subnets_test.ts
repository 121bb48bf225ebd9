import assert from "node:assert/strict";
import { parseCidr, parseIpv4 } from "../node/packet.ts";
import { parseHostRoutes, refuseSubnet, servedSubnets, urlAddresses } from "./subnets.ts";

// `ip -j -4 route show table main` on a portal: uplink, a LAN, a container bridge, our TUN.
const PORTAL_ROUTES = parseHostRoutes(JSON.stringify([
  { dst: "default", gateway: "198.18.0.1", dev: "eth0", flags: [] },
  { dst: "198.18.0.0/24", dev: "eth0", protocol: "kernel", scope: "link", prefsrc: "198.18.0.2" },
  { dst: "198.19.77.0/24", dev: "lan0", protocol: "kernel", scope: "link", prefsrc: "198.19.77.1" },
  { dst: "198.19.80.0/20", dev: "docker0", protocol: "kernel", scope: "link" },
  { dst: "198.19.99.0/24", gateway: "198.18.0.9", dev: "eth0" }, // not connected: not served
  { dst: "100.64.0.0/24", dev: "veilnet0", protocol: "kernel", scope: "link" },
  { dst: "169.254.0.0/16", dev: "eth0", scope: "link" },
  { dst: "198.19.5.7", dev: "ptp0", scope: "link" },
  { dst: "224.0.0.0/4", dev: "eth0", scope: "link", type: "multicast" },
  { dst: "100.64.9.0/24", dev: "other0", scope: "link" }, // inside the overlay range
  { nonsense: true },
]));
const OVERLAY = parseCidr("100.64.0.0/10")!;

Deno.test("portal: serves the host's connected networks, not the TUN, overlay or reserved", () => {
  assert.deepEqual(servedSubnets(PORTAL_ROUTES, { tunName: "veilnet0", overlay: OVERLAY }), [
    "198.18.0.0/24",
    "198.19.5.7/32",
    "198.19.77.0/24",
    "198.19.80.0/20",
  ]);
});

Deno.test("portal: ip route output that is not a list is an error", () => {
  assert.throws(() => parseHostRoutes("{}"), TypeError);
  assert.throws(() => parseHostRoutes("not json"), SyntaxError);
});

Deno.test("peer: a portal subnet clashing with its own routes or servers is not routed", () => {
  // A peer on the same uplink network as the portal, with its own Guardian at 198.18.0.1.
  const host = {
    routes: parseHostRoutes(JSON.stringify([
      { dst: "default", gateway: "198.18.0.1", dev: "eth0" },
      { dst: "198.18.0.0/24", dev: "eth0", scope: "link" },
      { dst: "198.19.96.0/19", gateway: "198.18.0.1", dev: "eth0" },
      { dst: "100.64.0.0/24", dev: "veilnet0", scope: "link" },
      { dst: "198.19.77.0/24", dev: "veilnet0" }, // an earlier portal route of ours
    ])),
    tunName: "veilnet0",
    realm: parseCidr("100.64.0.0/24")!,
    protectedAddresses: [parseIpv4("198.19.60.1")],
  };
  const refuse = (c: string) => refuseSubnet(parseCidr(c)!, host);
  assert.equal(refuse("198.19.77.0/24"), null);
  assert.equal(refuse("198.19.80.0/20"), null);
  assert.match(refuse("198.18.0.0/24")!, /overlaps this host's route 198.18.0.0\/24/);
  assert.match(refuse("198.19.100.0/24")!, /overlaps this host's route 198.19.96.0\/19/);
  assert.match(refuse("198.19.60.0/24")!, /contains 198.19.60.1/);
  assert.match(refuse("100.64.0.128/25")!, /realm/);
  assert.match(refuse("127.0.0.0/8")!, /reserved/);
});

Deno.test("peer: server addresses are taken from URLs with IPv4 literals only", () => {
  assert.deepEqual(
    urlAddresses([
      "http://198.18.0.1:8080",
      "nats://198.18.0.1:4222",
      "198.18.0.3:4222",
      "tls://n.example:4222",
      "::",
    ]),
    [parseIpv4("198.18.0.1"), parseIpv4("198.18.0.1"), parseIpv4("198.18.0.3")],
  );
});
