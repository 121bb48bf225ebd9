import assert from "node:assert/strict";
import {
  candidateAllowed,
  normalizeCandidate,
  parseCandidate,
  parseStunServers,
  stripCandidates,
} from "./candidates.ts";

const host = "candidate:1 1 UDP 2122317823 198.18.0.1 50000 typ host";
const hostOther = "candidate:2 1 UDP 2122317823 192.0.2.2 50001 typ host";
const srflx = "candidate:3 1 UDP 1686052607 198.51.100.7 40000 typ srflx raddr 0.0.0.0 rport 0";
const tcp = "candidate:4 1 TCP 1015023359 198.18.0.1 9 typ host tcptype active";
const relay = "candidate:5 1 UDP 41885439 203.0.113.9 3478 typ relay raddr 0.0.0.0 rport 0";

Deno.test("candidates: parse", () => {
  assert.deepEqual(parseCandidate("a=" + host), {
    transport: "udp",
    address: "198.18.0.1",
    port: 50000,
    type: "host",
  });
  assert.equal(parseCandidate("garbage"), null);
  assert.equal(parseCandidate("candidate:1 1 UDP 1 1.2.3.4 99999 typ host"), null);
  assert.equal(parseCandidate("candidate:1 1 UDP 1 1.2.3.4 9 nottyp host"), null);
  assert.equal(normalizeCandidate("a=" + host), host);
});

Deno.test("candidates: policy keeps host (on listed addresses) and srflx only with STUN", () => {
  const only = { hostAddresses: ["198.18.0.1"], allowSrflx: false };
  assert.equal(candidateAllowed(host, only), true);
  assert.equal(candidateAllowed(hostOther, only), false);
  assert.equal(candidateAllowed(srflx, only), false);
  assert.equal(candidateAllowed(srflx, { allowSrflx: true }), true);
  assert.equal(candidateAllowed(hostOther, { allowSrflx: false }), true);
  assert.equal(candidateAllowed(tcp, { allowSrflx: true }), false);
  assert.equal(candidateAllowed(relay, { allowSrflx: true }), false);
  assert.equal(candidateAllowed("nonsense", { allowSrflx: true }), false);
});

Deno.test("candidates: stripCandidates removes candidate lines only", () => {
  const sdp = ["v=0", "a=candidate:" + host.slice(10), "a=mid:0", "a=end-of-candidates", ""].join(
    "\r\n",
  );
  assert.equal(stripCandidates(sdp), ["v=0", "a=mid:0", ""].join("\r\n"));
});

Deno.test("candidates: STUN server strings", () => {
  assert.deepEqual(parseStunServers(["stun:198.18.0.9:3478", "198.18.0.10", "stun:[::1]:19302"]), [
    { host: "198.18.0.9", port: 3478 },
    { host: "198.18.0.10", port: 3478 },
    { host: "::1", port: 19302 },
  ]);
  assert.deepEqual(parseStunServers(["stun:host:0", ""]), []);
});

Deno.test("candidates: a reflexive candidate counts only when its base is an underlay address", () => {
  const policy = { hostAddresses: ["198.18.101.1"], allowSrflx: true };
  const on = (base: string) =>
    `candidate:4 1 UDP 1686052607 198.51.100.7 40000 typ srflx raddr ${base} rport 5000`;
  assert.equal(candidateAllowed(on("198.18.101.1"), policy), true);
  // werift's socket on the TUN address also asks STUN: never a tether over our own overlay.
  assert.equal(candidateAllowed(on("100.64.0.3"), policy), false);
  // libjuice's single unbound socket names no base.
  assert.equal(candidateAllowed(on("0.0.0.0"), policy), true);
  assert.equal(
    candidateAllowed("candidate:4 1 UDP 1 198.51.100.7 40000 typ srflx", policy),
    true,
  );
});

Deno.test("candidates: remote candidates only to plausible addresses", async () => {
  const { remoteCandidateAllowed, remotePolicyFor } = await import("./candidates.ts");
  const c = (addr: string, type = "host") =>
    `candidate:1 1 UDP 2122317823 ${addr} 50000 typ ${type}`;
  const vpn = remotePolicyFor(["198.18.0.1"]);
  for (
    const ok of [
      "198.18.0.2",
      "198.19.255.1",
      "10.1.2.3",
      "192.168.1.5",
      "172.16.0.9",
      "203.0.113.4",
      "2001:db8::1",
    ]
  ) {
    assert.equal(remoteCandidateAllowed(c(ok), vpn), true, ok);
  }
  for (
    const bad of [
      "0.0.0.0",
      "0.1.2.3",
      "224.0.0.251",
      "239.1.1.1",
      "255.255.255.255",
      "240.0.0.1",
      "127.0.0.1",
      "169.254.3.4",
      "::",
      "::1",
      "ff02::1",
      "fe80::1",
      "host.local",
    ]
  ) {
    assert.equal(remoteCandidateAllowed(c(bad), vpn), false, bad);
  }
  assert.equal(remoteCandidateAllowed(tcp, vpn), false);
  // One host (tests): loopback from the peer is fine when we gather on loopback ourselves.
  assert.equal(remoteCandidateAllowed(c("127.0.0.1"), remotePolicyFor(["127.0.0.1"])), true);
  assert.equal(remoteCandidateAllowed(c("169.254.3.4"), remotePolicyFor(["169.254.1.1"])), true);
  // No host candidates to strangers.
  assert.equal(candidateAllowed(host, { allowSrflx: true, allowHost: false }), false);
  assert.equal(candidateAllowed(srflx, { allowSrflx: true, allowHost: false }), true);
});
