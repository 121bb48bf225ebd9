/**
 * TLS options of a nats.js connection to the Master.
 *
 * @module
 */

/**
 * nats.js TLS options for `tls://` servers (what `veilnet-guardian init --nats-tls-cert` hands
 * out): the Guardian's private CA, if any, is trusted for the Master too (one CA usually signs
 * both). Plain `nats://` servers get no TLS options, which nats.js would otherwise insist on.
 */
export function natsTls(
  servers: readonly string[],
  caCerts: readonly string[],
): { tls?: { ca?: string } } {
  if (!servers.some((u) => u.startsWith("tls://"))) return {};
  return { tls: caCerts.length > 0 ? { ca: caCerts.join("\n") } : {} };
}
