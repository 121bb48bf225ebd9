/**
 * The Guardian's own NATS connection, used only to push team keys to confluxes.
 *
 * It authenticates as a service user of the application account, minted at start with a fresh
 * in-memory nkey, allowed to publish under `vn.>` and to subscribe to nothing. The connection is
 * made in the background and retried forever, so the HTTP API works while NATS is down (pushes
 * are then skipped; confluxes get current keys at their next session refresh).
 *
 * @module
 */

import type { NatsConnection } from "@nats-io/nats-core";
import { createUser } from "@nats-io/nkeys";
import type { Logger } from "../core/log/logger.ts";
import type { TeamKeyPublisher } from "./api.ts";
import type { GuardianKeys } from "./keys.ts";
import { mintUserJwt } from "./nats_auth.ts";
import { connectGuardianNats } from "./nats_connect.ts";

/** A background NATS connection implementing {@link TeamKeyPublisher}. */
export class NatsPublisher implements TeamKeyPublisher {
  #nc: NatsConnection | null = null;
  #up = false;
  #closed = false;
  readonly #ready: Promise<void>;

  private constructor(
    servers: string[],
    jwt: string,
    seed: Uint8Array,
    log: Logger,
    caPem: string | undefined,
  ) {
    this.#ready = (async () => {
      try {
        const nc = await connectGuardianNats({
          name: "veilnet-guardian",
          servers,
          jwt,
          seed,
          caPem,
        });
        if (this.#closed) {
          await nc.close();
          return;
        }
        this.#nc = nc;
        this.#up = true;
        log.info("connected to NATS", { server: nc.getServer() });
        (async () => {
          for await (const s of nc.status()) {
            if (s.type === "disconnect") this.#up = false;
            if (s.type === "reconnect") this.#up = true;
          }
        })().catch(() => {});
      } catch (err) {
        if (!this.#closed) {
          log.error("NATS connection failed", { error: (err as Error).message });
        }
      }
    })();
  }

  /**
   * Mints the service user and starts connecting to `servers` in the background; `caPem` is the
   * private CA of the Master's TLS certificate, if it has one.
   */
  static async start(
    keys: GuardianKeys,
    servers: string[],
    log: Logger,
    caPem?: string,
  ): Promise<NatsPublisher> {
    const user = createUser();
    const jwt = await mintUserJwt(keys, {
      nkey: user.getPublicKey(),
      name: "veilnet-guardian",
      permissions: { pub: { allow: ["vn.>"] }, sub: { deny: [">"] } },
    });
    return new NatsPublisher(servers, jwt, user.getSeed(), log, caPem);
  }

  /** Resolves once the first connection attempt settled (connected, failed, or closed). */
  ready(): Promise<void> {
    return this.#ready;
  }

  connected(): boolean {
    return this.#up && this.#nc !== null && !this.#nc.isClosed();
  }

  publish(subject: string, data: Uint8Array): boolean {
    if (!this.connected()) return false;
    this.#nc!.publish(subject, data);
    return true;
  }

  /** Waits until everything published so far reached the server. */
  async flush(): Promise<void> {
    if (this.connected()) await this.#nc!.flush();
  }

  /** Closes the connection (or abandons the pending attempt). */
  async close(): Promise<void> {
    this.#closed = true;
    const nc = this.#nc;
    this.#nc = null;
    this.#up = false;
    if (nc) await nc.close().catch(() => {});
  }
}
