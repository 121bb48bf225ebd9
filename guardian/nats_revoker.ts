/**
 * NatsRevoker: the Guardian's connection to the Master as a system-account user, used to push the
 * application account's JWT with the user keys of revoked confluxes. The servers then refuse those
 * users and disconnect them at once, instead of when their session JWT expires. Works with the
 * MEMORY resolver of Debian's nats-server 2.9 (`$SYS.REQ.ACCOUNT.<id>.CLAIMS.UPDATE` is answered
 * "jwt updated"); an update lives in the servers' memory, so it is pushed again on every
 * (re)connect, which covers a restarted server.
 *
 * @module
 */

import type { NatsConnection } from "@nats-io/nats-core";
import { createUser } from "@nats-io/nkeys";
import type { Logger } from "../core/log/logger.ts";
import type { GuardianKeys } from "./keys.ts";
import { applicationAccountJwt, mintSystemUserJwt } from "./nats_auth.ts";
import { connectGuardianNats } from "./nats_connect.ts";
import type { NatsRevocation } from "./store.ts";

/** Options of {@link NatsRevoker.start}. */
export interface NatsRevokerOptions {
  keys: GuardianKeys;
  servers: string[];
  log: Logger;
  /** Reads the current revocations (from the store) at every push. */
  revocations: () => NatsRevocation[];
  /** PEM of a private CA of the Master's TLS certificate. */
  caPem?: string;
}

/** Pushes account revocations to the Master; see the module doc. */
export class NatsRevoker {
  readonly #o: NatsRevokerOptions;
  #nc: NatsConnection | null = null;
  #closed = false;
  #pushing: Promise<void> = Promise.resolve();
  readonly #ready: Promise<void>;

  private constructor(options: NatsRevokerOptions, jwt: string, seed: Uint8Array) {
    this.#o = options;
    this.#ready = this.#connect(jwt, seed);
  }

  /** Mints the system user and connects in the background (pushing once connected). */
  static async start(options: NatsRevokerOptions): Promise<NatsRevoker> {
    const user = createUser();
    const jwt = await mintSystemUserJwt(options.keys, user.getPublicKey());
    return new NatsRevoker(options, jwt, user.getSeed());
  }

  async #connect(jwt: string, seed: Uint8Array): Promise<void> {
    try {
      const nc = await connectGuardianNats({
        name: "veilnet-guardian-system",
        servers: this.#o.servers,
        jwt,
        seed,
        caPem: this.#o.caPem,
      });
      if (this.#closed) {
        await nc.close();
        return;
      }
      this.#nc = nc;
      await this.push();
      (async () => {
        for await (const s of nc.status()) if (s.type === "reconnect") this.push();
      })().catch(() => {});
    } catch (err) {
      if (!this.#closed) {
        this.#o.log.error("NATS system connection failed", { error: (err as Error).message });
      }
    }
  }

  /** Resolves once the first connection attempt (and its push) settled. */
  ready(): Promise<void> {
    return this.#ready;
  }

  /**
   * Pushes the current revocations; resolves when the server answered (or the push failed, which
   * is logged: the next push or reconnect repeats it). Pushes run one after another.
   */
  push(): Promise<void> {
    this.#pushing = this.#pushing.then(() => this.#pushNow());
    return this.#pushing;
  }

  async #pushNow(): Promise<void> {
    const nc = this.#nc;
    if (!nc || nc.isClosed()) return;
    const list = this.#o.revocations();
    const revocations: Record<string, number> = {};
    for (const r of list) revocations[r.nkey] = Math.ceil(r.revokedAt / 1000);
    const account = this.#o.keys.account.getPublicKey();
    try {
      const jwt = await applicationAccountJwt(this.#o.keys, revocations);
      const reply = await nc.request(
        `$SYS.REQ.ACCOUNT.${account}.CLAIMS.UPDATE`,
        new TextEncoder().encode(jwt),
        { timeout: 5000 },
      );
      const answer = JSON.parse(new TextDecoder().decode(reply.data)) as {
        data?: { code?: number; message?: string };
        error?: { description?: string };
      };
      if (answer.data?.code !== 200) {
        throw new Error(answer.error?.description ?? answer.data?.message ?? "refused");
      }
      this.#o.log.info("NATS account updated", { revoked_users: list.length });
    } catch (err) {
      this.#o.log.warn("NATS account update failed", { error: (err as Error).message });
    }
  }

  /** Closes the connection. */
  async close(): Promise<void> {
    this.#closed = true;
    const nc = this.#nc;
    this.#nc = null;
    if (nc) await nc.close().catch(() => {});
  }
}
