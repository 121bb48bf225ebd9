import assert from "node:assert/strict";
import {
  type InterfaceAddress,
  isLinkLocal,
  parseInterfaceList,
  sameAddresses,
  underlayAddresses,
} from "./underlay.ts";
import { bindAddressOf } from "./engine_libdatachannel.ts";

const v4 = (name: string, address: string): InterfaceAddress => ({ name, family: "IPv4", address });
const v6 = (name: string, address: string): InterfaceAddress => ({ name, family: "IPv6", address });

/** A relay's interfaces: management first, two data links, a TUN, a container bridge. */
const HOST: InterfaceAddress[] = [
  v4("lo", "127.0.0.1"),
  v6("lo", "::1"),
  v4("eth0", "198.18.0.10"),
  v6("eth0", "fe80::1"),
  v4("eth1", "198.18.101.1"),
  v4("eth2", "198.18.102.1"),
  v6("eth2", "2001:db8::5"),
  v4("veilnet0", "100.64.0.3"),
  v4("docker0", "198.18.250.1"),
  v4("eth3", "169.254.7.7"),
];
const realm = { network: (100 << 24 | 64 << 16) >>> 0, prefix: 24 };

Deno.test("underlay: every interface but TUN, realm, loopback and link-local, IPv4 first", () => {
  assert.deepEqual(underlayAddresses(HOST, { tunName: "veilnet0", realm }), [
    "198.18.0.10",
    "198.18.101.1",
    "198.18.102.1",
    "198.18.250.1",
    "2001:db8::5",
  ]);
});

Deno.test("underlay: the realm is excluded even on an interface of another name", () => {
  const got = underlayAddresses([v4("tun7", "100.64.0.9"), v4("eth0", "198.18.0.2")], { realm });
  assert.deepEqual(got, ["198.18.0.2"]);
});

Deno.test("underlay: named interfaces restrict the set and may admit loopback", () => {
  assert.deepEqual(
    underlayAddresses(HOST, { tunName: "veilnet0", realm, interfaces: ["eth1", "eth2"] }),
    ["198.18.101.1", "198.18.102.1", "2001:db8::5"],
  );
  assert.deepEqual(underlayAddresses(HOST, { realm, interfaces: ["lo"] }), ["127.0.0.1", "::1"]);
  // Naming the TUN does not make it an underlay.
  assert.deepEqual(underlayAddresses(HOST, { tunName: "veilnet0", interfaces: ["veilnet0"] }), []);
  // A named interface that does not exist gives nothing (the node warns), not everything.
  assert.deepEqual(underlayAddresses(HOST, { interfaces: ["wlan9"] }), []);
});

Deno.test("underlay: loopback only when nothing else exists", () => {
  assert.deepEqual(
    underlayAddresses([v4("lo", "127.0.0.1"), v4("veilnet0", "100.64.0.3")], {
      tunName: "veilnet0",
    }),
    ["127.0.0.1"],
  );
  assert.deepEqual(underlayAddresses([]), []);
});

Deno.test("underlay: link-local detection", () => {
  assert.equal(isLinkLocal("169.254.1.1"), true);
  assert.equal(isLinkLocal("fe80::abcd"), true);
  assert.equal(isLinkLocal("FEBF::1"), true);
  assert.equal(isLinkLocal("fec0::1"), false);
  assert.equal(isLinkLocal("198.18.0.1"), false);
});

Deno.test("underlay: --underlay-interfaces parsing", () => {
  assert.deepEqual(parseInterfaceList("eth0, eth1,eth0,"), ["eth0", "eth1"]);
  assert.deepEqual(parseInterfaceList("enp0s31f6,wlan0,br-1a2b"), [
    "enp0s31f6",
    "wlan0",
    "br-1a2b",
  ]);
  assert.throws(() => parseInterfaceList(""), RangeError);
  assert.throws(() => parseInterfaceList("eth0,bad name"), /bad interface name/);
  assert.throws(() => parseInterfaceList("a/b"), RangeError);
  assert.throws(() => parseInterfaceList("x".repeat(16)), RangeError);
});

Deno.test("underlay: sameAddresses ignores order", () => {
  assert.equal(sameAddresses(["a", "b"], ["b", "a"]), true);
  assert.equal(sameAddresses(["a"], ["a", "b"]), false);
  assert.equal(sameAddresses(["a", "c"], ["a", "b"]), false);
});

Deno.test("libdatachannel binds one address only when exactly one is wanted", () => {
  // Binding the first of several made a multi-homed host gather on its management network only.
  assert.equal(bindAddressOf(["198.18.0.10", "198.18.101.1"]), undefined);
  assert.equal(bindAddressOf(undefined), undefined);
  assert.equal(bindAddressOf(["127.0.0.1"]), "127.0.0.1");
});
