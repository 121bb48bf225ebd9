/**
 * The conflux's control-channel client: a NATS connection authenticated by a Guardian session.
 *
 * It logs in (HTTP), connects with the session JWT and a per-run nkey, and renews the session at
 * ~60 % of its life over HTTP — not over NATS, which an expired JWT can no longer reach — then
 * reconnects NATS with the new JWT; nats.js re-subscribes every subscription on reconnect, so
 * `for await` loops keep running. A revoked token gets no new session: the client then closes
 * when the current session expires (the server would drop it anyway).
 *
 * Team keys come from the session and from Guardian pushes on `vn.<realm>.c.<id>.teams`; a push
 * is applied only if its Guardian signature verifies and it is newer than what is held.
 *
 * @module
 */

import { connect } from "@nats-io/transport-node";
import {
  jwtAuthenticator,
  type Msg,
  type NatsConnection,
  type Subscription,
} from "@nats-io/nats-core";
import { createUser, type KeyPair } from "@nats-io/nkeys";
import type { Logger } from "../log/logger.ts";
import { GuardianApiError, type GuardianClient, type Session } from "./guardian_client.ts";
import { teamsSubject } from "./subjects.ts";
import { openTeamKeys, type TeamKey } from "./team_keys.ts";

export type { Msg, Subscription } from "@nats-io/nats-core";

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
  #nc: NatsConnection | null = null;
  #teams: TeamKey[];
  #teamsIssuedAt: number;
  #teamListeners = new Set<(teams: TeamKey[]) => void>();
  #sessionListeners = new Set<(session: Session) => void>();
  #timer: ReturnType<typeof setTimeout> | undefined;
  #stopped = false;
  #revoked = false;
  #resolveClosed!: (reason: ControlClosedError) => void;
  readonly #closed: Promise<ControlClosedError>;

  private constructor(options: ControlClientOptions, nkey: KeyPair, session: Session) {
    this.#options = options;
    this.#nkey = nkey;
    this.#log = options.log ?? silent;
    this.#now = options.now ?? Date.now;
    this.#session = session;
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
    });
    const client = new ControlClient(options, nkey, session);
    await client.#connectNats();
    client.#schedule();
    return client;
  }

  async #connectNats(): Promise<void> {
    const session = this.#session;
    const nc = await connect({
      servers: this.#options.natsServers ?? session.natsUrls,
      name: session.confluxId,
      inboxPrefix: session.inboxPrefix,
      // Read on every (re)connect, so a refreshed JWT is used at once.
      authenticator: jwtAuthenticator(() => this.#session.natsJwt, () => this.#nkey.getSeed()),
      maxReconnectAttempts: -1,
      reconnectTimeWait: 250,
      // An expired JWT is refused until the refresh lands; keep trying instead of giving up.
      ignoreAuthErrorAbort: true,
    });
    this.#nc = nc;
    this.#watchStatus(nc);
    this.#watchTeams(nc);
  }

  #watchStatus(nc: NatsConnection): void {
    (async () => {
      for await (const s of nc.status()) {
        if (s.type === "disconnect") this.#log.info("control channel disconnected");
        else if (s.type === "reconnect") this.#log.info("control channel reconnected");
        else if (s.type === "error") {
          this.#log.warn("control channel error", { error: s.error.message });
        }
      }
    })().catch(() => {});
  }

  #watchTeams(nc: NatsConnection): void {
    const { realmId, confluxId } = this.#session;
    const sub = nc.subscribe(teamsSubject(realmId, confluxId));
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
      }
    })().catch(() => {});
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

  #schedule(delayMs?: number): void {
    if (this.#stopped) return;
    const fraction = this.#options.refreshFraction ?? 0.6;
    const remaining = this.#session.expiresAt - this.#now();
    const delay = delayMs ?? Math.max(100, remaining * fraction);
    this.#timer = setTimeout(() => this.#refresh(), delay);
  }

  async #refresh(): Promise<void> {
    this.#timer = undefined;
    if (this.#stopped) return;
    let session: Session;
    try {
      session = await this.#options.guardian.sessionLogin({
        token: this.#options.confluxToken,
        mldsaPublicKey: this.#options.mldsaPublicKey,
        nkey: this.#nkey.getPublicKey(),
        portal: this.#options.portal,
      });
    } catch (err) {
      if (this.#stopped) return;
      const status = err instanceof GuardianApiError ? err.status : 0;
      if (status === 401 || status === 403 || status === 404) {
        // Revoked: no new session. Leave when this one ends; the server drops us then anyway.
        this.#revoked = true;
        this.#log.warn("session refresh refused; closing at expiry", { status });
        const left = Math.max(0, this.#session.expiresAt - this.#now());
        this.#timer = setTimeout(() => {
          this.#shutdown(new ControlClosedError("revoked", "conflux token revoked")).catch(
            () => {},
          );
        }, left);
        return;
      }
      // Transient (Guardian down, rate limited): retry, more often as expiry nears.
      const left = this.#session.expiresAt - this.#now();
      const retry = Math.min(5_000, Math.max(250, left / 4));
      this.#log.warn("session refresh failed; retrying", { status, retry_ms: Math.round(retry) });
      this.#schedule(retry);
      return;
    }
    if (this.#stopped) return;
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
    this.#schedule();
    try {
      // Re-authenticates with the new JWT; subscriptions are restored by the client.
      await this.#nc?.reconnect();
    } catch (err) {
      this.#log.warn("reconnect after refresh failed", { error: (err as Error).message });
    }
  }

  /** The latest session (certificate, overlay IP, team keys, expiry…). */
  get session(): Session {
    return this.#session;
  }

  /** The team keys currently held. */
  get teams(): TeamKey[] {
    return this.#teams;
  }

  /** True once the Guardian refused to renew the session. */
  get revoked(): boolean {
    return this.#revoked;
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

  #conn(): NatsConnection {
    if (!this.#nc || this.#stopped) {
      throw new ControlClosedError("closed", "control client is closed");
    }
    return this.#nc;
  }

  /** Publishes `data` on `subject` (fire and forget; dropped while disconnected is possible). */
  publish(subject: string, data: Uint8Array): void {
    this.#conn().publish(subject, data);
  }

  /** Sends a request and waits up to `timeoutMs` for one reply (rejects on timeout). */
  request(subject: string, data: Uint8Array, timeoutMs: number): Promise<Msg> {
    return this.#conn().request(subject, data, { timeout: timeoutMs });
  }

  /**
   * Subscribes to `subject`; iterate with `for await`. The subscription survives session
   * renewals. A subject outside this conflux's permissions ends the iteration with an error.
   */
  subscribe(subject: string): Subscription {
    return this.#conn().subscribe(subject);
  }

  /** Waits until everything published so far reached the server. */
  async flush(): Promise<void> {
    await this.#conn().flush();
  }

  /** Resolves when the client stops for good, with the reason. */
  closed(): Promise<ControlClosedError> {
    return this.#closed;
  }

  /** Stops renewing and closes the NATS connection. */
  close(): Promise<void> {
    return this.#shutdown(new ControlClosedError("closed", "closed by caller"));
  }

  async #shutdown(reason: ControlClosedError): Promise<void> {
    if (this.#stopped) return;
    this.#stopped = true;
    if (this.#timer !== undefined) clearTimeout(this.#timer);
    this.#timer = undefined;
    const nc = this.#nc;
    this.#nc = null;
    if (nc) await nc.close().catch(() => {});
    this.#resolveClosed(reason);
  }
}

function sameTeams(a: TeamKey[], b: TeamKey[]): boolean {
  if (a.length !== b.length) return false;
  return a.every((t, i) => t.teamId === b[i].teamId && t.version === b[i].version);
}
