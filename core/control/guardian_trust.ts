/**
 * What a conflux checks about the Guardian it talks to: the SHA-256 of its ML-DSA-65 key (pinned
 * at register/up) and whether its URLs cross the network in clear.
 *
 * @module
 */
import { sha256 } from "../crypto/hash.ts";

/** SHA-256 of a Guardian's ML-DSA-65 public key, lowercase hex: what `register`/`up` pin. */
export function guardianKeyFingerprint(publicKey: Uint8Array): string {
  return Array.from(sha256(publicKey), (b) => b.toString(16).padStart(2, "0")).join("");
}

/** True when `host` (a URL's hostname) names this machine: localhost, 127.0.0.0/8 or ::1. */
export function isLoopbackHost(host: string): boolean {
  const h = host.replace(/^\[|\]$/g, "").toLowerCase();
  if (h === "localhost" || h.endsWith(".localhost") || h === "::1") return true;
  return /^127\.\d{1,3}\.\d{1,3}\.\d{1,3}$/.test(h);
}

/**
 * The warning for `url` when it is plain `http://` (the Guardian) or `nats://` (the Master) to an
 * address that is not loopback; null when it is TLS or stays on this machine.
 */
export function insecureTransportWarning(url: string): string | null {
  let parsed: URL;
  try {
    parsed = new URL(url);
  } catch {
    return null;
  }
  if (isLoopbackHost(parsed.hostname)) return null;
  if (parsed.protocol === "http:") {
    return `WARNING: the Guardian at ${parsed.origin} is plain http:// to a non-loopback ` +
      "address: tokens and session keys cross the network unencrypted and its answers can be " +
      "forged on the way. Use https:// (serve --tls-cert/--tls-key; README, TLS).";
  }
  if (parsed.protocol === "nats:") {
    return `WARNING: the Master (NATS) at ${url} is plain nats:// to a non-loopback address: ` +
      "the control channel crosses the network unencrypted. Use TLS (init --nats-tls-cert/" +
      "--nats-tls-key, tls:// URLs; README, TLS).";
  }
  return null;
}
