/**
 * The conflux's control-channel client: a NATS connection authenticated by a Guardian session.
 * It logs in (HTTP), connects with the session JWT and a per-run nkey, and keeps three things
 * going, each in its own file: the session's renewal (session_renewal.ts: renew at ~60 % of its
 * life, go offline just before an unrenewed session ends, close when revoked), the NATS
 * connection through outages and renewals (nats_link.ts: subscriptions are ResilientSubscriptions
 * re-attached to every connection, so `for await` loops keep running), and the team keys
 * (team_key_feed.ts: from the session and from signed Guardian pushes).
 *
 * @module
 */

import { createUser } from "@nats-io/nkeys";
import type { Msg } from "@nats-io/nats-core";
import type { Logger } from "../log/logger.ts";
import type { GuardianClient, Session } from "./guardian_client.ts";
import { NatsLink } from "./nats_link.ts";
import type { ResilientSubscription } from "./resilient_subscription.ts";
import { SessionRenewal } from "./session_renewal.ts";
import { teamsSubject } from "./subjects.ts";
import { checkPortalSubnets } from "../wire/portal_subnets.ts";
import { TeamKeyFeed } from "./team_key_feed.ts";
import type { TeamKey } from "./team_keys.ts";

export type { Msg } from "@nats-io/nats-core";
export { ResilientSubscription } from "./resilient_subscription.ts";
export { ControlOfflineError } from "./nats_link.ts";

/** Why a ControlClient stopped for good. */
export class ControlClosedError extends Error {
  /** "revoked": the Guardian refused a new session; "closed": close() was called. */
  readonly reason: "revoked" | "closed";
  /** Creates the error. */
  constructor(reason: "revoked" | "closed", message: string) {
    super(message);
    this.name = "ControlClosedError";
    this.reason = reason;
  }
}

/** Options of {@link ControlClient.connect}. */
export interface ControlClientOptions {
  /** Guardian to log in at. */
  guardian: GuardianClient;
  /** Long-lived conflux token. */
  confluxToken: string;
  /** This run's ML-DSA-65 public key (goes into the certificate). */
  mldsaPublicKey: Uint8Array;
  /** Portal mode (stated in the certificate). */
  portal?: boolean;
  /**
   * IPv4 networks this portal serves (stated in the certificate); only with `portal`. Change them
   * for later sessions with {@link ControlClient.setSubnets}.
   */
  subnets?: string[];
  /** Logger; default silent. */
  log?: Logger;
  /** Fraction of the session life after which to renew; default 0.6. */
  refreshFraction?: number;
  /** Clock; default Date.now. */
  now?: () => number;
  /** NATS URLs to use instead of the session's (e.g. the nearest cluster of a super cluster). */
  natsServers?: string[];
}

/** The control channel's state in `info` (times in ms since the epoch). */
export interface ControlStatus {
  /** connected, reconnecting (nats.js retries), offline (no session / lapsed), revoked, closed. */
  state: "connected" | "reconnecting" | "offline" | "revoked" | "closed";
  /** When it entered that state. */
  since: number;
  session_expires_at: number;
  /** When the Guardian last handed out a session. */
  last_guardian_contact_at: number;
  /** Why the last renewal failed, if it did. */
  last_renewal_error?: string;
  /** The Guardian refused to renew: the channel closes at expiry. */
  revoked?: boolean;
}

const silent: Logger = { debug() {}, info() {}, warn() {}, error() {} };

/** A conflux's authenticated NATS control channel. */
export class ControlClient {
  readonly #options: ControlClientOptions;
  readonly #log: Logger;
  readonly #renewal: SessionRenewal;
  readonly #link: NatsLink;
  readonly #teams: TeamKeyFeed;
  #subnets: string[] | undefined;
  #sessionListeners = new Set<(session: Session) => void>();
  #stopped = false;
  #resolveClosed!: (reason: ControlClosedError) => void;
  readonly #closed: Promise<ControlClosedError>;

  private constructor(
    options: ControlClientOptions,
    nkey: ReturnType<typeof createUser>,
    session: Session,
  ) {
    this.#options = options;
    const log = this.#log = options.log ?? silent;
    const now = options.now ?? Date.now;
    this.#subnets = options.subnets;
    this.#closed = new Promise((resolve) => (this.#resolveClosed = resolve));
    this.#teams = new TeamKeyFeed(session, log);
    this.#renewal = new SessionRenewal(session, {
      login: () =>
        options.guardian.sessionLogin({
          token: options.confluxToken,
          mldsaPublicKey: options.mldsaPublicKey,
          nkey: nkey.getPublicKey(),
          portal: options.portal,
          subnets: this.#subnets,
        }),
      refreshFraction: options.refreshFraction ?? 0.6,
      now,
      log,
      onRenewed: (s) => this.#renewed(s),
      onLapsing: () => this.#link.goOffline(),
      onRevoked: () => {
        this.#shutdown(new ControlClosedError("revoked", "conflux token revoked")).catch(() => {});
      },
      online: () => this.#link.connected,
    });
    this.#link = new NatsLink({
      nkey,
      session: () => this.#renewal.session,
      servers: options.natsServers,
      caCerts: options.guardian.caCerts,
      mayReconnect: () => this.#renewal.hasTime(),
      onRefused: () => {
        if (this.#stopped) return;
        this.#link.goOffline();
        this.#renewal.credentialsRefused();
      },
      log,
    });
  }

  /**
   * Logs in at the Guardian and connects to NATS. Throws GuardianApiError when the login is
   * refused (e.g. 401 for a revoked token) and the NATS error when no server accepts the JWT.
   */
  static async connect(options: ControlClientOptions): Promise<ControlClient> {
    const fraction = options.refreshFraction ?? 0.6;
    if (!(fraction > 0 && fraction < 1)) throw new RangeError("refreshFraction must be in (0, 1)");
    const nkey = createUser();
    const session = await options.guardian.sessionLogin({
      token: options.confluxToken,
      mldsaPublicKey: options.mldsaPublicKey,
      nkey: nkey.getPublicKey(),
      portal: options.portal,
      subnets: options.subnets,
    });
    const client = new ControlClient(options, nkey, session);
    client.#followTeams();
    try {
      await client.#link.connect();
    } catch (err) {
      await client.close();
      throw err;
    }
    client.#renewal.start();
    return client;
  }

  /** The latest session (certificate, overlay IP, team keys, expiry…). */
  get session(): Session {
    return this.#renewal.session;
  }

  /**
   * Sets the IPv4 networks this portal serves from the next session renewal on (the current
   * certificate keeps stating the old ones until then). Throws RangeError, changing nothing, when
   * the client is not a portal and `subnets` is not empty, or when the Guardian would refuse the
   * list (checkPortalSubnets against the realm subnet) — a refused renewal would otherwise be
   * retried until the session lapses. With `renewNow`, the session is renewed at once, so that
   * the new certificate (and what the portal announces) follows the host's networks.
   */
  setSubnets(subnets: string[], options: { renewNow?: boolean } = {}): void {
    if (subnets.length > 0 && this.#options.portal !== true) {
      throw new RangeError("subnets: only a portal serves subnets");
    }
    const problem = checkPortalSubnets(subnets, this.session.realmSubnet);
    if (problem !== null) throw new RangeError(`subnets: ${problem}`);
    this.#subnets = [...subnets];
    // A renewal already under way carries the old list: renew once more when it is done.
    if (options.renewNow && !this.#stopped) this.#renewal.renewSoon();
  }

  /** The team keys currently held. */
  get teams(): TeamKey[] {
    return this.#teams.teams;
  }

  /** True once the Guardian refused to renew the session. */
  get revoked(): boolean {
    return this.#renewal.revoked;
  }

  /**
   * The control channel as `info` shows it: connection state and since when, session expiry,
   * the Guardian's last answer and the last renewal error.
   */
  status(): ControlStatus {
    const link = this.#link.state;
    const contact = this.#renewal.contact;
    const state = this.#stopped ? (this.#renewal.revoked ? "revoked" : "closed") : link.state;
    return {
      state,
      since: link.since,
      session_expires_at: this.session.expiresAt,
      last_guardian_contact_at: contact.at,
      ...(contact.error ? { last_renewal_error: contact.error } : {}),
      ...(this.#renewal.revoked ? { revoked: true } : {}),
    };
  }

  /** True while a NATS connection is up (false during an outage or after close). */
  get online(): boolean {
    return this.#link.online;
  }

  /** Calls `cb` with the new team keys whenever they change; returns an unsubscribe function. */
  onTeams(cb: (teams: TeamKey[]) => void): () => void {
    return this.#teams.onChange(cb);
  }

  /** Calls `cb` after every session renewal (new certificate and expiry). */
  onSession(cb: (session: Session) => void): () => void {
    this.#sessionListeners.add(cb);
    return () => this.#sessionListeners.delete(cb);
  }

  /**
   * Publishes `data` on `subject`: fire and forget, as core NATS is. While the channel is
   * offline the message is dropped. Throws ControlClosedError after close.
   */
  publish(subject: string, data: Uint8Array): void {
    this.#live();
    this.#link.publish(subject, data);
  }

  /**
   * Sends a request and waits up to `timeoutMs` for one reply. Rejects on timeout, when nobody
   * listens, with ControlOfflineError while offline, and with ControlClosedError after close.
   */
  request(subject: string, data: Uint8Array, timeoutMs: number): Promise<Msg> {
    try {
      this.#live();
    } catch (err) {
      return Promise.reject(err);
    }
    return this.#link.request(subject, data, timeoutMs);
  }

  /**
   * Sends a request and yields every reply that arrives within `timeoutMs` (the caller may stop
   * early). Throws ControlOfflineError while offline and ControlClosedError after close.
   */
  requestMany(subject: string, data: Uint8Array, timeoutMs: number): AsyncIterable<Msg> {
    this.#live();
    return this.#link.requestMany(subject, data, timeoutMs);
  }

  /**
   * Subscribes to `subject`; iterate with `for await`. The subscription survives renewals and
   * outages and ends on `unsubscribe()`, on `close()`, or — with an error thrown by the loop —
   * when the server refuses the subject (outside this conflux's permissions).
   */
  subscribe(subject: string): ResilientSubscription {
    this.#live();
    return this.#link.subscribe(subject);
  }

  /** Waits until everything published so far reached the server (no-op while offline). */
  async flush(): Promise<void> {
    this.#live();
    await this.#link.flush();
  }

  /** Resolves when the client stops for good, with the reason. */
  closed(): Promise<ControlClosedError> {
    return this.#closed;
  }

  /** Stops renewing, ends every subscription and closes the NATS connection. */
  close(): Promise<void> {
    return this.#shutdown(new ControlClosedError("closed", "closed by caller"));
  }

  #live(): void {
    if (this.#stopped) throw new ControlClosedError("closed", "control client is closed");
  }

  /** Team-key pushes; one that asks for it makes us log in again now (new certificate). */
  #followTeams(): void {
    const { realmId, confluxId } = this.session;
    const sub = this.subscribe(teamsSubject(realmId, confluxId));
    this.#teams.follow(sub, () => this.session, () => this.#renewal.renewSoon()).catch((err) => {
      if (!this.#stopped) this.#log.error("team-key subscription ended", { error: err.message });
    });
  }

  async #renewed(session: Session): Promise<void> {
    this.#teams.fromSession(session);
    for (const cb of this.#sessionListeners) {
      try {
        cb(session);
      } catch (err) {
        this.#log.error("session listener failed", { error: (err as Error).message });
      }
    }
    await this.#link.renewed();
  }

  async #shutdown(reason: ControlClosedError): Promise<void> {
    if (this.#stopped) return;
    this.#stopped = true;
    this.#renewal.stop();
    await this.#link.close();
    this.#resolveClosed(reason);
  }
}
