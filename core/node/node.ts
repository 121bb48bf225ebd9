/**
 * The running node: wires TUN, control channel, streams and tethers together.
 *
 * Data path out: TUN read batch → egresser of the destination address → stream sender seals the
 * packet straight into a frame → the next hop's tether batcher (flushed on the microtask).
 * Data path in: tether message → frames → ingresser by stream id → open, replay check, source
 * address check → one TUN write batch per message.
 *
 * Control: discovery ("who owns X", answered only by the owner and only to a teammate), stream
 * handshakes by request/reply, tether signalling and stream closes, all as signed envelopes on
 * the realm's subjects. Team affinity is checked on every stream request and response; a
 * message without it is dropped silently (one debug line).
 *
 * @module
 */
import { create, fromBinary, toBinary } from "@bufbuild/protobuf";
import type { Logger } from "../log/logger.ts";
import {
  ACCEPT_RANDOM_LENGTH,
  acceptStreamRequest,
  completeStreamRequest,
  createStreamRequest,
  REQUEST_RANDOM_LENGTH,
} from "../stream/handshake.ts";
import { StreamReceiver, StreamSender } from "../stream/session.ts";
import { allocateStreamId } from "../stream/stream_id.ts";
import { decodeSignal, encodeSignal } from "../tether/signaler.ts";
import type { RtcEngineChoice } from "../tether/tether.ts";
import type { CertificateFields } from "../wire/certificate.ts";
import {
  decodeFrame,
  DEFAULT_HOP_LIMIT,
  FLAG_KEY_PHASE,
  type Frame,
  FRAME_HEADER_LENGTH,
  frameAad,
  FrameType,
  MAX_FRAME_BYTES,
  splitMessage,
  writeFrameHeader,
} from "../wire/frame.ts";
import {
  DiscoverReplySchema,
  DiscoverSchema,
  MessageType,
  NeighboursReplySchema,
  NeighboursRequestSchema,
  RelayOfferSchema,
  type RelayQuery,
  RelayQuerySchema,
  Signal_Kind,
  SignalSchema,
  StreamCloseSchema,
} from "../wire/gen/veilnet_pb.ts";
import type { OpenedEnvelope } from "../wire/envelope.ts";
import { OFFLOAD_SLOT_SIZE, PacketBatch } from "../../ffi/packet_batch.ts";
import { segmentGso } from "../../ffi/segment.ts";
import {
  decodeVirtioNetHeader,
  emptyHeader,
  GsoType,
  VIRTIO_NET_HDR_F_DATA_VALID,
  VIRTIO_NET_HDR_F_NEEDS_CSUM,
  VIRTIO_NET_HDR_LEN,
  type VirtioNetHeader,
} from "../../ffi/virtio_net_hdr.ts";
import { RelayLimiter } from "../route/relay_limiter.ts";
import type { Tun } from "../../ffi/tun.ts";
import { Egresser, type PeerRef } from "./egresser.ts";
import { Messenger } from "./messenger.ts";
import { peekEnvelope } from "./messenger.ts";
import {
  cidrContains,
  flowKey,
  formatIpv4,
  type Ipv4Cidr,
  ipv4Destination,
  ipv4Source,
  parseCidr,
  parseIpv4,
} from "./packet.ts";
import { type ControlMessage, type ControlPort, realmSubjects } from "./ports.ts";
import type { NodeInfo, RouteInfo, TetherInfo } from "./status_server.ts";
import type { CandidatePair } from "../tether/engine.ts";
import { DelayLine } from "./delay_line.ts";
import { Router, ROUTER_TICK_MS } from "./router.ts";
import { TetherPool } from "./tether_pool.ts";
import {
  MAX_QUERY_DEPTH,
  QUERY_TIMEOUT_MS,
  RelaySearch,
  REMEMBERED_WAIT_MS,
} from "./relay_search.ts";
import { type PortalHost, Portals } from "./portals.ts";
import { portalsSubject } from "../control/subjects.ts";

/** How long a stream handshake may take before the egresser backs off. */
export const HANDSHAKE_TIMEOUT_MS = 3000;
/** How long discovery waits for the owner of an address. */
export const DISCOVER_TIMEOUT_MS = 1500;
/** How long a direct tether may take before it counts as failed. */
export const DIRECT_TETHER_TIMEOUT_MS = 6000;
/**
 * How long a new destination waits for its direct tether (or for a route through the tethers we
 * hold) before relays are tethered too; the direct attempt goes on meanwhile and takes over the
 * traffic if it succeeds later.
 */
export const RELAY_GRACE_MS = 700;
/** Relays tethered at once when the destination has no direct path (more give failover). */
export const RELAY_FANOUT = 3;
/** Frames per second one source may relay through this node (and its burst). */
export const RELAY_RATE_PER_SECOND = 50_000;
/**
 * Signed control messages this node verifies per second (ML-DSA-65 verification costs
 * milliseconds); beyond it messages are dropped unread, so a flood from one realm member costs
 * bounded CPU.
 */
export const CONTROL_VERIFY_RATE = 400;
/** RELAY_QUERY signatures this node checks per second (their own share of the verify budget). */
export const RELAY_QUERY_VERIFY_RATE = 20;
/** Most neighbours listed in a NEIGHBOURS_REPLY. */
export const MAX_NEIGHBOURS = 32;
/**
 * Every sealed payload is `virtio_net_hdr (10 bytes) ‖ IP packet`: the header is all zeros for a
 * plain packet and describes a TSO/USO super-packet (up to 64 KB) when the TUN runs with
 * offloads, so one frame, one AEAD operation and one TUN write carry up to 45 segments.
 */
export const INNER_HEADER_LENGTH = VIRTIO_NET_HDR_LEN;
/** Largest inner payload (virtio header + packet) that fits one frame. */
export const MAX_INNER = MAX_FRAME_BYTES - FRAME_HEADER_LENGTH - 16;
/** Most destinations with an egresser at once (a scan of the realm cannot grow it further). */
export const MAX_EGRESSERS = 4096;
/** Most ingress streams one peer may hold at this node (older ones are dropped). */
export const MAX_INGRESS_STREAMS_PER_PEER = 4;

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
  /** The open TUN device (address already set). */
  tun: Tun;
  /** Tether engine. */
  engine: RtcEngineChoice;
  /** Idle time after which streams and tethers dissolve. */
  idleTimeoutMs: number;
  /** Whether we answer tether offers from realm members without a common team (relaying). */
  relay: boolean;
  /** Local addresses for host candidates; undefined = all interfaces. */
  hostAddresses?: readonly string[];
  log: Logger;
  /** Test fault injection on relayed frames (see NodeOptions.relayFault). */
  relayFault?: (frame: Uint8Array) => void;
  /** Test fault injection: delay on every frame sent (see NodeOptions.sendDelayMs). */
  sendDelayMs?: number;
  /** The host's routing table for portal mode; without it the node neither learns nor serves. */
  portalHost?: PortalHost;
  /** Addresses portal routes must never capture (Guardian, NATS servers). */
  protectedAddresses?: number[];
}

interface Ingresser {
  receiver: StreamReceiver;
  peer: PeerRef;
}

/** The node runtime. */
export class Node {
  #o: NodeRuntimeOptions;
  #log: Logger;
  #messenger: Messenger;
  #subjects;
  #ownIp: number;
  #ownIpText: string;
  #realm: Ipv4Cidr;
  #realmBroadcast: number;
  #teams: SessionTeam[];
  #egress = new Map<number, Egresser>();
  #ingress = new Map<number, Ingresser>();
  #discovered = new Map<number, { peer: PeerRef; at: number }>();
  #pool: TetherPool;
  #router: Router;
  #portals: Portals | null = null;
  /** Overlay address (dotted) of each tether peer, and back: routing names neighbours by it. */
  #tetherIp = new Map<string, string>();
  #ipTether = new Map<string, string>();
  /** Last time a tether carried data frames (probes do not count: they keep idle tethers alive). */
  #dataAt = new Map<string, number>();
  #ipText = new Map<number, string>();
  /** Every frame out goes through here: the pool, or a test's delay line in front of it. */
  #send: (peerId: string, frame: Uint8Array) => boolean;
  #delayLine?: DelayLine;
  #writeBatch: PacketBatch;
  #inner = new Uint8Array(MAX_INNER);
  /** Where received payloads are opened (one buffer reused; #deliver copies out of it). */
  #openTarget = { out: new Uint8Array(MAX_INNER), offset: 0, now: 0 };
  #segments = new PacketBatch({ capacity: 64, slotSize: 2048 });
  #header: VirtioNetHeader = emptyHeader();
  #aad = new Uint8Array(FRAME_HEADER_LENGTH);
  #closeSentAt = new Map<string, number>();
  /** When a direct tether to a peer last failed: for a minute, go straight to relays. */
  #directFailedAt = new Map<string, number>();
  /** Relay discovery on a cold network (RELAY_QUERY / RELAY_OFFER), both sides. */
  #search = new RelaySearch();
  /**
   * Next hop a relay found for a destination conflux it could not tether directly (chains), by
   * conflux id: an asker's claim that an address belongs to that id is not trusted.
   */
  #relayVia = new Map<string, { hop: string; at: number }>();
  /**
   * The tether peer an authenticated frame of a conflux last arrived through: the reverse path,
   * tried first when we need a route back to it (the reply to a relayed first packet).
   */
  #heardVia = new Map<string, string>();
  /** Overlay address of every conflux we heard from (verified), both ways; relays use it. */
  #peerIps = new Map<string, number>();
  #ipPeers = new Map<number, string>();
  #relayQueryLimiter = new RelayLimiter({
    ratePerSecond: RELAY_QUERY_VERIFY_RATE,
    burst: RELAY_QUERY_VERIFY_RATE,
  });
  #verifyLimiter = new RelayLimiter({
    ratePerSecond: CONTROL_VERIFY_RATE,
    burst: CONTROL_VERIFY_RATE / 2,
  });
  #relayLimiter = new RelayLimiter({
    ratePerSecond: RELAY_RATE_PER_SECOND,
    burst: RELAY_RATE_PER_SECOND / 10,
  });
  #stopped = false;
  /** One-shot timers of the relay search, cleared by stop() so nothing runs after it. */
  #timers = new Set<ReturnType<typeof setTimeout>>();
  #sweepTimer?: ReturnType<typeof setInterval>;
  #routeTimer?: ReturnType<typeof setInterval>;
  #loops: Promise<void>[] = [];
  /** Counters for diagnostics and tests. */
  readonly counters = {
    framesIn: 0,
    framesDropped: 0,
    framesRelayed: 0,
    packetsIn: 0,
    packetsOut: 0,
    controlDropped: 0,
  };

  /** Prepares the runtime; `start` begins moving packets. */
  constructor(options: NodeRuntimeOptions) {
    this.#o = options;
    this.#log = options.log;
    const s = options.session;
    this.#teams = s.teams.slice();
    this.#messenger = new Messenger({
      fields: s.certificate,
      certificate: s.signedCertificate,
      secretKey: options.secretKey,
      guardianPublicKey: s.guardianPublicKey,
    }, this.#teams.map((t) => t.key));
    this.#subjects = realmSubjects(s.certificate.realmId);
    this.#ownIp = parseIpv4(s.certificate.overlayIp);
    this.#ownIpText = s.certificate.overlayIp;
    const realm = parseCidr(s.certificate.realmSubnet);
    if (this.#ownIp < 0 || !realm) throw new Error("certificate carries no valid overlay address");
    this.#realm = realm;
    this.#writeBatch = options.tun.vnetHeader
      ? new PacketBatch({ capacity: 64, slotSize: OFFLOAD_SLOT_SIZE })
      : new PacketBatch({ capacity: 256, slotSize: 2048 });
    this.#realmBroadcast =
      (realm.network | (realm.prefix === 32 ? 0 : (0xffff_ffff >>> realm.prefix))) >>>
      0;
    this.#pool = new TetherPool({
      ownId: s.certificate.confluxId,
      engine: options.engine,
      iceServers: s.iceServers,
      hostAddresses: options.hostAddresses,
      sendSignal: (peer, signal) => this.#sendSignal(peer, signal),
      onMessage: (peer, message) => this.#onTetherMessage(peer, message),
      onOpen: (peer) => this.#onTetherOpen(peer),
      onClose: (peer) => this.#onTetherClose(peer),
      timeoutMs: DIRECT_TETHER_TIMEOUT_MS,
      log: options.log,
    });
    const toPool = (id: string, frame: Uint8Array) => this.#pool.send(id, frame);
    if (options.sendDelayMs) {
      const line = this.#delayLine = new DelayLine(options.sendDelayMs, toPool);
      this.#send = (id, frame) => line.push(id, frame);
    } else this.#send = toPool;
    this.#router = new Router({
      self: this.#ownIpText,
      random: Math.random,
      send: (ip, frame) => {
        const id = this.#ipTether.get(ip);
        return id !== undefined && this.#send(id, frame);
      },
      queueMs: (ip) => this.#queueMs(ip),
      relay: options.relay,
      accepts: (name) => {
        const ip = parseIpv4(name);
        return ip >= 0 && cidrContains(this.#realm, ip) && ip !== this.#realm.network &&
          ip !== this.#realmBroadcast;
      },
      log: options.log,
    });
    if (options.portalHost) {
      this.#portals = new Portals({
        subject: portalsSubject(s.certificate.realmId),
        control: options.control,
        messenger: this.#messenger,
        host: options.portalHost,
        tunName: options.tun.name,
        realm,
        protectedAddresses: options.protectedAddresses ?? [],
        allowVerify: () => this.#verifyLimiter.allow("control", Date.now()),
        log: options.log,
      });
    }
  }

  /** Our conflux id. */
  get id(): string {
    return this.#o.session.certificate.confluxId;
  }

  /** Starts the TUN reader, the control subscriptions and the idle sweeper. */
  start(): void {
    const control = this.#o.control;
    this.#loops.push(this.#readTun());
    this.#loops.push(
      this.#serve(control.subscribe(this.#subjects.control(this.id)), (m) => this.#onControl(m)),
    );
    this.#loops.push(
      this.#serve(control.subscribe(this.#subjects.discover), (m) => this.#onDiscover(m)),
    );
    const every = Math.max(100, Math.min(1000, Math.floor(this.#o.idleTimeoutMs / 4)));
    this.#sweepTimer = setInterval(() => this.#sweep(Date.now()), every);
    this.#routeTimer = setInterval(() => this.#routeTick(Date.now()), ROUTER_TICK_MS);
    this.#portals?.start(servedSubnetsOf(this.#o.session.certificate));
  }

  /** Stops everything the node started; the caller closes TUN and control afterwards. */
  async stop(): Promise<void> {
    if (this.#stopped) return;
    this.#stopped = true;
    clearInterval(this.#sweepTimer);
    clearInterval(this.#routeTimer);
    for (const t of this.#timers) clearTimeout(t);
    this.#timers.clear();
    this.#delayLine?.close();
    this.#pool.closeAll();
    this.#egress.clear();
    this.#ingress.clear();
    await this.#portals?.stop();
    await Promise.race([
      Promise.allSettled(this.#loops),
      new Promise((r) => setTimeout(r, 1500)),
    ]);
  }

  /** Applies a renewed session (new certificate for the same key and address). */
  setSession(session: NodeSession): void {
    if (session.certificate.overlayIp !== this.#ownIpText) {
      this.#log.warn("renewed session changed the overlay address; keeping the old one");
    }
    this.#o = { ...this.#o, session };
    this.#messenger.setIdentity({
      fields: session.certificate,
      certificate: session.signedCertificate,
      secretKey: this.#o.secretKey,
      guardianPublicKey: session.guardianPublicKey,
    });
    this.#portals?.setServing(servedSubnetsOf(session.certificate));
  }

  /** Applies a new team set (live change): new streams obey it, streams without affinity end. */
  setTeams(teams: SessionTeam[]): void {
    this.#teams = teams.slice();
    this.#messenger.setTeamKeys(teams.map((t) => t.key));
    this.#log.info("teams updated", { teams: teams.map((t) => t.name) });
    for (const [id, ing] of this.#ingress) {
      if (!this.#messenger.affine(ing.peer.publicKey, ing.peer.tags)) {
        this.#ingress.delete(id);
        this.#log.info("stream closed: team affinity lost", { peer: ing.peer.id, stream: id });
        this.#sendClose(ing.peer.id, id, "affinity");
      }
    }
    for (const [ip, e] of this.#egress) {
      if (e.peer && !this.#messenger.affine(e.peer.publicKey, e.peer.tags)) {
        const streamId = e.sender?.streamId;
        this.#egress.delete(ip);
        this.#log.info("stream closed: team affinity lost", { peer: e.peer.id, stream: streamId });
        if (streamId !== undefined) this.#sendClose(e.peer.id, streamId, "affinity");
      }
    }
    for (const [ip, d] of this.#discovered) {
      if (!this.#messenger.affine(d.peer.publicKey, d.peer.tags)) this.#discovered.delete(ip);
    }
    this.#portals?.recheckAffinity();
    // Tethers to peers we no longer share anything with go at the next idle sweep.
  }

  /**
   * The host's underlay addresses changed: new tethers use `addresses`; tethers running over an
   * address that is gone close now, and their traffic takes another route or a fresh tether.
   */
  setUnderlay(addresses: readonly string[]): void {
    const closed = this.#pool.setHostAddresses(addresses);
    this.#log.info("underlay addresses changed", { addresses, tethers_closed: closed.length });
  }

  /** Current state for the status API. */
  info(): NodeInfo {
    const now = Date.now();
    const c = this.#o.session.certificate;
    return {
      conflux_id: c.confluxId,
      realm_id: c.realmId,
      overlay_ip: c.overlayIp,
      tag: c.tag,
      portal: c.portal,
      teams: this.#teams.map((t) => t.name),
      stats: {
        frames_in: this.counters.framesIn,
        frames_dropped: this.counters.framesDropped,
        frames_relayed: this.counters.framesRelayed,
        packets_in: this.counters.packetsIn,
        packets_out: this.counters.packetsOut,
        control_dropped: this.counters.controlDropped,
        flow_moves: this.#router.flowMoves,
      },
      tethers: this.#pool.tethers().map((t) => {
        const s = t.stats();
        return {
          peer: t.peerId,
          engine: t.engine,
          channels: t.channelCount,
          rtt_ms: Number.isFinite(s.rttMs) ? Math.round(s.rttMs * 1000) / 1000 : null,
          bytes_sent: s.bytesSent,
          bytes_received: s.bytesReceived,
          idle_ms: s.lastActivityAt ? Math.round(now - s.lastActivityAt) : 0,
          ...pairInfo(t.selectedPair()),
        };
      }),
      underlay: [...(this.#pool.hostAddresses ?? [])],
      routes: [...this.#egress.values()].map((e) => this.#routeInfo(e)),
      ...(this.#portals ? { portals: this.#portals.info() } : {}),
      streams: [
        ...[...this.#egress.values()].filter((e) => e.sender && e.peer).map((e) => ({
          direction: "egress" as const,
          stream_id: e.sender!.streamId,
          peer: e.peer!.id,
          peer_ip: formatIpv4(e.peer!.ip),
          epoch: e.sender!.epoch,
          packets: e.sender!.packets,
          idle_ms: now - e.sender!.lastUsedAt,
        })),
        ...[...this.#ingress.entries()].map(([id, ing]) => ({
          direction: "ingress" as const,
          stream_id: id,
          peer: ing.peer.id,
          peer_ip: formatIpv4(ing.peer.ip),
          epoch: ing.receiver.epoch,
          packets: ing.receiver.accepted,
          idle_ms: now - ing.receiver.lastUsedAt,
        })),
      ],
    };
  }

  #routeInfo(e: Egresser): RouteInfo {
    const destination = e.ipText;
    const ms = (v: number) => Math.round(v * 1000) / 1000;
    const candidates = this.#router.agent.candidates(destination).map((c) => ({
      next_hop: this.#ipTether.get(c.nextHop) ?? c.nextHop,
      estimate_ms: ms(c.estimateMs),
      hops: c.hops,
    }));
    const best = candidates.find((c) => this.#pool.tether(c.next_hop));
    const fallback = e.peer && this.#pool.tether(e.nextHop ?? e.peer.id)
      ? e.nextHop ?? e.peer.id
      : "";
    return {
      destination,
      conflux_id: e.peer?.id ?? "",
      next_hop: e.peer && best ? best.next_hop : fallback,
      state: e.state,
      estimate_ms: best?.estimate_ms ?? null,
      candidates,
    };
  }

  // ---- data path out ----

  async #readTun(): Promise<void> {
    const tun = this.#o.tun;
    const batch = tun.newBatch(64);
    while (!this.#stopped) {
      let n: number;
      try {
        n = await tun.readBatch(batch, { timeoutMs: 500 });
      } catch (e) {
        if (this.#stopped || tun.closed) return;
        this.#log.warn("TUN read failed", { error: String(e) });
        await new Promise((r) => setTimeout(r, 100));
        continue;
      }
      if (n === 0) continue;
      const now = Date.now();
      const inner = this.#inner;
      const vnet = tun.vnetHeader;
      for (let i = 0; i < n; i++) {
        const packet = batch.packet(i);
        if (INNER_HEADER_LENGTH + packet.length > MAX_INNER) {
          this.#egressSegmented(packet, batch.header(i, this.#header), now);
          continue;
        }
        if (vnet) {
          const at = i * INNER_HEADER_LENGTH;
          inner.set(batch.headers.subarray(at, at + INNER_HEADER_LENGTH), 0);
        } else inner.fill(0, 0, INNER_HEADER_LENGTH);
        inner.set(packet, INNER_HEADER_LENGTH);
        this.#egressPacket(inner.subarray(0, INNER_HEADER_LENGTH + packet.length), now);
      }
    }
  }

  /** A super-packet too large for one frame: segmented here, sent as plain packets. */
  #egressSegmented(packet: Uint8Array, header: VirtioNetHeader, now: number): void {
    const seg = this.#segments;
    seg.clear();
    try {
      segmentGso(packet, header, seg);
    } catch {
      return;
    }
    const inner = this.#inner;
    for (let j = 0; j < seg.count; j++) {
      const p = seg.packet(j);
      inner.fill(0, 0, INNER_HEADER_LENGTH);
      inner.set(p, INNER_HEADER_LENGTH);
      this.#egressPacket(inner.subarray(0, INNER_HEADER_LENGTH + p.length), now);
    }
  }

  /** `inner` is virtio header ‖ packet, in a scratch buffer (copied if it must wait). */
  #egressPacket(inner: Uint8Array, now: number): void {
    let dst = ipv4Destination(inner.subarray(INNER_HEADER_LENGTH));
    if (dst < 0) return;
    // Outside the realm: a portal's network, carried by the stream to that portal.
    if (!cidrContains(this.#realm, dst)) dst = this.#portals?.lookup(dst) ?? -1;
    if (dst < 0 || dst === this.#ownIp) return;
    let e = this.#egress.get(dst);
    if (!e) {
      // Network and broadcast addresses of the realm belong to nobody.
      if (dst === this.#realm.network || dst === this.#realmBroadcast) return;
      if (this.#egress.size >= MAX_EGRESSERS) return;
      e = new Egresser(dst, now);
      this.#egress.set(dst, e);
    }
    e.lastPacketAt = now;
    if (e.state === "ready" && e.sender && e.peer) {
      if (this.#sendData(e, inner, now)) return;
      // No open tether: hold the packet and bring one up.
      e.hold(inner);
      this.#retether(e);
      return;
    }
    if (e.state === "backoff") {
      if (now < e.retryAt) {
        e.dropped++;
        return;
      }
      e.state = "idle";
    }
    e.hold(inner);
    if (e.state === "idle") this.#connect(e);
  }

  #sendData(e: Egresser, packet: Uint8Array, now: number): boolean {
    const peer = e.peer!;
    const hop = this.#hopFor(e, packet, now);
    if (hop === undefined) return false;
    this.#dataAt.set(hop, now);
    const sender = e.sender!;
    const counter = sender.next(now);
    const frame = new Uint8Array(FRAME_HEADER_LENGTH + packet.length + 16);
    writeFrameHeader({
      type: FrameType.Data,
      hopLimit: DEFAULT_HOP_LIMIT,
      flags: sender.epoch & 1 ? FLAG_KEY_PHASE : 0,
      destination: peer.ip,
      streamId: sender.streamId,
      counter,
    }, { out: frame, offset: 0 });
    const aad = frameAad(frame, this.#aad);
    sender.sealInto(counter, aad, packet, { out: frame, offset: FRAME_HEADER_LENGTH });
    this.counters.packetsOut++;
    if (!this.#send(hop, frame)) e.dropped++;
    return true;
  }

  /**
   * The tether peer a packet (virtio header ‖ IP packet) of `e` goes to: the routing agent's
   * choice for its flow, else the path the egresser connected through (a direct tether or the
   * relay found for it); undefined when neither is open.
   */
  #hopFor(e: Egresser, inner: Uint8Array, now: number): string | undefined {
    const flow = flowKey(inner.subarray(INNER_HEADER_LENGTH));
    const via = this.#router.nextHop(e.ipText, flow, now);
    if (via !== null) {
      const id = this.#ipTether.get(via);
      if (id !== undefined && this.#pool.tether(id)) return id;
    }
    const fallback = e.nextHop ?? e.peer!.id;
    return this.#pool.tether(fallback) ? fallback : undefined;
  }

  /** Dotted form of an overlay address, cached (relays ask for it per frame). */
  #text(ip: number): string {
    let t = this.#ipText.get(ip);
    if (t === undefined) {
      if (this.#ipText.size >= 65_536) this.#ipText.clear();
      t = formatIpv4(ip);
      this.#ipText.set(ip, t);
    }
    return t;
  }

  #flush(e: Egresser): void {
    const queued = e.queue;
    e.queue = [];
    const now = Date.now();
    for (const p of queued) {
      if (!this.#sendData(e, p, now)) {
        e.dropped++;
      }
    }
  }

  #retether(e: Egresser): void {
    if (e.state !== "ready" || !e.peer || e.retethering) return;
    e.retethering = true;
    const peer = e.peer;
    this.#path(peer).then(
      (hop) => {
        e.nextHop = hop === peer.id ? undefined : hop;
        this.#flush(e);
      },
      (err) => {
        this.#log.debug("tether failed", { peer: e.peer?.id, error: String(err) });
        e.fail(Date.now());
      },
    ).finally(() => e.retethering = false);
  }

  async #connect(e: Egresser): Promise<void> {
    e.state = "connecting";
    const ipText = e.ipText;
    try {
      const peer = await this.#discover(e.ip, ipText);
      if (this.#egress.get(e.ip) !== e || this.#stopped) return;
      const [sender, hop] = await Promise.all([
        this.#handshake(peer, ipText),
        this.#path(peer),
      ]);
      if (this.#egress.get(e.ip) !== e || this.#stopped) return;
      e.peer = peer;
      e.sender = sender;
      e.nextHop = hop === peer.id ? undefined : hop;
      if (e.nextHop) this.#log.info("relaying via", { dst: ipText, relay: hop });
      e.state = "ready";
      e.failures = 0;
      this.#log.debug("stream up", { peer: peer.id, dst: ipText, stream: sender.streamId });
      this.#flush(e);
    } catch (err) {
      this.#discovered.delete(e.ip);
      // Forget a possibly stale address → conflux mapping: the next attempt discovers afresh.
      const stale = this.#ipPeers.get(e.ip);
      if (stale !== undefined) {
        this.#ipPeers.delete(e.ip);
        this.#peerIps.delete(stale);
      }
      if (this.#egress.get(e.ip) !== e) return;
      this.#log.debug("no path to destination", { dst: ipText, error: String(err) });
      e.fail(Date.now());
    }
  }

  async #discover(ip: number, ipText: string): Promise<PeerRef> {
    const cached = this.#discovered.get(ip);
    if (cached && Date.now() - cached.at < this.#o.idleTimeoutMs) return cached.peer;
    // A conflux that already sent us a verified message (e.g. it opened a stream to us) need not
    // be discovered: its certificate named the address. The handshake checks affinity anyway.
    const known = this.#ipPeers.get(ip);
    if (known !== undefined) {
      return {
        id: known,
        ip,
        publicKey: new Uint8Array(0),
        tags: [],
        certificateHash: new Uint8Array(0),
        subnets: [],
      };
    }
    const body = toBinary(DiscoverSchema, create(DiscoverSchema, { overlayIp: ipText }));
    const request = this.#messenger.seal(MessageType.DISCOVER, body, Date.now());
    const reply = await this.#o.control.request(
      this.#subjects.discover,
      request,
      DISCOVER_TIMEOUT_MS,
    );
    const opened = this.#messenger.open(reply, Date.now());
    if (opened.type !== MessageType.DISCOVER_REPLY) throw new Error("unexpected discover reply");
    const answer = fromBinary(DiscoverReplySchema, opened.body);
    if (
      opened.sender.overlayIp !== ipText || answer.overlayIp !== ipText ||
      answer.confluxId !== opened.sender.confluxId
    ) {
      throw new Error("discover reply from a conflux that does not own the address");
    }
    if (!this.#messenger.affine(opened.sender.mldsaPublicKey, opened.affinityTags)) {
      throw new Error("discover reply without team affinity");
    }
    const peer = peerOf(opened, ip);
    this.#learnPeer(opened);
    this.#discovered.set(ip, { peer, at: Date.now() });
    return peer;
  }

  /**
   * A tether that leads to `peer`: the direct one, or a neighbour through which the routing agent
   * knows a route, or a relay among the peer's own tether peers. The direct attempt and the
   * search for a route run side by side; relays are tethered only after {@link RELAY_GRACE_MS}
   * (or at once when the direct attempt failed within the last minute).
   */
  async #path(peer: PeerRef): Promise<string> {
    if (this.#pool.tether(peer.id)) return peer.id;
    const failedAt = this.#directFailedAt.get(peer.id);
    const direct = failedAt === undefined || Date.now() - failedAt > 60_000;
    const settled = { value: false };
    const attempts = [this.#routed(peer, direct ? RELAY_GRACE_MS : 300, settled)];
    if (direct) attempts.push(this.#direct(peer));
    try {
      return await Promise.any(attempts);
    } catch {
      throw new Error("neither a direct tether nor a relay reaches the destination");
    } finally {
      settled.value = true;
    }
  }

  async #direct(peer: PeerRef): Promise<string> {
    try {
      await this.#pool.ensure(peer.id);
      this.#directFailedAt.delete(peer.id);
      return peer.id;
    } catch (e) {
      if (!this.#stopped) this.#directFailedAt.set(peer.id, Date.now());
      this.#log.debug("no direct tether", { peer: peer.id, error: String(e) });
      throw e;
    }
  }

  /**
   * Resolves with a tether peer that leads to `peer`: whatever the routing agent finds through
   * the tethers we hold (asking starts its discovery, which may find routes of several hops), or,
   * from `graceMs` on, a relay among the peer's own tether peers. Gives up when both have
   * nothing after {@link DIRECT_TETHER_TIMEOUT_MS}.
   */
  async #routed(peer: PeerRef, graceMs: number, settled: { value: boolean }): Promise<string> {
    const dst = formatIpv4(peer.ip);
    const start = Date.now();
    let relay: { id?: string; failed?: boolean } | undefined;
    for (;;) {
      if (settled.value || this.#stopped) throw new Error("path settled");
      const choice = this.#router.agent.choose(dst, Date.now());
      if (choice.kind === "next-hop") {
        const id = this.#ipTether.get(choice.nextHop);
        if (id !== undefined && this.#pool.tether(id)) return id;
      }
      if (this.#pool.tether(peer.id)) return peer.id;
      if (relay?.id !== undefined) return relay.id;
      const back = this.#heardVia.get(peer.id);
      if (back !== undefined && this.#pool.tether(back)) return back;
      const waited = Date.now() - start;
      if (!relay && waited >= graceMs) {
        const r: { id?: string; failed?: boolean } = relay = {};
        this.#relays(peer).then((id) => r.id = id, (e) => {
          r.failed = true;
          this.#log.debug("no relay among the destination's peers", { error: String(e) });
        });
      }
      if (relay?.failed && waited >= DIRECT_TETHER_TIMEOUT_MS) throw new Error("no route");
      await new Promise((r) => setTimeout(r, ROUTER_TICK_MS));
    }
  }

  /**
   * A relay toward `peer`: among the destination's own tether peers (warm network) or, side by
   * side, from the realm (cold network: nobody holds a tether yet). Resolves with the first.
   */
  async #relays(peer: PeerRef): Promise<string> {
    try {
      return await Promise.any([this.#neighbourRelays(peer), this.#searchRelay(peer, 0)]);
    } catch {
      throw new Error("no relay reaches the destination");
    }
  }

  /**
   * Asks the realm who can reach `peer` (RELAY_QUERY; the relays remembered for it first) and
   * tethers the relays that offer; resolves with the first whose tether opens. Later offers (up
   * to the query's bound) open in the background: a second path for failover.
   */
  #searchRelay(peer: { id: string; ip: number }, depth: number): Promise<string> {
    const now = Date.now();
    if (this.#stopped) return Promise.reject(new Error("stopped"));
    return new Promise<string>((resolve, reject) => {
      let settled = false;
      const timer = this.#after(QUERY_TIMEOUT_MS, () => {
        if (settled) return;
        settled = true;
        reject(new Error("no relay offered"));
      });
      const onOffer = (relayId: string) => {
        this.#pool.ensure(relayId).then(
          () => {
            if (settled) return;
            settled = true;
            clearTimeout(timer);
            this.#timers.delete(timer);
            this.#log.info("relay found", { dst: formatIpv4(peer.ip), relay: relayId });
            resolve(relayId);
          },
          (e) => this.#log.debug("offered relay unreachable", { relay: relayId, error: String(e) }),
        );
      };
      const q = this.#search.begin(peer.id, now, onOffer, hex(random(16)));
      if (!q.fresh) return;
      const message = this.#messenger.seal(
        MessageType.RELAY_QUERY,
        toBinary(
          RelayQuerySchema,
          create(RelayQuerySchema, {
            queryId: q.queryId,
            destinationId: peer.id,
            destinationIp: formatIpv4(peer.ip),
            depth,
          }),
        ),
        now,
      );
      const remembered = this.#search.remembered(peer.id, now)
        .filter((r) => r !== this.id && r !== peer.id);
      for (const r of remembered) this.#publishSafe(this.#subjects.control(r), message);
      const realmWide = () => {
        if (settled || this.#stopped || !this.#search.mayAskRealm(peer.id, Date.now())) return;
        this.#log.debug("asking the realm for a relay", { dst: formatIpv4(peer.ip), depth });
        this.#publishSafe(this.#subjects.discover, message);
      };
      if (remembered.length > 0) this.#after(REMEMBERED_WAIT_MS, realmWide);
      else realmWide();
    });
  }

  /**
   * Serves a RELAY_QUERY (from the realm subject or sent to us directly): when relaying is on
   * and the bounds allow, reaches the destination (an open tether, a new one, or — one level
   * deep — a relay of our own) and then offers ourselves to the asker, who tethers to us.
   */
  #onRelayQuery(data: Uint8Array, body: Uint8Array): void {
    // Cheap checks before the signature check: every node of the realm sees every query.
    const parsed = this.#relayQueryOf(body);
    if (!this.#o.relay || this.#stopped || !parsed) return;
    const now = Date.now();
    // Our own query, echoed by NATS; or one we could not serve anyway: no signature check.
    if (this.#search.isOpen(parsed.q.queryId) || this.#search.busy()) return;
    // Queries reach every relay of the realm at once: a budget of their own, so a flood of them
    // cannot starve the stream requests and signals that share the control budget.
    if (
      !this.#relayQueryLimiter.allow("query", now) || !this.#verifyLimiter.allow("control", now)
    ) {
      this.counters.controlDropped++;
      return;
    }
    this.#serveRelayQuery(this.#messenger.open(data, now), parsed);
  }

  /** The query in `body` when it is well-formed and not about us; null otherwise. */
  #relayQueryOf(body: Uint8Array): { q: RelayQuery; dstIp: number } | null {
    let q;
    try {
      q = fromBinary(RelayQuerySchema, body);
    } catch {
      return null;
    }
    const dstIp = parseIpv4(q.destinationIp);
    if (
      q.destinationId === this.id || !isConfluxId(q.destinationId) || dstIp < 0 ||
      !cidrContains(this.#realm, dstIp) || q.queryId.length > 64
    ) return null;
    return { q, dstIp };
  }

  #serveRelayQuery(
    opened: OpenedEnvelope,
    parsed = this.#relayQueryOf(opened.body),
  ): void {
    if (!this.#o.relay || this.#stopped || !parsed) return;
    const { q, dstIp } = parsed;
    const now = Date.now();
    const asker = opened.sender.confluxId;
    if (asker === this.id || asker === q.destinationId) return;
    this.#learnPeer(opened);
    // Only a direct tether counts as a route at hand: a relay of our own (a chain) is searched
    // again, so chains stay one level deep and never lead back through the asker.
    const hasRoute = this.#pool.tether(q.destinationId) !== undefined;
    const decision = this.#search.decide(asker, q.destinationId, q.depth, hasRoute, now);
    if (!decision.serve) {
      this.#log.debug("relay query not served", { from: asker, why: decision.why });
      return;
    }
    const dst = { id: q.destinationId, ip: dstIp };
    const reached = hasRoute ? Promise.resolve(1) : this.#reach(dst, q.depth, asker);
    reached.then((hops) => {
      if (this.#stopped) return;
      const offer = toBinary(
        RelayOfferSchema,
        create(RelayOfferSchema, { queryId: q.queryId, destinationId: dst.id, hops }),
      );
      this.#publishSafe(
        this.#subjects.control(asker),
        this.#messenger.seal(MessageType.RELAY_OFFER, offer, Date.now()),
      );
      this.#log.debug("relay offered", { to: asker, dst: q.destinationIp, hops });
    }).catch((e) => {
      this.#log.debug("relay query: destination unreachable", {
        dst: q.destinationIp,
        error: String(e),
      });
    }).finally(() => this.#search.done());
  }

  /**
   * A tether toward `dst` for relaying: direct, or (when the query may go one level deeper) a
   * relay of our own found the same way; resolves with the hops from us to it.
   */
  async #reach(dst: { id: string; ip: number }, depth: number, asker: string): Promise<number> {
    const direct = this.#pool.ensure(dst.id).then(() => 1);
    if (depth >= MAX_QUERY_DEPTH) return await direct;
    const viaRelay = (async () => {
      await new Promise((r) => this.#after(RELAY_GRACE_MS, () => r(undefined)));
      if (this.#stopped) throw new Error("stopped");
      if (this.#pool.tether(dst.id)) return 1;
      const hop = await this.#searchRelay(dst, depth + 1);
      if (hop === asker) throw new Error("the only relay is the asker");
      if (this.#relayVia.size >= 4096) this.#relayVia.clear();
      this.#relayVia.set(dst.id, { hop, at: Date.now() });
      return 2;
    })();
    return await Promise.any([direct, viaRelay]);
  }

  #onRelayOffer(opened: OpenedEnvelope): void {
    let offer;
    try {
      offer = fromBinary(RelayOfferSchema, opened.body);
    } catch {
      this.counters.controlDropped++;
      return;
    }
    const relay = opened.sender.confluxId;
    if (relay === this.id || relay === offer.destinationId) return;
    if (!this.#search.offer(offer.queryId, relay, offer.destinationId, Date.now())) {
      this.#log.debug("relay offer for no open query", { from: relay });
    }
  }

  /**
   * Asks `peer` for its tether peers and tethers up to {@link RELAY_FANOUT} of them at once;
   * resolves with the first that opens (the others open in the background and give the routing
   * agent a second path for failover).
   */
  async #neighbourRelays(peer: PeerRef): Promise<string> {
    const request = this.#messenger.seal(
      MessageType.NEIGHBOURS_REQUEST,
      toBinary(
        NeighboursRequestSchema,
        create(NeighboursRequestSchema, {
          destinationId: peer.id,
          candidateIds: this.#pool.tethers().map((t) => t.peerId)
            .filter((id) => id !== peer.id).slice(0, 8),
        }),
      ),
      Date.now(),
    );
    const reply = this.#messenger.open(
      await this.#o.control.request(this.#subjects.control(peer.id), request, HANDSHAKE_TIMEOUT_MS),
      Date.now(),
    );
    if (reply.type !== MessageType.NEIGHBOURS_REPLY || reply.sender.confluxId !== peer.id) {
      throw new Error("unexpected neighbours reply");
    }
    const ids = fromBinary(NeighboursReplySchema, reply.body).confluxIds
      .filter((id) => isConfluxId(id) && id !== this.id && id !== peer.id);
    // Relays we already hold a tether to first.
    ids.sort((x, y) => Number(!!this.#pool.tether(y)) - Number(!!this.#pool.tether(x)));
    const tries = ids.slice(0, RELAY_FANOUT).map((id) =>
      this.#pool.ensure(id).then(() => id, (e) => {
        this.#log.debug("relay candidate unreachable", { relay: id, error: String(e) });
        throw e;
      })
    );
    if (tries.length === 0) throw new Error("the destination holds no tethers to relay through");
    return await Promise.any(tries);
  }

  async #handshake(peer: PeerRef, ipText: string): Promise<StreamSender> {
    const { body, pending } = createStreamRequest(peer.id, random(REQUEST_RANDOM_LENGTH));
    const request = this.#messenger.seal(MessageType.STREAM_REQUEST, body, Date.now());
    const reply = await this.#o.control.request(
      this.#subjects.control(peer.id),
      request,
      HANDSHAKE_TIMEOUT_MS,
    );
    const opened = this.#messenger.open(reply, Date.now());
    if (opened.type !== MessageType.STREAM_RESPONSE) throw new Error("unexpected stream reply");
    if (opened.sender.confluxId !== peer.id || opened.sender.overlayIp !== ipText) {
      throw new Error("stream response from another conflux");
    }
    if (!this.#messenger.affine(opened.sender.mldsaPublicKey, opened.affinityTags)) {
      this.#log.debug("stream response without team affinity dropped", { peer: peer.id });
      throw new Error("stream response without team affinity");
    }
    const secrets = completeStreamRequest(pending, opened.body, {
      initiatorCertificateHash: this.#messenger.ownCertificateHash,
      responderCertificateHash: opened.senderCertificateHash,
    });
    peer.publicKey = opened.sender.mldsaPublicKey;
    peer.tags = opened.affinityTags;
    peer.certificateHash = opened.senderCertificateHash;
    peer.subnets = servedSubnetsOf(opened.sender);
    return new StreamSender(secrets, Date.now());
  }

  // ---- data path in ----

  #onTetherMessage(peerId: string, message: Uint8Array): void {
    let frames: Uint8Array[];
    try {
      frames = splitMessage(message);
    } catch {
      this.counters.framesDropped++;
      return;
    }
    const now = Date.now();
    const batch = this.#writeBatch;
    const fromIp = this.#tetherIp.get(peerId);
    if (fromIp !== undefined) this.#router.heard(fromIp, now);
    let data = false;
    // The last source whose authenticated frame came through this relaying peer (noted once).
    let relayedFrom: string | undefined;
    batch.clear();
    for (const bytes of frames) {
      this.counters.framesIn++;
      let frame;
      try {
        frame = decodeFrame(bytes);
      } catch {
        this.counters.framesDropped++;
        continue;
      }
      if (frame.type !== FrameType.Data) {
        this.#onLinkFrame(fromIp, frame, now);
        continue;
      }
      data = true;
      if (frame.destination !== this.#ownIp) {
        this.#relay(peerId, bytes, frame, now);
        continue;
      }
      const ing = this.#ingress.get(frame.streamId);
      if (!ing) {
        this.counters.framesDropped++;
        this.#unknownStream(peerId, frame.streamId, now);
        continue;
      }
      const target = this.#openTarget;
      target.now = now;
      const n = ing.receiver.openInto(
        frame.counter,
        frameAad(bytes, this.#aad),
        frame.payload,
        target,
      );
      if (n < 0 || !this.#deliver(target.out.subarray(0, n), ing.peer, batch)) {
        this.counters.framesDropped++;
      } else if (ing.peer.id !== peerId && ing.peer.id !== relayedFrom) {
        relayedFrom = ing.peer.id;
        this.#heardThrough(relayedFrom, peerId, now);
      }
    }
    if (data) this.#dataAt.set(peerId, now);
    this.#writeTun(batch);
  }

  /** An authenticated frame of `source` arrived through tether peer `via`: the reverse path. */
  #heardThrough(source: string, via: string, now: number): void {
    if (this.#heardVia.get(source) === via) return;
    if (this.#heardVia.size >= 4096) this.#heardVia.clear();
    this.#heardVia.set(source, via);
    this.#search.remember(source, via, now);
  }

  /** A probe, probe reply or route message from a tether neighbour. */
  #onLinkFrame(fromIp: string | undefined, frame: Frame, now: number): void {
    if (fromIp === undefined) {
      this.counters.framesDropped++;
      return;
    }
    try {
      this.#router.onLinkFrame(fromIp, frame, now);
    } catch (e) {
      this.counters.framesDropped++;
      this.#log.debug("routing frame dropped", { from: fromIp, error: String(e) });
    }
  }

  /**
   * Forwards a frame for another conflux: only when relaying is on, the hop limit allows, the
   * source is within its rate, and a next hop other than the one the frame came from leads to
   * the destination (the agent's choice for the stream's flowlet, else a direct tether). The
   * relay never holds the stream's keys: it moves ciphertext.
   */
  #relay(from: string, bytes: Uint8Array, frame: Frame, now: number): void {
    const next = this.#o.relay && frame.hopLimit > 1 && this.#relayLimiter.allow(from, now)
      ? this.#relayHop(from, frame, now)
      : undefined;
    if (next === undefined) {
      this.counters.framesDropped++;
      return;
    }
    const copy = bytes.slice();
    copy[1] = frame.hopLimit - 1;
    this.#o.relayFault?.(copy);
    if (this.#send(next, copy)) {
      this.counters.framesRelayed++;
      this.#dataAt.set(next, now);
    } else this.counters.framesDropped++;
  }

  #relayHop(from: string, frame: Frame, now: number): string | undefined {
    const fromIp = this.#tetherIp.get(from);
    if (fromIp !== undefined) {
      const dst = this.#text(frame.destination);
      this.#router.forwarded(fromIp, dst, now);
      // A relay cannot read the flow's 5-tuple; the stream id stands for the flow.
      const flow = Math.imul(frame.streamId ^ frame.destination, 0x9e3779b1) >>> 0;
      const via = this.#router.nextHop(dst, flow, now, fromIp);
      const id = via === null ? undefined : this.#ipTether.get(via);
      if (id !== undefined && id !== from && this.#pool.tether(id)) return id;
    }
    const direct = this.#ipPeers.get(frame.destination);
    if (direct !== undefined && direct !== from && this.#pool.tether(direct)) return direct;
    // A chain: the relay we found for this destination when we could not tether it, if a
    // verified message of the destination tied its address to that conflux id.
    const via = direct === undefined ? undefined : this.#relayVia.get(direct)?.hop;
    return via !== undefined && via !== from && this.#pool.tether(via) ? via : undefined;
  }

  /**
   * Queues the packet of an opened payload for the TUN: checks the virtio header and the source
   * address; a super-packet goes to the kernel whole when our TUN takes offloads, else it is
   * segmented here. False when refused.
   */
  #deliver(plain: Uint8Array, peer: PeerRef, batch: PacketBatch): boolean {
    if (plain.length < INNER_HEADER_LENGTH + 20) return false;
    const packet = plain.subarray(INNER_HEADER_LENGTH);
    // A peer speaks for its own address, or, if it is a portal, for the networks it serves; and
    // it reaches only us, or the networks we serve as a portal.
    const src = ipv4Source(packet);
    if (src !== peer.ip && !peer.subnets.some((c) => cidrContains(c, src))) return false;
    const dst = ipv4Destination(packet);
    if (dst !== this.#ownIp && !this.#portals?.serves(dst)) return false;
    const h = decodeVirtioNetHeader(plain, 0, this.#header);
    const gso = h.gsoType & ~GsoType.ECN;
    const plainPacket = gso === GsoType.NONE && (h.flags & VIRTIO_NET_HDR_F_NEEDS_CSUM) === 0;
    if (!plainPacket && !validOffload(h, packet.length)) return false;
    if (plainPacket || this.#o.tun.vnetHeader) {
      if (packet.length > batch.slotSize) return false;
      if (batch.count === batch.capacity) this.#writeTun(batch);
      batch.push(packet, plainPacket ? undefined : h);
      return true;
    }
    if (batch.capacity - batch.count < 64) this.#writeTun(batch);
    try {
      segmentGso(packet, h, batch);
    } catch {
      return false;
    }
    return true;
  }

  #writeTun(batch: PacketBatch): void {
    if (batch.count === 0) return;
    try {
      this.counters.packetsIn += this.#o.tun.writeBatch(batch);
    } catch (e) {
      if (!this.#stopped) this.#log.warn("TUN write failed", { error: String(e) });
    }
    batch.clear();
  }

  #unknownStream(peerId: string, streamId: number, now: number): void {
    const last = this.#closeSentAt.get(peerId) ?? 0;
    if (now - last < 1000) return;
    this.#closeSentAt.set(peerId, now);
    this.#sendClose(peerId, streamId, "unknown stream");
  }

  #onTetherOpen(peerId: string): void {
    const ip = this.#peerIps.get(peerId);
    if (ip === undefined) {
      // Signals are verified envelopes, so the peer's address is known by now; if it is not,
      // the tether still carries direct traffic but takes no part in routing.
      this.#log.debug("tether peer without a known address", { peer: peerId });
      return;
    }
    const text = formatIpv4(ip);
    const old = this.#ipTether.get(text);
    if (old !== undefined && old !== peerId) this.#tetherIp.delete(old);
    this.#tetherIp.set(peerId, text);
    this.#ipTether.set(text, peerId);
    this.#router.linkUp(text, Date.now());
  }

  #onTetherClose(peerId: string): void {
    this.#closeSentAt.delete(peerId);
    for (const [id, hop] of this.#heardVia) if (hop === peerId) this.#heardVia.delete(id);
    for (const [id, via] of this.#relayVia) if (via.hop === peerId) this.#relayVia.delete(id);
    this.#dataAt.delete(peerId);
    const ip = this.#tetherIp.get(peerId);
    if (ip !== undefined) {
      this.#tetherIp.delete(peerId);
      if (this.#ipTether.get(ip) === peerId) this.#ipTether.delete(ip);
      this.#router.linkClosed(ip, Date.now());
    }
    // The routing agent moves flows to other routes at once; a stream whose own path went with
    // this tether finds a new one with its next packet (#retether) when no route is left.
    for (const e of this.#egress.values()) if (e.nextHop === peerId) e.nextHop = undefined;
  }

  #routeTick(now: number): void {
    for (const ip of this.#router.tick(now)) {
      const id = this.#ipTether.get(ip);
      if (id !== undefined) this.#pool.close(id, "silent (probes unanswered)");
    }
  }

  /** Send-queue delay towards a tether neighbour: its buffered bytes at ~100 Mbit/s. */
  #queueMs(ip: string): number {
    const id = this.#ipTether.get(ip);
    const t = id === undefined ? undefined : this.#pool.tether(id);
    return t ? t.bufferedAmount / 12_500 : 0;
  }

  // ---- control ----

  async #serve(
    messages: AsyncIterable<ControlMessage>,
    handle: (m: ControlMessage) => void,
  ): Promise<void> {
    try {
      for await (const m of messages) {
        if (this.#stopped) return;
        try {
          handle(m);
        } catch (e) {
          this.counters.controlDropped++;
          this.#log.debug("control message dropped", { error: String(e) });
        }
      }
    } catch (e) {
      if (!this.#stopped) this.#log.warn("control subscription ended", { error: String(e) });
    }
  }

  #onDiscover(m: ControlMessage): void {
    // Cheap look before any signature check: every node of the realm sees every query.
    const peek = peekEnvelope(m.data);
    if (peek?.type === MessageType.RELAY_QUERY) return this.#onRelayQuery(m.data, peek.body);
    if (!peek || peek.type !== MessageType.DISCOVER || !m.reply) return;
    let query;
    try {
      query = fromBinary(DiscoverSchema, peek.body);
    } catch {
      return;
    }
    if (query.overlayIp !== this.#ownIpText) return;
    if (!this.#verifyLimiter.allow("control", Date.now())) {
      this.counters.controlDropped++;
      return;
    }
    const opened = this.#messenger.open(m.data, Date.now());
    if (!this.#messenger.affine(opened.sender.mldsaPublicKey, opened.affinityTags)) {
      this.#log.debug("discover without team affinity dropped", { from: opened.sender.confluxId });
      return;
    }
    const body = toBinary(
      DiscoverReplySchema,
      create(DiscoverReplySchema, { overlayIp: this.#ownIpText, confluxId: this.id }),
    );
    this.#o.control.publish(
      m.reply,
      this.#messenger.seal(MessageType.DISCOVER_REPLY, body, Date.now()),
    );
  }

  #learnPeer(opened: OpenedEnvelope): void {
    const ip = parseIpv4(opened.sender.overlayIp);
    if (ip < 0) return;
    const id = opened.sender.confluxId;
    const old = this.#peerIps.get(id);
    if (old !== undefined && old !== ip) this.#ipPeers.delete(old);
    this.#peerIps.set(id, ip);
    this.#ipPeers.set(ip, id);
    // Bounded by the realm size in practice; cap it anyway.
    if (this.#peerIps.size > 65_536) {
      const first = this.#peerIps.keys().next().value!;
      this.#ipPeers.delete(this.#peerIps.get(first)!);
      this.#peerIps.delete(first);
    }
  }

  #onControl(m: ControlMessage): void {
    if (!this.#verifyLimiter.allow("control", Date.now())) {
      this.counters.controlDropped++;
      return;
    }
    const opened = this.#messenger.open(m.data, Date.now());
    this.#learnPeer(opened);
    switch (opened.type) {
      case MessageType.NEIGHBOURS_REQUEST:
        return this.#onNeighbours(opened, m.reply);
      case MessageType.STREAM_REQUEST:
        return this.#onStreamRequest(opened, m.reply);
      case MessageType.STREAM_CLOSE:
        return this.#onStreamClose(opened);
      case MessageType.SIGNAL:
        return this.#onSignal(opened);
      case MessageType.RELAY_QUERY:
        return this.#serveRelayQuery(opened);
      case MessageType.RELAY_OFFER:
        return this.#onRelayOffer(opened);
      default:
        this.counters.controlDropped++;
    }
  }

  #onStreamRequest(opened: OpenedEnvelope, reply: string | undefined): void {
    const from = opened.sender;
    if (!reply) return;
    if (!this.#messenger.affine(from.mldsaPublicKey, opened.affinityTags)) {
      this.#log.debug("stream request without team affinity dropped", { from: from.confluxId });
      return;
    }
    const peerIp = parseIpv4(from.overlayIp);
    if (peerIp < 0) return;
    const streamId = allocateStreamId(this.#ingress, random(64));
    const { body, secrets } = acceptStreamRequest(opened.body, {
      ownId: this.id,
      streamId,
      random: random(ACCEPT_RANDOM_LENGTH),
      initiatorCertificateHash: opened.senderCertificateHash,
      responderCertificateHash: this.#messenger.ownCertificateHash,
    });
    // Bound what one peer can hold here: keep its newest few streams.
    const mine = [...this.#ingress.entries()].filter(([, i]) => i.peer.id === from.confluxId);
    for (const [id] of mine.slice(0, Math.max(0, mine.length - MAX_INGRESS_STREAMS_PER_PEER + 1))) {
      this.#ingress.delete(id);
    }
    const now = Date.now();
    this.#ingress.set(streamId, {
      receiver: new StreamReceiver(secrets, now),
      peer: peerOf(opened, peerIp),
    });
    this.#o.control.publish(reply, this.#messenger.seal(MessageType.STREAM_RESPONSE, body, now));
    this.#log.debug("ingress stream up", { peer: from.confluxId, stream: streamId });
  }

  #onNeighbours(opened: OpenedEnvelope, reply: string | undefined): void {
    if (!reply) return;
    const from = opened.sender;
    if (!this.#messenger.affine(from.mldsaPublicKey, opened.affinityTags)) {
      this.#log.debug("neighbours request without team affinity dropped", {
        from: from.confluxId,
      });
      return;
    }
    const query = fromBinary(NeighboursRequestSchema, opened.body);
    if (query.destinationId !== this.id) return;
    const ids = this.#pool.tethers().map((t) => t.peerId)
      .filter((id) => id !== from.confluxId).slice(0, MAX_NEIGHBOURS);
    // No relay in common yet: tether to a few of the requester's peers (they decide whether to
    // relay for us; the requester tries them right away).
    const fresh = query.candidateIds.slice(0, 8)
      .filter((id) =>
        isConfluxId(id) && id !== this.id && id !== from.confluxId && !ids.includes(id)
      )
      .slice(0, Math.max(0, RELAY_FANOUT - ids.length));
    for (const id of fresh) {
      this.#pool.ensure(id).catch((e) =>
        this.#log.debug("relay tether failed", { relay: id, error: String(e) })
      );
    }
    ids.push(...fresh);
    const body = toBinary(
      NeighboursReplySchema,
      create(NeighboursReplySchema, { confluxIds: ids }),
    );
    this.#o.control.publish(
      reply,
      this.#messenger.seal(MessageType.NEIGHBOURS_REPLY, body, Date.now()),
    );
  }

  #onStreamClose(opened: OpenedEnvelope): void {
    const msg = fromBinary(StreamCloseSchema, opened.body);
    const from = opened.sender.confluxId;
    const ing = this.#ingress.get(msg.streamId);
    if (ing && ing.peer.id === from) this.#ingress.delete(msg.streamId);
    for (const e of this.#egress.values()) {
      if (e.peer?.id === from && e.sender?.streamId === msg.streamId) {
        this.#log.debug("stream closed by peer", { peer: from, reason: msg.reason });
        e.reset();
      }
    }
  }

  #onSignal(opened: OpenedEnvelope): void {
    const from = opened.sender;
    if (
      !this.#o.relay && !this.#messenger.affine(from.mldsaPublicKey, opened.affinityTags) &&
      !this.#pool.offering(from.confluxId)
    ) {
      this.#log.debug("tether signal without team affinity dropped", { from: from.confluxId });
      return;
    }
    const msg = fromBinary(SignalSchema, opened.body);
    if (msg.kind === Signal_Kind.CLOSE) {
      this.#pool.close(from.confluxId, "closed by peer");
      return;
    }
    const signal = decodeSignal(new TextEncoder().encode(msg.payload));
    this.#pool.onSignal(from.confluxId, signal);
  }

  #sendSignal(peerId: string, signal: Parameters<typeof encodeSignal>[0]): Promise<void> {
    const kind = signal.kind === "offer"
      ? Signal_Kind.OFFER
      : signal.kind === "answer"
      ? Signal_Kind.ANSWER
      : Signal_Kind.CANDIDATE;
    const body = toBinary(
      SignalSchema,
      create(SignalSchema, {
        tetherId: signal.session,
        kind,
        payload: new TextDecoder().decode(encodeSignal(signal)),
        engine: this.#o.engine,
      }),
    );
    this.#o.control.publish(
      this.#subjects.control(peerId),
      this.#messenger.seal(MessageType.SIGNAL, body, Date.now()),
    );
    return Promise.resolve();
  }

  /** A one-shot timer that stop() clears. */
  #after(ms: number, fn: () => void): ReturnType<typeof setTimeout> {
    const t = setTimeout(() => {
      this.#timers.delete(t);
      fn();
    }, ms);
    this.#timers.add(t);
    return t;
  }

  /**
   * Publishes without throwing: the control channel may have closed under us (a revoked token),
   * and a throw from a timer or a promise callback would end the process before cleanup.
   */
  #publishSafe(subject: string, data: Uint8Array): void {
    try {
      this.#o.control.publish(subject, data);
    } catch (e) {
      this.#log.debug("control message not sent", { subject, error: String(e) });
    }
  }

  #sendClose(peerId: string, streamId: number, reason: string): void {
    try {
      const body = toBinary(StreamCloseSchema, create(StreamCloseSchema, { streamId, reason }));
      this.#o.control.publish(
        this.#subjects.control(peerId),
        this.#messenger.seal(MessageType.STREAM_CLOSE, body, Date.now()),
      );
    } catch (e) {
      this.#log.debug("stream close not sent", { peer: peerId, error: String(e) });
    }
  }

  // ---- idle ----

  #sweep(now: number): void {
    const idle = this.#o.idleTimeoutMs;
    const used = new Set<string>();
    for (const [ip, e] of this.#egress) {
      const last = e.sender ? Math.max(e.sender.lastUsedAt, e.lastPacketAt) : e.lastPacketAt;
      if (now - last >= idle && e.state !== "connecting") {
        this.#egress.delete(ip);
        this.#log.debug("egress stream dissolved (idle)", { dst: formatIpv4(ip) });
      } else if (e.peer) {
        used.add(e.peer.id);
        if (e.nextHop) used.add(e.nextHop);
        // The other routes stay warm: failover then needs no discovery and no new tether.
        for (const c of this.#router.agent.candidates(e.ipText)) {
          const id = this.#ipTether.get(c.nextHop);
          if (id !== undefined) used.add(id);
        }
      }
    }
    for (const [id, ing] of this.#ingress) {
      if (now - ing.receiver.lastUsedAt >= idle) {
        this.#ingress.delete(id);
        this.#log.debug("ingress stream dissolved (idle)", { peer: ing.peer.id, stream: id });
      } else used.add(ing.peer.id);
    }
    for (const t of this.#pool.tethers()) {
      const last = this.#dataAt.get(t.peerId) ?? this.#pool.openedAt(t.peerId) ?? now;
      if (!used.has(t.peerId) && now - last >= idle) {
        this.#log.debug("tether dissolved (idle)", { peer: t.peerId });
        this.#pool.close(t.peerId, "idle");
      }
    }
    for (const [ip, d] of this.#discovered) if (now - d.at >= idle) this.#discovered.delete(ip);
    this.#search.sweep(now);
    for (const [id, via] of this.#relayVia) if (now - via.at >= idle) this.#relayVia.delete(id);
    for (const [id, at] of this.#directFailedAt) {
      if (now - at > 60_000) this.#directFailedAt.delete(id);
    }
  }
}

/** What a peer may ask our kernel to do with a packet: TCP/UDP segmentation, checksums. */
function validOffload(h: VirtioNetHeader, length: number): boolean {
  const gso = h.gsoType & ~GsoType.ECN;
  if (
    gso !== GsoType.NONE && gso !== GsoType.TCPV4 && gso !== GsoType.TCPV6 &&
    gso !== GsoType.UDP_L4
  ) return false;
  if ((h.flags & ~(VIRTIO_NET_HDR_F_NEEDS_CSUM | VIRTIO_NET_HDR_F_DATA_VALID)) !== 0) return false;
  if (h.flags & VIRTIO_NET_HDR_F_NEEDS_CSUM && h.csumStart + h.csumOffset + 2 > length) {
    return false;
  }
  if (gso !== GsoType.NONE && (h.gsoSize === 0 || h.hdrLen > length || h.gsoSize > 65535)) {
    return false;
  }
  return true;
}

/** A conflux id as the Guardian issues them; anything else never becomes a NATS subject. */
function isConfluxId(id: string): boolean {
  return /^[A-Za-z0-9_-]{1,64}$/.test(id);
}

function peerOf(opened: OpenedEnvelope, ip: number): PeerRef {
  return {
    id: opened.sender.confluxId,
    ip,
    publicKey: opened.sender.mldsaPublicKey,
    tags: opened.affinityTags,
    certificateHash: opened.senderCertificateHash,
    subnets: servedSubnetsOf(opened.sender),
  };
}

/** The networks a certificate says its conflux serves as a portal (none unless it is one). */
function servedSubnetsOf(c: CertificateFields): Ipv4Cidr[] {
  if (!c.portal) return [];
  return (c.subnets ?? []).map((s) => parseCidr(s)).filter((x): x is Ipv4Cidr => x !== null);
}

function hex(bytes: Uint8Array): string {
  return Array.from(bytes, (b) => b.toString(16).padStart(2, "0")).join("");
}

function random(n: number): Uint8Array {
  return crypto.getRandomValues(new Uint8Array(n));
}

function pairInfo(pair: CandidatePair | null): Pick<TetherInfo, "local" | "remote"> {
  if (!pair) return {};
  return {
    local: { type: pair.local.type, address: pair.local.address, port: pair.local.port },
    remote: { type: pair.remote.type, address: pair.remote.address, port: pair.remote.port },
  };
}
