/**
 * A Guardian session as the conflux holds it: what `POST /conflux/session/login` returns,
 * validated and decoded.
 *
 * @module
 */
import { z } from "zod";
import { decodeBase64 } from "./base64.ts";
import { GuardianApiError } from "./guardian_errors.ts";
import { type TeamKey, teamKeyFromJson } from "./team_keys.ts";

/** A short-lived session: what `POST /conflux/session/login` returns, decoded. */
export interface Session {
  /** Conflux id. */
  confluxId: string;
  /** Realm id (NATS subjects live under `vn.<realmId>`). */
  realmId: string;
  /** Realm subnet, CIDR. */
  realmSubnet: string;
  /** Overlay IPv4 address of this conflux, stable across sessions. */
  overlayIp: string;
  /** Tag chosen at registration. */
  tag: string;
  /** Portal mode as requested at login. */
  portal: boolean;
  /**
   * IPv4 networks (CIDR) the certificate says this portal serves: those it asked for that the
   * owner approved (or the realm's policy auto-approves); `[]` unless a portal.
   */
  subnets: string[];
  /** Networks it asked for that await the owner's decision (not certified). */
  pendingSubnets: string[];
  /** Networks it asked for that the owner denied (not certified). */
  deniedSubnets: string[];
  /** SignedCertificate bytes (Guardian-signed identity for this run's ML-DSA key). */
  certificate: Uint8Array;
  /** The Guardian's ML-DSA-65 public key (1,952 bytes). */
  guardianPublicKey: Uint8Array;
  /** NATS user JWT bound to the nkey sent at login. */
  natsJwt: string;
  /** NATS client URLs. */
  natsUrls: string[];
  /** Inbox prefix to use on the NATS connection (`_INBOX.<confluxId>`). */
  inboxPrefix: string;
  /** Team keys of the conflux's teams. */
  teams: TeamKey[];
  /** When the Guardian read `teams` (ms); orders them against pushed updates. 0 if absent. */
  teamsIssuedAt: number;
  /** ICE (STUN) server URLs. */
  iceServers: string[];
  /** Session expiry, ms since the epoch (JWT and certificate). */
  expiresAt: number;
}

/** Body of a session login. */
export interface SessionLoginRequest {
  /** Long-lived conflux token. */
  token: string;
  /** This run's ML-DSA-65 public key. */
  mldsaPublicKey: Uint8Array;
  /** This run's public NATS user nkey ("U…"). */
  nkey: string;
  /** Run in portal mode (stated in the certificate). */
  portal?: boolean;
  /** IPv4 networks (CIDR, host bits zero) this portal serves; only with `portal: true`. */
  subnets?: string[];
}

const SessionJson = z.object({
  conflux_id: z.string().min(1),
  realm_id: z.string().min(1),
  realm_subnet: z.string(),
  overlay_ip: z.string(),
  tag: z.string(),
  portal: z.boolean(),
  // Absent from Guardians that predate portal subnets.
  subnets: z.array(z.string()).default([]),
  subnets_pending: z.array(z.string()).default([]),
  subnets_denied: z.array(z.string()).default([]),
  certificate: z.string(),
  guardian_public_key: z.string(),
  nats_jwt: z.string().min(1),
  nats_urls: z.array(z.string()).min(1),
  inbox_prefix: z.string().min(1),
  teams: z.array(z.unknown()),
  teams_issued_at: z.number().optional(),
  ice_servers: z.array(z.string()),
  expires_at: z.number(),
});

/** Decodes a session login response; throws GuardianApiError(0) when malformed. */
export function parseSession(value: unknown): Session {
  const r = SessionJson.safeParse(value);
  if (!r.success) throw new GuardianApiError(0, "malformed session response from Guardian");
  const s = r.data;
  const certificate = decodeBase64(s.certificate);
  const guardianPublicKey = decodeBase64(s.guardian_public_key);
  const teams = s.teams.map(teamKeyFromJson);
  if (!certificate || !guardianPublicKey || teams.some((t) => t === null)) {
    throw new GuardianApiError(0, "malformed session response from Guardian");
  }
  return {
    confluxId: s.conflux_id,
    realmId: s.realm_id,
    realmSubnet: s.realm_subnet,
    overlayIp: s.overlay_ip,
    tag: s.tag,
    portal: s.portal,
    subnets: s.subnets,
    pendingSubnets: s.subnets_pending,
    deniedSubnets: s.subnets_denied,
    certificate,
    guardianPublicKey,
    natsJwt: s.nats_jwt,
    natsUrls: s.nats_urls,
    inboxPrefix: s.inbox_prefix,
    teams: teams as TeamKey[],
    teamsIssuedAt: s.teams_issued_at ?? 0,
    iceServers: s.ice_servers,
    expiresAt: s.expires_at,
  };
}
