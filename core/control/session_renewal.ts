/**
 * SessionRenewal: keeps a Guardian session alive. It renews at a fraction (default 60 %) of the
 * session's life over HTTP — not over NATS, which an expired JWT can no longer reach — retries
 * transient failures more often as expiry nears and with backoff once it has passed, and arms a
 * guard that takes the control channel offline just before an unrenewed session ends (rather than
 * let nats.js retry with a dead JWT). A refused renewal (401/403/404) means the conflux was
 * revoked: no new session comes, and the owner is told to close at expiry.
 *
 * @module
 */
import type { Logger } from "../log/logger.ts";
import { GuardianApiError, type Session } from "./guardian_client.ts";

/** What a SessionRenewal needs and whom it tells. */
export interface SessionRenewalOptions {
  /** Logs in again (the Guardian's session endpoint); throws GuardianApiError when refused. */
  login: () => Promise<Session>;
  /** Fraction of the session life after which to renew, in (0, 1). */
  refreshFraction: number;
  now: () => number;
  log: Logger;
  /** A new session arrived. */
  onRenewed: (session: Session) => Promise<void> | void;
  /** The session is about to end without a renewal: go offline until one comes. */
  onLapsing: () => void;
  /** The conflux is revoked and its session is over: close for good. */
  onRevoked: () => void;
  /** Whether a control channel is up (a refused renewal closes at once when it is not). */
  online: () => boolean;
}

/** The renewal state machine of one session. */
export class SessionRenewal {
  readonly #o: SessionRenewalOptions;
  #session: Session;
  #refreshTimer: ReturnType<typeof setTimeout> | undefined;
  #expiryTimer: ReturnType<typeof setTimeout> | undefined;
  #refreshing = false;
  #again = false;
  #stopped = false;
  #revoked = false;
  #failures = 0;
  /** When a renewal was last started because the Master refused our credentials. */
  #refusedAt = -Infinity;
  #contactAt: number;
  #lastError: string | undefined;

  constructor(session: Session, options: SessionRenewalOptions) {
    this.#session = session;
    this.#o = options;
    this.#contactAt = options.now();
  }

  /** When the Guardian last gave us a session, and why the last renewal failed if it did. */
  get contact(): { at: number; error?: string } {
    return this.#lastError === undefined
      ? { at: this.#contactAt }
      : { at: this.#contactAt, error: this.#lastError };
  }

  /** The latest session. */
  get session(): Session {
    return this.#session;
  }

  /** True once the Guardian refused to renew. */
  get revoked(): boolean {
    return this.#revoked;
  }

  /** Arms the first renewal and the expiry guard. */
  start(): void {
    this.#scheduleRefresh();
    this.#scheduleExpiry();
  }

  /** How long before expiry the connection is closed if no renewal came. */
  margin(): number {
    const life = this.#session.expiresAt - this.#o.now();
    return Math.min(2_000, Math.max(100, life * 0.1));
  }

  /** Whether the session has more than the margin left. */
  hasTime(): boolean {
    return this.#session.expiresAt - this.#o.now() > this.margin();
  }

  /** Renews as soon as possible (once more after a renewal already under way). */
  renewSoon(): void {
    if (this.#stopped) return;
    if (this.#refreshing) this.#again = true;
    else this.#scheduleRefresh(0);
  }

  /**
   * The Master refused our credentials: ask the Guardian at once, which either renews or says the
   * conflux is revoked. At most one such renewal per 5 s, so a Master that keeps refusing fresh
   * credentials is not a busy loop.
   */
  credentialsRefused(): void {
    if (this.#stopped || this.#refreshing) return;
    const wait = Math.max(0, this.#refusedAt + 5_000 - this.#o.now());
    this.#refusedAt = this.#o.now() + wait;
    this.#scheduleRefresh(wait);
  }

  /** Stops every timer; nothing is renewed any more. */
  stop(): void {
    this.#stopped = true;
    clearTimeout(this.#refreshTimer);
    clearTimeout(this.#expiryTimer);
  }

  #scheduleRefresh(delayMs?: number): void {
    if (this.#stopped) return;
    clearTimeout(this.#refreshTimer);
    const remaining = this.#session.expiresAt - this.#o.now();
    const delay = delayMs ?? Math.max(100, remaining * this.#o.refreshFraction);
    this.#refreshTimer = setTimeout(() => this.#refresh(), delay);
  }

  /** Arms the guard that takes the connection down just before an unrenewed session ends. */
  #scheduleExpiry(): void {
    if (this.#stopped) return;
    clearTimeout(this.#expiryTimer);
    const expiresAt = this.#session.expiresAt;
    const delay = Math.max(0, expiresAt - this.margin() - this.#o.now());
    this.#expiryTimer = setTimeout(() => {
      if (this.#stopped || this.#session.expiresAt !== expiresAt) return;
      if (this.#revoked) return this.#o.onRevoked();
      this.#o.log.warn("session expiring without renewal; control channel offline until renewed");
      this.#o.onLapsing();
    }, delay);
  }

  async #refresh(): Promise<void> {
    this.#refreshing = true;
    try {
      await this.#renew();
    } finally {
      this.#refreshing = false;
    }
    if (this.#again && !this.#stopped) {
      this.#again = false;
      this.#scheduleRefresh(0);
    }
  }

  async #renew(): Promise<void> {
    this.#refreshTimer = undefined;
    if (this.#stopped) return;
    let session: Session;
    try {
      session = await this.#o.login();
    } catch (err) {
      if (!this.#stopped) this.#failed(err);
      return;
    }
    if (this.#stopped) return;
    this.#failures = 0;
    this.#session = session;
    this.#contactAt = this.#o.now();
    this.#lastError = undefined;
    this.#scheduleRefresh();
    this.#scheduleExpiry();
    await this.#o.onRenewed(session);
  }

  #failed(err: unknown): void {
    const status = err instanceof GuardianApiError ? err.status : 0;
    this.#lastError = status
      ? `HTTP ${status}`
      : String((err as Error)?.message ?? err).slice(0, 200);
    if (status === 401 || status === 403 || status === 404) {
      // Revoked: no new session. The expiry guard closes the client when this one ends.
      this.#revoked = true;
      this.#o.log.warn("session renewal refused; closing at expiry", { status });
      if (this.#session.expiresAt <= this.#o.now() || !this.#o.online()) this.#o.onRevoked();
      return;
    }
    // Transient (Guardian down, rate limited): retry, more often as expiry nears; once the
    // session has expired, back off exponentially up to 30 s.
    const left = this.#session.expiresAt - this.#o.now();
    if (left <= 0) this.#failures++;
    const retry = left > 0
      ? Math.min(5_000, Math.max(250, left / 4))
      : Math.min(30_000, 500 * 2 ** Math.min(this.#failures, 6));
    this.#o.log.warn("session renewal failed; retrying", { status, retry_ms: Math.round(retry) });
    this.#scheduleRefresh(retry);
  }
}
