import assert from "node:assert/strict";
import {
  NetnsError,
  parseIperfJson,
  parsePing,
  parseVmRss,
  percentile,
  ping,
  sh,
  underlayPair,
  withTestbed,
} from "./netns.ts";

const IPERF = JSON.stringify({
  start: {},
  end: {
    sum_sent: { bits_per_second: 912345678, retransmits: 17 },
    sum_received: { bits_per_second: 900000000 },
  },
});

Deno.test("parseIperfJson reads receiver Gbit/s and sender retransmits", () => {
  const r = parseIperfJson(IPERF);
  assert.equal(r.gbps, 0.9);
  assert.equal(r.retransmits, 17);
});

Deno.test("parseIperfJson rejects an iperf3 error report and non-JSON", () => {
  assert.throws(
    () => parseIperfJson(JSON.stringify({ error: "unable to connect to server" })),
    (e) => e instanceof NetnsError && /unable to connect/.test(e.message),
  );
  assert.throws(() => parseIperfJson("iperf3: error"), NetnsError);
  assert.throws(() => parseIperfJson("{}"), NetnsError);
});

const PING = `PING 198.18.0.2 (198.18.0.2) 56(84) bytes of data.
64 bytes from 198.18.0.2: icmp_seq=1 ttl=64 time=0.050 ms
64 bytes from 198.18.0.2: icmp_seq=2 ttl=64 time=0.031 ms
64 bytes from 198.18.0.2: icmp_seq=3 ttl=64 time=1.20 ms
64 bytes from 198.18.0.2: icmp_seq=4 ttl=64 time=0.040 ms

--- 198.18.0.2 ping statistics ---
5 packets transmitted, 4 received, 20% packet loss, time 40ms
rtt min/avg/max/mdev = 0.031/0.330/1.200/0.502 ms
`;

Deno.test("parsePing collects RTT samples and p50/p99", () => {
  const r = parsePing(PING);
  assert.deepEqual(r.samples, [0.05, 0.031, 1.2, 0.04]);
  assert.equal(r.sent, 5);
  assert.equal(r.p50, 0.04);
  assert.equal(r.p99, 1.2);
  const none = parsePing("5 packets transmitted, 0 received, 100% packet loss");
  assert.equal(none.p50, null);
  assert.deepEqual(none.samples, []);
});

Deno.test("percentile uses nearest rank", () => {
  const xs = Array.from({ length: 100 }, (_, i) => 100 - i);
  assert.equal(percentile(xs, 0.5), 50);
  assert.equal(percentile(xs, 0.99), 99);
  assert.equal(percentile([], 0.5), null);
});

Deno.test("underlayPair stays inside 198.18.0.0/15", () => {
  assert.deepEqual(underlayPair(0), ["198.18.0.1", "198.18.0.2"]);
  assert.deepEqual(underlayPair(32767), ["198.19.255.253", "198.19.255.254"]);
  assert.throws(() => underlayPair(32768), NetnsError);
});

Deno.test("parseVmRss reads kB into MB", () => {
  assert.equal(parseVmRss("Name:\tx\nVmRSS:\t   2048 kB\n"), 2.097152);
  assert.equal(parseVmRss("Name:\tkthread\n"), null);
});

Deno.test({
  name: "testbed: two namespaces ping each other and close removes them",
  ignore: Deno.uid() !== 0,
  async fn() {
    let prefix = "";
    await withTestbed(async (tb) => {
      prefix = tb.prefix;
      const a = await tb.host("a");
      const b = await tb.host("b");
      const l = await tb.link(a, b);
      const r = await ping(tb, a, { ip: l.ipB, count: 3, intervalS: 0.2 });
      assert.equal(r.samples.length, 3);
      const sleeper = tb.spawn(b, ["sleep", "60"]);
      assert.ok(sleeper.pid > 0);
    });
    const left = (await sh(["ip", "netns", "list"])).stdout;
    assert.ok(!left.includes(prefix), `namespaces left behind: ${left}`);
  },
});
