/**
 * A running Guardian: store, keys, NATS publisher and the HTTP server, started and stopped as one.
 *
 * @module
 */

import { join } from "node:path";
import { consoleLogger, type Logger } from "../core/log/logger.ts";
import { type ApiConfig, createGuardianApi } from "./api.ts";
import { type GuardianKeys, loadKeys } from "./keys.ts";
import { NatsPublisher } from "./nats_publisher.ts";
import { NatsRevoker } from "./nats_revoker.ts";
import { containStrayErrors } from "../core/process/stray_errors.ts";
import { SqliteStore } from "./store/sqlite_store.ts";
import { ChangeFeed } from "./domain/changes.ts";
import { Presence } from "./domain/presence.ts";

/** File name of the database inside the data directory. */
export const DATABASE_FILE = "guardian.db";

/** Options of {@link startGuardianServer}. */
export interface GuardianServerOptions extends ApiConfig {
  /** Data directory prepared by `veilnet-guardian init`. */
  dataDir: string;
  /** Address to listen on; default 127.0.0.1. */
  hostname?: string;
  /** Port; 0 (the default) picks a free one. */
  port?: number;
  /** Logger; default a console logger at "info". */
  log?: Logger;
  /** Clock; default Date.now. Tests move it to expire tokens. */
  now?: () => number;
  /** Skip the NATS connection (no team-key pushes); for API-only tests. */
  noNats?: boolean;
  /** Serve HTTPS with this certificate chain and key (PEM texts); plain HTTP without. */
  tls?: { cert: string; key: string };
  /** PEM of the private CA that signed the Master's TLS certificate (`tls://` NATS URLs). */
  natsCaPem?: string;
}

/** A started Guardian. */
export interface GuardianServer {
  /** Base URL, e.g. `http://127.0.0.1:8080` (`https://` with TLS). */
  url: string;
  /** Port actually bound. */
  port: number;
  /** The open store (tests read `contentDigest()`). */
  store: SqliteStore;
  /** The Guardian's keys. */
  keys: GuardianKeys;
  /** The NATS publisher, unless `noNats`. */
  publisher: NatsPublisher | null;
  /** The system connection that pushes revocations, unless `noNats`. */
  revoker: NatsRevoker | null;
  /** Who is connected to the Master (system-account advisories), unless `noNats`. */
  presence: Presence | null;
  /** Announces changes to the portal's live views. */
  changes: ChangeFeed;
  /** Stops serving, closes NATS and the database. */
  close(): Promise<void>;
}

/** Starts the Guardian over the data directory `options.dataDir`. */
export async function startGuardianServer(options: GuardianServerOptions): Promise<GuardianServer> {
  const log = options.log ?? consoleLogger("info", "guardian: ");
  const keys = await loadKeys(options.dataDir);
  // The NATS connections' sockets may raise resets nobody listens to when nats-server restarts.
  const stopContaining = options.noNats ? () => {} : containStrayErrors(log);
  const store = new SqliteStore(join(options.dataDir, DATABASE_FILE));
  const publisher = options.noNats
    ? null
    : await NatsPublisher.start(keys, options.natsUrls, log, options.natsCaPem);
  const now = options.now ?? Date.now;
  const revoker = options.noNats ? null : await NatsRevoker.start({
    keys,
    servers: options.natsUrls,
    log,
    revocations: () => store.natsRevocations(now()),
    caPem: options.natsCaPem,
  });
  const changes = new ChangeFeed();
  const presence = options.noNats ? null : await Presence.start({
    keys,
    servers: options.natsUrls,
    log,
    store,
    now,
    changed: () => changes.bump(),
    caPem: options.natsCaPem,
  });
  const handler = createGuardianApi(
    {
      store,
      keys,
      log,
      now,
      publisher: publisher ?? undefined,
      revoker: revoker ?? undefined,
      presence: presence ?? undefined,
    },
    options,
    { changes },
  );
  let resolveListening: (addr: Deno.NetAddr) => void;
  const listening = new Promise<Deno.NetAddr>((r) => (resolveListening = r));
  const server = Deno.serve({
    hostname: options.hostname ?? "127.0.0.1",
    port: options.port ?? 0,
    ...(options.tls ? { cert: options.tls.cert, key: options.tls.key } : {}),
    onListen: (addr) => resolveListening(addr as Deno.NetAddr),
    onError: (err) => {
      log.error("unhandled request error", { error: (err as Error).message });
      return new Response(JSON.stringify({ error: "internal error" }), {
        status: 500,
        headers: { "content-type": "application/json" },
      });
    },
  }, (request, info) => handler(request, (info.remoteAddr as Deno.NetAddr).hostname));
  const addr = await listening;
  const host = addr.hostname.includes(":") ? `[${addr.hostname}]` : addr.hostname;
  let closed = false;
  return {
    url: `${options.tls ? "https" : "http"}://${host}:${addr.port}`,
    port: addr.port,
    store,
    keys,
    publisher,
    revoker,
    presence,
    changes,
    async close() {
      if (closed) return;
      closed = true;
      changes.close();
      await server.shutdown();
      await publisher?.close();
      await revoker?.close();
      await presence?.close();
      stopContaining();
      store.close();
    },
  };
}
