/**
 * Test helper: a real Guardian with its own real nats-server, on free ports, in a temp data dir.
 *
 * ```ts
 * const g = await startGuardian({ sessionTtlSec: 5 });
 * try {
 *   const realm = await createRealm(g);
 *   const token = await registrationToken(g, realm);           // for `veilnet-conflux register`
 *   const conflux = await registerConflux(g, realm);           // { confluxId, token }
 *   // g.url is the Guardian URL, g.natsUrls the Master.
 * } finally {
 *   await g.stop();
 * }
 * ```
 *
 * `mode: "in-process"` (default) runs the Guardian inside the test process (fast; exposes the
 * store and a movable clock); `mode: "subprocess"` runs `deno run -A guardian/main.ts serve` as
 * a child process, exactly as a user would, stopped by its PID.
 *
 * @module
 */

import { fileURLToPath } from "node:url";
import { GuardianClient } from "../../core/control/guardian_client.ts";
import type { Logger } from "../../core/log/logger.ts";
import { initGuardian } from "../../guardian/init.ts";
import { type GuardianServer, startGuardianServer } from "../../guardian/server.ts";
import type { ApiConfig } from "../../guardian/api.ts";
import { freePort, type NatsServer, startNatsServer } from "./nats_server.ts";
import type { TestCa } from "./tls.ts";

const MAIN = fileURLToPath(new URL("../../guardian/main.ts", import.meta.url));

/** Options of {@link startGuardian}. */
export interface StartGuardianOptions {
  /** Session (JWT, certificate) lifetime in seconds; default 600. */
  sessionTtlSec?: number;
  /** Where the Guardian runs; default "in-process". */
  mode?: "in-process" | "subprocess";
  /** Start a nats-server for it (default true); false for API-only tests. */
  nats?: boolean;
  /** Logger of an in-process Guardian; default silent. */
  log?: Logger;
  /** Extra API settings of an in-process Guardian (rate limits, body size, signup…). */
  api?: Partial<ApiConfig>;
  /** Serve HTTPS and require TLS at the Master, with certificates of this test CA. */
  tls?: TestCa;
}

/** A running test Guardian. */
export interface TestGuardian {
  /** Base URL, e.g. `http://127.0.0.1:40123`. */
  url: string;
  /** Its data directory (keys, database, nats.conf); removed by `stop()`. */
  dataDir: string;
  /** NATS client URLs handed to confluxes. */
  natsUrls: string[];
  /** The nats-server, unless started with `nats: false`. */
  nats: NatsServer | null;
  /** A client of this Guardian. */
  client: GuardianClient;
  /** The in-process server (store, keys), or null in subprocess mode. */
  server: GuardianServer | null;
  /** PID of the Guardian subprocess, or null in-process. */
  pid: number | null;
  /** In-process only: milliseconds added to the Guardian's clock (to expire tokens). */
  clock: { offsetMs: number };
  /** Stops the Guardian and nats-server and removes the data directory. Idempotent. */
  stop(): Promise<void>;
}

const silent: Logger = { debug() {}, info() {}, warn() {}, error() {} };

/** Inits a data dir, starts nats-server and the Guardian; see the module example. */
export async function startGuardian(options: StartGuardianOptions = {}): Promise<TestGuardian> {
  const dataDir = await Deno.makeTempDir({ prefix: "veilnet-guardian-test-" });
  const cleanups: Array<() => Promise<void>> = [
    () => Deno.remove(dataDir, { recursive: true }).catch(() => {}),
  ];
  const cleanup = async () => {
    for (const c of cleanups.reverse()) await c();
  };
  try {
    const natsPort = freePort();
    const tls = options.tls;
    const init = await initGuardian({
      dataDir,
      natsListen: `127.0.0.1:${natsPort}`,
      natsTls: tls && { certFile: tls.certFile, keyFile: tls.keyFile },
    });
    let nats: NatsServer | null = null;
    if (options.nats ?? true) {
      nats = await startNatsServer(init.configs[0].path);
      cleanups.push(() => nats!.stop());
    }
    const natsUrls = [init.configs[0].clientUrl];
    const clock = { offsetMs: 0 };
    let server: GuardianServer | null = null;
    let pid: number | null = null;
    let url: string;
    if ((options.mode ?? "in-process") === "in-process") {
      server = await startGuardianServer({
        ...options.api,
        dataDir,
        natsUrls,
        sessionTtlSec: options.sessionTtlSec ?? options.api?.sessionTtlSec,
        log: options.log ?? silent,
        now: () => Date.now() + clock.offsetMs,
        noNats: !(options.nats ?? true),
        tls: tls && { cert: tls.certPem, key: Deno.readTextFileSync(tls.keyFile) },
        natsCaPem: tls?.caPem,
      });
      cleanups.push(() => server!.close());
      url = server.url;
      if (nats) await server.publisher?.ready();
    } else {
      const child = new Deno.Command(Deno.execPath(), {
        args: [
          "run",
          "-A",
          MAIN,
          "serve",
          "--data",
          dataDir,
          "--listen",
          "127.0.0.1:0",
          "--nats",
          natsUrls.join(","),
          "--session-ttl",
          String(options.sessionTtlSec ?? 600),
          "--log-level",
          "warn",
          ...(tls
            ? ["--tls-cert", tls.certFile, "--tls-key", tls.keyFile, "--nats-ca", tls.caFile]
            : []),
        ],
        stdin: "null",
        stdout: "piped",
        stderr: "inherit",
      }).spawn();
      pid = child.pid;
      cleanups.push(async () => {
        try {
          child.kill("SIGTERM");
        } catch { /* already gone */ }
        await child.status;
      });
      url = await readListeningUrl(child.stdout);
    }
    const client = new GuardianClient(url, { caCerts: tls ? [tls.caPem] : undefined });
    await waitHealthy(client);
    let stopped: Promise<void> | null = null;
    return {
      url,
      dataDir,
      natsUrls,
      nats,
      client,
      server,
      pid,
      clock,
      stop: () => (stopped ??= cleanup()),
    };
  } catch (err) {
    await cleanup();
    throw err;
  }
}

async function readListeningUrl(stdout: ReadableStream<Uint8Array>): Promise<string> {
  const decoder = new TextDecoder();
  let text = "";
  const reader = stdout.getReader();
  const timer = setTimeout(() => reader.cancel().catch(() => {}), 30_000);
  try {
    for (;;) {
      const { done, value } = await reader.read();
      if (done) break;
      text += decoder.decode(value, { stream: true });
      const m = /listening on (https?:\/\/\S+)/.exec(text);
      if (m) {
        // Keep draining so the child never blocks on a full pipe.
        (async () => {
          for (;;) {
            const r = await reader.read();
            if (r.done) break;
          }
        })().catch(() => {});
        return m[1];
      }
    }
  } finally {
    clearTimeout(timer);
  }
  throw new Error(`Guardian subprocess did not start: ${text.slice(-500)}`);
}

async function waitHealthy(client: GuardianClient): Promise<void> {
  for (let i = 0; i < 100; i++) {
    try {
      await client.call("GET", "/health");
      return;
    } catch {
      await new Promise((r) => setTimeout(r, 50));
    }
  }
  throw new Error("Guardian not healthy");
}

/** A user with a realm, as {@link createRealm} returns. */
export interface TestRealm {
  /** The user's email. */
  email: string;
  /** The user's password. */
  password: string;
  /** The user's access token. */
  accessToken: string;
  /** Realm id. */
  realmId: string;
  /** Realm subnet (CIDR). */
  subnet: string;
}

/**
 * Signs up a fresh user (the first one becomes admin), logs in and creates a realm with
 * `subnet` (default 100.64.0.0/24) and the portal policy `autoApprove` (default none: portal
 * networks then need an approval).
 */
export async function createRealm(
  guardian: TestGuardian,
  options: { subnet?: string; email?: string; name?: string; autoApprove?: string[] } = {},
): Promise<TestRealm> {
  const email = options.email ?? `user-${crypto.randomUUID().slice(0, 8)}@example.test`;
  const password = "correct horse battery staple";
  await guardian.client.signup(email, password);
  const accessToken = await guardian.client.login(email, password);
  const realm = await guardian.client.createRealm(accessToken, {
    name: options.name ?? "test realm",
    subnet: options.subnet ?? "100.64.0.0/24",
    autoApprove: options.autoApprove,
  });
  return { email, password, accessToken, realmId: realm.id, subnet: realm.subnet };
}

/** A fresh single-use registration token for `realm` (default validity one day). */
export async function registrationToken(
  guardian: TestGuardian,
  realm: TestRealm,
  options: { tag?: string; expiresAfterDays?: number } = {},
): Promise<string> {
  const t = await guardian.client.createRegistrationToken(realm.accessToken, {
    realmId: realm.realmId,
    expiresAfterDays: options.expiresAfterDays ?? 1,
    tag: options.tag,
  });
  return t.token;
}

/** Registers a conflux in `realm` with a fresh registration token; returns its id and token. */
export async function registerConflux(
  guardian: TestGuardian,
  realm: TestRealm,
  options: { tag?: string; teams?: string[] } = {},
): Promise<{ confluxId: string; token: string; overlayIp?: string }> {
  const r = await guardian.client.register({
    registrationToken: await registrationToken(guardian, realm),
    tag: options.tag,
    teams: options.teams,
  });
  return { confluxId: r.confluxId, token: r.token, overlayIp: r.overlayIp };
}
