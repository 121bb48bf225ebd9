/**
 * NatsLink: the NATS connection of a control client, through outages and renewals. It connects
 * with the current session's JWT (read on every reconnect, so a renewed one is used at once),
 * re-attaches every ResilientSubscription to each new connection, goes offline on request (a
 * session about to lapse), reconnects after a failure, and tells its owner when the Master
 * refuses the credentials instead of letting nats.js retry them.
 *
 * @module
 */
import { connect } from "@nats-io/transport-node";
import { jwtAuthenticator, type Msg, type NatsConnection } from "@nats-io/nats-core";
import type { KeyPair } from "@nats-io/nkeys";
import type { Logger } from "../log/logger.ts";
import type { Session } from "./guardian_client.ts";
import { natsTls } from "./nats_tls.ts";
import { ResilientSubscription, type SubscriptionLimits } from "./resilient_subscription.ts";

/**
 * Bounds of the team-key subject (`vn.<realm>.c.<id>.teams`): any realm member may publish
 * there, and every push costs an ML-DSA check. The Guardian pushes a few a minute at most; a
 * flood is dropped before the queue (a lost push is made good by the next session renewal).
 */
export const TEAM_KEY_LIMITS: SubscriptionLimits = {
  maxMessages: 16,
  maxBytes: 1024 * 1024,
  maxMessageBytes: 64 * 1024,
  ratePerSecond: 10,
};

/** The queue bounds a subscription to `subject` gets (team-key subjects: TEAM_KEY_LIMITS). */
export function limitsFor(subject: string): SubscriptionLimits {
  return /\.c\.[A-Za-z0-9_-]+\.teams$/.test(subject) ? TEAM_KEY_LIMITS : {};
}

/** Thrown by `request` while the control channel is offline (session lapsed, not yet renewed). */
export class ControlOfflineError extends Error {
  /** Creates the error. */
  constructor() {
    super("control channel offline: waiting for a new Guardian session");
    this.name = "ControlOfflineError";
  }
}

/** A NATS connection's state: up, lost and being retried by nats.js, or none held. */
export type LinkState = "connected" | "reconnecting" | "offline";

/** What a NatsLink needs. */
export interface NatsLinkOptions {
  /** This run's nkey (its public half is in the session JWT). */
  nkey: KeyPair;
  /** The current session (servers, JWT, inbox prefix). */
  session: () => Session;
  /** NATS URLs to use instead of the session's. */
  servers?: string[];
  /** PEM CA certificates for TLS to the servers. */
  caCerts: readonly string[];
  /** Whether a reconnect makes sense now (false when the session is about to end). */
  mayReconnect: () => boolean;
  /** The Master refused our credentials: the owner renews the session. */
  onRefused: () => void;
  log: Logger;
}

/** One control client's NATS connection. */
export class NatsLink {
  readonly #o: NatsLinkOptions;
  #nc: NatsConnection | null = null;
  #connecting: Promise<void> | null = null;
  readonly #subs = new Set<ResilientSubscription>();
  #retryTimer: ReturnType<typeof setTimeout> | undefined;
  #stopped = false;
  #state: LinkState = "offline";
  #since = Date.now();

  constructor(options: NatsLinkOptions) {
    this.#o = options;
  }

  /** Where the connection is, and since when (ms since the epoch). */
  get state(): { state: LinkState; since: number } {
    return { state: this.#state, since: this.#since };
  }

  #set(state: LinkState): void {
    if (state === this.#state) return;
    this.#state = state;
    this.#since = Date.now();
  }

  /** True while a NATS connection is up. */
  get online(): boolean {
    return this.#nc !== null && !this.#nc.isClosed();
  }

  /** True while a connection object is held (it may be reconnecting). */
  get connected(): boolean {
    return this.#nc !== null;
  }

  /** Connects; throws the NATS error when no server accepts the JWT. */
  async connect(): Promise<void> {
    const session = this.#o.session();
    const servers = this.#o.servers ?? session.natsUrls;
    const nc = await connect({
      servers,
      name: session.confluxId,
      inboxPrefix: session.inboxPrefix,
      // Read on every (re)connect, so a renewed JWT is used at once.
      authenticator: jwtAuthenticator(
        () => this.#o.session().natsJwt,
        () => this.#o.nkey.getSeed(),
      ),
      maxReconnectAttempts: -1,
      reconnectTimeWait: 250,
      ...natsTls(servers, this.#o.caCerts),
    });
    if (this.#stopped) {
      await nc.close().catch(() => {});
      return;
    }
    this.#nc = nc;
    this.#set("connected");
    for (const sub of this.#subs) sub.attach(nc);
    this.#watchStatus(nc);
    nc.closed().then((err) => {
      // nats.js gave up on its own (e.g. repeated auth errors): go offline until renewed.
      if (this.#nc !== nc || this.#stopped) return;
      this.#o.log.warn("control channel closed by NATS", { error: err ? err.message : null });
      this.goOffline();
      if (err && isCredentialRefusal(err.message)) this.#o.onRefused();
      else if (this.#o.mayReconnect()) this.reconnectSoon();
    });
  }

  /** Drops the connection; subscriptions wait for the next one. */
  goOffline(): void {
    const nc = this.#nc;
    this.#nc = null;
    this.#set("offline");
    for (const sub of this.#subs) sub.detach();
    if (nc && !nc.isClosed()) nc.close().catch(() => {});
  }

  /** Connects again unless a connection is held or being made; retries every second. */
  reconnectSoon(): void {
    if (this.#stopped || this.#nc || this.#connecting) return;
    this.#connecting = (async () => {
      try {
        await this.connect();
        this.#o.log.info("control channel back online");
      } catch (err) {
        const message = (err as Error).message;
        this.#o.log.warn("control channel connect failed", { error: message });
        if (isCredentialRefusal(message)) this.#o.onRefused();
        else this.#retryTimer = setTimeout(() => this.reconnectSoon(), 1_000);
      } finally {
        this.#connecting = null;
      }
    })();
  }

  /** A renewed session: re-authenticate now (the server keeps no state; subscriptions return). */
  async renewed(): Promise<void> {
    if (!this.#nc) return this.reconnectSoon();
    await this.#nc.reconnect().catch((err) => {
      this.#o.log.warn("reconnect after renewal failed", { error: (err as Error).message });
    });
  }

  /** Publishes, or drops the message while offline. */
  publish(subject: string, data: Uint8Array): void {
    if (!this.#nc) {
      this.#o.log.debug("control channel offline; message dropped", { subject });
      return;
    }
    this.#nc.publish(subject, data);
  }

  /** A request; rejects with ControlOfflineError while offline. */
  request(subject: string, data: Uint8Array, timeoutMs: number): Promise<Msg> {
    if (!this.#nc) return Promise.reject(new ControlOfflineError());
    return this.#nc.request(subject, data, { timeout: timeoutMs });
  }

  /**
   * A request whose replies (all of them, for `timeoutMs`) are yielded as they come; the caller
   * may stop early. Rejects with ControlOfflineError while offline.
   */
  async *requestMany(subject: string, data: Uint8Array, timeoutMs: number): AsyncIterable<Msg> {
    if (!this.#nc) throw new ControlOfflineError();
    const replies = await this.#nc.requestMany(subject, data, {
      strategy: "timer",
      maxWait: timeoutMs,
    });
    for await (const m of replies) yield m;
  }

  /**
   * A subscription that follows every connection; its queue is bounded in messages and bytes
   * (and, for the team-key subject, in rate and message size: {@link limitsFor}).
   */
  subscribe(
    subject: string,
    limits: SubscriptionLimits = limitsFor(subject),
  ): ResilientSubscription {
    const sub = new ResilientSubscription(subject, (s) => this.#subs.delete(s), limits);
    this.#subs.add(sub);
    if (this.#nc) sub.attach(this.#nc);
    return sub;
  }

  /** Waits until everything published so far reached the server (no-op while offline). */
  async flush(): Promise<void> {
    if (this.#nc) await this.#nc.flush();
  }

  /** Ends every subscription and closes the connection for good. */
  async close(): Promise<void> {
    this.#stopped = true;
    this.#set("offline");
    clearTimeout(this.#retryTimer);
    for (const sub of [...this.#subs]) sub.end();
    const nc = this.#nc;
    this.#nc = null;
    if (this.#connecting) await this.#connecting.catch(() => {});
    if (nc) await nc.close().catch(() => {});
  }

  #watchStatus(nc: NatsConnection): void {
    (async () => {
      for await (const s of nc.status()) {
        if (s.type === "disconnect") {
          this.#o.log.info("control channel disconnected");
          if (this.#nc === nc) this.#set("reconnecting");
        } else if (s.type === "reconnect") {
          this.#o.log.info("control channel reconnected");
          if (this.#nc === nc) this.#set("connected");
        } else if (s.type === "error") {
          this.#o.log.warn("control channel error", { error: s.error.message });
          if (this.#nc === nc && isCredentialRefusal(s.error.message)) this.#o.onRefused();
        }
      }
    })().catch(() => {});
  }
}

/** Errors of the Master that mean "these credentials are no longer good" (not a network fault). */
function isCredentialRefusal(message: string): boolean {
  return /authentication revoked|authorization violation|authentication expired/i.test(message);
}
