/**
 * Names of confluxes (pure): the DNS label of a tag, the default suffix, reverse names of the
 * realm, and the keyed hash a name lookup carries on the control channel (PROTOCOL.md, "Names").
 *
 * @module
 */
import { hmac } from "@noble/hashes/hmac.js";
import { sha256 } from "@noble/hashes/sha2.js";

/** The default DNS suffix: `.internal` is reserved for private use (ICANN, 2024). */
export const DEFAULT_DNS_SUFFIX = "veilnet.internal";
/** Bytes of one lookup hash in a NameQuery. */
export const NAME_HASH_LENGTH = 16;
/** Bytes of a NameQuery id. */
export const NAME_QUERY_ID_LENGTH = 16;
/** Most hashes (one per team of the asker) in one NameQuery. */
export const MAX_NAME_HASHES = 64;

/**
 * The DNS label of a tag: lowercase, every character outside `[a-z0-9-]` becomes `-`, at most
 * 63 characters. "" for an empty tag (such a conflux has only its id name).
 */
export function normaliseTag(tag: string): string {
  return tag.toLowerCase().replace(/[^a-z0-9-]/g, "-").slice(0, 63);
}

/** True when `label` can be a name label we answer for (`[a-z0-9-]{1,63}`, lowercase). */
export function isNameLabel(label: string): boolean {
  return /^[a-z0-9-]{1,63}$/.test(label);
}

/**
 * Checks and normalises a DNS suffix (`--dns-suffix`): lowercase labels of `[a-z0-9-]`, no
 * leading or trailing dot, at most 200 characters, at least one dot is not required. Throws
 * RangeError with the reason.
 */
export function parseDnsSuffix(text: string): string {
  const s = text.trim().toLowerCase().replace(/^\.+|\.+$/g, "");
  if (s === "") throw new RangeError("the DNS suffix is empty");
  if (s.length > 200) throw new RangeError("the DNS suffix is longer than 200 characters");
  for (const label of s.split(".")) {
    if (!/^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$/.test(label)) {
      throw new RangeError(
        `"${text}" is not a DNS suffix: labels of a-z, 0-9 and inner hyphens, e.g. veilnet.internal`,
      );
    }
  }
  if (s.endsWith("in-addr.arpa") || s.endsWith("ip6.arpa")) {
    throw new RangeError("the DNS suffix cannot be a reverse zone");
  }
  return s;
}

/** What a lookup asks for: a name label (tag or conflux id) or an overlay address. */
export type Lookup = { kind: "name"; label: string } | { kind: "addr"; ip: string };

/** The text a lookup hash covers. */
export function lookupText(l: Lookup): string {
  return l.kind === "name" ? `name:${l.label}` : `addr:${l.ip}`;
}

const DOMAIN = new TextEncoder().encode("veilnet/v1/name");

/**
 * The hash of `lookup` under one team key for query `queryId`:
 * HMAC-SHA-256(team key, "veilnet/v1/name" || query id || lookup text)[0..16].
 */
export function lookupHash(teamKey: Uint8Array, queryId: Uint8Array, lookup: Lookup): Uint8Array {
  const text = new TextEncoder().encode(lookupText(lookup));
  const input = new Uint8Array(DOMAIN.length + queryId.length + text.length);
  input.set(DOMAIN, 0);
  input.set(queryId, DOMAIN.length);
  input.set(text, DOMAIN.length + queryId.length);
  return hmac(sha256, teamKey, input).slice(0, NAME_HASH_LENGTH);
}

/** The lookups a conflux answers for itself: its tag's label, its id, its overlay address. */
export function ownLookups(c: { tag: string; confluxId: string; overlayIp: string }): Lookup[] {
  const out: Lookup[] = [];
  const tag = normaliseTag(c.tag);
  if (isNameLabel(tag)) out.push({ kind: "name", label: tag });
  const id = c.confluxId.toLowerCase();
  if (isNameLabel(id) && id !== tag) out.push({ kind: "name", label: id });
  out.push({ kind: "addr", ip: c.overlayIp });
  return out;
}

/** True when the certificate `c` is the answer to `lookup`, and how (by id or by tag). */
export function matchesLookup(
  c: { tag: string; confluxId: string; overlayIp: string },
  lookup: Lookup,
): "id" | "tag" | null {
  if (lookup.kind === "addr") return c.overlayIp === lookup.ip ? "id" : null;
  if (c.confluxId.toLowerCase() === lookup.label) return "id";
  if (normaliseTag(c.tag) === lookup.label && lookup.label !== "") return "tag";
  return null;
}

/** `d.c.b.a.in-addr.arpa` labels → the octets a.b.c.d…, or null when not a reverse IPv4 name. */
export function reverseOctets(name: string): number[] | null {
  const n = name.toLowerCase();
  if (n !== "in-addr.arpa" && !n.endsWith(".in-addr.arpa")) return null;
  const head = n.slice(0, Math.max(0, n.length - "in-addr.arpa".length - 1));
  if (head === "") return [];
  const labels = head.split(".").reverse();
  if (labels.length > 4) return null;
  const octets: number[] = [];
  for (const l of labels) {
    if (!/^(0|[1-9][0-9]{0,2})$/.test(l) || Number(l) > 255) return null;
    octets.push(Number(l));
  }
  return octets;
}

/** The reverse name of an IPv4 address. */
export function reverseName(ip: string): string {
  return ip.split(".").reverse().join(".") + ".in-addr.arpa";
}

/**
 * The reverse zones of a realm: one per /8, /16 or /24 block (the octet boundary at or above
 * the realm's prefix) inside the realm, e.g. 100.64.0.0/10 → 64.100.in-addr.arpa …
 * 127.100.in-addr.arpa (64 zones); 100.64.0.0/24 → 0.64.100.in-addr.arpa (at most 128).
 */
export function reverseZones(realm: { network: number; prefix: number }): string[] {
  const depth = Math.min(3, Math.max(1, Math.ceil(realm.prefix / 8)));
  const blockBits = depth * 8;
  const count = blockBits > realm.prefix ? 2 ** (blockBits - realm.prefix) : 1;
  const out: string[] = [];
  const step = 2 ** (32 - blockBits);
  const base = realm.prefix >= blockBits
    ? (realm.network & ((0xffff_ffff << (32 - blockBits)) >>> 0)) >>> 0
    : realm.network;
  for (let i = 0; i < count; i++) {
    const n = (base + i * step) >>> 0;
    const octets = [n >>> 24, (n >>> 16) & 255, (n >>> 8) & 255, n & 255].slice(0, depth);
    out.push(octets.reverse().join(".") + ".in-addr.arpa");
  }
  return out;
}
