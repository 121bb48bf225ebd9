/**
 * The resolver's answers (pure policy): authoritative for the name suffix and the realm's
 * reverse zones, REFUSED for everything else (never an open resolver), FORMERR for what does not
 * parse, NOTIMP for other opcodes. A name that exists but has no record of the asked type (AAAA)
 * is NOERROR with no answers; negative answers carry the zone's SOA, whose minimum is the
 * negative-caching TTL (RFC 2308).
 *
 * @module
 */
import {
  CLASS_IN,
  decodeMessage,
  DnsError,
  type DnsMessage,
  encodeMessage,
  MAX_UDP,
  peekHeader,
  type Question,
  RCode,
  type ResourceRecord,
  RRType,
} from "./codec.ts";
import { isNameLabel, type Lookup, reverseOctets, reverseZones } from "./names.ts";

/** TTL of positive answers (seconds): short, so that a team change is seen within seconds. */
export const ANSWER_TTL = 10;
/** Negative-caching TTL (SOA minimum, seconds). */
export const NEGATIVE_TTL = 5;
/** UDP payload size we offer with EDNS (RFC 6891; the DNS flag day 2020 value). */
export const EDNS_UDP_SIZE = 1232;

/** What a lookup found: the addresses of a name, or the names (labels) of an address. */
export type LookupResult = { kind: "name"; addresses: string[] } | {
  kind: "addr";
  labels: string[];
};

/** Finds what a lookup names; empty lists for nothing (not a teammate, unknown, timed out). */
export type Resolve = (lookup: Lookup) => Promise<LookupResult>;

/** The zones one node answers for. */
export interface Zones {
  /** The name suffix, lowercase, without dots around it (e.g. "veilnet.internal"). */
  suffix: string;
  /** The realm subnet. */
  realm: { network: number; prefix: number };
}

/** What the server asks of the authority for one message. */
export interface AnswerOptions {
  /** The message came over UDP: the answer is cut to fit (TC set when it does not). */
  udp: boolean;
}

/** Answers DNS queries for {@link Zones} through a {@link Resolve}. */
export class Authority {
  readonly #zones: Zones;
  readonly #resolve: Resolve;
  readonly #reverse: string[];

  constructor(zones: Zones, resolve: Resolve) {
    this.#zones = { ...zones, suffix: zones.suffix.toLowerCase() };
    this.#resolve = resolve;
    this.#reverse = reverseZones(zones.realm);
  }

  /** The reverse zones (apex names) this authority serves. */
  get reverseZones(): readonly string[] {
    return this.#reverse;
  }

  /**
   * The answer to one message, or null when nothing must be sent (a response, or bytes without
   * even a header).
   */
  async answer(bytes: Uint8Array, o: AnswerOptions): Promise<Uint8Array | null> {
    let query: DnsMessage;
    try {
      query = decodeMessage(bytes);
    } catch (e) {
      if (!(e instanceof DnsError)) throw e;
      const h = peekHeader(bytes);
      if (!h || h.response) return null;
      return encodeMessage(reply(h, [], RCode.FORMERR));
    }
    if (query.response) return null;
    if (query.opcode !== 0) return encodeMessage(reply(query, query.questions, RCode.NOTIMP));
    if (query.questions.length !== 1) {
      return encodeMessage(reply(query, [], RCode.FORMERR));
    }
    const opt = query.additionals.find((r) => r.type === RRType.OPT);
    const q = query.questions[0];
    const r = reply(query, [q], RCode.NOERROR);
    if (q.class !== CLASS_IN && q.class !== 255) {
      r.rcode = RCode.REFUSED;
    } else {
      await this.#fill(q, r);
    }
    if (opt) {
      r.additionals.push({
        name: "",
        type: RRType.OPT,
        class: EDNS_UDP_SIZE,
        ttl: 0,
        data: new Uint8Array(),
        raw: true,
      });
    }
    const limit = opt ? Math.max(MAX_UDP, Math.min(EDNS_UDP_SIZE, opt.class)) : MAX_UDP;
    let out = encodeMessage(r);
    if (o.udp && out.length > limit) {
      r.truncated = true;
      r.answers = [];
      r.authorities = [];
      out = encodeMessage(r);
    }
    return out;
  }

  async #fill(q: Question, r: DnsMessage): Promise<void> {
    const name = q.name.toLowerCase();
    const { suffix } = this.#zones;
    if (name === suffix) return this.#apex(q, r, suffix);
    if (name.endsWith("." + suffix)) {
      const head = name.slice(0, -suffix.length - 1);
      if (head.includes(".") || !isNameLabel(head)) return this.#negative(r, suffix, true);
      const found = await this.#resolve({ kind: "name", label: head });
      const addresses = found.kind === "name" ? found.addresses : [];
      if (addresses.length === 0) return this.#negative(r, suffix, true);
      if (q.type === RRType.A || q.type === RRType.ANY) {
        for (const a of addresses) {
          r.answers.push({
            name: q.name,
            type: RRType.A,
            class: CLASS_IN,
            ttl: ANSWER_TTL,
            data: a,
          });
        }
        return;
      }
      return this.#negative(r, suffix, false);
    }
    const octets = reverseOctets(name);
    const zone = octets ? this.#reverseZoneOf(octets) : undefined;
    if (!octets || zone === undefined) {
      r.rcode = RCode.REFUSED;
      r.authoritative = false;
      return;
    }
    if (name === zone) return this.#apex(q, r, zone);
    if (octets.length < 4) return this.#negative(r, zone, false);
    const ip = octets.join(".");
    const found = await this.#resolve({ kind: "addr", ip });
    const labels = found.kind === "addr" ? found.labels : [];
    if (labels.length === 0) return this.#negative(r, zone, true);
    if (q.type === RRType.PTR || q.type === RRType.ANY) {
      for (const l of labels) {
        r.answers.push({
          name: q.name,
          type: RRType.PTR,
          class: CLASS_IN,
          ttl: ANSWER_TTL,
          data: `${l}.${suffix}`,
        });
      }
      return;
    }
    return this.#negative(r, zone, false);
  }

  /** The reverse zone holding the name of `octets` (a prefix of an address), if ours. */
  #reverseZoneOf(octets: number[]): string | undefined {
    const { realm } = this.#zones;
    for (const zone of this.#reverse) {
      const z = reverseOctets(zone)!;
      if (octets.length < z.length || z.some((o, i) => octets[i] !== o)) continue;
      if (octets.length === 4) {
        const ip = ((octets[0] << 24) | (octets[1] << 16) | (octets[2] << 8) | octets[3]) >>> 0;
        const mask = realm.prefix === 0 ? 0 : (0xffff_ffff << (32 - realm.prefix)) >>> 0;
        if (((ip & mask) >>> 0) !== realm.network) return undefined;
      }
      return zone;
    }
    return undefined;
  }

  #apex(q: Question, r: DnsMessage, zone: string): void {
    if (q.type === RRType.SOA || q.type === RRType.ANY) {
      r.answers.push(soa(zone, this.#zones.suffix));
    }
    if (q.type === RRType.NS || q.type === RRType.ANY) {
      r.answers.push({
        name: zone,
        type: RRType.NS,
        class: CLASS_IN,
        ttl: ANSWER_TTL,
        data: nsName(this.#zones.suffix),
      });
    }
    if (r.answers.length === 0) r.authorities.push(soa(zone, this.#zones.suffix));
  }

  #negative(r: DnsMessage, zone: string, nxdomain: boolean): void {
    if (nxdomain) r.rcode = RCode.NXDOMAIN;
    r.authorities.push(soa(zone, this.#zones.suffix));
  }
}

/** The name server name in our SOA and NS records (it resolves nowhere; we are local only). */
function nsName(suffix: string): string {
  return `ns.${suffix}`;
}

function soa(zone: string, suffix: string): ResourceRecord {
  return {
    name: zone,
    type: RRType.SOA,
    class: CLASS_IN,
    ttl: NEGATIVE_TTL,
    data: {
      mname: nsName(suffix),
      rname: "hostmaster.invalid",
      serial: 1,
      refresh: 3600,
      retry: 600,
      expire: 86_400,
      minimum: NEGATIVE_TTL,
    },
  };
}

function reply(
  q: { id: number; recursionDesired: boolean; opcode?: number },
  questions: Question[],
  rcode: number,
): DnsMessage {
  return {
    id: q.id,
    response: true,
    opcode: q.opcode ?? 0,
    authoritative: rcode !== RCode.REFUSED && rcode !== RCode.FORMERR && rcode !== RCode.NOTIMP,
    truncated: false,
    recursionDesired: q.recursionDesired,
    recursionAvailable: false,
    rcode,
    questions,
    answers: [],
    authorities: [],
    additionals: [],
  };
}
