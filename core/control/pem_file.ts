/**
 * Reading the PEM files of TLS: certificates a peer is trusted by (a private CA for the Guardian
 * and the Master) and a server's certificate and key. Errors name the file and what is wrong,
 * never its contents (a key file holds a secret).
 *
 * @module
 */

/** A PEM file that is missing, unreadable, too large or of the wrong kind. */
export class PemFileError extends Error {
  /** Creates the error. */
  constructor(message: string) {
    super(message);
    this.name = "PemFileError";
  }
}

/** What a PEM file must hold. */
export type PemKind = "certificate" | "private key";

/** Certificate bundles are small; a larger file is not what the flag meant. */
const MAX_PEM_BYTES = 1 << 20;

const LABELS: Record<PemKind, RegExp> = {
  certificate: /-----BEGIN CERTIFICATE-----[\s\S]+?-----END CERTIFICATE-----/,
  "private key": /-----BEGIN (?:RSA |EC |ENCRYPTED )?PRIVATE KEY-----[\s\S]+?-----END /,
};

/**
 * Reads `path` (named `what` in errors, e.g. "--guardian-ca") and checks it holds at least one
 * PEM block of `kind`; returns the text. Throws PemFileError.
 */
export function readPemFile(path: string, what: string, kind: PemKind): string {
  let text: string;
  try {
    const info = Deno.statSync(path);
    if (!info.isFile) throw new PemFileError(`${what}: ${path} is not a file`);
    if (info.size > MAX_PEM_BYTES) throw new PemFileError(`${what}: ${path} is larger than 1 MB`);
    text = Deno.readTextFileSync(path);
  } catch (err) {
    if (err instanceof PemFileError) throw err;
    const reason = err instanceof Deno.errors.NotFound ? "no such file" : (err as Error).message;
    throw new PemFileError(`${what}: cannot read ${path}: ${reason}`);
  }
  if (/-----BEGIN ENCRYPTED PRIVATE KEY-----/.test(text)) {
    throw new PemFileError(`${what}: ${path} holds an encrypted key; give an unencrypted one`);
  }
  if (!LABELS[kind].test(text)) throw new PemFileError(`${what}: ${path} holds no PEM ${kind}`);
  return text;
}
