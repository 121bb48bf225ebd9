/**
 * HTTP client of the Guardian API (ours or the public one: same paths and shapes).
 *
 * Conflux-side calls (`register`, `unregister`, `sessionLogin`) are what the node and the CLI
 * use; the user-side calls (signup, realms, tokens, teams, portal approvals) serve tools and tests.
 * Every response is validated; a refused call throws `GuardianApiError` with the HTTP status and
 * the Guardian's `{error}` message (status 0 for network failures and malformed responses).
 *
 * Trust: a client made with `guardianKeySha256` (the pin `register`/`up` saved) refuses any
 * session whose Guardian key has another SHA-256 ({@link GuardianKeyMismatchError}). A Guardian
 * URL `http://` or a NATS URL `nats://` to an address that is not loopback is warned about once
 * per process, loudly: tokens, keys and the control channel then cross the network in clear.
 *
 * @module
 */

import { z } from "zod";
import { decodeBase64, encodeBase64 } from "./base64.ts";
import { GuardianApiError, GuardianKeyMismatchError } from "./guardian_errors.ts";
import { parseSession, type Session, type SessionLoginRequest } from "./guardian_session.ts";
import { guardianKeyFingerprint, insecureTransportWarning } from "./guardian_trust.ts";

export { GuardianApiError, GuardianKeyMismatchError } from "./guardian_errors.ts";
export {
  guardianKeyFingerprint,
  insecureTransportWarning,
  isLoopbackHost,
} from "./guardian_trust.ts";
export { parseSession, type Session, type SessionLoginRequest } from "./guardian_session.ts";

/** URLs already warned about in this process: the warning is said once, not at every renewal. */
const warnedUrls = new Set<string>();

/** Default warning sink: standard error, where the node's and the CLI's log lines go. */
function warnOnStderr(message: string): void {
  console.error(message);
}

/** Body of a registration. */
export interface RegisterRequest {
  /** Registration token from the realm owner. */
  registrationToken: string;
  /** Tag identifying the conflux. */
  tag?: string;
  /** Requested overlay address with prefix, e.g. "100.64.0.9/24" (must be free). */
  cidr?: string;
  /** Team names or ids to hold (ignored unless the owner belongs to them). */
  teams?: string[];
}

/** Result of a registration. */
export interface Registration {
  /** New conflux id. */
  confluxId: string;
  /** Long-lived conflux token: store it with mode 0600. */
  token: string;
  /** Overlay address leased for it (absent from Guardians that do not say). */
  overlayIp?: string;
  /** Teams from the request that were ignored. */
  ignoredTeams: string[];
  /** The Guardian's ML-DSA-65 public key, if it says (what `register` pins). */
  guardianPublicKey?: Uint8Array;
}

const RegistrationJson = z.object({
  conflux_id: z.string().min(1),
  token: z.string().min(1),
  overlay_ip: z.string().optional(),
  ignored_teams: z.array(z.string()).optional(),
  guardian_public_key: z.string().optional(),
});

const GuardianKeyJson = z.object({ public_key: z.string(), sha256: z.string() });

/** Options of a raw {@link GuardianClient.call}. */
export interface CallOptions {
  /** Bearer token (user access token or conflux token). */
  bearer?: string;
  /** JSON body. */
  body?: unknown;
  /** Query parameters. */
  query?: Record<string, string>;
}

/** Options of a {@link GuardianClient}. */
export interface GuardianClientOptions {
  /** Calls time out after this long; default 15 s. */
  timeoutMs?: number;
  /** PEM texts of CAs trusted besides the public ones (Guardian HTTPS and Master TLS). */
  caCerts?: string[];
  /** SHA-256 (hex) of the Guardian key pinned at register/up: other sessions are refused. */
  guardianKeySha256?: string;
  /** Where loud warnings go (plain transport, a changed Guardian key); default standard error. */
  warn?: (message: string) => void;
}

/** Client of one Guardian. */
export class GuardianClient {
  /** Base URL without trailing slash. */
  readonly baseUrl: string;
  /**
   * PEM certificates of a private CA trusted besides the public ones, for the Guardian's HTTPS
   * and the Master's TLS (`tls://` URLs); empty when only public CAs are trusted.
   */
  readonly caCerts: readonly string[];
  /** SHA-256 (hex) of the pinned Guardian key, if any. */
  readonly guardianKeySha256: string | undefined;
  readonly #timeoutMs: number;
  readonly #warn: (message: string) => void;

  /**
   * Creates a client of the Guardian at `baseUrl`; calls time out after `timeoutMs` (15 s).
   * `caCerts` are PEM texts of CAs trusted besides the public ones. Warns (once per process) when
   * `baseUrl` is plain http:// to an address that is not loopback.
   */
  constructor(baseUrl: string, options: GuardianClientOptions = {}) {
    let url: URL;
    try {
      url = new URL(baseUrl);
    } catch {
      throw new GuardianApiError(0, `bad Guardian URL "${baseUrl}"`);
    }
    if (url.protocol !== "http:" && url.protocol !== "https:") {
      throw new GuardianApiError(0, `bad Guardian URL "${baseUrl}": expected http(s)`);
    }
    this.baseUrl = baseUrl.replace(/\/+$/, "");
    this.#timeoutMs = options.timeoutMs ?? 15_000;
    this.caCerts = [...(options.caCerts ?? [])];
    const pin = options.guardianKeySha256?.toLowerCase();
    if (pin !== undefined && !/^[0-9a-f]{64}$/.test(pin)) {
      throw new GuardianApiError(0, "guardianKeySha256: expected 64 hex digits (SHA-256)");
    }
    this.guardianKeySha256 = pin;
    this.#warn = options.warn ?? warnOnStderr;
    this.#warnOnce(this.baseUrl);
  }

  /** Says {@link insecureTransportWarning} of `url`, once per process. */
  #warnOnce(url: string): void {
    const message = insecureTransportWarning(url);
    if (message === null || warnedUrls.has(url)) return;
    warnedUrls.add(url);
    this.#warn(message);
  }

  /** Calls `method path` and returns the decoded JSON; throws GuardianApiError. */
  async call(method: string, path: string, options: CallOptions = {}): Promise<unknown> {
    const url = new URL(this.baseUrl + path);
    for (const [k, v] of Object.entries(options.query ?? {})) url.searchParams.set(k, v);
    const headers: Record<string, string> = { accept: "application/json" };
    if (options.bearer !== undefined) headers.authorization = `Bearer ${options.bearer}`;
    if (options.body !== undefined) headers["content-type"] = "application/json";
    // Calls are rare (register, a session renewal every few minutes): a client per call with a
    // private CA leaves no connection pool open between them.
    const client = this.caCerts.length > 0
      ? Deno.createHttpClient({ caCerts: [...this.caCerts] })
      : undefined;
    let response: Response;
    let text: string;
    try {
      try {
        response = await fetch(url, {
          method,
          headers,
          body: options.body === undefined ? undefined : JSON.stringify(options.body),
          signal: AbortSignal.timeout(this.#timeoutMs),
          client,
        });
      } catch (err) {
        throw new GuardianApiError(0, `Guardian unreachable: ${describeFetchError(err)}`);
      }
      text = await response.text().catch(() => "");
    } finally {
      client?.close();
    }
    let value: unknown = null;
    try {
      value = text ? JSON.parse(text) : null;
    } catch {
      // A non-JSON answer (proxy error page) is reported by status below.
    }
    if (!response.ok) {
      const message = typeof (value as { error?: unknown })?.error === "string"
        ? (value as { error: string }).error
        : `HTTP ${response.status}`;
      throw new GuardianApiError(response.status, message);
    }
    if (value === null) throw new GuardianApiError(0, "Guardian answered without JSON");
    return value;
  }

  /** `POST /conflux/register`: redeems a registration token. */
  async register(request: RegisterRequest): Promise<Registration> {
    const body: Record<string, unknown> = { registration_token: request.registrationToken };
    if (request.tag !== undefined) body.tag = request.tag;
    if (request.cidr !== undefined) body.cidr = request.cidr;
    if (request.teams !== undefined) body.teams = request.teams;
    const r = RegistrationJson.safeParse(await this.call("POST", "/conflux/register", { body }));
    if (!r.success) throw new GuardianApiError(0, "malformed registration response");
    let guardianPublicKey: Uint8Array | undefined;
    if (r.data.guardian_public_key !== undefined) {
      const key = decodeBase64(r.data.guardian_public_key);
      if (!key || key.length === 0) {
        throw new GuardianApiError(0, "malformed registration response");
      }
      guardianPublicKey = key;
    }
    return {
      confluxId: r.data.conflux_id,
      token: r.data.token,
      overlayIp: r.data.overlay_ip,
      ignoredTeams: r.data.ignored_teams ?? [],
      ...(guardianPublicKey ? { guardianPublicKey } : {}),
    };
  }

  /** `GET /guardian/key`: the Guardian's ML-DSA-65 public key and its SHA-256 (hex). */
  async guardianKey(): Promise<{ publicKey: Uint8Array; sha256: string }> {
    const r = GuardianKeyJson.safeParse(await this.call("GET", "/guardian/key"));
    const publicKey = r.success ? decodeBase64(r.data.public_key) : null;
    if (!r.success || !publicKey || publicKey.length === 0) {
      throw new GuardianApiError(0, "malformed Guardian key response");
    }
    const digest = guardianKeyFingerprint(publicKey);
    if (digest !== r.data.sha256.toLowerCase()) {
      throw new GuardianApiError(0, "Guardian key response: sha256 does not match the key");
    }
    return { publicKey, sha256: digest };
  }

  /** `DELETE /conflux/unregister`: revokes the conflux token. */
  async unregister(confluxToken: string): Promise<void> {
    await this.call("DELETE", "/conflux/unregister", { bearer: confluxToken });
  }

  /** `POST /conflux/session/login`: a fresh session for this run's keys. */
  async sessionLogin(request: SessionLoginRequest): Promise<Session> {
    const body: Record<string, unknown> = {
      token: request.token,
      mldsa_public_key: encodeBase64(request.mldsaPublicKey),
      nkey: request.nkey,
    };
    if (request.portal !== undefined) body.portal = request.portal;
    if (request.subnets !== undefined) body.subnets = request.subnets;
    const session = parseSession(await this.call("POST", "/conflux/session/login", { body }));
    if (this.guardianKeySha256 !== undefined) {
      const presented = guardianKeyFingerprint(session.guardianPublicKey);
      if (presented !== this.guardianKeySha256) {
        const error = new GuardianKeyMismatchError(this.guardianKeySha256, presented);
        const said = `key:${presented}`;
        if (!warnedUrls.has(said)) {
          warnedUrls.add(said);
          this.#warn(`WARNING: ${error.message}`);
        }
        throw error;
      }
    }
    for (const url of session.natsUrls) this.#warnOnce(url);
    return session;
  }

  /** `POST /auth/logout`: revokes the access token. */
  async logout(accessToken: string): Promise<void> {
    await this.call("POST", "/auth/logout", { bearer: accessToken });
  }

  /**
   * `DELETE /conflux?conflux_id=` (the owner, the realm's owner or an admin): revokes a conflux
   * as unregistering does.
   */
  async removeConflux(accessToken: string, confluxId: string): Promise<void> {
    await this.call("DELETE", "/conflux", {
      bearer: accessToken,
      query: { conflux_id: confluxId },
    });
  }

  /** `GET /conflux/subnets?conflux_id=`: what a portal asks to serve and what was decided. */
  async portalSubnets(accessToken: string, confluxId: string): Promise<PortalSubnets> {
    return portalSubnetsOf(
      await this.call("GET", "/conflux/subnets", {
        bearer: accessToken,
        query: { conflux_id: confluxId },
      }),
    );
  }

  /** `POST /conflux/subnets/approve`: the portal may serve `subnets`; reaches it at once. */
  async approveSubnets(
    accessToken: string,
    change: { confluxId: string; subnets: string[] },
  ): Promise<PortalSubnets> {
    return portalSubnetsOf(
      await this.call("POST", "/conflux/subnets/approve", {
        bearer: accessToken,
        body: { conflux_id: change.confluxId, subnets: change.subnets },
      }),
    );
  }

  /** `POST /conflux/subnets/deny`: the portal may not serve `subnets`; reaches it at once. */
  async denySubnets(
    accessToken: string,
    change: { confluxId: string; subnets: string[] },
  ): Promise<PortalSubnets> {
    return portalSubnetsOf(
      await this.call("POST", "/conflux/subnets/deny", {
        bearer: accessToken,
        body: { conflux_id: change.confluxId, subnets: change.subnets },
      }),
    );
  }

  /** `POST /realm/policy`: replaces the realm's auto-approved portal networks. */
  async setRealmPolicy(
    accessToken: string,
    policy: { realmId: string; autoApprove: string[] },
  ): Promise<void> {
    await this.call("POST", "/realm/policy", {
      bearer: accessToken,
      body: { realm_id: policy.realmId, auto_approve: policy.autoApprove },
    });
  }

  /** `POST /auth/signup`. */
  async signup(email: string, password: string): Promise<{ id: string; isAdmin: boolean }> {
    const r = await this.call("POST", "/auth/signup", { body: { email, password } }) as {
      id: string;
      is_admin: boolean;
    };
    return { id: r.id, isAdmin: r.is_admin };
  }

  /** `POST /auth/login`; returns the access token. */
  async login(email: string, password: string): Promise<string> {
    const r = await this.call("POST", "/auth/login", { body: { email, password } }) as {
      access_token: string;
    };
    return r.access_token;
  }

  /** `POST /realm`; `autoApprove` is the realm's policy for portal networks. */
  async createRealm(
    accessToken: string,
    realm: { name: string; subnet: string; autoApprove?: string[] },
  ): Promise<{ id: string; name: string; subnet: string }> {
    const body: Record<string, unknown> = { name: realm.name, subnet: realm.subnet };
    if (realm.autoApprove !== undefined) body.auto_approve = realm.autoApprove;
    return await this.call("POST", "/realm", { bearer: accessToken, body }) as {
      id: string;
      name: string;
      subnet: string;
    };
  }

  /** `POST /auth/create/registration-token`; `expiresAfterDays` may be fractional. */
  async createRegistrationToken(
    accessToken: string,
    options: { realmId: string; expiresAfterDays: number; tag?: string },
  ): Promise<{ tokenId: string; token: string; expiresAt: number }> {
    const r = await this.call("POST", "/auth/create/registration-token", {
      bearer: accessToken,
      body: {
        realm_id: options.realmId,
        expires_after: options.expiresAfterDays,
        tag: options.tag,
      },
    }) as { token_id: string; token: string; expires_at: number };
    return { tokenId: r.token_id, token: r.token, expiresAt: r.expires_at };
  }

  /** `POST /org/team`; returns the team id. */
  async createTeam(accessToken: string, name: string): Promise<string> {
    const r = await this.call("POST", "/org/team", { bearer: accessToken, body: { name } }) as {
      team_id: string;
    };
    return r.team_id;
  }

  /** `POST /org/team/invite`; returns the invitation id. */
  async inviteMember(
    accessToken: string,
    invite: { teamId: string; email: string },
  ): Promise<string> {
    const r = await this.call("POST", "/org/team/invite", {
      bearer: accessToken,
      body: { team_id: invite.teamId, email: invite.email },
    }) as { invitation_id: string };
    return r.invitation_id;
  }

  /** `GET /org/team/invite/list`: pending invitations addressed to the caller. */
  async listInvitations(
    accessToken: string,
  ): Promise<Array<{ invitationId: string; teamId: string; teamName: string }>> {
    const r = await this.call("GET", "/org/team/invite/list", { bearer: accessToken }) as Array<
      { invitation_id: string; team_id: string; team_name: string }
    >;
    return r.map((i) => ({
      invitationId: i.invitation_id,
      teamId: i.team_id,
      teamName: i.team_name,
    }));
  }

  /** `POST /org/team/invite/accept`. */
  async acceptInvitation(accessToken: string, invitationId: string): Promise<void> {
    await this.call("POST", "/org/team/invite/accept", {
      bearer: accessToken,
      body: { invitation_id: invitationId },
    });
  }

  /** `DELETE /org/team/member` (by email). */
  async removeMember(
    accessToken: string,
    member: { teamId: string; email: string },
  ): Promise<void> {
    await this.call("DELETE", "/org/team/member", {
      bearer: accessToken,
      body: { team_id: member.teamId, email: member.email },
    });
  }

  /** `POST /conflux/team`; `bearer` is the owner's user access token (a conflux token: 403). */
  async addConfluxTeam(
    bearer: string,
    change: { confluxId: string; team: string },
  ): Promise<void> {
    await this.call("POST", "/conflux/team", {
      bearer,
      body: { conflux_id: change.confluxId, team: change.team },
    });
  }

  /** `DELETE /conflux/team`; rotates that team's key. */
  async removeConfluxTeam(
    bearer: string,
    change: { confluxId: string; team: string },
  ): Promise<void> {
    await this.call("DELETE", "/conflux/team", {
      bearer,
      body: { conflux_id: change.confluxId, team: change.team },
    });
  }
}

/** A portal's networks at the Guardian (`GET /conflux/subnets` and the approve/deny answers). */
export interface PortalSubnets {
  /** What the portal asked to serve at its last session login. */
  advertised: string[];
  /** Networks the owner approved (also before the portal asks for them). */
  approved: string[];
  /** Networks the owner denied (never certified, not even by the realm's policy). */
  denied: string[];
  /** Advertised networks awaiting a decision (not certified). */
  pending: string[];
  /** Advertised networks the certificate states: approved, or auto-approved and not denied. */
  certified: string[];
}

const PortalSubnetsJson = z.object({
  advertised: z.array(z.string()),
  approved: z.array(z.string()),
  denied: z.array(z.string()),
  pending: z.array(z.string()),
  certified: z.array(z.string()),
});

function portalSubnetsOf(value: unknown): PortalSubnets {
  const r = PortalSubnetsJson.safeParse(value);
  if (!r.success) throw new GuardianApiError(0, "malformed portal subnets response");
  return r.data;
}

/**
 * The reason of a failed fetch: Deno says "fetch failed" and puts what went wrong (refused,
 * unknown certificate issuer) in the cause, which is the part a user can act on.
 */
function describeFetchError(err: unknown): string {
  const message = err instanceof Error ? err.message : String(err);
  const cause = err instanceof Error && err.cause instanceof Error ? err.cause.message : "";
  const detail = cause || message;
  return /certificate|UnknownIssuer|handshake/i.test(detail) ? `TLS: ${detail}` : detail;
}
