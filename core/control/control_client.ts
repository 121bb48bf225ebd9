/**
 * The conflux's control-channel client: a NATS connection authenticated by a Guardian session.
 *
 * It logs in (HTTP), connects with the session JWT and a per-run nkey, and renews the session at
 * ~60 % of its life over HTTP — not over NATS, which an expired JWT can no longer reach — then
 * reconnects NATS with the new JWT. Subscriptions are `ResilientSubscription`s: re-attached to
 * every connection, so `for await` loops keep running across renewals and outages.
 *
 * If no renewal lands before the session ends (Guardian unreachable), the client closes its NATS
 * connection itself just before expiry rather than let nats.js retry with a dead JWT (that retry
 * loop can crash the process with an unhandled ECONNRESET in nats.js 3.4 on Deno), keeps trying
 * the Guardian with backoff, and reconnects when a session arrives. A revoked token gets no new
 * session: the client then closes for good at expiry.
 *
 * Team keys come from the session and from Guardian pushes on `vn.<realm>.c.<id>.teams`; a push
 * is applied only if its Guardian signature verifies and it is newer than what is held.
 *
 * @module
 */

import { connect } from "@nats-io/transport-node";
import { jwtAuthenticator, type Msg, type NatsConnection } from "@nats-io/nats-core";
import { createUser, type KeyPair } from "@nats-io/nkeys";
import type { Logger } from "../log/logger.ts";
import { GuardianApiError, type GuardianClient, type Session } from "./guardian_client.ts";
import { ResilientSubscription } from "./resilient_subscription.ts";
import { teamsSubject } from "./subjects.ts";
import { checkPortalSubnets } from "../wire/portal_subnets.ts";
import { natsTls } from "./nats_tls.ts";
import { openTeamKeys, type TeamKey } from "./team_keys.ts";

export type { Msg } from "@nats-io/nats-core";
export { ResilientSubscription } from "./resilient_subscription.ts";

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

/** Thrown by `request` while the control channel is offline (session lapsed, not yet renewed). */
export class ControlOfflineError extends Error {
  /** Creates the error. */
  constructor() {
    super("control channel offline: waiting for a new Guardian session");
    this.name = "ControlOfflineError";
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

const silent: Logger = { debug() {}, info() {}, warn() {}, error() {} };

/** A conflux's authenticated NATS control channel. */
export class ControlClient {
  readonly #options: ControlClientOptions;
  readonly #nkey: KeyPair;
  readonly #log: Logger;
  readonly #now: () => number;
  #session: Session;
  #subnets: string[] | undefined;
  #nc: NatsConnection | null = null;
  #connecting: Promise<void> | null = null;
  readonly #subs = new Set<ResilientSubscription>();
  #teams: TeamKey[];
  #teamsIssuedAt: number;
  #teamListeners = new Set<(teams: TeamKey[]) => void>();
  #sessionListeners = new Set<(session: Session) => void>();
  #refreshTimer: ReturnType<typeof setTimeout> | undefined;
  #refreshing = false;
  #renewAgain = false;
  #expiryTimer: ReturnType<typeof setTimeout> | undefined;
  #retryTimer: ReturnType<typeof setTimeout> | undefined;
  #stopped = false;
  #revoked = false;
  #failures = 0;
  /** When a renewal was last started because the Master refused our credentials. */
  #refusedAt = -Infinity;
  #resolveClosed!: (reason: ControlClosedError) => void;
  readonly #closed: Promise<ControlClosedError>;

  private constructor(options: ControlClientOptions, nkey: KeyPair, session: Session) {
    this.#options = options;
    this.#nkey = nkey;
    this.#log = options.log ?? silent;
    this.#now = options.now ?? Date.now;
    this.#session = session;
    this.#subnets = options.subnets;
    this.#teams = session.teams;
    this.#teamsIssuedAt = session.teamsIssuedAt;
    this.#closed = new Promise((resolve) => (this.#resolveClosed = resolve));
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
    client.#watchTeams();
    try {
      await client.#connectNats();
    } catch (err) {
      await client.close();
      throw err;
    }
    client.#scheduleRefresh();
    client.#scheduleExpiry();
    return client;
  }

  async #connectNats(): Promise<void> {
    const session = this.#session;
    const servers = this.#options.natsServers ?? session.natsUrls;
    const nc = await connect({
      servers,
      name: session.confluxId,
      inboxPrefix: session.inboxPrefix,
      // Read on every (re)connect, so a renewed JWT is used at once.
      authenticator: jwtAuthenticator(() => this.#session.natsJwt, () => this.#nkey.getSeed()),
      maxReconnectAttempts: -1,
      reconnectTimeWait: 250,
      ...natsTls(servers, this.#options.guardian.caCerts),
    });
    if (this.#stopped) {
      await nc.close().catch(() => {});
      return;
    }
    this.#nc = nc;
    for (const sub of this.#subs) sub.attach(nc);
    this.#watchStatus(nc);
    nc.closed().then((err) => {
      // nats.js gave up on its own (e.g. repeated auth errors): go offline until renewed.
      if (this.#nc !== nc || this.#stopped) return;
      this.#log.warn("control channel closed by NATS", { error: err ? err.message : null });
      this.#goOffline();
      if (err && isCredentialRefusal(err.message)) this.#credentialsRefused();
      else if (this.#session.expiresAt - this.#now() > this.#margin()) this.#reconnectSoon();
    });
  }

  /** How long before expiry the connection is closed if no renewal came. */
  #margin(): number {
    const life = this.#session.expiresAt - this.#now();
    return Math.min(2_000, Math.max(100, life * 0.1));
  }

  #goOffline(): void {
    const nc = this.#nc;
    this.#nc = null;
    for (const sub of this.#subs) sub.detach();
    if (nc && !nc.isClosed()) nc.close().catch(() => {});
  }

  /**
   * The Master refused our credentials (the Guardian revoked this conflux, or the JWT is no
   * longer accepted): stop nats.js from retrying them, and ask the Guardian at once, which either
   * renews the session or says the conflux is revoked (then the client closes). At most one such
   * renewal per 5 s, so a Master that keeps refusing fresh credentials is not a busy loop.
   */
  #credentialsRefused(): void {
    if (this.#stopped) return;
    this.#goOffline();
    if (this.#refreshing) return;
    const wait = Math.max(0, this.#refusedAt + 5_000 - this.#now());
    this.#refusedAt = this.#now() + wait;
    this.#scheduleRefresh(wait);
  }

  #reconnectSoon(): void {
    if (this.#stopped || this.#nc || this.#connecting) return;
    this.#connecting = (async () => {
      try {
        await this.#connectNats();
        this.#log.info("control channel back online");
      } catch (err) {
        const message = (err as Error).message;
        this.#log.warn("control channel connect failed", { error: message });
        if (isCredentialRefusal(message)) this.#credentialsRefused();
        else this.#retryTimer = setTimeout(() => this.#reconnectSoon(), 1_000);
      } finally {
        this.#connecting = null;
      }
    })();
  }

  #watchStatus(nc: NatsConnection): void {
    (async () => {
      for await (const s of nc.status()) {
        if (s.type === "disconnect") this.#log.info("control channel disconnected");
        else if (s.type === "reconnect") this.#log.info("control channel reconnected");
        else if (s.type === "error") {
          this.#log.warn("control channel error", { error: s.error.message });
          if (this.#nc === nc && isCredentialRefusal(s.error.message)) this.#credentialsRefused();
        }
      }
    })().catch(() => {});
  }

  #watchTeams(): void {
    const { realmId, confluxId } = this.#session;
    const sub = this.subscribe(teamsSubject(realmId, confluxId));
    (async () => {
      for await (const msg of sub) {
        const update = openTeamKeys(msg.data, this.#session.guardianPublicKey, {
          confluxId,
          realmId,
        });
        if (!update) {
          this.#log.warn("dropped team-key update: bad signature or not for us");
          continue;
        }
        if (update.issuedAt <= this.#teamsIssuedAt) {
          this.#log.debug("dropped stale team-key update", { issued_at: update.issuedAt });
          continue;
        }
        this.#applyTeams(update.teams, update.issuedAt);
        // What our certificate may state changed (portal networks approved or denied): log in
        // again now, so the new certificate reaches us (and, announced, our teammates) at once.
        if (update.renewSession) this.#renewSoon();
      }
    })().catch((err) => {
      if (!this.#stopped) this.#log.error("team-key subscription ended", { error: err.message });
    });
  }

  #applyTeams(teams: TeamKey[], issuedAt: number): void {
    this.#teams = teams;
    this.#teamsIssuedAt = issuedAt;
    this.#log.info("team keys updated", { teams: teams.length });
    for (const cb of this.#teamListeners) {
      try {
        cb(teams);
      } catch (err) {
        this.#log.error("team listener failed", { error: (err as Error).message });
      }
    }
  }

  /** Renews the session as soon as possible (once more after a renewal already under way). */
  #renewSoon(): void {
    if (this.#stopped) return;
    if (this.#refreshing) this.#renewAgain = true;
    else this.#scheduleRefresh(0);
  }

  #scheduleRefresh(delayMs?: number): void {
    if (this.#stopped) return;
    clearTimeout(this.#refreshTimer);
    const fraction = this.#options.refreshFraction ?? 0.6;
    const remaining = this.#session.expiresAt - this.#now();
    const delay = delayMs ?? Math.max(100, remaining * fraction);
    this.#refreshTimer = setTimeout(() => this.#refresh(), delay);
  }

  /** Arms the guard that takes the connection down just before an unrenewed session ends. */
  #scheduleExpiry(): void {
    if (this.#stopped) return;
    clearTimeout(this.#expiryTimer);
    const expiresAt = this.#session.expiresAt;
    const delay = Math.max(0, expiresAt - this.#margin() - this.#now());
    this.#expiryTimer = setTimeout(() => {
      if (this.#stopped || this.#session.expiresAt !== expiresAt) return;
      if (this.#revoked) {
        this.#shutdown(new ControlClosedError("revoked", "conflux token revoked")).catch(() => {});
        return;
      }
      this.#log.warn("session expiring without renewal; control channel offline until renewed");
      this.#goOffline();
    }, delay);
  }

  async #refresh(): Promise<void> {
    this.#refreshing = true;
    try {
      await this.#renew();
    } finally {
      this.#refreshing = false;
    }
    if (this.#renewAgain && !this.#stopped) {
      this.#renewAgain = false;
      this.#scheduleRefresh(0);
    }
  }

  async #renew(): Promise<void> {
    this.#refreshTimer = undefined;
    if (this.#stopped) return;
    let session: Session;
    try {
      session = await this.#options.guardian.sessionLogin({
        token: this.#options.confluxToken,
        mldsaPublicKey: this.#options.mldsaPublicKey,
        nkey: this.#nkey.getPublicKey(),
        portal: this.#options.portal,
        subnets: this.#subnets,
      });
    } catch (err) {
      if (this.#stopped) return;
      const status = err instanceof GuardianApiError ? err.status : 0;
      if (status === 401 || status === 403 || status === 404) {
        // Revoked: no new session. The expiry guard closes the client when this one ends.
        this.#revoked = true;
        this.#log.warn("session renewal refused; closing at expiry", { status });
        if (this.#session.expiresAt <= this.#now() || !this.#nc) {
          await this.#shutdown(new ControlClosedError("revoked", "conflux token revoked"));
        }
        return;
      }
      // Transient (Guardian down, rate limited): retry, more often as expiry nears; once the
      // session has expired, back off exponentially up to 30 s.
      const left = this.#session.expiresAt - this.#now();
      if (left <= 0) this.#failures++;
      const retry = left > 0
        ? Math.min(5_000, Math.max(250, left / 4))
        : Math.min(30_000, 500 * 2 ** Math.min(this.#failures, 6));
      this.#log.warn("session renewal failed; retrying", { status, retry_ms: Math.round(retry) });
      this.#scheduleRefresh(retry);
      return;
    }
    if (this.#stopped) return;
    this.#failures = 0;
    this.#session = session;
    if (session.teamsIssuedAt > this.#teamsIssuedAt) {
      const changed = !sameTeams(session.teams, this.#teams);
      this.#teamsIssuedAt = session.teamsIssuedAt;
      if (changed) this.#applyTeams(session.teams, session.teamsIssuedAt);
    }
    for (const cb of this.#sessionListeners) {
      try {
        cb(session);
      } catch (err) {
        this.#log.error("session listener failed", { error: (err as Error).message });
      }
    }
    this.#scheduleRefresh();
    this.#scheduleExpiry();
    if (this.#nc) {
      // Re-authenticates with the new JWT; the server keeps no state, subscriptions come back.
      await this.#nc.reconnect().catch((err) => {
        this.#log.warn("reconnect after renewal failed", { error: (err as Error).message });
      });
    } else {
      this.#reconnectSoon();
    }
  }

  /** The latest session (certificate, overlay IP, team keys, expiry…). */
  get session(): Session {
    return this.#session;
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
    const problem = checkPortalSubnets(subnets, this.#session.realmSubnet);
    if (problem !== null) throw new RangeError(`subnets: ${problem}`);
    this.#subnets = [...subnets];
    if (!options.renewNow || this.#stopped) return;
    // A renewal already under way carries the old list: renew once more when it is done.
    if (this.#refreshing) this.#renewAgain = true;
    else this.#scheduleRefresh(0);
  }

  /** The team keys currently held. */
  get teams(): TeamKey[] {
    return this.#teams;
  }

  /** True once the Guardian refused to renew the session. */
  get revoked(): boolean {
    return this.#revoked;
  }

  /** True while a NATS connection is up (false during an outage or after close). */
  get online(): boolean {
    return this.#nc !== null && !this.#nc.isClosed();
  }

  /** Calls `cb` with the new team keys whenever they change; returns an unsubscribe function. */
  onTeams(cb: (teams: TeamKey[]) => void): () => void {
    this.#teamListeners.add(cb);
    return () => this.#teamListeners.delete(cb);
  }

  /** Calls `cb` after every session renewal (new certificate and expiry). */
  onSession(cb: (session: Session) => void): () => void {
    this.#sessionListeners.add(cb);
    return () => this.#sessionListeners.delete(cb);
  }

  #live(): void {
    if (this.#stopped) throw new ControlClosedError("closed", "control client is closed");
  }

  /**
   * Publishes `data` on `subject`: fire and forget, as core NATS is. While the channel is
   * offline the message is dropped. Throws ControlClosedError after close.
   */
  publish(subject: string, data: Uint8Array): void {
    this.#live();
    if (!this.#nc) {
      this.#log.debug("control channel offline; message dropped", { subject });
      return;
    }
    this.#nc.publish(subject, data);
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
    if (!this.#nc) return Promise.reject(new ControlOfflineError());
    return this.#nc.request(subject, data, { timeout: timeoutMs });
  }

  /**
   * Subscribes to `subject`; iterate with `for await`. The subscription survives renewals and
   * outages and ends on `unsubscribe()`, on `close()`, or — with an error thrown by the loop —
   * when the server refuses the subject (outside this conflux's permissions).
   */
  subscribe(subject: string): ResilientSubscription {
    this.#live();
    const sub = new ResilientSubscription(subject, (s) => this.#subs.delete(s));
    this.#subs.add(sub);
    if (this.#nc) sub.attach(this.#nc);
    return sub;
  }

  /** Waits until everything published so far reached the server (no-op while offline). */
  async flush(): Promise<void> {
    this.#live();
    if (this.#nc) await this.#nc.flush();
  }

  /** Resolves when the client stops for good, with the reason. */
  closed(): Promise<ControlClosedError> {
    return this.#closed;
  }

  /** Stops renewing, ends every subscription and closes the NATS connection. */
  close(): Promise<void> {
    return this.#shutdown(new ControlClosedError("closed", "closed by caller"));
  }

  async #shutdown(reason: ControlClosedError): Promise<void> {
    if (this.#stopped) return;
    this.#stopped = true;
    clearTimeout(this.#refreshTimer);
    clearTimeout(this.#expiryTimer);
    clearTimeout(this.#retryTimer);
    for (const sub of [...this.#subs]) sub.end();
    const nc = this.#nc;
    this.#nc = null;
    if (this.#connecting) await this.#connecting.catch(() => {});
    if (nc) await nc.close().catch(() => {});
    this.#resolveClosed(reason);
  }
}

function sameTeams(a: TeamKey[], b: TeamKey[]): boolean {
  if (a.length !== b.length) return false;
  return a.every((t, i) => t.teamId === b[i].teamId && t.version === b[i].version);
}

/** Errors of the Master that mean "these credentials are no longer good" (not a network fault). */
function isCredentialRefusal(message: string): boolean {
  return /authentication revoked|authorization violation|authentication expired/i.test(message);
}
