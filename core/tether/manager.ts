/**
 * TetherManager: at most one tether per peer, created on demand (`connect`) or on an incoming
 * offer (`receive`), with glare resolved by peer id: when both ends offer at once, the end with
 * the smaller id stays offerer and the other answers.
 *
 * The data plane feeds every verified tether signal from NATS into `receive(peerId, signal)` and
 * gives `sendSignal` to carry outgoing ones; idle teardown stays with the caller (`close`).
 *
 * @module
 */

import type { Logger } from "../log/logger.ts";
import { TetherError } from "./errors.ts";
import { openTether, type OpenTetherOptions } from "./open.ts";
import { type Signal, type Signaler, SignalQueue } from "./signaler.ts";
import type { Tether } from "./tether.ts";

/** Options of a TetherManager. */
export interface TetherManagerOptions {
  /** This node's id (conflux id), compared with peer ids to settle glare. */
  localId: string;
  /** Carries a signal to `peerId` (the data plane signs it and publishes it on NATS). */
  sendSignal: (peerId: string, signal: Signal) => void | Promise<void>;
  /** Settings for every tether (engine, channels, ICE servers, host addresses, …). */
  tether?: Omit<OpenTetherOptions, "peerId" | "role" | "signaler" | "offer" | "session" | "signal">;
  /** Decides whether an unsolicited offer from `peerId` is answered; default yes. */
  acceptOffer?: (peerId: string) => boolean;
  log?: Logger;
}

interface Attempt {
  session: string | undefined;
  role: "offerer" | "answerer";
  queue: SignalQueue;
  abort: AbortController;
  promise: Promise<Tether>;
}

/** Keeps one tether per peer. */
export class TetherManager {
  readonly #options: TetherManagerOptions;
  readonly #tethers = new Map<string, Tether>();
  readonly #attempts = new Map<string, Attempt>();
  readonly #sessions = new Map<string, string>();
  readonly #tetherCbs: ((t: Tether) => void)[] = [];
  #closed = false;

  /** Creates a manager; nothing happens until `connect` or `receive`. */
  constructor(options: TetherManagerOptions) {
    this.#options = options;
  }

  /** Registers a callback for every tether that opens (outgoing or incoming). */
  onTether(cb: (tether: Tether) => void): void {
    this.#tetherCbs.push(cb);
  }

  /** The open tether to `peerId`, if any. */
  get(peerId: string): Tether | undefined {
    return this.#tethers.get(peerId);
  }

  /** Every open tether. */
  tethers(): Tether[] {
    return [...this.#tethers.values()];
  }

  /** Returns the open tether to `peerId`, or joins the attempt under way, or starts one. */
  async connect(peerId: string): Promise<Tether> {
    if (this.#closed) throw new TetherError("closed", "tether manager closed");
    // Glare can replace our offering attempt by an answering one: follow it (bounded).
    for (let i = 0;; i++) {
      const open = this.#tethers.get(peerId);
      if (open?.open) return open;
      const attempt = this.#attempts.get(peerId) ?? this.#start(peerId, "offerer");
      try {
        return await attempt.promise;
      } catch (e) {
        const next = this.#attempts.get(peerId);
        const replaced = (next && next !== attempt) || this.#tethers.get(peerId)?.open;
        if (!replaced || i >= 3) throw e;
      }
    }
  }

  /** Feeds a signal received from `peerId` (already authenticated by the caller). */
  receive(peerId: string, signal: Signal): void {
    if (this.#closed) return;
    const attempt = this.#attempts.get(peerId);
    if (signal.kind === "offer") {
      if (attempt) {
        if (attempt.session === signal.session) return;
        if (attempt.role === "offerer" && this.#options.localId < peerId) return;
        // Glare lost, or the peer restarted: answer this offer instead.
        this.#retire(peerId, attempt, "superseded by a new offer");
      } else {
        const existing = this.#tethers.get(peerId);
        if (existing && this.#sessions.get(peerId) === signal.session) return;
        if (!existing && this.#options.acceptOffer && !this.#options.acceptOffer(peerId)) return;
        existing?.close("superseded by a new offer");
      }
      this.#start(peerId, "answerer", signal);
      return;
    }
    if (attempt && attempt.session === signal.session) attempt.queue.push(signal);
  }

  /** Closes the tether to `peerId` and any attempt under way. */
  close(peerId: string, reason = "closed by manager"): void {
    const attempt = this.#attempts.get(peerId);
    if (attempt) this.#retire(peerId, attempt, reason);
    this.#tethers.get(peerId)?.close(reason);
    this.#tethers.delete(peerId);
  }

  /** Closes everything; the manager accepts nothing afterwards. */
  closeAll(): void {
    this.#closed = true;
    for (const peerId of [...this.#attempts.keys(), ...this.#tethers.keys()]) this.close(peerId);
  }

  #retire(peerId: string, attempt: Attempt, _reason: string): void {
    attempt.abort.abort();
    attempt.queue.close();
    if (this.#attempts.get(peerId) === attempt) this.#attempts.delete(peerId);
  }

  #start(peerId: string, role: "offerer" | "answerer", offer?: Signal & { kind: "offer" }) {
    const queue = new SignalQueue(64);
    const abort = new AbortController();
    const session = offer?.session ?? crypto.randomUUID();
    const signaler: Signaler = {
      send: (s) => this.#options.sendSignal(peerId, s),
      incoming: queue,
    };
    const attempt: Attempt = { session, role, queue, abort, promise: undefined as never };
    const opening = openTether({
      ...this.#options.tether,
      peerId,
      role,
      signaler,
      session,
      offer,
      signal: abort.signal,
      log: this.#options.log ?? this.#options.tether?.log,
    });
    attempt.promise = opening.then((tether) => {
      queue.close();
      if (this.#attempts.get(peerId) === attempt) this.#attempts.delete(peerId);
      if (abort.signal.aborted || this.#closed) {
        tether.close("attempt superseded");
        throw new TetherError("aborted", "tether attempt superseded");
      }
      this.#tethers.set(peerId, tether);
      this.#sessions.set(peerId, session);
      tether.onClose(() => {
        if (this.#tethers.get(peerId) === tether) {
          this.#tethers.delete(peerId);
          this.#sessions.delete(peerId);
        }
      });
      for (const cb of this.#tetherCbs) {
        try {
          cb(tether);
        } catch (e) {
          this.#options.log?.warn("onTether handler threw", { peer: peerId, error: String(e) });
        }
      }
      return tether;
    }, (e) => {
      queue.close();
      if (this.#attempts.get(peerId) === attempt) this.#attempts.delete(peerId);
      throw e;
    });
    this.#attempts.set(peerId, attempt);
    attempt.promise.catch(() => {});
    return attempt;
  }
}
