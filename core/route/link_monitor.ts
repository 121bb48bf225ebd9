/**
 * Liveness probing of tethers: decides when to probe, turns answers into {@link LinkSample}s for
 * the agent, and declares a tether dead when it stays silent, so that a failure is noticed
 * within about a second (default: a probe every 250 ms, dead after 1 s without an answer).
 *
 * Pure: the runtime sends the probes it is told to (on the tether's control channel), reports
 * answers with {@link LinkMonitor.ack}, and calls `RouteAgent.linkDown` for every peer that
 * {@link LinkMonitor.expired} returns.
 *
 * @module
 */

import type { LinkSample } from "./agent.ts";
import { RouteError } from "./errors.ts";

/** Tuning of a {@link LinkMonitor}. */
export interface LinkMonitorOptions {
  /** Time between two probes to one peer (default 250 ms). */
  intervalMs?: number;
  /** A peer silent for this long is dead (default 1,000 ms). */
  deadAfterMs?: number;
  /** Probes over which loss is measured (default 20). */
  lossWindow?: number;
}

/** A probe the runtime should send now. */
export interface ProbeRequest {
  peer: string;
  /** Echoed back by the peer; identifies the probe. */
  probeId: number;
}

interface Peer {
  nextAt: number;
  lastHeard: number;
  /** probeId → send time, for probes not answered yet (bounded by the loss window). */
  pending: Map<number, number>;
  /** Outcomes of the last probes: true = answered. */
  outcomes: boolean[];
}

/** Probe scheduling, RTT/loss measurement and silence detection for all tethers. */
export class LinkMonitor {
  readonly #interval: number;
  readonly #deadAfter: number;
  readonly #window: number;
  readonly #peers = new Map<string, Peer>();
  #nextId = 1;

  /** Creates a monitor; throws {@link RouteError} `options` on non-positive tuning. */
  constructor(options: LinkMonitorOptions = {}) {
    this.#interval = options.intervalMs ?? 250;
    this.#deadAfter = options.deadAfterMs ?? 1_000;
    this.#window = Math.floor(options.lossWindow ?? 20);
    if (!(this.#interval > 0) || !(this.#deadAfter > this.#interval) || !(this.#window >= 1)) {
      throw new RouteError("options", "need intervalMs > 0, deadAfterMs > intervalMs, window >= 1");
    }
  }

  /** Starts watching a tether that just opened. */
  add(peer: string, now: number): void {
    if (this.#peers.has(peer)) return;
    this.#peers.set(peer, { nextAt: now, lastHeard: now, pending: new Map(), outcomes: [] });
  }

  /** Stops watching a tether (closed on purpose, or declared dead). */
  remove(peer: string): void {
    this.#peers.delete(peer);
  }

  /** Probes to send at `now` (at most one per peer per interval). */
  due(now: number): ProbeRequest[] {
    const out: ProbeRequest[] = [];
    for (const [peer, p] of this.#peers) {
      if (now < p.nextAt) continue;
      p.nextAt = now + this.#interval;
      // Probes unanswered for longer than the dead time count as lost.
      for (const [id, at] of p.pending) {
        if (now - at >= this.#deadAfter) {
          p.pending.delete(id);
          this.#record(p, false);
        }
      }
      const probeId = this.#nextId++ >>> 0;
      p.pending.set(probeId, now);
      if (p.pending.size > this.#window) {
        const oldest = p.pending.keys().next().value;
        if (oldest !== undefined) {
          p.pending.delete(oldest);
          this.#record(p, false);
        }
      }
      out.push({ peer, probeId });
    }
    return out;
  }

  /**
   * The answer to probe `probeId` arrived from `peer` at `now`: returns the sample to pass to
   * `RouteAgent.linkMeasured`, or null for an unknown, duplicate or late answer.
   */
  ack(peer: string, now: number, probe: { probeId: number; queueMs?: number }): LinkSample | null {
    const p = this.#peers.get(peer);
    const sentAt = p?.pending.get(probe.probeId);
    if (!p || sentAt === undefined || now < sentAt) return null;
    p.pending.delete(probe.probeId);
    p.lastHeard = now;
    this.#record(p, true);
    const lost = p.outcomes.filter((ok) => !ok).length;
    return { rttMs: now - sentAt, loss: lost / p.outcomes.length, queueMs: probe.queueMs ?? 0 };
  }

  /** Any other traffic from `peer` also proves it alive. */
  heard(peer: string, now: number): void {
    const p = this.#peers.get(peer);
    if (p && now > p.lastHeard) p.lastHeard = now;
  }

  /**
   * Counts every peer as heard at `now`: for the runtime after its own event loop stalled, when
   * the silence was ours and not the peers'.
   */
  heardAll(now: number): void {
    for (const p of this.#peers.values()) if (now > p.lastHeard) p.lastHeard = now;
  }

  /** Peers silent for longer than the dead time; they are removed from the monitor. */
  expired(now: number): string[] {
    const dead: string[] = [];
    for (const [peer, p] of this.#peers) {
      if (now - p.lastHeard >= this.#deadAfter) dead.push(peer);
    }
    for (const peer of dead) this.#peers.delete(peer);
    return dead;
  }

  #record(p: Peer, ok: boolean): void {
    p.outcomes.push(ok);
    if (p.outcomes.length > this.#window) p.outcomes.shift();
  }
}
