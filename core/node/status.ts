/**
 * The node's state as GET /info returns it (core/node/status_server.ts has the types).
 *
 * @module
 */
import type { CandidatePair } from "../tether/engine.ts";
import type { NodeContext } from "./context.ts";
import type { Egress } from "./egress.ts";
import type { Egresser } from "./egresser.ts";
import { formatIpv4 } from "./packet.ts";
import type { PortalsInfo } from "./portals.ts";
import type { DnsInfo, NodeInfo, RouteInfo, StreamInfo, TetherInfo } from "./status_server.ts";
import type { Streams } from "./streams.ts";
import type { Lanes } from "./lanes.ts";
import type { CertificateFields } from "../wire/certificate.ts";

/** What the status builder reads. */
export interface StatusSources {
  ctx: NodeContext;
  certificate: CertificateFields;
  teams: readonly { name: string }[];
  egress: Egress;
  streams: Streams;
  lanes: Lanes;
  portals?: PortalsInfo;
  dns?: DnsInfo;
}

/** The node's state now. */
export function nodeInfo(s: StatusSources): NodeInfo {
  const { ctx, certificate: c } = s;
  const counters = ctx.counters;
  return {
    conflux_id: c.confluxId,
    realm_id: c.realmId,
    overlay_ip: c.overlayIp,
    tag: c.tag,
    portal: c.portal,
    teams: s.teams.map((t) => t.name),
    stats: {
      frames_in: counters.framesIn,
      frames_dropped: counters.framesDropped,
      frames_relayed: counters.framesRelayed,
      packets_in: counters.packetsIn,
      packets_out: counters.packetsOut,
      control_dropped: counters.controlDropped,
      flow_moves: ctx.router.flowMoves,
      drops: { ...counters.drops },
    },
    tethers: tetherInfo(ctx, s.lanes),
    underlay: [...(ctx.tethers.hostAddresses ?? [])],
    routes: [...s.egress.egressers()].map((e) => routeInfo(ctx, e)),
    ...(s.portals ? { portals: s.portals } : {}),
    ...(s.dns ? { dns: s.dns } : {}),
    streams: streamInfo(ctx, s.egress, s.streams),
  };
}

function tetherInfo(ctx: NodeContext, lanes: Lanes): TetherInfo[] {
  const now = ctx.now();
  return ctx.tethers.tethers().map((t) => {
    const st = t.stats();
    // The router's probes are the tether's one liveness measurement (routing uses the same).
    const name = ctx.peers.get(t.peerId)?.ipText;
    const link = name === undefined ? undefined : ctx.router.link(name);
    const rtt = link && Number.isFinite(link.rttMs) ? link.rttMs : st.rttMs;
    return {
      peer: t.peerId,
      engine: t.engine,
      channels: t.channelCount,
      rtt_ms: Number.isFinite(rtt) ? Math.round(rtt * 1000) / 1000 : null,
      ...(link ? { loss: Math.round(link.loss * 1000) / 1000 } : {}),
      lane: lanes.state(t.peerId),
      bytes_sent: st.bytesSent,
      bytes_received: st.bytesReceived,
      idle_ms: st.lastActivityAt ? Math.round(now - st.lastActivityAt) : 0,
      ...pairInfo(t.selectedPair()),
    };
  });
}

function routeInfo(ctx: NodeContext, e: Egresser): RouteInfo {
  const ms = (v: number) => Math.round(v * 1000) / 1000;
  const candidates = ctx.router.agent.candidates(e.ipText).map((c) => ({
    next_hop: ctx.peers.neighbourId(c.nextHop) ?? c.nextHop,
    estimate_ms: ms(c.estimateMs),
    hops: c.hops,
  }));
  const best = candidates.find((c) => ctx.tethers.tether(c.next_hop));
  const path = e.peer ? e.nextHop ?? e.peer.id : undefined;
  const fallback = path !== undefined && ctx.tethers.tether(path) ? path : "";
  const next = e.peer && best ? best.next_hop : fallback;
  return {
    destination: e.ipText,
    conflux_id: e.peer?.id ?? "",
    next_hop: next,
    path: next === "" ? "" : next === e.peer?.id ? "direct" : "relayed",
    state: e.state,
    estimate_ms: best?.estimate_ms ?? null,
    candidates,
  };
}

function streamInfo(ctx: NodeContext, egress: Egress, streams: Streams): StreamInfo[] {
  const now = ctx.now();
  const out: StreamInfo[] = [];
  for (const e of egress.egressers()) {
    if (!e.sender || !e.peer) continue;
    out.push({
      direction: "egress",
      stream_id: e.sender.streamId,
      peer: e.peer.id,
      peer_ip: formatIpv4(e.peer.ip),
      epoch: e.sender.epoch,
      packets: e.sender.packets,
      idle_ms: now - e.sender.lastUsedAt,
    });
  }
  for (const [id, ing] of streams.ingressStreams()) {
    out.push({
      direction: "ingress",
      stream_id: id,
      peer: ing.peer.id,
      peer_ip: formatIpv4(ing.peer.ip),
      epoch: ing.receiver.epoch,
      packets: ing.receiver.accepted,
      idle_ms: now - ing.receiver.lastUsedAt,
    });
  }
  return out;
}

function pairInfo(pair: CandidatePair | null): Pick<TetherInfo, "local" | "remote"> {
  if (!pair) return {};
  return {
    local: { type: pair.local.type, address: pair.local.address, port: pair.local.port },
    remote: { type: pair.remote.type, address: pair.remote.address, port: pair.remote.port },
  };
}
