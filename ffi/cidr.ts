/**
 * Strict parsing of interface names and IPv4/IPv6 CIDRs, done in TypeScript so that bad
 * input is rejected with a typed error before any system call.
 *
 * @module
 */

import { parseIpv4 as parseIpv4Number } from "../core/net/ipv4.ts";
import { TunError } from "./errors.ts";

/** A parsed `address/prefix`. */
export interface Cidr {
  /** 4 for IPv4, 6 for IPv6. */
  family: 4 | 6;
  /** Network-order address bytes: 4 or 16 of them. */
  address: Uint8Array;
  /** Prefix length: 0–32 or 0–128. */
  prefix: number;
  /** The input as given, for messages. */
  text: string;
}

const NAME = /^[A-Za-z0-9_.-]{1,15}$/;

/**
 * Checks an interface name the way the kernel would accept it (1–15 bytes of letters,
 * digits, `_ . -`; not `.` or `..`). Throws TunError `invalid-argument` otherwise.
 */
export function validateInterfaceName(name: string): string {
  if (typeof name !== "string" || !NAME.test(name) || name === "." || name === "..") {
    throw new TunError(
      "invalid-argument",
      `invalid interface name ${JSON.stringify(name)}: use 1-15 of [A-Za-z0-9_.-]`,
    );
  }
  return name;
}

/** Dotted IPv4 text to its 4 network-order bytes; null when it is not exactly that. */
export function parseIpv4(text: string): Uint8Array | null {
  const n = parseIpv4Number(text);
  if (n < 0) return null;
  return new Uint8Array([n >>> 24, (n >>> 16) & 255, (n >>> 8) & 255, n & 255]);
}

/** IPv6 text (with `::` and an IPv4 tail) to its 16 network-order bytes; null otherwise. */
export function parseIpv6(text: string): Uint8Array | null {
  if (!/^[0-9A-Fa-f:.]+$/.test(text)) return null;
  const halves = text.split("::");
  if (halves.length > 2) return null;
  const groups = (s: string): number[] | null => {
    if (s === "") return [];
    const out: number[] = [];
    const parts = s.split(":");
    for (let i = 0; i < parts.length; i++) {
      const p = parts[i];
      if (i === parts.length - 1 && p.includes(".")) {
        const v4 = parseIpv4(p);
        if (!v4) return null;
        out.push((v4[0] << 8) | v4[1], (v4[2] << 8) | v4[3]);
      } else if (/^[0-9A-Fa-f]{1,4}$/.test(p)) {
        out.push(parseInt(p, 16));
      } else {
        return null;
      }
    }
    return out;
  };
  const head = groups(halves[0]);
  const tail = halves.length === 2 ? groups(halves[1]) : [];
  if (!head || !tail) return null;
  // An IPv4 tail is only valid at the very end of the address.
  if (halves.length === 2 && halves[0].includes(".")) return null;
  const missing = 8 - head.length - tail.length;
  if (halves.length === 2 ? missing < 1 : missing !== 0) return null;
  const all = [...head, ...new Array(halves.length === 2 ? missing : 0).fill(0), ...tail];
  const out = new Uint8Array(16);
  all.forEach((g, i) => {
    out[2 * i] = g >> 8;
    out[2 * i + 1] = g & 0xff;
  });
  return out;
}

/**
 * Parses `address/prefix` (IPv4 or IPv6). With `network: true` the host bits must be zero,
 * as a route destination requires. Throws TunError `invalid-argument` on anything else.
 */
export function parseCidr(text: string, options: { network?: boolean } = {}): Cidr {
  const bad = (why: string) =>
    new TunError("invalid-argument", `invalid CIDR ${JSON.stringify(text)}: ${why}`);
  if (typeof text !== "string" || text.length > 64) throw bad("not a CIDR string");
  const slash = text.indexOf("/");
  if (slash < 0) throw bad("missing /prefix");
  const addrText = text.slice(0, slash);
  const prefixText = text.slice(slash + 1);
  if (!/^(0|[1-9][0-9]{0,2})$/.test(prefixText)) throw bad("prefix is not a number");
  const prefix = Number(prefixText);
  let family: 4 | 6;
  let address: Uint8Array | null;
  if (addrText.includes(":")) {
    family = 6;
    address = parseIpv6(addrText);
  } else {
    family = 4;
    address = parseIpv4(addrText);
  }
  if (!address) throw bad(`not an IPv${family} address`);
  if (prefix > address.length * 8) throw bad(`prefix above ${address.length * 8}`);
  if (options.network) {
    for (let bit = prefix; bit < address.length * 8; bit++) {
      if (address[bit >> 3] & (0x80 >> (bit & 7))) {
        throw bad("host bits set; a route needs the network address");
      }
    }
  }
  return { family, address, prefix, text };
}
