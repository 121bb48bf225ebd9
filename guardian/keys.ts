/**
 * The Guardian's persistent keys, kept in `<data>/guardian-keys.json` (mode 0600).
 *
 * - an ML-DSA-65 seed: the identity key that signs conflux certificates and team-key pushes;
 * - NATS nkeys: the operator, the system account, the application account (where confluxes live)
 *   and a separate signing key of the application account that signs every user JWT, so the
 *   account's identity key is needed only when its JWT is (re)written.
 *
 * The file is created once with `createNew`; nothing ever overwrites it.
 *
 * @module
 */

import { join } from "node:path";
import { createAccount, createOperator, fromSeed, type KeyPair } from "@nats-io/nkeys";
import { generateSigningKeyPair, type SigningKeyPair } from "../core/crypto/mldsa.ts";

/** File name of the key file inside the data directory. */
export const KEYS_FILE = "guardian-keys.json";

/** Seeds as stored on disk. */
interface KeyFile {
  version: 1;
  mldsa_seed: string;
  operator_seed: string;
  system_account_seed: string;
  account_seed: string;
  account_signing_seed: string;
}

/** The Guardian's keys, loaded into memory. */
export interface GuardianKeys {
  /** ML-DSA-65 identity key pair (derived from the stored 32-byte seed). */
  identity: SigningKeyPair;
  /** NATS operator key pair. */
  operator: KeyPair;
  /** NATS system account key pair. */
  systemAccount: KeyPair;
  /** NATS application account key pair (identity). */
  account: KeyPair;
  /** Signing key of the application account: issues every user JWT. */
  accountSigning: KeyPair;
}

/** Thrown when the key file is missing or malformed. */
export class KeyFileError extends Error {
  /** Creates the error. */
  constructor(message: string) {
    super(message);
    this.name = "KeyFileError";
  }
}

function b64(bytes: Uint8Array): string {
  return btoa(String.fromCharCode(...bytes));
}

function seedText(kp: KeyPair): string {
  return new TextDecoder().decode(kp.getSeed());
}

function decodeKeyFile(data: KeyFile): GuardianKeys {
  const seed = Uint8Array.from(atob(data.mldsa_seed), (c) => c.charCodeAt(0));
  const enc = new TextEncoder();
  return {
    identity: generateSigningKeyPair(seed),
    operator: fromSeed(enc.encode(data.operator_seed)),
    systemAccount: fromSeed(enc.encode(data.system_account_seed)),
    account: fromSeed(enc.encode(data.account_seed)),
    accountSigning: fromSeed(enc.encode(data.account_signing_seed)),
  };
}

/** Loads the keys of `dataDir`; throws KeyFileError when absent or malformed. */
export async function loadKeys(dataDir: string): Promise<GuardianKeys> {
  let text: string;
  try {
    text = await Deno.readTextFile(join(dataDir, KEYS_FILE));
  } catch {
    throw new KeyFileError(`no Guardian keys in ${dataDir}: run "veilnet-guardian init" first`);
  }
  try {
    const data = JSON.parse(text) as KeyFile;
    if (data.version !== 1) throw new Error("version");
    return decodeKeyFile(data);
  } catch {
    throw new KeyFileError(`${join(dataDir, KEYS_FILE)} is malformed`);
  }
}

/**
 * Loads the keys of `dataDir`, creating them first if there are none. Returns whether they were
 * created now. Existing keys are never replaced.
 */
export async function loadOrCreateKeys(
  dataDir: string,
): Promise<{ keys: GuardianKeys; created: boolean }> {
  await Deno.mkdir(dataDir, { recursive: true, mode: 0o700 });
  const path = join(dataDir, KEYS_FILE);
  const data: KeyFile = {
    version: 1,
    mldsa_seed: b64(crypto.getRandomValues(new Uint8Array(32))),
    operator_seed: seedText(createOperator()),
    system_account_seed: seedText(createAccount()),
    account_seed: seedText(createAccount()),
    account_signing_seed: seedText(createAccount()),
  };
  try {
    // createNew fails if the file exists: a second init can never overwrite keys.
    await Deno.writeTextFile(path, JSON.stringify(data, null, 2) + "\n", {
      createNew: true,
      mode: 0o600,
    });
  } catch (err) {
    if (err instanceof Deno.errors.AlreadyExists) {
      return { keys: await loadKeys(dataDir), created: false };
    }
    throw err;
  }
  return { keys: decodeKeyFile(data), created: true };
}
