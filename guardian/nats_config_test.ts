import assert from "node:assert/strict";
import { parseTopology } from "./init.ts";
import { renderServerConfig, TopologyError, validateTopology } from "./nats_config.ts";

const auth = { operatorJwt: "OPJWT", systemAccount: "ASYS", preload: { ASYS: "J1", AAPP: "J2" } };

Deno.test("single server config: operator mode, memory resolver, no cluster or gateway", () => {
  const text = renderServerConfig(auth, {
    clusters: [{ name: "veilnet", servers: [{ host: "127.0.0.1", clientPort: 4222 }] }],
    clusterIndex: 0,
    serverIndex: 0,
  });
  assert.match(text, /^listen: "127\.0\.0\.1:4222"$/m);
  assert.match(text, /^operator: "OPJWT"$/m);
  assert.match(text, /^resolver: MEMORY$/m);
  assert.match(text, /^ {2}AAPP: "J2"$/m);
  assert.ok(!text.includes("cluster {") && !text.includes("gateway {"));
});

Deno.test("TLS config: clients must use TLS with the given files; no TLS block without them", () => {
  const single = {
    clusters: [{ name: "veilnet", servers: [{ host: "127.0.0.1", clientPort: 4222 }] }],
    clusterIndex: 0,
    serverIndex: 0,
  };
  const tls = { certFile: '/etc/veilnet/"odd" name.pem', keyFile: "/etc/veilnet/key.pem" };
  const text = renderServerConfig(auth, single, tls);
  assert.match(text, /^tls \{\n {2}cert_file: "\/etc\/veilnet\/\\"odd\\" name\.pem"$/m);
  assert.match(text, /^ {2}key_file: "\/etc\/veilnet\/key\.pem"\n\}$/m);
  assert.ok(!renderServerConfig(auth, single).includes("tls {"));
});

Deno.test("super cluster config: routes to cluster peers, gateways to the other cluster", () => {
  const clusters = parseTopology(
    [
      "east=127.0.0.1:4222:6222,127.0.0.1:4223:6223",
      "west=127.0.0.1:4224:6224,127.0.0.1:4225:6225",
    ],
    ["east=127.0.0.1:7222,127.0.0.1:7223", "west=127.0.0.1:7224,127.0.0.1:7225"],
  );
  const text = renderServerConfig(auth, { clusters, clusterIndex: 0, serverIndex: 1 });
  assert.match(text, /^server_name: "east-2"$/m);
  assert.match(text, /listen: "127\.0\.0\.1:6223"/);
  assert.match(text, /"nats-route:\/\/127\.0\.0\.1:6222"/);
  assert.ok(!text.includes("nats-route://127.0.0.1:6223"), "no route to itself");
  assert.match(text, /gateway \{\n {2}name: "east"\n {2}listen: "127\.0\.0\.1:7223"/);
  assert.match(
    text,
    /\{ name: "west", urls: \["nats:\/\/127\.0\.0\.1:7224", "nats:\/\/127\.0\.0\.1:7225"\] \}/,
  );
  assert.ok(!text.includes('name: "east", urls'), "no gateway to its own cluster");
});

Deno.test("bad topologies are refused", () => {
  assert.throws(() => validateTopology([]), TopologyError);
  assert.throws(() => parseTopology(["east"], []), TopologyError);
  assert.throws(() => parseTopology(["east=127.0.0.1:1"], []), TopologyError);
  assert.throws(() => parseTopology(["e=127.0.0.1:1:2"], ["w=127.0.0.1:3"]), TopologyError);
  assert.throws(
    () => parseTopology(["e=127.0.0.1:1:2,127.0.0.1:3:4"], ["e=127.0.0.1:5"]),
    TopologyError,
  );
  // Two clusters need gateway ports; duplicate ports and names are refused.
  assert.throws(() => validateTopology(parseTopology(["e=h:1:2", "w=h:3:4"], [])), TopologyError);
  assert.throws(() => validateTopology(parseTopology(["e=h:1:2,h:1:3"], [])), TopologyError);
  assert.throws(() => validateTopology(parseTopology(["e=h:1:2", "e=h:3:4"], [])), TopologyError);
  assert.throws(() => validateTopology(parseTopology(["bad name=h:1:2"], [])), TopologyError);
});
