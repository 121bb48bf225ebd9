/**
 * Presence: which confluxes are connected to the Master now, and when each was last seen. The
 * Guardian learns it as a system-account user from the servers' own advisories,
 * `$SYS.ACCOUNT.<application account>.CONNECT` and `.DISCONNECT` (nats-server publishes them
 * for every client of the account), and at every (re)connect from `CONNZ` of the account, so a
 * restarted Guardian knows who is online without waiting for the next connect. A client is
 * mapped to its conflux by its NATS user key (recorded at session login), never by the name the
 * client chose, so a conflux cannot appear as another one.
 *
 * @module
 */

import type { NatsConnection, Subscription } from "@nats-io/nats-core";
import { createUser } from "@nats-io/nkeys";
import type { Logger } from "../../core/log/logger.ts";
import type { GuardianKeys } from "../keys.ts";
import { mintPresenceUserJwt } from "../nats_auth.ts";
import { connectGuardianNats } from "../nats_connect.ts";
import type { GuardianStore } from "../store.ts";
import type { PresenceView } from "./context.ts";

/** Options of {@link Presence.start}. */
export interface PresenceOptions {
  keys: GuardianKeys;
  servers: string[];
  log: Logger;
  store: GuardianStore;
  now: () => number;
  /** Called when a conflux goes online or offline. */
  changed?: () => void;
  /** PEM of a private CA of the Master's TLS certificate. */
  caPem?: string;
}

/** The part of a server advisory's client info used here. */
interface ClientInfo {
  /** The user's public nkey (JWT users). */
  user?: string;
  nkey?: string;
  /** Connection id on its server, with `server`: one connection. */
  id?: number;
  server?: string;
}

/** See the module doc. */
export class Presence implements PresenceView {
  readonly #o: PresenceOptions;
  /** conflux id → connection keys (server/cid) open now. */
  readonly #online = new Map<string, Set<string>>();
  #nc: NatsConnection | null = null;
  #subs: Subscription[] = [];
  #closed = false;
  readonly #ready: Promise<void>;

  private constructor(o: PresenceOptions, jwt: string, seed: Uint8Array) {
    this.#o = o;
    this.#ready = this.#connect(jwt, seed);
  }

  /** Mints a system user and connects in the background. */
  static async start(o: PresenceOptions): Promise<Presence> {
    const user = createUser();
    const jwt = await mintPresenceUserJwt(o.keys, user.getPublicKey());
    return new Presence(o, jwt, user.getSeed());
  }

  /** Resolves once the first connection attempt settled. */
  ready(): Promise<void> {
    return this.#ready;
  }

  online(confluxId: string): boolean {
    return (this.#online.get(confluxId)?.size ?? 0) > 0;
  }

  lastSeen(confluxId: string): number | null {
    if (this.online(confluxId)) return this.#o.now();
    return this.#o.store.confluxById(confluxId)?.lastSeenAt ?? null;
  }

  /** Ids of the confluxes online now. */
  onlineIds(): string[] {
    return [...this.#online.entries()].filter(([, s]) => s.size > 0).map(([id]) => id);
  }

  async #connect(jwt: string, seed: Uint8Array): Promise<void> {
    try {
      const nc = await connectGuardianNats({
        name: "veilnet-guardian-presence",
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
      const account = this.#o.keys.account.getPublicKey();
      for (const kind of ["CONNECT", "DISCONNECT"] as const) {
        const sub = nc.subscribe(`$SYS.ACCOUNT.${account}.${kind}`, {
          callback: (err, msg) => {
            if (err) return;
            try {
              const event = JSON.parse(new TextDecoder().decode(msg.data)) as {
                server?: { name?: string; id?: string };
                client?: ClientInfo;
              };
              const server = event.client?.server ?? event.server?.name ?? event.server?.id ?? "";
              if (event.client) this.#event(kind === "CONNECT", event.client, server);
            } catch {
              // not an advisory: ignored
            }
          },
        });
        this.#subs.push(sub);
      }
      await this.#resync();
      (async () => {
        for await (const s of nc.status()) if (s.type === "reconnect") await this.#resync();
      })().catch(() => {});
    } catch (err) {
      if (!this.#closed) {
        this.#o.log.error("NATS presence connection failed", { error: (err as Error).message });
      }
    }
  }

  #event(connected: boolean, client: ClientInfo, server: string): void {
    const nkey = client.user ?? client.nkey;
    if (!nkey) return;
    const id = this.#o.store.confluxIdOfNkey(nkey);
    if (!id) return;
    const key = `${server}/${client.id ?? nkey}`;
    const set = this.#online.get(id) ?? new Set<string>();
    const wasOnline = set.size > 0;
    if (connected) set.add(key);
    else set.delete(key);
    this.#online.set(id, set);
    this.#o.store.recordSeen(id, this.#o.now());
    if (wasOnline !== set.size > 0) {
      this.#o.log.info(connected ? "conflux online" : "conflux offline", { conflux_id: id });
      this.#o.changed?.();
    }
  }

  /** Rebuilds the online set from every server's CONNZ of the account. */
  async #resync(): Promise<void> {
    const nc = this.#nc;
    if (!nc || nc.isClosed()) return;
    const account = this.#o.keys.account.getPublicKey();
    const seen = new Map<string, Set<string>>();
    try {
      const replies = await nc.requestMany(
        `$SYS.REQ.ACCOUNT.${account}.CONNZ`,
        new TextEncoder().encode(JSON.stringify({ auth: true, limit: 10_000 })),
        { maxWait: 1500 },
      );
      for await (const m of replies) {
        if (m.data.length === 0) break;
        const body = JSON.parse(new TextDecoder().decode(m.data)) as {
          server?: { id?: string; name?: string };
          data?: {
            server_id?: string;
            connections?: Array<{ cid?: number; authorized_user?: string }>;
          };
        };
        // Advisories name the server by its name (`client.server`); so does this key.
        const server = body.server?.name ?? body.server?.id ?? body.data?.server_id ?? "";
        for (const c of body.data?.connections ?? []) {
          const id = c.authorized_user ? this.#o.store.confluxIdOfNkey(c.authorized_user) : null;
          if (!id) continue;
          const set = seen.get(id) ?? new Set<string>();
          set.add(`${server}/${c.cid ?? c.authorized_user}`);
          seen.set(id, set);
        }
      }
    } catch (err) {
      this.#o.log.warn("NATS presence resync failed", { error: (err as Error).message });
      return;
    }
    const before = new Set(this.onlineIds());
    this.#online.clear();
    for (const [id, set] of seen) {
      this.#online.set(id, set);
      this.#o.store.recordSeen(id, this.#o.now());
    }
    const after = new Set(this.onlineIds());
    if (before.size !== after.size || [...before].some((id) => !after.has(id))) {
      this.#o.changed?.();
    }
  }

  /** Closes the connection. */
  async close(): Promise<void> {
    this.#closed = true;
    for (const s of this.#subs) s.unsubscribe();
    const nc = this.#nc;
    this.#nc = null;
    if (nc) await nc.close().catch(() => {});
  }
}
