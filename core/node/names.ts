/**
 * Names: who a name (`<tag>` or `<conflux-id>` under the DNS suffix) or an overlay address is,
 * among teammates only, for the node's resolver (core/dns/authority.ts).
 *
 * Asking: a NAME_QUERY on the realm's discover subject carries, per team of the asker, a keyed
 * hash of the lookup salted with the query id (core/dns/names.ts `lookupHash`), so nobody
 * without the team key learns what is looked up, and two queries for one name cannot be linked.
 * Answering: every conflux compares the hashes with those of its own names under its own team
 * keys (cheap HMACs, no signature check), and only on a match verifies the envelope, checks the
 * asker's affinity and sends NAME_REPLY to the asker's own ctl subject: its certificate is the
 * answer, which the asker checks against the lookup and its own team keys. Answers are cached
 * briefly (positive and negative) and forgotten when our teams change.
 *
 * @module
 */
import { create, fromBinary, toBinary } from "@bufbuild/protobuf";
import {
  isNameLabel,
  type Lookup,
  lookupHash,
  lookupText,
  matchesLookup,
  MAX_NAME_HASHES,
  NAME_HASH_LENGTH,
  NAME_QUERY_ID_LENGTH,
  normaliseTag,
  ownLookups,
} from "../dns/names.ts";
import type { LookupResult } from "../dns/authority.ts";
import type { OpenedEnvelope } from "../wire/envelope.ts";
import type { CertificateFields } from "../wire/certificate.ts";
import { MessageType, NameQuerySchema, NameReplySchema } from "../wire/gen/veilnet_pb.ts";
import { hex, isConfluxId, type NodeContext } from "./context.ts";

/** How long a lookup waits for its first answer. */
export const NAME_TIMEOUT_MS = 1000;
/** After the first answer, how long a lookup waits for more (two confluxes with one tag). */
export const NAME_GRACE_MS = 150;
/** How long an answer is kept (the DNS TTL is core/dns/authority.ts ANSWER_TTL). */
export const NAME_CACHE_MS = 10_000;
/** How long "nobody answered" is kept. */
export const NAME_NEGATIVE_CACHE_MS = 5_000;
/** Cached lookups at most (oldest forgotten first). */
export const MAX_CACHED_NAMES = 4096;
/** Lookups on the wire at once; more resolve empty (the host's resolver retries). */
export const MAX_PENDING_NAMES = 64;

/** Two or more teammates answering to one name. */
export interface DuplicateName {
  name: string;
  conflux_ids: string[];
  addresses: string[];
}

/** The names part in GET /info. */
export interface NamesInfo {
  /** Our own names (labels under the suffix). */
  names: string[];
  /** Lookups in the cache now. */
  cached: number;
  /** Names that more than one teammate answers to (all their addresses are returned). */
  duplicates: DuplicateName[];
}

interface Pending {
  lookup: Lookup;
  answers: Map<string, CertificateFields>;
  first: () => void;
}

interface Cached {
  result: LookupResult;
  until: number;
}

/** Resolves names among teammates and answers for our own. */
export class Names {
  readonly #ctx: NodeContext;
  readonly #cache = new Map<string, Cached>();
  readonly #inFlight = new Map<string, Promise<LookupResult>>();
  readonly #pending = new Map<string, Pending>();
  readonly #duplicates = new Map<string, DuplicateName>();
  /** Bumped on every team change: lookups that began before it do not fill the cache. */
  #generation = 0;

  constructor(ctx: NodeContext) {
    this.#ctx = ctx;
  }

  /** Our certificate (changes with session renewals). */
  get #self(): CertificateFields {
    return this.#ctx.messenger.identity.fields;
  }

  /** Names and duplicates for GET /info. */
  info(): NamesInfo {
    const now = this.#ctx.now();
    return {
      names: ownLookups(this.#self).flatMap((l) => l.kind === "name" ? [l.label] : []),
      cached: [...this.#cache.values()].filter((c) => c.until > now).length,
      duplicates: [...this.#duplicates.values()],
    };
  }

  /** Our teams changed: what we learnt under the old ones is forgotten. */
  teamsChanged(): void {
    this.#generation++;
    this.#cache.clear();
    this.#duplicates.clear();
  }

  /** What `lookup` names among our teammates (and ourselves). */
  resolve(lookup: Lookup): Promise<LookupResult> {
    const key = lookupText(lookup);
    const now = this.#ctx.now();
    const hit = this.#cache.get(key);
    if (hit && hit.until > now) return Promise.resolve(hit.result);
    const running = this.#inFlight.get(key);
    if (running) return running;
    const p = this.#lookup(lookup, key).finally(() => this.#inFlight.delete(key));
    this.#inFlight.set(key, p);
    return p;
  }

  async #lookup(lookup: Lookup, key: string): Promise<LookupResult> {
    const ctx = this.#ctx;
    const self = this.#self;
    const own = matchesLookup(self, lookup);
    // Our own id or address is ours alone; our tag may be a teammate's too.
    if (own === "id") return resultOf(lookup, [self]);
    const generation = this.#generation;
    const answers = await this.#ask(lookup);
    if (own === "tag") answers.unshift(self);
    const result = resultOf(lookup, pick(lookup, answers));
    if (lookup.kind === "name") this.#noteDuplicates(lookup.label, pick(lookup, answers));
    if (generation === this.#generation && !ctx.stopped) {
      const found = result.kind === "name" ? result.addresses.length : result.labels.length;
      if (this.#cache.size >= MAX_CACHED_NAMES) {
        this.#cache.delete(this.#cache.keys().next().value!);
      }
      this.#cache.set(key, {
        result,
        until: ctx.now() + (found > 0 ? NAME_CACHE_MS : NAME_NEGATIVE_CACHE_MS),
      });
    }
    return result;
  }

  /** Sends a NAME_QUERY and collects the verified answers. */
  async #ask(lookup: Lookup): Promise<CertificateFields[]> {
    const ctx = this.#ctx;
    const keys = ctx.messenger.teamKeys.slice(0, MAX_NAME_HASHES);
    if (keys.length === 0 || ctx.stopped || this.#pending.size >= MAX_PENDING_NAMES) return [];
    const queryId = ctx.random(NAME_QUERY_ID_LENGTH);
    const id = hex(queryId);
    let first!: () => void;
    const firstAnswer = new Promise<void>((r) => first = r);
    const pending: Pending = { lookup, answers: new Map(), first };
    this.#pending.set(id, pending);
    try {
      const body = toBinary(
        NameQuerySchema,
        create(NameQuerySchema, {
          queryId,
          hashes: keys.map((k) => lookupHash(k, queryId, lookup)),
        }),
      );
      ctx.publish(ctx.subjects.discover, ctx.seal(MessageType.NAME_QUERY, body));
      const gotOne = await Promise.race([
        firstAnswer.then(() => true),
        ctx.sleep(NAME_TIMEOUT_MS).then(() => false),
      ]);
      if (gotOne && !ctx.stopped) await ctx.sleep(NAME_GRACE_MS);
      return [...pending.answers.values()];
    } finally {
      this.#pending.delete(id);
    }
  }

  /**
   * A NAME_QUERY from the realm (unverified): matched against our names under our team keys
   * before anything costly; on a match verified, checked for affinity and answered.
   */
  onQuery(data: Uint8Array, body: Uint8Array): void {
    const ctx = this.#ctx;
    let query;
    try {
      query = fromBinary(NameQuerySchema, body);
    } catch {
      return;
    }
    if (
      query.queryId.length !== NAME_QUERY_ID_LENGTH || query.hashes.length === 0 ||
      query.hashes.length > MAX_NAME_HASHES ||
      query.hashes.some((h) => h.length !== NAME_HASH_LENGTH)
    ) return;
    // Our own query comes back to us on the realm subject.
    if (this.#pending.has(hex(query.queryId))) return;
    const wanted = new Set(query.hashes.map(hex));
    const keys = ctx.messenger.teamKeys;
    const self = this.#self;
    const match = ownLookups(self).some((l) =>
      keys.some((k) => wanted.has(hex(lookupHash(k, query.queryId, l))))
    );
    if (!match || !ctx.mayVerify(data)) return;
    const opened = ctx.open(data);
    if (opened.type !== MessageType.NAME_QUERY) return;
    const from = opened.sender;
    if (!ctx.messenger.affine(from.mldsaPublicKey, opened.affinityTags)) {
      ctx.log.debug("name query without team affinity dropped", { from: from.confluxId });
      return;
    }
    if (!isConfluxId(from.confluxId)) return;
    const reply = toBinary(NameReplySchema, create(NameReplySchema, { queryId: query.queryId }));
    ctx.publish(ctx.subjects.control(from.confluxId), ctx.seal(MessageType.NAME_REPLY, reply));
  }

  /** A verified NAME_REPLY on our ctl subject. */
  onReply(opened: OpenedEnvelope): void {
    const ctx = this.#ctx;
    const reply = fromBinary(NameReplySchema, opened.body);
    const pending = this.#pending.get(hex(reply.queryId));
    if (!pending) return;
    const from = opened.sender;
    if (!ctx.messenger.affine(from.mldsaPublicKey, opened.affinityTags)) {
      ctx.log.debug("name reply without team affinity dropped", { from: from.confluxId });
      return;
    }
    if (!matchesLookup(from, pending.lookup)) {
      ctx.log.debug("name reply that does not match the lookup dropped", { from: from.confluxId });
      return;
    }
    pending.answers.set(from.confluxId, from);
    pending.first();
  }

  #noteDuplicates(label: string, answers: CertificateFields[]): void {
    const ids = [...new Set(answers.map((a) => a.confluxId))].sort();
    if (ids.length < 2) {
      this.#duplicates.delete(label);
      return;
    }
    const known = this.#duplicates.get(label);
    const entry: DuplicateName = {
      name: label,
      conflux_ids: ids,
      addresses: answers.map((a) => a.overlayIp),
    };
    this.#duplicates.set(label, entry);
    if (known?.conflux_ids.join() !== ids.join()) {
      this.#ctx.log.warn("two or more teammates share a name: returning all their addresses", {
        name: label,
        conflux_ids: ids,
        addresses: entry.addresses,
      });
    }
  }
}

/** Answers by id win over answers by tag: an id name never collides. */
function pick(lookup: Lookup, answers: CertificateFields[]): CertificateFields[] {
  const byId = answers.filter((a) => matchesLookup(a, lookup) === "id");
  const chosen = byId.length > 0 ? byId.slice(0, 1) : answers;
  const seen = new Set<string>();
  return chosen.filter((a) => !seen.has(a.confluxId) && seen.add(a.confluxId));
}

function resultOf(lookup: Lookup, answers: CertificateFields[]): LookupResult {
  if (lookup.kind === "name") {
    return { kind: "name", addresses: [...new Set(answers.map((a) => a.overlayIp))] };
  }
  return {
    kind: "addr",
    labels: answers.slice(0, 1).map((a) => {
      const tag = normaliseTag(a.tag);
      return isNameLabel(tag) ? tag : a.confluxId.toLowerCase();
    }).filter(isNameLabel),
  };
}
