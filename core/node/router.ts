/**
 * The routing runtime of a node: one {@link RouteAgent}, one {@link LinkMonitor} over the node's
 * tethers and one {@link FlowletTable}, driven by the node's clock and sending what they ask for as
 * routing frames on the tethers (core/route/link_frames.ts).
 *
 * Every name here is an overlay IPv4 address in dotted form, for neighbours and destinations
 * alike: data frames carry the destination address, so a relay finds its next hop without any
 * lookup, and a direct tether to the destination is the agent's candidate "y = d".
 *
 * @module
 */
import type { Logger } from "../log/logger.ts";
import { RouteAgent, type RouteSnapshot } from "../route/agent.ts";
import { type FlowletPaths, FlowletTable } from "../route/flowlet.ts";
import {
  decodeLinkFrame,
  encodeProbeFrame,
  encodeProbeReplyFrame,
  encodeRouteFrame,
} from "../route/link_frames.ts";
import { LinkMonitor } from "../route/link_monitor.ts";
import type { Frame } from "../wire/frame.ts";

/** Time between two liveness probes on one tether. */
export const PROBE_INTERVAL_MS = 250;
/**
 * A tether silent for this long (three probe intervals) is dead: its routes go to infinity and it
 * is closed. Any frame from the neighbour counts as a sign of life, so a busy tether whose probe
 * replies queue behind data is not declared dead.
 */
export const LINK_DEAD_AFTER_MS = 750;
/** How often the node calls {@link Router.tick}. */
export const ROUTER_TICK_MS = 100;
/**
 * A flow moves to another next hop (other than after a failure) only after an idle gap this long:
 * our delay estimates do not see every queue (the engine's SCTP buffers, a busy relay), and a TCP
 * flow moved in a shorter gap was measured reordered (hundreds of retransmits per second with two
 * equal relays at 2 ms).
 */
export const FLOWLET_GAP_MS = 20;
/** Margin over the estimated delay difference before a flow moves to a faster path. */
export const FLOWLET_MARGIN_MS = 5;
/** A tick this much later than the previous one means our own event loop stalled. */
const STALL_MS = 3 * ROUTER_TICK_MS;
/** How often idle flows are forgotten. */
const FLOW_SWEEP_MS = 10_000;

/** What a Router needs from the node. */
export interface RouterOptions {
  /** Our overlay address. */
  self: string;
  /** Uniform [0, 1) source for exploration. */
  random: () => number;
  /** Queues a routing frame on the tether to `neighbour`; false when it could not. */
  send: (neighbour: string, frame: Uint8Array) => boolean;
  /** Current send-queue delay towards `neighbour` in ms (part of the link cost). */
  queueMs: (neighbour: string) => number;
  /** Whether this node forwards for others; a node that does not never answers route queries. */
  relay: boolean;
  /**
   * Whether `name` can be a destination (an overlay address of the realm); route messages about
   * anything else are dropped. Default: everything.
   */
  accepts?: (name: string) => boolean;
  /** Probe interval and dead time (defaults {@link PROBE_INTERVAL_MS}, {@link LINK_DEAD_AFTER_MS}). */
  probeIntervalMs?: number;
  deadAfterMs?: number;
  log: Logger;
}

/** Routing state and decisions of one node. */
export class Router {
  /** The Q-routing agent (read it for status output). */
  readonly agent: RouteAgent;
  readonly #o: RouterOptions;
  readonly #monitor: LinkMonitor;
  readonly #flows = new FlowletTable({ minGapMs: FLOWLET_GAP_MS, marginMs: FLOWLET_MARGIN_MS });
  #lastSweep = 0;
  readonly #links = new Map<string, { rttMs: number; loss: number }>();
  #lastTick = 0;
  // One FlowletPaths object reused for every decision; #dst/#exclude say which one.
  #dst = "";
  #exclude: string | undefined;
  #now = 0;
  readonly #paths: FlowletPaths = {
    choose: () => {
      // A relay does not start discovery for what it forwards: a neighbour sending frames to
      // made-up addresses would otherwise turn each into queries. Its routes come from the
      // queries and reports that pass through it, and from the source's repairs.
      const c = this.agent.choose(this.#dst, this.#now, {
        exclude: this.#exclude,
        discover: this.#exclude === undefined,
      });
      return c.kind === "next-hop" ? c.nextHop : null;
    },
    delayMs: (hop) => hop === this.#exclude ? Infinity : this.agent.estimateVia(this.#dst, hop),
  };

  /** Creates the router; nothing runs until the node calls {@link tick}. */
  constructor(options: RouterOptions) {
    this.#o = options;
    this.agent = new RouteAgent({ self: options.self, random: options.random });
    this.#monitor = new LinkMonitor({
      intervalMs: options.probeIntervalMs ?? PROBE_INTERVAL_MS,
      deadAfterMs: options.deadAfterMs ?? LINK_DEAD_AFTER_MS,
    });
  }

  /**
   * The link to `neighbour` as its probes measure it: smoothed RTT (ms; NaN before the first
   * reply) and the recent loss fraction. The one liveness measurement of a tether: `info` shows
   * it, routing uses it.
   */
  link(neighbour: string): { rttMs: number; loss: number } {
    return this.#links.get(neighbour) ?? { rttMs: NaN, loss: 0 };
  }

  #note(neighbour: string, rttMs: number, loss: number): void {
    const l = this.#links.get(neighbour);
    // RFC 6298's smoothing (α = 1/8).
    if (!l || !Number.isFinite(l.rttMs)) this.#links.set(neighbour, { rttMs, loss });
    else this.#links.set(neighbour, { rttMs: l.rttMs + (rttMs - l.rttMs) / 8, loss });
  }

  /** A tether to `neighbour` opened: probing starts with the next tick. */
  linkUp(neighbour: string, now: number): void {
    this.#monitor.add(neighbour, now);
  }

  /** The tether to `neighbour` closed: every route through it is gone at once. */
  linkClosed(neighbour: string, now: number): void {
    this.#monitor.remove(neighbour);
    this.#links.delete(neighbour);
    this.agent.linkDown(neighbour, now);
  }

  /** Any message from `neighbour` proves its tether alive. */
  heard(neighbour: string, now: number): void {
    this.#monitor.heard(neighbour, now);
  }

  /**
   * Handles a Probe, ProbeReply or Feedback frame from `neighbour`. Throws RouteError for a
   * malformed one (the node counts it as dropped).
   */
  onLinkFrame(neighbour: string, frame: Frame, now: number): void {
    const f = decodeLinkFrame(frame);
    if (f.kind === "probe") {
      this.#o.send(neighbour, encodeProbeReplyFrame(f.probeId));
    } else if (f.kind === "probe-reply") {
      const queueMs = this.#o.queueMs(neighbour);
      const sample = this.#monitor.ack(neighbour, now, { probeId: f.probeId, queueMs });
      if (sample) {
        this.agent.linkMeasured(neighbour, now, sample);
        this.#note(neighbour, sample.rttMs, sample.loss ?? 0);
      }
    } else if (f.message.kind === "report") {
      const accepts = this.#o.accepts;
      const estimates = accepts
        ? f.message.estimates.filter((e) => accepts(e.destination))
        : f.message.estimates;
      this.agent.receive(neighbour, { kind: "report", estimates }, now);
    } else if (this.#o.relay && (this.#o.accepts?.(f.message.destination) ?? true)) {
      this.agent.receive(neighbour, f.message, now);
    }
  }

  /**
   * The neighbour to send a frame of `flow` for `destination` through, or null when the agent
   * knows no route yet (it starts discovery). `exclude` is the neighbour a relayed frame came
   * from. A flow keeps its next hop until an idle gap makes a move safe (flowlets).
   */
  nextHop(destination: string, flow: number, now: number, exclude?: string): string | null {
    this.#dst = destination;
    this.#exclude = exclude;
    this.#now = now;
    return this.#flows.pick(flow, now, this.#paths);
  }

  /** We relayed a frame from `neighbour` to `destination`: it will hear our estimates. */
  forwarded(neighbour: string, destination: string, now: number): void {
    this.agent.noteUpstream(neighbour, destination, now);
  }

  /**
   * Sends due probes and the agent's messages; returns the neighbours found dead (silent past
   * the dead time), which the node closes.
   */
  tick(now: number): string[] {
    // After a stall of our own (CPU starvation, a long task) the neighbours' replies may still be
    // queued behind it: do not mistake our silence for theirs.
    if (this.#lastTick > 0 && now - this.#lastTick > STALL_MS) this.#monitor.heardAll(now);
    this.#lastTick = now;
    for (const p of this.#monitor.due(now)) this.#o.send(p.peer, encodeProbeFrame(p.probeId));
    const dead = this.#monitor.expired(now);
    for (const n of dead) {
      this.#o.log.info("tether silent: routes through it withdrawn", { neighbour: n });
      this.agent.linkDown(n, now);
    }
    for (const { to, message } of this.agent.poll(now)) {
      try {
        this.#o.send(to, encodeRouteFrame(message));
      } catch (e) {
        this.#o.log.debug("route message not sent", { to, error: String(e) });
      }
    }
    if (now - this.#lastSweep >= FLOW_SWEEP_MS) {
      this.#lastSweep = now;
      this.#flows.sweep(now);
    }
    return dead;
  }

  /** How many times a flow moved to another next hop (flowlet switches and failovers). */
  get flowMoves(): number {
    return this.#flows.moves;
  }

  /** What the agent knows per destination (status output). */
  snapshot(): RouteSnapshot[] {
    return this.agent.snapshot();
  }
}
