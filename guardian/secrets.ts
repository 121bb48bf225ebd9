/**
 * Passwords, bearer tokens and identifiers.
 *
 * Passwords are hashed with scrypt (memory-hard; N=2^17, r=8, p=1, 128 MiB: OWASP's minimum for
 * scrypt). Hashes made with weaker parameters (the Guardian used N=2^15 before) still verify and
 * are re-hashed at the next successful login ({@link needsRehash}). At most
 * {@link MAX_CONCURRENT_HASHES} hashes run at once, so a burst of logins costs at most that many
 * times 128 MiB; requests beyond {@link MAX_WAITING_HASHES} waiting are refused with
 * {@link PasswordHashBusyError}. Bearer tokens are 32 random bytes; the Guardian stores only
 * their SHA-256, so a stolen database yields no usable token. Identifiers are short lowercase hex
 * strings that are safe as NATS subject tokens.
 *
 * @module
 */

import { createHash, randomBytes, scrypt, timingSafeEqual } from "node:crypto";

/** scrypt parameters of new hashes. */
export const SCRYPT_PARAMS = { N: 1 << 17, r: 8, p: 1 } as const;
const KEY_LENGTH = 32;
/** Largest N accepted from a stored hash (a corrupt value must not make us allocate gigabytes). */
const MAX_N = 1 << 20;
/** scrypt hashes computed at the same time, at most. */
export const MAX_CONCURRENT_HASHES = 2;
/** Hashes waiting for a slot, at most; beyond that a request is refused. */
export const MAX_WAITING_HASHES = 256;

/** Too many password hashes are queued: the caller should answer 503 and let the client retry. */
export class PasswordHashBusyError extends Error {
  /** Creates the error. */
  constructor() {
    super("too many password checks in progress");
    this.name = "PasswordHashBusyError";
  }
}

let running = 0;
const waiting: Array<() => void> = [];

async function withHashSlot<T>(fn: () => Promise<T>): Promise<T> {
  if (running >= MAX_CONCURRENT_HASHES) {
    if (waiting.length >= MAX_WAITING_HASHES) throw new PasswordHashBusyError();
    await new Promise<void>((resolve) => waiting.push(resolve));
  } else {
    running++;
  }
  try {
    return await fn();
  } finally {
    const next = waiting.shift();
    if (next) next(); // the slot passes on: `running` stays the same
    else running--;
  }
}

function scryptAsync(
  password: string,
  salt: Uint8Array,
  params: { N: number; r: number; p: number },
): Promise<Uint8Array> {
  // maxmem must exceed 128 · N · r bytes (the memory scrypt needs).
  const maxmem = 128 * params.N * params.r + 16 * 1024 * 1024;
  return withHashSlot(() =>
    new Promise((resolve, reject) => {
      scrypt(password.normalize("NFC"), salt, KEY_LENGTH, { ...params, maxmem }, (err, key) => {
        if (err) reject(err);
        else resolve(new Uint8Array(key));
      });
    })
  );
}

function b64(bytes: Uint8Array): string {
  return btoa(String.fromCharCode(...bytes));
}

function unb64(text: string): Uint8Array {
  return Uint8Array.from(atob(text), (c) => c.charCodeAt(0));
}

/** Hashes a password as `scrypt$N$r$p$salt$hash` (base64 parts) with {@link SCRYPT_PARAMS}. */
export async function hashPassword(password: string): Promise<string> {
  const salt = new Uint8Array(randomBytes(16));
  const { N, r, p } = SCRYPT_PARAMS;
  const key = await scryptAsync(password, salt, { N, r, p });
  return `scrypt$${N}$${r}$${p}$${b64(salt)}$${b64(key)}`;
}

function parseStored(stored: string): { N: number; r: number; p: number } | null {
  const parts = stored.split("$");
  if (parts.length !== 6 || parts[0] !== "scrypt") return null;
  const [N, r, p] = parts.slice(1, 4).map(Number);
  if (![N, r, p].every((v) => Number.isSafeInteger(v) && v > 0)) return null;
  if (N > MAX_N || r > 32 || p > 16) return null;
  return { N, r, p };
}

/**
 * True when `password` matches `stored`; false for any malformed stored value. Throws
 * PasswordHashBusyError when too many checks are queued.
 */
export async function verifyPassword(password: string, stored: string): Promise<boolean> {
  const params = parseStored(stored);
  if (!params) return false;
  const parts = stored.split("$");
  let expected: Uint8Array;
  let salt: Uint8Array;
  try {
    expected = unb64(parts[5]);
    salt = unb64(parts[4]);
  } catch {
    return false;
  }
  let key: Uint8Array;
  try {
    key = await scryptAsync(password, salt, params);
  } catch (err) {
    if (err instanceof PasswordHashBusyError) throw err;
    return false;
  }
  return expected.length === key.length && timingSafeEqual(expected, key);
}

/** True when `stored` was made with weaker parameters than {@link SCRYPT_PARAMS}: re-hash it. */
export function needsRehash(stored: string): boolean {
  const params = parseStored(stored);
  if (!params) return false;
  return params.N < SCRYPT_PARAMS.N || params.r < SCRYPT_PARAMS.r || params.p < SCRYPT_PARAMS.p;
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
