/**
 * A test child's own conflux session: a fresh ML-DSA key and a ControlClient logged in with a
 * conflux token (tests/control_flood_child.ts, tests/dataplane_intruder.ts).
 *
 * @module
 */
import { ControlClient } from "../../core/control/control_client.ts";
import { GuardianClient } from "../../core/control/guardian_client.ts";
import { generateSigningKeyPair, type SigningKeyPair } from "../../core/crypto/mldsa.ts";
import { consoleLogger, type Logger } from "../../core/log/logger.ts";

/** Random bytes. */
export function randomBytes(n: number): Uint8Array<ArrayBuffer> {
  return crypto.getRandomValues(new Uint8Array(n));
}

/** Logs in as the conflux of `token` with a new key; warnings only, prefixed `name: `. */
export async function loginAsConflux(
  guardianUrl: string,
  token: string,
  name: string,
): Promise<{ keys: SigningKeyPair; control: ControlClient; log: Logger }> {
  const log = consoleLogger("warn", `${name}: `);
  const keys = generateSigningKeyPair(randomBytes(32));
  const control = await ControlClient.connect({
    guardian: new GuardianClient(guardianUrl),
    confluxToken: token,
    mldsaPublicKey: keys.publicKey,
    log,
  });
  return { keys, control, log };
}
