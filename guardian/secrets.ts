/**
 * Passwords, bearer tokens and identifiers.
 *
 * Passwords are hashed with scrypt (memory-hard; N=2^15, r=8, p=1, 32 MiB). Bearer tokens are 32
 * random bytes; the Guardian stores only their SHA-256, so a stolen database yields no usable
 * token. Identifiers are short lowercase hex strings that are safe as NATS subject tokens.
 *
 * @module
 */

import { createHash, randomBytes, scrypt, timingSafeEqual } from "node:crypto";

const SCRYPT = { N: 1 << 15, r: 8, p: 1, maxmem: 64 * 1024 * 1024 };
const KEY_LENGTH = 32;

function scryptAsync(password: string, salt: Uint8Array, params = SCRYPT): Promise<Uint8Array> {
  return new Promise((resolve, reject) => {
    scrypt(password.normalize("NFC"), salt, KEY_LENGTH, params, (err, key) => {
      if (err) reject(err);
      else resolve(new Uint8Array(key));
    });
  });
}

function b64(bytes: Uint8Array): string {
  return btoa(String.fromCharCode(...bytes));
}

function unb64(text: string): Uint8Array {
  return Uint8Array.from(atob(text), (c) => c.charCodeAt(0));
}

/** Hashes a password as `scrypt$N$r$p$salt$hash` (base64 parts). */
export async function hashPassword(password: string): Promise<string> {
  const salt = new Uint8Array(randomBytes(16));
  const key = await scryptAsync(password, salt);
  return `scrypt$${SCRYPT.N}$${SCRYPT.r}$${SCRYPT.p}$${b64(salt)}$${b64(key)}`;
}

/** True when `password` matches `stored`; false for any malformed stored value. */
export async function verifyPassword(password: string, stored: string): Promise<boolean> {
  const parts = stored.split("$");
  if (parts.length !== 6 || parts[0] !== "scrypt") return false;
  const [N, r, p] = parts.slice(1, 4).map(Number);
  if (![N, r, p].every(Number.isSafeInteger)) return false;
  try {
    const expected = unb64(parts[5]);
    const key = await scryptAsync(password, unb64(parts[4]), { ...SCRYPT, N, r, p });
    return expected.length === key.length && timingSafeEqual(expected, key);
  } catch {
    return false;
  }
}

/** Kinds of bearer token, each with its own visible prefix so a leaked token is recognisable. */
export type TokenKind = "user" | "registration" | "conflux";
const TOKEN_PREFIX: Record<TokenKind, string> = {
  user: "vnu_",
  registration: "vnr_",
  conflux: "vnc_",
};

/** A fresh random bearer token of `kind` (prefix + 43 base64url characters). */
export function newToken(kind: TokenKind): string {
  const raw = b64(new Uint8Array(randomBytes(32))).replaceAll("+", "-").replaceAll("/", "_");
  return TOKEN_PREFIX[kind] + raw.replace(/=+$/, "");
}

/** SHA-256 of a token as lowercase hex: what the store keeps instead of the token. */
export function hashToken(token: string): string {
  return createHash("sha256").update(token, "utf8").digest("hex");
}

/** A random identifier: one-letter kind prefix plus 16 hex characters (NATS-subject safe). */
export function newId(prefix: "u" | "r" | "c" | "t" | "k" | "i"): string {
  return prefix + new Uint8Array(randomBytes(8)).reduce(
    (s, b) => s + b.toString(16).padStart(2, "0"),
    "",
  );
}
