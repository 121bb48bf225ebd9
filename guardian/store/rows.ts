/**
 * Rows of the SQLite store as records.
 *
 * @module
 */

import type { SQLInputValue } from "node:sqlite";
import type {
  ConfluxRecord,
  InvitationRecord,
  RealmRecord,
  RegistrationTokenRecord,
  TeamRecord,
  UserRecord,
} from "./types.ts";

/** A result row. */
export type Row = Record<string, SQLInputValue>;

/** A number column. */
export function num(v: SQLInputValue): number {
  return Number(v);
}

/** A JSON list of strings kept in a TEXT column; a damaged value reads as empty. */
export function strings(v: SQLInputValue): string[] {
  try {
    const parsed = JSON.parse(String(v ?? "[]"));
    return Array.isArray(parsed) ? parsed.filter((x): x is string => typeof x === "string") : [];
  } catch {
    return [];
  }
}

/** A nullable number column. */
export function optNum(v: SQLInputValue): number | null {
  return v === null || v === undefined ? null : Number(v);
}

/** A users row. */
export function user(r: Row): UserRecord {
  return {
    id: String(r.id),
    email: String(r.email),
    passwordHash: String(r.password_hash),
    isAdmin: num(r.is_admin) === 1,
    createdAt: num(r.created_at),
  };
}

/** A realms row. */
export function realm(r: Row): RealmRecord {
  return {
    id: String(r.id),
    name: String(r.name),
    subnet: String(r.subnet),
    ownerId: String(r.owner_id),
    createdAt: num(r.created_at),
    deletedAt: optNum(r.deleted_at),
    autoApprove: strings(r.auto_approve),
  };
}

/** A registration_tokens row. */
export function regToken(r: Row): RegistrationTokenRecord {
  return {
    id: String(r.id),
    tokenHash: String(r.token_hash),
    realmId: String(r.realm_id),
    ownerId: String(r.owner_id),
    tag: r.tag === null ? null : String(r.tag),
    createdAt: num(r.created_at),
    expiresAt: num(r.expires_at),
    usedAt: optNum(r.used_at),
    revokedAt: optNum(r.revoked_at),
    confluxId: r.conflux_id === null ? null : String(r.conflux_id),
  };
}

/** A confluxes row. */
export function conflux(r: Row): ConfluxRecord {
  return {
    id: String(r.id),
    realmId: String(r.realm_id),
    ownerId: String(r.owner_id),
    tag: String(r.tag),
    tokenHash: String(r.token_hash),
    overlayIp: String(r.overlay_ip),
    portal: num(r.portal) === 1,
    createdAt: num(r.created_at),
    revokedAt: optNum(r.revoked_at),
    lastLoginAt: optNum(r.last_login_at),
    lastSeenAt: optNum(r.last_seen_at),
    advertisedSubnets: strings(r.advertised_subnets),
  };
}

/** A teams row. */
export function team(r: Row): TeamRecord {
  return {
    id: String(r.id),
    name: String(r.name),
    ownerId: String(r.owner_id),
    key: new Uint8Array(r.key as Uint8Array),
    version: num(r.version),
    createdAt: num(r.created_at),
  };
}

/** A team_invitations row. */
export function invitation(r: Row): InvitationRecord {
  return {
    id: String(r.id),
    teamId: String(r.team_id),
    email: String(r.email),
    invitedBy: String(r.invited_by),
    createdAt: num(r.created_at),
    acceptedAt: optNum(r.accepted_at),
  };
}
