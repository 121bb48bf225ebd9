/**
 * Team-key updates the Guardian pushes to a conflux on `vn.<realm>.c.<conflux>.teams`.
 *
 * Wire form: JSON `{payload, signature}` where `payload` is base64 of the UTF-8 JSON
 * `{conflux_id, realm_id, issued_at, teams: [{team_id, name, version, key}], renew_session?}` and
 * `signature` is base64 of the Guardian's ML-DSA-65 signature over those payload bytes with the
 * context "veilnet/v1/team-keys". A receiver applies an update only if the signature verifies, the
 * update names itself, and `issued_at` is newer than the last applied one (no replay of old keys).
 * `issued_at` is a number from a sequence the Guardian keeps in its database (strictly increasing,
 * independent of its clock). `renew_session: true` asks the conflux to log in again at once: what
 * its certificate may state changed (portal networks approved or denied).
 *
 * Pure: no I/O; randomness for hedged signing is passed in.
 *
 * @module
 */

import { sign, verify } from "../crypto/mldsa.ts";
import { decodeBase64, encodeBase64 } from "./base64.ts";

/** One team key as a conflux holds it. */
export interface TeamKey {
  /** Team id. */
  teamId: string;
  /** Team name (for display and `--teams` matching). */
  name: string;
  /** Key version; increases at every rotation. */
  version: number;
  /** 32-byte team key. */
  key: Uint8Array;
}

/** A complete team-key set for one conflux. */
export interface TeamKeysUpdate {
  /** Conflux the update is for. */
  confluxId: string;
  /** Realm of that conflux. */
  realmId: string;
  /** Strictly increasing per Guardian database (a sequence, not a clock reading). */
  issuedAt: number;
  /** Every team of the conflux (an empty list means no team). */
  teams: TeamKey[];
  /** The Guardian asks for a session renewal now (the certificate would state something else). */
  renewSession?: boolean;
}

/** JSON shape of one team in the Guardian API and in pushed updates. */
export interface TeamKeyJson {
  /** Team id. */
  team_id: string;
  /** Team name. */
  name: string;
  /** Key version. */
  version: number;
  /** Base64 of the 32-byte key. */
  key: string;
}

/** Converts a team key to its JSON shape. */
export function teamKeyToJson(t: TeamKey): TeamKeyJson {
  return { team_id: t.teamId, name: t.name, version: t.version, key: encodeBase64(t.key) };
}

/** Parses the JSON shape of one team key; null if malformed (key must be 32 bytes). */
export function teamKeyFromJson(value: unknown): TeamKey | null {
  if (typeof value !== "object" || value === null) return null;
  const v = value as Record<string, unknown>;
  if (
    typeof v.team_id !== "string" || typeof v.name !== "string" ||
    typeof v.version !== "number" || !Number.isSafeInteger(v.version) || typeof v.key !== "string"
  ) return null;
  const key = decodeBase64(v.key);
  if (!key || key.length !== 32) return null;
  return { teamId: v.team_id, name: v.name, version: v.version, key };
}

const encoder = new TextEncoder();
const decoder = new TextDecoder("utf-8", { fatal: true });

/** Signs `update` with the Guardian's ML-DSA secret key; returns the wire bytes. */
export function sealTeamKeys(
  update: TeamKeysUpdate,
  guardianSecretKey: Uint8Array,
  random?: Uint8Array,
): Uint8Array {
  const payload = encoder.encode(JSON.stringify({
    conflux_id: update.confluxId,
    realm_id: update.realmId,
    issued_at: update.issuedAt,
    teams: update.teams.map(teamKeyToJson),
    ...(update.renewSession ? { renew_session: true } : {}),
  }));
  const signature = sign(guardianSecretKey, "veilnet/v1/team-keys", payload, random);
  return encoder.encode(
    JSON.stringify({ payload: encodeBase64(payload), signature: encodeBase64(signature) }),
  );
}

/**
 * Verifies and parses pushed team keys meant for `expect.confluxId` in `expect.realmId`.
 * Returns null (never throws) for anything malformed, forged or addressed to someone else.
 */
export function openTeamKeys(
  bytes: Uint8Array,
  guardianPublicKey: Uint8Array,
  expect: { confluxId: string; realmId: string },
): TeamKeysUpdate | null {
  try {
    const outer = JSON.parse(decoder.decode(bytes)) as Record<string, unknown>;
    if (typeof outer.payload !== "string" || typeof outer.signature !== "string") return null;
    const payload = decodeBase64(outer.payload);
    const signature = decodeBase64(outer.signature);
    if (!payload || !signature) return null;
    if (!verify(guardianPublicKey, "veilnet/v1/team-keys", payload, signature)) return null;
    const inner = JSON.parse(decoder.decode(payload)) as Record<string, unknown>;
    if (inner.conflux_id !== expect.confluxId || inner.realm_id !== expect.realmId) return null;
    if (typeof inner.issued_at !== "number" || !Array.isArray(inner.teams)) return null;
    const teams: TeamKey[] = [];
    for (const t of inner.teams) {
      const parsed = teamKeyFromJson(t);
      if (!parsed) return null;
      teams.push(parsed);
    }
    return {
      confluxId: expect.confluxId,
      realmId: expect.realmId,
      issuedAt: inner.issued_at,
      teams,
      ...(inner.renew_session === true ? { renewSession: true } : {}),
    };
  } catch {
    return null;
  }
}
