/**
 * Start-up and shutdown of a node: what `veilnet-conflux run` executes.
 *
 * `runNode` creates this run's ML-DSA-65 key pair (memory only), logs in to the Guardian and
 * joins the control channel (core/control), opens the TUN with the leased overlay address and
 * the realm route, and moves packets TUN → egresser → stream → tether → ingresser → TUN until
 * `signal` aborts; then it tears everything down and resolves.
 *
 * @module
 */
import { join } from "node:path";
import { ControlClient } from "../control/control_client.ts";
import { GuardianClient } from "../control/guardian_client.ts";
import type { TeamKey } from "../control/team_keys.ts";
import { generateSigningKeyPair } from "../crypto/mldsa.ts";
import { verifyCertificate } from "../wire/certificate.ts";
import { Tun } from "../../ffi/tun.ts";
import { useOpensslAesGcmByDefault } from "../../ffi/aesgcm.ts";
import { selectEngine } from "../tether/select.ts";
import { MAX_INNER, Node, type NodeSession } from "./node.ts";
import { DIRECT_TETHER_TIMEOUT_MS } from "./path_finder.ts";
import { TetherPool } from "./tether_pool.ts";
import { SocketDatagramPort } from "./datagram_socket.ts";
import { DEFAULT_IDLE_TIMEOUT_MS, DEFAULT_TUN_NAME, type NodeOptions } from "./options.ts";
import { parseCidr } from "./packet.ts";
import { serveStatus, STATUS_SOCKET_NAME } from "./status_server.ts";
import type { ControlPort } from "./ports.ts";
import type { Session } from "../control/guardian_client.ts";
import { enablePortalForwarding, readHostRoutes } from "../portal/linux_host.ts";
import { servedSubnets, urlAddresses } from "../portal/subnets.ts";
import { containStrayErrors } from "../process/stray_errors.ts";
import { currentUnderlay, watchUnderlay } from "./underlay_watch.ts";
import { startNames } from "./names_host.ts";
import { processMemory, readOwnStatus } from "./process_memory.ts";

/**
 * The networks a portal on this host serves (its connected IPv4 networks; see
 * core/portal/subnets.ts). Read before login, since the certificate states them.
 */
async function hostSubnets(tunName: string, log: NodeOptions["log"]): Promise<string[]> {
  if (Deno.build.os !== "linux") {
    log.warn("portal mode serves networks on Linux only so far; serving none");
    return [];
  }
  try {
    const subnets = await readServedSubnets(tunName);
    log.info("portal: serving the host's networks", { subnets });
    return subnets;
  } catch (e) {
    log.warn("portal: the host's networks could not be read; serving none", { error: String(e) });
    return [];
  }
}

async function readServedSubnets(tunName: string): Promise<string[]> {
  return servedSubnets(await readHostRoutes(), { tunName, overlay: parseCidr("100.64.0.0/10")! });
}

/** How often a portal re-reads its host's networks (a container bridge may appear later). */
export const PORTAL_RESCAN_MS = 60_000;

/**
 * Re-reads the host's networks every `everyMs` and, when they changed, renews the session at once
 * so that the certificate, and what the portal announces, follow. Returns the stop function.
 */
function followHostNetworks(
  control: ControlClient,
  tunName: string,
  initial: string[],
  options: { everyMs: number; log: NodeOptions["log"] },
): () => void {
  let served = initial;
  let busy = false;
  const timer = setInterval(async () => {
    if (busy || Deno.build.os !== "linux") return;
    busy = true;
    try {
      const next = await readServedSubnets(tunName);
      if (next.join() === served.join()) return;
      control.setSubnets(next, { renewNow: true });
      served = next;
      options.log.info("portal: the host's networks changed", { subnets: next });
    } catch (e) {
      options.log.warn("portal: the host's networks could not be followed", { error: String(e) });
    } finally {
      busy = false;
    }
  }, options.everyMs);
  return () => clearInterval(timer);
}

/** TUN MTU (the seed: 1500; WebRTC data channels segment larger messages themselves). */
export const TUN_MTU = 1500;

/**
 * Runs a conflux until `signal` aborts. Resolves after a clean shutdown; rejects when the node
 * cannot start (Guardian refused the token, NATS unreachable, TUN could not be opened, …).
 */
export async function runNode(options: NodeOptions, signal: AbortSignal): Promise<void> {
  const log = options.log;
  if (signal.aborted) return;
  const idleTimeoutMs = options.idleTimeoutMs ?? DEFAULT_IDLE_TIMEOUT_MS;
  if (!Number.isFinite(idleTimeoutMs) || idleTimeoutMs < 100) {
    throw new RangeError("idleTimeoutMs must be at least 100 ms");
  }
  const rescanMs = options.portalRescanMs ?? PORTAL_RESCAN_MS;
  if (!Number.isFinite(rescanMs) || rescanMs < 100) {
    throw new RangeError("portalRescanMs must be at least 100 ms");
  }
  const keys = generateSigningKeyPair(crypto.getRandomValues(new Uint8Array(32)));
  const tunName = options.tunName ?? DEFAULT_TUN_NAME;
  const subnets = options.portal ? options.subnets ?? await hostSubnets(tunName, log) : undefined;
  log.info("logging in", { guardian: options.guardianUrl });
  // Before the first connection: nats.js sockets may raise resets from then on.
  const stopContaining = containStrayErrors(log);
  let control: ControlClient;
  try {
    control = await ControlClient.connect({
      guardian: new GuardianClient(options.guardianUrl, {
        caCerts: options.guardianCaCerts,
        guardianKeySha256: options.guardianKeySha256,
        warn: (message) => log.warn(message),
      }),
      confluxToken: options.confluxToken,
      mldsaPublicKey: keys.publicKey,
      portal: options.portal,
      subnets,
      log,
    });
  } catch (err) {
    stopContaining();
    throw err;
  }
  // Cleanup runs last-first: containment ends after everything else has closed.
  const cleanup: (() => Promise<void> | void)[] = [stopContaining, () => control.close()];
  try {
    const session = toNodeSession(control.session, keys.publicKey);
    const cert = session.certificate;
    const realm = parseCidr(cert.realmSubnet);
    if (!realm) throw new Error(`Guardian sent a bad realm subnet "${cert.realmSubnet}"`);
    log.info("session established", {
      conflux_id: cert.confluxId,
      realm_id: cert.realmId,
      overlay_ip: cert.overlayIp,
      teams: session.teams.map((t) => t.name),
    });
    if (control.session.pendingSubnets.length > 0) {
      // A portal serves only the networks its owner approved (POST /conflux/subnets/approve).
      log.warn("portal: networks await the owner's approval and are not served yet", {
        pending: control.session.pendingSubnets,
      });
    }

    // Offloads (TSO/USO super-packets through the TUN) unless VEILNET_TUN_OFFLOAD=0.
    const offload = Deno.build.os === "linux" && Deno.env.get("VEILNET_TUN_OFFLOAD") !== "0";
    const tun = await Tun.open({
      name: tunName,
      mtu: TUN_MTU,
      offload,
    });
    cleanup.push(() => tun.close());
    if (tun.vnetHeader) await limitGsoSize(tun.name, MAX_INNER - 100);
    await tun.setAddress(`${cert.overlayIp}/${realm.prefix}`);
    await tun.setUp(true);
    log.info("TUN up", { name: tun.name, address: `${cert.overlayIp}/${realm.prefix}` });

    // Load the WebRTC engine now, not on the first packet: the first import costs seconds.
    const engine = await selectEngine(options.rtcEngine);
    log.info("tether engine ready", { engine: engine.name });
    // OpenSSL through FFI seals ~20x faster than node:crypto; falls back by itself.
    log.info("AES-GCM engine", { ...await useOpensslAesGcmByDefault() });

    const underlayPolicy = {
      tunName: tun.name,
      realm,
      interfaces: options.underlayInterfaces,
    };
    const underlay = currentUnderlay(underlayPolicy);
    log.info("underlay addresses", { addresses: underlay });
    if (underlay.length === 0) log.warn("no underlay address: tethers cannot form");
    const port: ControlPort = {
      publish: (subject, data) => control.publish(subject, data),
      request: async (subject, data, timeoutMs) =>
        (await control.request(subject, data, timeoutMs)).data,
      requestMany: async function* (subject, data, timeoutMs) {
        for await (const m of control.requestMany(subject, data, timeoutMs)) yield m.data;
      },
      subscribe: (subject) => control.subscribe(subject),
    };
    const datagrams = laneWanted(options) ? await openLaneSocket(log) : undefined;
    if (datagrams) cleanup.push(() => datagrams.close());
    const node = new Node({
      session,
      secretKey: keys.secretKey,
      control: port,
      tun,
      datagrams,
      tethers: (events) =>
        new TetherPool({
          ownId: cert.confluxId,
          engine: engine.name,
          iceServers: session.iceServers,
          hostAddresses: underlay,
          ...events,
          channels: tetherChannels(log),
          timeoutMs: DIRECT_TETHER_TIMEOUT_MS,
          log,
        }),
      engine: engine.name,
      idleTimeoutMs,
      relay: options.relay,
      relayFault: options.relayFault,
      sendDelayMs: options.sendDelayMs,
      // Portal routes need the host's routing table to avoid clashing with it: Linux only so far.
      portalHost: Deno.build.os === "linux"
        ? {
          hostRoutes: readHostRoutes,
          addRoute: (cidr) => tun.addRoute(cidr),
          removeRoute: (cidr) => tun.removeRoute(cidr),
        }
        : undefined,
      protectedAddresses: urlAddresses([options.guardianUrl, ...control.session.natsUrls]),
      dnsSuffix: options.dnsSuffix,
      log,
    });
    if (cert.portal) cleanup.push(await enablePortalForwarding(tun.name, realm, log));
    node.start();
    cleanup.push(() => node.stop());
    cleanup.push(watchUnderlay(underlayPolicy, underlay, (a) => node.setUnderlay(a), { log }));
    cleanup.push(
      await startNames(node, { ...options, tunName: tun.name, overlayIp: cert.overlayIp }),
    );
    if (options.portal && options.subnets === undefined) {
      const stop = followHostNetworks(control, tun.name, subnets ?? [], {
        everyMs: rescanMs,
        log,
      });
      cleanup.push(stop);
    }
    const offTeams = control.onTeams((teams) => node.setTeams(teams.map(teamOf)));
    const offSession = control.onSession((s) => {
      try {
        node.setSession(toNodeSession(s, keys.publicKey));
      } catch (e) {
        log.error("renewed session unusable", { error: String(e) });
      }
    });
    cleanup.push(offTeams, offSession);

    const status = serveStatus(
      join(options.configDir, STATUS_SOCKET_NAME),
      () => ({
        ...node.info(),
        control: control.status(),
        memory: processMemory(readOwnStatus()),
      }),
      { log, ping: (target) => node.ping(target) },
    );
    cleanup.push(() => status.close());
    log.info("node running", { engine: engine.name, idle_timeout_ms: idleTimeoutMs });

    await new Promise<void>((resolve) => {
      if (signal.aborted) return resolve();
      signal.addEventListener("abort", () => resolve(), { once: true });
      control.closed().then((reason) => {
        if (signal.aborted) return;
        log.error("control channel closed", { reason: reason.reason });
        resolve();
      });
    });
  } finally {
    for (const step of cleanup.reverse()) {
      try {
        await step();
      } catch (e) {
        log.debug("shutdown step failed", { error: String(e) });
      }
    }
    log.info("node stopped");
  }
}

function teamOf(t: TeamKey) {
  return { teamId: t.teamId, name: t.name, version: t.version, key: t.key };
}

/** Checks the session's certificate against the Guardian key and our public key. */
function toNodeSession(s: Session, publicKey: Uint8Array): NodeSession {
  const fields = verifyCertificate(s.certificate, s.guardianPublicKey, Date.now());
  if (
    fields.confluxId !== s.confluxId || fields.overlayIp !== s.overlayIp ||
    !sameBytes(fields.mldsaPublicKey, publicKey)
  ) {
    throw new Error("Guardian certificate does not match this session");
  }
  return {
    certificate: fields,
    signedCertificate: s.certificate,
    guardianPublicKey: s.guardianPublicKey,
    teams: s.teams.map(teamOf),
    iceServers: s.iceServers,
  };
}

function sameBytes(a: Uint8Array, b: Uint8Array): boolean {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}

/**
 * Asks the kernel for super-packets that fit one frame (`ip link set … gso_max_size`); larger
 * ones still work (segmented before sealing), only slower. Best effort: older kernels refuse.
 */
async function limitGsoSize(name: string, bytes: number): Promise<void> {
  try {
    await new Deno.Command("ip", {
      args: ["link", "set", "dev", name, "gso_max_size", String(bytes)],
      stdout: "null",
      stderr: "null",
    }).output();
  } catch {
    // no ip binary: keep the default
  }
}

/**
 * Data channels per tether: 1 unless VEILNET_TETHER_CHANNELS (1–16) says otherwise, for
 * measuring (`deno task bench tunnel --channels N`). Flows keep to one channel each, so more
 * channels never reorder a TCP flow; see bench/README.md for what they bring.
 */
function tetherChannels(log: NodeOptions["log"]): number {
  const text = Deno.env.get("VEILNET_TETHER_CHANNELS");
  if (text === undefined || text === "") return 1;
  const n = Number(text);
  if (Number.isInteger(n) && n >= 1 && n <= 16) return n;
  log.warn("VEILNET_TETHER_CHANNELS must be 1..16; using 1", { value: text });
  return 1;
}

/** Whether this node runs datagram lanes: the option, else VEILNET_LANE (on unless "off"). */
function laneWanted(options: NodeOptions): boolean {
  if (options.lane !== undefined) return options.lane;
  return Deno.env.get("VEILNET_LANE") !== "off";
}

/** The lane socket, or none (lanes off, data on the tethers) when it cannot be opened. */
async function openLaneSocket(log: NodeOptions["log"]): Promise<SocketDatagramPort | undefined> {
  try {
    const port = await SocketDatagramPort.open(log);
    log.info("datagram lane socket", { port: port.localPort });
    return port;
  } catch (e) {
    log.warn("no datagram lane: data frames use the tethers", { error: String(e) });
    return undefined;
  }
}
