/**
 * Portal mode on the control channel and in the host's routing table.
 *
 * A portal's announcement (a signed envelope whose certificate names the subnets it serves) goes
 * only to teammates, on their own subject `vn.<realm>.c.<id>.portals` (only that conflux may
 * subscribe to it): in answer to a `PORTAL_QUERY` on `vn.<realm>.portals` from an asker with team
 * affinity, and again to those askers when what it serves changes. On the realm subject a portal
 * sends only hints, every {@link PORTAL_ANNOUNCE_MS}: the same announcement without its
 * certificate (named by hash). A node that holds that certificate already (it learnt the portal)
 * opens the hint and refreshes the portal; one that cannot asks the realm (once, rate-limited),
 * and the portal answers it if it is a teammate. Non-teammates thus learn that some portal spoke,
 * not which or what it serves. A starting node asks twice. A portal that stops says so
 * (`PORTAL_LEAVE`, to its askers and as a hint); one not heard for {@link PORTAL_TTL_MS} is
 * forgotten. Either way its routes are removed. Every learnt subnet that does not clash with the
 * host's own routes is routed into the TUN; the data path asks {@link Portals.lookup} for the
 * portal of an address outside the realm.
 *
 * @module
 */

import { affinityTags } from "../crypto/affinity.ts";
import type { Logger } from "../log/logger.ts";
import { fromBinary } from "@bufbuild/protobuf";
import { peekEnvelope as peekWire, sealEnvelope } from "../wire/envelope.ts";
import { EnvelopeSchema, MessageType, SignedEnvelopeSchema } from "../wire/gen/veilnet_pb.ts";
import type { Messenger } from "./messenger.ts";
import { peekEnvelope } from "./messenger.ts";
import { cidrContains, formatIpv4, type Ipv4Cidr, parseCidr, parseIpv4 } from "./packet.ts";
import type { ControlMessage, ControlPort } from "./ports.ts";
import { longestMatch, type PortalRoute, PortalTable } from "../portal/portal_table.ts";
import { type HostRoute, refuseSubnet } from "../portal/subnets.ts";

/** A portal announces itself this often. */
export const PORTAL_ANNOUNCE_MS = 30_000;
/** A portal not heard for this long is forgotten (three announcements lost, plus slack). */
export const PORTAL_TTL_MS = 95_000;
/** A portal answers one asker at most this often. */
const ANSWER_EVERY_MS = 2_000;
/** A node asks the realm at most this often because of hints it could not open. */
const HINT_QUERY_EVERY_MS = 5_000;
/** Askers a portal remembers (to tell them of changes), and for how long without a query. */
const MAX_ASKERS = 1024;
const ASKER_TTL_MS = PORTAL_TTL_MS;

/** The subject only conflux `confluxId` reads portal answers on, from the realm's portal subject. */
export function portalAnswerSubject(realmPortalsSubject: string, confluxId: string): string {
  return realmPortalsSubject.replace(/\.portals$/, `.c.${confluxId}.portals`);
}
const SWEEP_MS = 5_000;
/** When a node asks (and a portal announces) a second time after starting. */
const STARTUP_REPEAT_MS = 3_000;
/** How long a portal whose tags stopped matching may prove it still shares a team. */
const AFFINITY_GRACE_MS = 3_000;

/** What portal mode needs from the host: its routes, and routes through our TUN. */
export interface PortalHost {
  /** The host's IPv4 routes (main table). */
  hostRoutes(): Promise<HostRoute[]>;
  /** Routes `cidr` into the TUN. */
  addRoute(cidr: string): Promise<void>;
  /** Removes a route added with addRoute. */
  removeRoute(cidr: string): Promise<void>;
}

/** Options of {@link Portals}. */
export interface PortalsOptions {
  /** `vn.<realm>.portals`. */
  subject: string;
  control: ControlPort;
  messenger: Messenger;
  host: PortalHost;
  /** Name of our TUN (its routes are ours, not the host's). */
  tunName: string;
  /** The realm's overlay network. */
  realm: Ipv4Cidr;
  /** Addresses this host must keep reaching through its own routes (Guardian, NATS). */
  protectedAddresses: number[];
  /** Rate limit on signature checks, shared with the rest of the control plane. */
  allowVerify: (data: Uint8Array) => boolean;
  log: Logger;
}

/** Status of portal mode for `info`. */
export interface PortalsInfo {
  /** Subnets this node serves (empty unless it is a portal). */
  serving: string[];
  /** Portals known, with the subnets routed through each. */
  portals: { conflux_id: string; overlay_ip: string; subnets: string[]; routed: string[] }[];
}

/** Portal announcements in and out, and the TUN routes that follow from them. */
export class Portals {
  readonly #o: PortalsOptions;
  readonly #table = new PortalTable({ ttlMs: PORTAL_TTL_MS });
  /** Routed subnets, longest prefix first. */
  #routed: PortalRoute[] = [];
  #installed = new Set<string>();
  #serving: Ipv4Cidr[] = [];
  #keys = new Map<string, { publicKey: Uint8Array; tags: Uint8Array[] }>();
  #refused = new Set<string>();
  /** Teammates that asked (as a portal): told of changes directly. */
  #askers = new Map<string, { publicKey: Uint8Array; tags: Uint8Array[]; at: number }>();
  #answeredAt = new Map<string, number>();
  #hintQueryAt = -Infinity;
  #timers: ReturnType<typeof setInterval>[] = [];
  #syncing: Promise<void> = Promise.resolve();
  #dirty = false;
  #stopped = false;
  /** Our last message: NATS echoes it back, and it is not worth a signature check. */
  #lastSent: Uint8Array = new Uint8Array();

  constructor(options: PortalsOptions) {
    this.#o = options;
  }

  /** Listens, asks who serves what, and (as a portal) starts announcing. */
  start(serving: Ipv4Cidr[]): void {
    this.#listen(this.#o.subject);
    this.#listen(portalAnswerSubject(this.#o.subject, this.#ownId));
    this.setServing(serving);
    this.#publish(MessageType.PORTAL_QUERY);
    this.#timers.push(
      // Nodes that start together may each speak before the other listens (a subscription
      // takes effect at the server a moment later): ask and announce once more shortly after,
      // instead of leaving it to the next announcement 30 s on.
      setTimeout(() => {
        this.#publish(MessageType.PORTAL_QUERY);
        this.#announce();
      }, STARTUP_REPEAT_MS),
      setInterval(() => this.#announce(), PORTAL_ANNOUNCE_MS),
      setInterval(() => {
        if (this.#table.expire(Date.now())) this.#sync();
      }, SWEEP_MS),
    );
  }

  /** The subnets this node serves changed (a renewed certificate): announce them at once. */
  setServing(serving: Ipv4Cidr[]): void {
    const key = (list: Ipv4Cidr[]) => list.map((c) => `${c.network}/${c.prefix}`).join();
    const changed = key(serving) !== key(this.#serving);
    const wasServing = this.#serving.length > 0;
    this.#serving = serving.slice();
    if (!changed) return;
    // Nothing left to serve (e.g. the owner denied our networks): teammates drop our routes now
    // rather than when our last announcement expires.
    if (serving.length === 0 && wasServing) this.#publish(MessageType.PORTAL_LEAVE);
    else this.#announce();
  }

  get #ownId(): string {
    return this.#o.messenger.identity.fields.confluxId;
  }

  /** Says goodbye (as a portal), stops announcing and removes every route it added. */
  async stop(): Promise<void> {
    if (this.#serving.length > 0) this.#publish(MessageType.PORTAL_LEAVE);
    this.#stopped = true;
    for (const t of this.#timers) clearTimeout(t);
    await this.#syncing;
    for (const cidr of this.#installed) await this.#o.host.removeRoute(cidr).catch(() => {});
    this.#installed.clear();
    this.#routed = [];
  }

  /** The overlay address of the portal that carries `ip`, or -1. */
  lookup(ip: number): number {
    return longestMatch(this.#routed, ip)?.portalIp ?? -1;
  }

  /** True when this node serves `ip` as a portal. */
  serves(ip: number): boolean {
    for (const c of this.#serving) if (cidrContains(c, ip)) return true;
    return false;
  }

  /**
   * Teams changed: we ask again (a new team may open portals that announced themselves before),
   * and as a portal we announce ourselves. A portal whose last tags no longer match is dropped
   * only if its fresh announcement does not match either: when a team key rotates, the tags we
   * hold are stale for a moment, and dropping at once would cut the route for nothing.
   */
  recheckAffinity(): void {
    const doubtful: string[] = [];
    for (const [id, k] of this.#keys) {
      if (!this.#o.messenger.affine(k.publicKey, k.tags)) doubtful.push(id);
    }
    this.#publish(MessageType.PORTAL_QUERY);
    this.#announce();
    if (doubtful.length === 0) return;
    const since = Date.now();
    this.#timers.push(setTimeout(() => {
      if (this.#stopped) return;
      let changed = false;
      for (const id of doubtful) {
        const k = this.#keys.get(id);
        const p = this.#table.portals().find((x) => x.id === id);
        // Heard again since, with tags that match: keep it.
        if (k && p && p.seenAt >= since && this.#o.messenger.affine(k.publicKey, k.tags)) continue;
        this.#keys.delete(id);
        changed = this.#table.forget(id) || changed;
      }
      if (changed) this.#sync();
    }, AFFINITY_GRACE_MS));
  }

  /** What `info` shows. */
  info(): PortalsInfo {
    return {
      serving: this.#serving.map((c) => `${formatIpv4(c.network)}/${c.prefix}`),
      portals: this.#table.portals().map((p) => ({
        conflux_id: p.id,
        overlay_ip: formatIpv4(p.ip),
        subnets: p.subnets.map((c) => `${formatIpv4(c.network)}/${c.prefix}`),
        routed: this.#routed.filter((r) => r.portalId === p.id).map((r) => r.text),
      })),
    };
  }

  /**
   * PORTAL_QUERY goes to the realm as it is; PORTAL_ANNOUNCE and PORTAL_LEAVE go to every
   * remembered teammate asker in full and to the realm as a hint without our certificate.
   */
  #publish(type: MessageType): void {
    if (this.#stopped) return;
    try {
      if (type === MessageType.PORTAL_QUERY) {
        const sealed = this.#o.messenger.seal(type, new Uint8Array(), Date.now());
        this.#lastSent = sealed;
        this.#o.control.publish(this.#o.subject, sealed);
        return;
      }
      const now = Date.now();
      for (const [id, a] of this.#askers) {
        if (now - a.at > ASKER_TTL_MS || !this.#o.messenger.affine(a.publicKey, a.tags)) {
          this.#askers.delete(id);
          continue;
        }
        this.#sendTo(id, type);
      }
      const hint = this.#seal(type, false);
      this.#lastSent = hint;
      this.#o.control.publish(this.#o.subject, hint);
    } catch (e) {
      this.#o.log.debug("portal message not sent", { error: String(e) });
    }
  }

  /** Our announcement (or leave) in full, to conflux `id` only. */
  #sendTo(id: string, type: MessageType): void {
    this.#o.control.publish(portalAnswerSubject(this.#o.subject, id), this.#seal(type, true));
  }

  #seal(type: MessageType, includeCertificate: boolean): Uint8Array {
    const m = this.#o.messenger;
    const identity = m.identity;
    return sealEnvelope(
      {
        type,
        senderCertificate: identity.certificate,
        includeCertificate,
        affinityTags: affinityTags([...m.teamKeys], identity.fields.mldsaPublicKey),
        body: new Uint8Array(),
      },
      identity.secretKey,
      { now: Date.now(), nonce: crypto.getRandomValues(new Uint8Array(16)) },
    );
  }

  #announce(): void {
    if (this.#serving.length > 0) this.#publish(MessageType.PORTAL_ANNOUNCE);
  }

  async #listen(subject: string): Promise<void> {
    try {
      for await (const m of this.#o.control.subscribe(subject)) {
        if (this.#stopped) return;
        try {
          this.#onMessage(m);
        } catch (e) {
          this.#o.log.debug("portal message dropped", { error: String(e) });
        }
      }
    } catch (e) {
      if (!this.#stopped) this.#o.log.warn("portal subscription ended", { error: String(e) });
    }
  }

  /** A PORTAL_QUERY (as a portal): answered, in full and directly, only to a teammate. */
  #onQuery(m: ControlMessage, now: number): void {
    // A portal with nothing approved yet still remembers teammates that ask: once its owner
    // approves a network, they hear of it directly (their one query may be long past).
    if (!this.#o.messenger.identity.fields.portal) return;
    const claimed = claimedHash(m.data);
    if (claimed === null) return;
    // One answer per asker per ANSWER_EVERY_MS, decided before any signature check; noted only
    // once a query verified, so queries forged in a teammate's name cannot silence it (they pay
    // from that certificate's verify budget instead, like every forged message).
    if (now - (this.#answeredAt.get(claimed) ?? -Infinity) < ANSWER_EVERY_MS) return;
    if (!this.#o.allowVerify(m.data)) return;
    const opened = this.#o.messenger.open(m.data, now);
    const sender = opened.sender;
    if (!this.#o.messenger.affine(sender.mldsaPublicKey, opened.affinityTags)) return;
    this.#answeredAt.delete(claimed);
    if (this.#answeredAt.size >= MAX_ASKERS) {
      this.#answeredAt.delete(this.#answeredAt.keys().next().value!);
    }
    this.#answeredAt.set(claimed, now);
    this.#askers.delete(sender.confluxId);
    if (this.#askers.size >= MAX_ASKERS) this.#askers.delete(this.#askers.keys().next().value!);
    this.#askers.set(sender.confluxId, {
      publicKey: sender.mldsaPublicKey,
      tags: opened.affinityTags,
      at: now,
    });
    if (this.#serving.length > 0) this.#sendTo(sender.confluxId, MessageType.PORTAL_ANNOUNCE);
  }

  #onMessage(m: ControlMessage): void {
    const peek = peekEnvelope(m.data);
    if (!peek || equalBytes(m.data, this.#lastSent)) return;
    const own = claimedHashBytes(m.data);
    // Our own messages, echoed by NATS: not worth a signature check.
    if (!own || equalBytes(own, this.#o.messenger.ownCertificateHash)) return;
    const now = Date.now();
    if (peek.type === MessageType.PORTAL_QUERY) {
      if (m.subject === this.#o.subject) this.#onQuery(m, now);
      return;
    }
    const leave = peek.type === MessageType.PORTAL_LEAVE;
    if (!leave && peek.type !== MessageType.PORTAL_ANNOUNCE) return;
    const claimed = claimedHashBytes(m.data);
    if (
      claimed && claimed.length > 0 && !this.#o.messenger.certificates.lookup(claimed, {
        guardianPublicKey: this.#o.messenger.identity.guardianPublicKey,
        now,
      }) && certificateLeftOut(m.data)
    ) {
      // A hint of a portal we do not know: ask the realm (a teammate portal answers us).
      if (!leave && now - this.#hintQueryAt >= HINT_QUERY_EVERY_MS) {
        this.#hintQueryAt = now;
        this.#publish(MessageType.PORTAL_QUERY);
      }
      return;
    }
    if (!this.#o.allowVerify(m.data)) return;
    const opened = this.#o.messenger.open(m.data, now);
    const sender = opened.sender;
    if (sender.confluxId === this.#o.messenger.identity.fields.confluxId) return;
    if (leave) {
      // Verified, so nobody can make us drop another's routes.
      this.#keys.delete(sender.confluxId);
      if (this.#table.forget(sender.confluxId)) this.#sync();
      return;
    }
    if (!sender.portal || !this.#o.messenger.affine(sender.mldsaPublicKey, opened.affinityTags)) {
      if (this.#table.forget(sender.confluxId)) this.#sync();
      return;
    }
    const ip = parseIpv4(sender.overlayIp);
    const subnets = (sender.subnets ?? []).map((s) => parseCidr(s)).filter((c): c is Ipv4Cidr =>
      c !== null
    );
    const changed = this.#table.learn({ id: sender.confluxId, ip, subnets, seenAt: now });
    // Kept only for portals the (bounded) table holds.
    if (this.#table.has(sender.confluxId)) {
      this.#keys.set(sender.confluxId, {
        publicKey: sender.mldsaPublicKey,
        tags: opened.affinityTags,
      });
    }
    if (changed) this.#sync();
  }

  /** Brings the TUN routes in line with the table; runs one at a time. */
  #sync(): void {
    if (this.#dirty) return;
    this.#dirty = true;
    this.#syncing = this.#syncing.then(async () => {
      this.#dirty = false;
      if (this.#stopped) return;
      try {
        await this.#apply();
      } catch (e) {
        this.#o.log.warn("portal routes not updated", { error: String(e) });
      }
    });
  }

  async #apply(): Promise<void> {
    const routes = await this.#o.host.hostRoutes();
    const accepted: PortalRoute[] = [];
    for (const r of this.#table.routes()) {
      const why = refuseSubnet(r.subnet, {
        routes,
        tunName: this.#o.tunName,
        realm: this.#o.realm,
        protectedAddresses: this.#o.protectedAddresses,
      });
      if (why === null) {
        accepted.push(r);
        continue;
      }
      const key = `${r.portalId} ${r.text} ${why}`;
      if (!this.#refused.has(key)) {
        if (this.#refused.size > 1024) this.#refused.clear();
        this.#refused.add(key);
        this.#o.log.info("portal subnet not routed", { subnet: r.text, portal: r.portalId, why });
      }
    }
    const want = new Set(accepted.map((r) => r.text));
    for (const cidr of [...this.#installed]) {
      if (want.has(cidr)) continue;
      await this.#o.host.removeRoute(cidr).catch(() => {});
      this.#installed.delete(cidr);
      this.#o.log.info("portal route removed", { subnet: cidr });
    }
    const routed: PortalRoute[] = [];
    for (const r of accepted) {
      if (!this.#installed.has(r.text)) {
        try {
          await this.#o.host.addRoute(r.text);
        } catch (e) {
          this.#o.log.warn("portal route not added", { subnet: r.text, error: String(e) });
          continue;
        }
        this.#installed.add(r.text);
        this.#o.log.info("portal route added", { subnet: r.text, portal: r.portalId });
      }
      routed.push(r);
    }
    this.#routed = routed.sort((a, b) => b.subnet.prefix - a.subnet.prefix);
  }
}

/** The certificate hash an envelope claims (unverified), or null when it does not decode. */
function claimedHashBytes(data: Uint8Array): Uint8Array | null {
  try {
    return peekWire(data).senderCertificateHash;
  } catch {
    return null;
  }
}

function claimedHash(data: Uint8Array): string | null {
  const h = claimedHashBytes(data);
  return h ? Array.from(h, (b) => b.toString(16).padStart(2, "0")).join("") : null;
}

/** True when the envelope names its certificate by hash only (a portal's realm-wide hint). */
function certificateLeftOut(data: Uint8Array): boolean {
  try {
    const outer = fromBinary(SignedEnvelopeSchema, data);
    return fromBinary(EnvelopeSchema, outer.envelope).senderCertificate.length === 0;
  } catch {
    return false;
  }
}

function equalBytes(a: Uint8Array, b: Uint8Array): boolean {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}
