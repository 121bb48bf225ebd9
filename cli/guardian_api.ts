/**
 * The Guardian calls the CLI makes (register, unregister, a conflux's teams) on top of the shared
 * client in core/control/guardian_client.ts, with its errors turned into one-line CLI errors.
 * Tokens go only in request bodies and Authorization headers, never in URLs or messages.
 *
 * @module
 */
import {
  GuardianApiError,
  GuardianClient,
  guardianKeyFingerprint,
} from "../core/control/guardian_client.ts";
import { PemFileError, readPemFile } from "../core/control/pem_file.ts";
import { CliError } from "./errors.ts";

/** What `POST /conflux/register` sends. */
export interface RegisterRequest {
  registrationToken: string;
  tag?: string;
  cidr?: string;
  teams?: string[];
}

/** What `POST /conflux/register` returns. */
export interface RegisterResponse {
  confluxId: string;
  token: string;
  overlayIp?: string;
  ignoredTeams: string[];
  /** SHA-256 (hex) of the Guardian's key, to pin; absent when the Guardian does not say. */
  guardianKeySha256?: string;
}

/** One team of a conflux, as `GET /conflux/team/list` returns it. */
export interface ConfluxTeam {
  team_id: string;
  name: string;
  version?: number;
}

/** The Guardian answered with a 4xx/5xx; `status` is the HTTP status. */
export class GuardianRefusal extends CliError {
  /** HTTP status. */
  readonly status: number;
  /** Creates the error. */
  constructor(status: number, message: string) {
    super("guardian", message);
    this.name = "GuardianRefusal";
    this.status = status;
  }
}

/** Normalizes a Guardian base URL (http/https, no trailing slash); usage error otherwise. */
export function normalizeGuardianUrl(raw: string): string {
  let url: URL;
  try {
    url = new URL(raw);
  } catch {
    throw new CliError(
      "usage",
      `Guardian URL "${raw}" is not a URL: e.g. -g http://127.0.0.1:8080`,
    );
  }
  if (url.protocol !== "http:" && url.protocol !== "https:") {
    throw new CliError("usage", `Guardian URL must start with http:// or https:// (got "${raw}")`);
  }
  if (url.search || url.hash || url.username || url.password) {
    throw new CliError("usage", `Guardian URL must be a plain base URL (got "${raw}")`);
  }
  return url.href.replace(/\/+$/, "");
}

/**
 * A Guardian to call: its base URL, the private CA of its TLS certificate if it has one, and the
 * SHA-256 of its key if pinned.
 */
export interface GuardianEndpoint {
  /** Base URL (normalized). */
  url: string;
  /** Absolute path of the CA's PEM certificate (`--guardian-ca`). */
  caFile?: string;
  /** SHA-256 (hex) of the Guardian's ML-DSA key (`--guardian-key`, or saved by register/up). */
  keySha256?: string;
}

/** The pin did not match the key the Guardian presents. */
function keyMismatch(endpoint: GuardianEndpoint, presented: string): CliError {
  return new CliError(
    "guardian",
    `the Guardian at ${endpoint.url} presents key sha256:${presented}, not the pinned ` +
      `sha256:${endpoint.keySha256}: refusing it (check --guardian-key and the Guardian's address)`,
  );
}

/** The CA certificates of `endpoint` (read now, so a changed file is picked up). */
export function endpointCaCerts(endpoint: GuardianEndpoint): string[] | undefined {
  if (endpoint.caFile === undefined) return undefined;
  try {
    return [readPemFile(endpoint.caFile, "--guardian-ca", "certificate")];
  } catch (err) {
    if (err instanceof PemFileError) throw new CliError("usage", err.message);
    throw err;
  }
}

/** Runs one client call, translating GuardianApiError into CLI errors. */
async function guarded<T>(
  endpoint: GuardianEndpoint,
  call: (c: GuardianClient) => Promise<T>,
): Promise<T> {
  const guardianUrl = endpoint.url;
  const caCerts = endpointCaCerts(endpoint);
  try {
    return await call(
      new GuardianClient(guardianUrl, { caCerts, guardianKeySha256: endpoint.keySha256 }),
    );
  } catch (err) {
    if (err instanceof GuardianApiError && err.status > 0) {
      throw new GuardianRefusal(err.status, `Guardian refused: ${err.message}`);
    }
    if (err instanceof GuardianApiError) {
      const hint = err.message.includes("TLS:")
        ? "its certificate is not trusted: if a private CA signed it, pass --guardian-ca FILE"
        : "check -g/--guardian and the network";
      throw new CliError("guardian", `Guardian at ${guardianUrl}: ${err.message}: ${hint}`);
    }
    throw err;
  }
}

/**
 * `POST /conflux/register`: trades a registration token for a conflux id and token, and learns
 * the Guardian's key to pin (from the answer, else `GET /guardian/key`). With a pin given
 * (`--guardian-key`), a Guardian presenting another key is refused before registering.
 */
export async function registerConflux(
  guardian: GuardianEndpoint,
  request: RegisterRequest,
): Promise<RegisterResponse> {
  if (guardian.keySha256 !== undefined) {
    const presented = await fetchGuardianKey(guardian);
    if (presented !== guardian.keySha256) throw keyMismatch(guardian, presented);
  }
  const r = await guarded(guardian, (c) =>
    c.register({
      ...request,
      teams: request.teams && request.teams.length > 0 ? request.teams : undefined,
    }));
  const { guardianPublicKey, ...rest } = r;
  let keySha256 = guardianPublicKey ? guardianKeyFingerprint(guardianPublicKey) : undefined;
  if (keySha256 === undefined) {
    keySha256 = await fetchGuardianKey(guardian).catch(() => undefined);
  }
  if (
    keySha256 !== undefined && guardian.keySha256 !== undefined && keySha256 !== guardian.keySha256
  ) {
    throw keyMismatch(guardian, keySha256);
  }
  return keySha256 === undefined ? rest : { ...rest, guardianKeySha256: keySha256 };
}

/** `GET /guardian/key`: the SHA-256 (hex) of the Guardian's key, what `up` pins. */
export function fetchGuardianKey(guardian: GuardianEndpoint): Promise<string> {
  return guarded(guardian, async (c) => (await c.guardianKey()).sha256);
}

/** `DELETE /conflux/unregister`: revokes the conflux token. */
export function unregisterConflux(
  guardian: GuardianEndpoint,
  confluxToken: string,
): Promise<void> {
  return guarded(guardian, (c) => c.unregister(confluxToken));
}

/** Which conflux a team call is about, and the bearer that may change it. */
export interface TeamTarget {
  confluxId: string;
  bearer: string;
}

/** `GET /conflux/team/list`. */
export function listConfluxTeams(
  guardian: GuardianEndpoint,
  target: TeamTarget,
): Promise<ConfluxTeam[]> {
  return guarded(guardian, async (c) => {
    const data = await c.call("GET", "/conflux/team/list", {
      bearer: target.bearer,
      query: { conflux_id: target.confluxId },
    });
    if (!Array.isArray(data)) throw new CliError("guardian", "Guardian team list is not a list");
    return data.filter((t): t is ConfluxTeam =>
      typeof t === "object" && t !== null && typeof t.team_id === "string" &&
      typeof t.name === "string"
    );
  });
}

/**
 * `POST /conflux/team` (add: `bearer` must be the owner's access token) or `DELETE /conflux/team`
 * (remove: the conflux's own token will do); `team` is an id or a name.
 */
export function changeConfluxTeam(
  guardian: GuardianEndpoint,
  target: TeamTarget & { team: string; action: "add" | "remove" },
): Promise<void> {
  return guarded(guardian, (c) => {
    const change = { confluxId: target.confluxId, team: target.team };
    return target.action === "add"
      ? c.addConfluxTeam(target.bearer, change)
      : c.removeConfluxTeam(target.bearer, change);
  });
}
