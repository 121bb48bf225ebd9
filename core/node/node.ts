/**
 * The running node: assembles the parts of the runtime around one NodeContext and drives them.
 *
 * - egress.ts: TUN → egresser per destination → sealed frame → next hop's tether
 * - ingress.ts: tether message → frames → open, replay and source checks → TUN batch
 * - forwarder.ts: frames for others (relaying)
 * - streams.ts: stream handshakes (both sides) and ingress streams
 * - path_finder.ts: discovery and the tether toward a destination; relay_finder.ts: relays on a
 *   cold network (RELAY_QUERY / RELAY_OFFER)
 * - control_inbox.ts: the control subscriptions and tether signalling
 * - peer_table.ts: everything known per peer; router.ts: probes and the routing agent
 *
 * Every port (TUN, tethers, control, clock, randomness) comes in through NodeRuntimeOptions, so
 * tests drive the same code over the in-memory ports of core/node/testing/.
 *
 * @module
 */
import type { Logger } from "../log/logger.ts";
import type { RekeyOptions } from "../stream/session.ts";
import type { RtcEngineChoice } from "../tether/tether.ts";
import type { CertificateFields } from "../wire/certificate.ts";
import { NodeContext, type NodeCounters, Realm } from "./context.ts";
import { ControlInbox } from "./control_inbox.ts";
import { DelayLine } from "./delay_line.ts";
import { Egress } from "./egress.ts";
import { Forwarder, type RelayFault } from "./forwarder.ts";
import { Ingress } from "./ingress.ts";
import { Lanes } from "./lanes.ts";
import { Messenger } from "./messenger.ts";
import { Names, type NamesInfo } from "./names.ts";
import { Authority } from "../dns/authority.ts";
import { DEFAULT_DNS_SUFFIX } from "../dns/names.ts";
import { parseCidr, parseIpv4 } from "./packet.ts";
import { PathFinder } from "./path_finder.ts";
import { Pinger, type PingResult } from "./pinger.ts";
import { PeerTable } from "./peer_table.ts";
import { servedSubnetsOf } from "./peer_ref.ts";
import { type PortalHost, Portals } from "./portals.ts";
import {
  type Clock,
  type ControlPort,
  type DatagramPort,
  type RandomSource,
  realmSubjects,
  systemClock,
  systemRandom,
  type TetherPort,
  type TetherPortFactory,
  type TunPort,
} from "./ports.ts";
import { RelayFinder } from "./relay_finder.ts";
import { Router, ROUTER_TICK_MS } from "./router.ts";
import { nodeInfo } from "./status.ts";
import type { NodeInfo } from "./status_server.ts";
import { Streams } from "./streams.ts";
import { portalsSubject } from "../control/subjects.ts";

export { CONTROL_VERIFY_RATE } from "./context.ts";
export { MAX_EGRESSERS, MAX_INNER } from "./egress.ts";
export { RELAY_RATE_PER_SECOND } from "./forwarder.ts";
export { MAX_NEIGHBOURS } from "./control_inbox.ts";
export { DIRECT_TETHER_TIMEOUT_MS, DISCOVER_TIMEOUT_MS, RELAY_FANOUT } from "./path_finder.ts";
export { RELAY_GRACE_MS, RELAY_QUERY_VERIFY_RATE } from "./relay_finder.ts";
export { HANDSHAKE_TIMEOUT_MS, MAX_INGRESS_STREAMS_PER_PEER } from "./streams.ts";

/** One team as the session lists it. */
export interface SessionTeam {
  teamId: string;
  name: string;
  version: number;
  key: Uint8Array;
}

/** What the node needs from its Guardian session. */
export interface NodeSession {
  /** Our verified certificate fields. */
  certificate: CertificateFields;
  /** Our SignedCertificate bytes. */
  signedCertificate: Uint8Array;
  /** The Guardian's ML-DSA-65 public key. */
  guardianPublicKey: Uint8Array;
  /** Teams (with keys) of this conflux. */
  teams: SessionTeam[];
  /** STUN servers ("stun:host:port"). */
  iceServers: string[];
}

/** Options of a Node. */
export interface NodeRuntimeOptions {
  /** The Guardian session. */
  session: NodeSession;
  /** Our ML-DSA-65 secret key (memory only). */
  secretKey: Uint8Array;
  /** Control channel. */
  control: ControlPort;
  /** The open TUN device (address already set), or an in-memory one. */
  tun: TunPort;
  /** Makes the tethers (TetherPool over WebRTC, or an in-memory net). */
  tethers: TetherPortFactory;
  /** Engine named in our tether signals. */
  engine: RtcEngineChoice;
  /** Idle time after which streams and tethers dissolve. */
  idleTimeoutMs: number;
  /** Whether we answer tether offers from realm members without a common team (relaying). */
  relay: boolean;
  log: Logger;
  /** Time source; default the host clock (timers are always the host's). */
  clock?: Clock;
  /** Randomness; default the host CSPRNG. */
  random?: RandomSource;
  /** A UDP socket for datagram lanes beside the tethers; without one, frames use the tethers. */
  datagrams?: DatagramPort;
  /** When stream senders change keys (default: every 2 minutes or 2^28 packets). */
  rekey?: RekeyOptions;
  /** Test fault injection on relayed frames (see NodeOptions.relayFault). */
  relayFault?: RelayFault;
  /** Test fault injection: delay on every frame sent (see NodeOptions.sendDelayMs). */
  sendDelayMs?: number;
  /** The host's routing table for portal mode; without it the node neither learns nor serves. */
  portalHost?: PortalHost;
  /** Addresses portal routes must never capture (Guardian, NATS servers). */
  protectedAddresses?: number[];
  /** The DNS suffix our resolver answers for (default veilnet.internal). */
  dnsSuffix?: string;
}

/** The node runtime. */
export class Node {
  #o: NodeRuntimeOptions;
  #teams: SessionTeam[];
  readonly #ctx: NodeContext;
  readonly #tethers: TetherPort;
  readonly #streams: Streams;
  readonly #relays: RelayFinder;
  readonly #egress: Egress;
  readonly #ingress: Ingress;
  readonly #inbox: ControlInbox;
  readonly #pinger: Pinger;
  readonly #lanes: Lanes;
  readonly #names: Names;
  readonly #dns: Authority;
  #dnsHost: { server?: string; host: string; detail?: string } = { host: "none" };
  readonly #portals: Portals | null = null;
  readonly #delayLine?: DelayLine;
  #sweepTimer?: ReturnType<typeof setInterval>;
  #routeTimer?: ReturnType<typeof setInterval>;
  #loops: Promise<void>[] = [];

  /** Prepares the runtime; `start` begins moving packets. */
  constructor(options: NodeRuntimeOptions) {
    this.#o = options;
    const s = options.session;
    this.#teams = s.teams.slice();
    const ip = parseIpv4(s.certificate.overlayIp);
    const realm = parseCidr(s.certificate.realmSubnet);
    if (ip < 0 || !realm) throw new Error("certificate carries no valid overlay address");
    const random = options.random ?? systemRandom;
    const ctx = this.#ctx = new NodeContext({
      id: s.certificate.confluxId,
      ip,
      ipText: s.certificate.overlayIp,
      realm: new Realm(realm),
      messenger: new Messenger({
        fields: s.certificate,
        certificate: s.signedCertificate,
        secretKey: options.secretKey,
        guardianPublicKey: s.guardianPublicKey,
      }, this.#teams.map((t) => t.key)),
      control: options.control,
      subjects: realmSubjects(s.certificate.realmId),
      peers: new PeerTable(),
      tun: options.tun,
      relay: options.relay,
      idleTimeoutMs: options.idleTimeoutMs,
      clock: options.clock ?? systemClock,
      random,
      log: options.log,
    });
    this.#relays = new RelayFinder(ctx);
    this.#streams = new Streams(
      ctx,
      (peer, id, why) => this.#egress.streamClosed(peer, id, why),
      options.rekey,
    );
    if (options.portalHost) {
      this.#portals = new Portals({
        subject: portalsSubject(s.certificate.realmId),
        control: options.control,
        messenger: ctx.messenger,
        host: options.portalHost,
        tunName: options.tun.name,
        realm,
        protectedAddresses: options.protectedAddresses ?? [],
        allowVerify: (data) => ctx.mayVerify(data),
        log: options.log,
      });
    }
    const paths = new PathFinder(ctx, this.#relays);
    this.#egress = new Egress(ctx, paths, this.#streams, this.#portals);
    const forwarder = new Forwarder(ctx, this.#relays, options.relayFault);
    this.#streams.origins = (dst, stream) => forwarder.originOf(dst, stream);
    this.#ingress = new Ingress(ctx, this.#streams, forwarder, this.#relays, this.#portals);
    this.#names = new Names(ctx);
    this.#dns = new Authority(
      { suffix: options.dnsSuffix ?? DEFAULT_DNS_SUFFIX, realm },
      (lookup) => this.#names.resolve(lookup),
    );
    this.#inbox = new ControlInbox(ctx, this.#streams, this.#relays, options.engine, this.#names);
    this.#pinger = new Pinger(ctx, this.#egress);
    this.#ingress.tap = this.#pinger;
    const lanes = this.#lanes = new Lanes(
      ctx,
      options.datagrams ?? null,
      (peer, frame) => this.#ingress.message(peer, frame),
    );
    this.#ingress.lanes = lanes;
    this.#tethers = ctx.tethers = options.tethers({
      sendSignal: (peer, signal) => this.#inbox.sendSignal(peer, signal),
      onMessage: (peer, message) => this.#ingress.message(peer, message),
      onOpen: (peer) => this.#onTetherOpen(peer),
      onClose: (peer) => this.#onTetherClose(peer),
    });
    const tethers = this.#tethers;
    if (options.sendDelayMs) {
      const line = this.#delayLine = new DelayLine(
        options.sendDelayMs,
        (id, frame) => tethers.send(id, frame),
      );
      ctx.send = (id, frame) => line.push(id, frame.slice());
      ctx.slot = (id, length) => {
        if (!tethers.tether(id)) return null;
        const frame = new Uint8Array(length);
        line.push(id, frame);
        return frame;
      };
    } else {
      ctx.send = (id, frame, lane) => tethers.send(id, frame, lane);
      // Data frames take the peer's datagram lane when it is up, else the tether.
      ctx.slot = (id, length, lane) => lanes.slot(id, length) ?? tethers.slot(id, length, lane);
    }
    ctx.router = new Router({
      self: ctx.ipText,
      // Exploration needs no CSPRNG; a test's seeded source makes it repeatable.
      random: options.random ? () => uniform(random(4)) : Math.random,
      send: (name, frame) => {
        const id = ctx.peers.neighbourId(name);
        return id !== undefined && ctx.send(id, frame);
      },
      queueMs: (name) => this.#queueMs(name),
      relay: options.relay,
      accepts: (name) => ctx.realm.isHost(parseIpv4(name)),
      log: options.log,
    });
  }

  /** Our conflux id. */
  get id(): string {
    return this.#ctx.id;
  }

  /** The resolver's answers (the DNS sockets are run.ts's; tests call it directly). */
  get dns(): Authority {
    return this.#dns;
  }

  /** How the resolver runs and the host's DNS is configured (run.ts; shown in `info`). */
  setDnsStatus(status: { server?: string; host: string; detail?: string }): void {
    this.#dnsHost = { ...status };
  }

  /** Names: our own, the cache, duplicates (GET /info `dns`). */
  namesInfo(): NamesInfo {
    return this.#names.info();
  }

  /** Counters for diagnostics and tests. */
  get counters(): NodeCounters {
    return this.#ctx.counters;
  }

  /** Starts the TUN reader, the control subscriptions and the idle sweeper. */
  start(): void {
    this.#loops.push(this.#egress.run(), ...this.#inbox.run());
    const every = Math.max(100, Math.min(1000, Math.floor(this.#o.idleTimeoutMs / 4)));
    this.#sweepTimer = setInterval(() => this.#sweep(this.#ctx.now()), every);
    this.#routeTimer = setInterval(() => this.#routeTick(this.#ctx.now()), ROUTER_TICK_MS);
    this.#portals?.start(servedSubnetsOf(this.#o.session.certificate));
  }

  /** Stops everything the node started; the caller closes TUN and control afterwards. */
  async stop(): Promise<void> {
    if (this.#ctx.stopped) return;
    this.#ctx.stop();
    clearInterval(this.#sweepTimer);
    clearInterval(this.#routeTimer);
    this.#delayLine?.close();
    this.#tethers.closeAll();
    this.#lanes.close();
    this.#egress.clear();
    this.#streams.clear();
    await this.#portals?.stop();
    let timer: ReturnType<typeof setTimeout> | undefined;
    await Promise.race([
      Promise.allSettled(this.#loops),
      new Promise((r) => timer = setTimeout(r, 1500)),
    ]);
    clearTimeout(timer);
  }

  /** Applies a renewed session (new certificate for the same key and address). */
  setSession(session: NodeSession): void {
    if (session.certificate.overlayIp !== this.#ctx.ipText) {
      this.#o.log.warn("renewed session changed the overlay address; keeping the old one");
    }
    const served = (s: NodeSession) =>
      servedSubnetsOf(s.certificate).map((c) => `${c.network}/${c.prefix}`).join();
    const servingChanged = served(session) !== served(this.#o.session);
    this.#o = { ...this.#o, session };
    this.#ctx.messenger.setIdentity({
      fields: session.certificate,
      certificate: session.signedCertificate,
      secretKey: this.#o.secretKey,
      guardianPublicKey: session.guardianPublicKey,
    });
    // The networks we serve changed (e.g. the owner approved or denied some): our streams
    // re-handshake with their next packet, so peers hold the certificate stating them (a peer
    // accepts packets from a portal's networks only as the portal's stream certificate says).
    if (servingChanged) { for (const e of this.#egress.egressers()) e.reset(); }
    this.#portals?.setServing(servedSubnetsOf(session.certificate));
  }

  /** Applies a new team set (live change): new streams obey it, streams without affinity end. */
  setTeams(teams: SessionTeam[]): void {
    this.#teams = teams.slice();
    this.#ctx.messenger.setTeamKeys(teams.map((t) => t.key));
    this.#names.teamsChanged();
    this.#o.log.info("teams updated", { teams: teams.map((t) => t.name) });
    this.#streams.recheckAffinity();
    this.#egress.recheckAffinity();
    for (const p of this.#ctx.peers.all()) {
      if (p.verified && !this.#ctx.affine(p.verified)) {
        p.verified = undefined;
        p.verifiedAt = undefined;
      }
    }
    this.#portals?.recheckAffinity();
    // Tethers to peers we no longer share anything with go at the next idle sweep.
  }

  /**
   * The host's underlay addresses changed: new tethers use `addresses`; tethers running over an
   * address that is gone close now, and their traffic takes another route or a fresh tether.
   */
  setUnderlay(addresses: readonly string[]): void {
    const closed = this.#tethers.setHostAddresses(addresses);
    this.#o.log.info("underlay addresses changed", { addresses, tethers_closed: closed.length });
  }

  /** Current state for the status API. */
  info(): NodeInfo {
    return nodeInfo({
      ctx: this.#ctx,
      certificate: this.#o.session.certificate,
      teams: this.#teams,
      egress: this.#egress,
      streams: this.#streams,
      lanes: this.#lanes,
      portals: this.#portals?.info(),
      dns: {
        suffix: this.#o.dnsSuffix ?? DEFAULT_DNS_SUFFIX,
        ...this.#dnsHost,
        ...this.namesInfo(),
      },
    });
  }

  /** One ping through the overlay to `target` (`veilnet-conflux ping`). */
  ping(target: string, timeoutMs?: number): Promise<PingResult> {
    if (this.#ctx.stopped) {
      return Promise.resolve({
        ok: false,
        target,
        seq: 0,
        reason: "stopped",
        detail: "the node is stopping",
      });
    }
    return this.#pinger.ping(target, timeoutMs);
  }

  #onTetherOpen(peerId: string): void {
    const peer = this.#ctx.peers.get(peerId);
    if (!peer) {
      // Signals are verified envelopes, so the peer's address is known by now; if it is not,
      // the tether still carries direct traffic but takes no part in routing.
      this.#o.log.debug("tether peer without a known address", { peer: peerId });
      return;
    }
    peer.neighbour = true;
    this.#ctx.router.linkUp(peer.ipText, this.#ctx.now());
    const local = this.#tethers.tether(peerId)?.selectedPair()?.local;
    const address = local && local.type === "host" ? parseIpv4(local.address) : -1;
    this.#lanes.tetherOpen(peerId, address >= 0 ? address : undefined);
  }

  #onTetherClose(peerId: string): void {
    const ctx = this.#ctx;
    const peer = ctx.peers.get(peerId);
    const wasNeighbour = peer?.neighbour ?? false;
    ctx.peers.tetherClosed(peerId);
    this.#relays.tetherClosed(peerId);
    this.#lanes.tetherClosed(peerId);
    if (peer && wasNeighbour) ctx.router.linkClosed(peer.ipText, ctx.now());
    this.#egress.tetherClosed(peerId);
  }

  #routeTick(now: number): void {
    this.#lanes.tick(now);
    for (const name of this.#ctx.router.tick(now)) {
      const id = this.#ctx.peers.neighbourId(name);
      if (id !== undefined) this.#tethers.close(id, "silent (probes unanswered)");
    }
  }

  /** Send-queue delay towards a tether neighbour: its buffered bytes at ~100 Mbit/s. */
  #queueMs(name: string): number {
    const id = this.#ctx.peers.neighbourId(name);
    const t = id === undefined ? undefined : this.#tethers.tether(id);
    return t ? t.bufferedAmount / 12_500 : 0;
  }

  /** Dissolves idle streams and the tethers nothing uses any more. */
  #sweep(now: number): void {
    const ctx = this.#ctx;
    const used = new Set<string>();
    this.#egress.sweep(now, used);
    this.#streams.sweep(now, used);
    for (const t of this.#tethers.tethers()) {
      const last = ctx.peers.get(t.peerId)?.dataAt ?? this.#tethers.openedAt(t.peerId) ?? now;
      if (!used.has(t.peerId) && now - last >= ctx.idleTimeoutMs) {
        ctx.log.debug("tether dissolved (idle)", { peer: t.peerId });
        this.#tethers.close(t.peerId, "idle");
      }
    }
    ctx.peers.sweep(now, ctx.idleTimeoutMs);
    this.#relays.sweep(now, ctx.idleTimeoutMs);
  }
}

/** A number in [0, 1) from four random bytes. */
function uniform(b: Uint8Array): number {
  return (((b[0] << 24) | (b[1] << 16) | (b[2] << 8) | b[3]) >>> 0) / 2 ** 32;
}
