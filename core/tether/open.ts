/**
 * Opening a tether: negotiation over a Signaler, then a ChannelTether once every channel is
 * open.
 *
 * Race avoided: libdatachannel drops a DTLS ClientHello that arrives before the receiving end has
 * applied the answer or brought up its DTLS transport, costing a 1 s retransmit. The answerer is
 * the DTLS client. The offerer therefore strips candidates from its offer and holds its own
 * candidates until it has applied the answer, plus `candidateDelayMs`: the answerer first learns
 * the offerer's address from the offerer's own connectivity checks (a peer-reflexive candidate),
 * so the offerer's ICE connects (and its DTLS transport starts) a round trip before the
 * answerer's does and its ClientHello finds a listener.
 *
 * @module
 */

import type { Logger } from "../log/logger.ts";
import {
  candidateAllowed,
  normalizeCandidate,
  remoteCandidateAllowed,
  remotePolicyFor,
  stripCandidates,
} from "./candidates.ts";
import { ChannelTether } from "./channel_tether.ts";
import type { RawPeer } from "./engine.ts";
import { TetherError } from "./errors.ts";
import { selectEngine } from "./select.ts";
import type { Signal, Signaler } from "./signaler.ts";
import {
  DEFAULT_CHANNELS,
  DEFAULT_HIGH_WATER,
  DEFAULT_LOW_WATER,
  DEFAULT_MAX_MESSAGE_SIZE,
  type RtcEngineChoice,
  type Tether,
} from "./tether.ts";

/** Options of openTether. */
export interface OpenTetherOptions {
  /** Who the tether leads to (kept on the Tether; not used in negotiation). */
  peerId: string;
  /** The offerer starts negotiation; the answerer waits for an offer. */
  role: "offerer" | "answerer";
  /** Carries this attempt's signals. */
  signaler: Signaler;
  /** Engine to use; default "auto". */
  engine?: RtcEngineChoice;
  /** Number of data channels; default 2. The smaller of both ends' counts is used. */
  channels?: number;
  /** STUN servers ("stun:host:port") from the session; default none (host candidates only). */
  iceServers?: readonly string[];
  /** Restrict host candidates to these local addresses (tests, multi-homed hosts). */
  hostAddresses?: readonly string[];
  /**
   * Advertise host candidates; default true. False for a tether answered for a conflux without
   * a shared team (it then sees only server-reflexive candidates and our checks' source); with
   * no STUN server (no server-reflexive candidates) host candidates are advertised anyway.
   */
  advertiseHost?: boolean;
  /** Per-channel water marks; default 64 KB / 16 KB. */
  highWater?: number;
  lowWater?: number;
  /** Largest message; default 64 KB. */
  maxMessageSize?: number;
  /** Path MTU given to the engine; default 1400 for werift (SCTP), 1400 for libdatachannel. */
  mtu?: number;
  /** Give up after this long; default 10 s. */
  timeoutMs?: number;
  /** Liveness probe interval; default 1000 ms, 0 disables. */
  probeIntervalMs?: number;
  /** Probe reply deadline; default 2000 ms. */
  probeTimeoutMs?: number;
  /**
   * How long the offerer keeps its candidates from the answerer after applying the answer;
   * default 150 ms. Meanwhile the answerer learns the offerer's address only from its
   * connectivity checks, so the offerer's ICE (and DTLS server) is up before the answerer's DTLS
   * ClientHello can arrive. The candidates still follow for NAT traversal.
   */
  candidateDelayMs?: number;
  /** Session id for the offerer's attempt; default random. */
  session?: string;
  /** For the answerer: the offer already read from the signaler, if any. */
  offer?: Signal & { kind: "offer" };
  /** Aborts negotiation (not an open tether). */
  signal?: AbortSignal;
  log?: Logger;
}

/** Negotiates a tether over `options.signaler` and resolves once every channel is open. */
export async function openTether(options: OpenTetherOptions): Promise<Tether> {
  const started = performance.now();
  const engine = await selectEngine(options.engine ?? "auto");
  const channels = options.channels ?? DEFAULT_CHANNELS;
  if (!Number.isInteger(channels) || channels < 1 || channels > 64) {
    throw new TetherError("negotiation", `channel count must be 1..64, got ${channels}`);
  }
  const maxMessageSize = options.maxMessageSize ?? DEFAULT_MAX_MESSAGE_SIZE;
  const iceServers = options.iceServers ?? [];
  const peer = engine.create({
    iceServers,
    hostAddresses: options.hostAddresses,
    channels,
    maxMessageSize,
    mtu: options.mtu ?? 1400,
  });
  const policy = {
    hostAddresses: options.hostAddresses,
    allowSrflx: iceServers.length > 0,
    // Without a STUN server host candidates are all we have: withholding them would leave a
    // stranger's tether (a relay on a LAN-only realm) nothing to connect to.
    allowHost: (options.advertiseHost ?? true) || iceServers.length === 0,
  };
  const log = options.log;
  const timeoutMs = options.timeoutMs ?? 10_000;

  const ac = new AbortController();
  const onAbort = () => ac.abort();
  options.signal?.addEventListener("abort", onAbort);
  const timer = setTimeout(() => ac.abort(), timeoutMs);
  let agreed = channels;
  try {
    agreed = await Promise.race([
      negotiate(peer, options, { ...policy, stop: ac.signal }),
      new Promise<never>((_, reject) => {
        const fail = () =>
          reject(
            options.signal?.aborted
              ? new TetherError("aborted", "tether negotiation aborted")
              : new TetherError(
                "timeout",
                `tether to ${options.peerId} not open in ${timeoutMs} ms`,
              ),
          );
        if (ac.signal.aborted) fail();
        ac.signal.addEventListener("abort", fail);
        peer.onDown((why) => reject(new TetherError("negotiation", `connection ${why}`)));
      }),
    ]);
  } catch (e) {
    peer.close();
    throw e;
  } finally {
    ac.abort();
    clearTimeout(timer);
    options.signal?.removeEventListener("abort", onAbort);
  }
  const setupMs = performance.now() - started;
  log?.debug("tether open", { peer: options.peerId, engine: engine.name, setupMs });
  return new ChannelTether(peer, {
    peerId: options.peerId,
    channels: agreed,
    highWater: options.highWater ?? DEFAULT_HIGH_WATER,
    lowWater: options.lowWater ?? DEFAULT_LOW_WATER,
    maxMessageSize,
    probeIntervalMs: options.probeIntervalMs ?? 1000,
    probeTimeoutMs: options.probeTimeoutMs ?? 2000,
    setupMs,
    log,
  });
}

async function negotiate(
  peer: RawPeer,
  options: OpenTetherOptions,
  policy: {
    hostAddresses?: readonly string[];
    allowSrflx: boolean;
    allowHost: boolean;
    stop: AbortSignal;
  },
): Promise<number> {
  const { signaler, log } = options;
  // Data channels both ends use; settled by the offer/answer exchange.
  let agreed = options.channels ?? DEFAULT_CHANNELS;
  let session = options.session ?? crypto.randomUUID();
  const offerer = options.role === "offerer";
  // The offerer withholds its candidates until the answer is applied (see module doc).
  let holdLocal = offerer;
  const candidateDelayMs = options.candidateDelayMs ?? 150;
  let releaseTimer: ReturnType<typeof setTimeout> | undefined;
  // Once ICE works the answerer needs our candidates no more (they serve NAT traversal only).
  let iceConnected = false;
  peer.onIceConnected(() => {
    iceConnected = true;
    clearTimeout(releaseTimer);
  });
  const heldLocal: { candidate: string; mid: string }[] = [];
  let remoteReady = false;
  const heldRemote: { candidate: string; mid: string }[] = [];

  const sendCandidate = (candidate: string, mid: string) =>
    send(signaler, { kind: "candidate", session, candidate, mid }, log);
  peer.onCandidate((raw, mid) => {
    const candidate = normalizeCandidate(raw);
    if (!candidateAllowed(candidate, policy)) return;
    if (holdLocal) heldLocal.push({ candidate, mid });
    else sendCandidate(candidate, mid);
  });
  // Remote candidates to implausible addresses (multicast, broadcast, 0.0.0.0, another host's
  // loopback, link-local unless we use it) are never checked: a peer could aim our connectivity
  // checks at them.
  const remotePolicy = remotePolicyFor(options.hostAddresses);
  const addRemote = async (candidate: string, mid: string) => {
    if (!remoteCandidateAllowed(normalizeCandidate(candidate), remotePolicy)) {
      log?.debug("tether: implausible remote candidate dropped", { candidate });
      return;
    }
    try {
      await peer.addCandidate(candidate, mid);
    } catch (e) {
      log?.debug("tether: remote candidate rejected", { error: String(e) });
    }
  };

  let markCreated!: () => void;
  const created = new Promise<void>((resolve) => markCreated = resolve);
  const allOpen = created.then(() => waitOpen(peer));
  let pendingOffer = options.offer;
  if (offerer) {
    const sdp = stripCandidates(await peer.createOffer());
    markCreated();
    await send(signaler, { kind: "offer", session, sdp, channels: peer.channels.length }, log);
  }

  const iterator = signaler.incoming[Symbol.asyncIterator]();
  const handle = async (signal: Signal): Promise<void> => {
    if (signal.kind === "offer") {
      if (offerer || remoteReady) return;
      session = signal.session;
      const wanted = Math.min(options.channels ?? DEFAULT_CHANNELS, signal.channels ?? Infinity);
      // Candidates come only as separate signals (checked by addRemote), never inside the SDP.
      const answer = stripCandidates(await peer.acceptOffer(stripCandidates(signal.sdp), wanted));
      agreed = peer.channels.length;
      markCreated();
      remoteReady = true;
      await send(signaler, { kind: "answer", session, sdp: answer, channels: agreed }, log);
      for (const c of heldRemote.splice(0)) await addRemote(c.candidate, c.mid);
      return;
    }
    if (signal.session !== session) return;
    if (signal.kind === "answer") {
      if (!offerer || remoteReady) return;
      await peer.acceptAnswer(stripCandidates(signal.sdp));
      agreed = Math.min(peer.channels.length, signal.channels ?? peer.channels.length);
      remoteReady = true;
      // Only now may the answerer learn our candidates, and later still (see module doc).
      const release = () => {
        holdLocal = false;
        for (const c of heldLocal.splice(0)) sendCandidate(c.candidate, c.mid);
      };
      if (candidateDelayMs <= 0) release();
      else if (!iceConnected) releaseTimer = setTimeout(release, candidateDelayMs);
      for (const c of heldRemote.splice(0)) await addRemote(c.candidate, c.mid);
    } else if (remoteReady) {
      await addRemote(signal.candidate, signal.mid);
    } else if (heldRemote.length < 64) {
      heldRemote.push({ candidate: signal.candidate, mid: signal.mid });
    }
  };

  const safeHandle = async (signal: Signal): Promise<void> => {
    try {
      await handle(signal);
    } catch (e) {
      if (e instanceof TetherError) throw e;
      throw new TetherError("negotiation", `bad remote ${signal.kind}: ${String(e)}`, { cause: e });
    }
  };
  if (pendingOffer) {
    await safeHandle(pendingOffer);
    pendingOffer = undefined;
  }
  let opened = false;
  allOpen.then(() => opened = true, () => {});
  // Read signals until all channels are open; late candidates after that are not needed.
  const reader = (async () => {
    const stopped = new Promise<null>((resolve) => {
      if (policy.stop.aborted) resolve(null);
      policy.stop.addEventListener("abort", () => resolve(null));
    });
    while (!opened && !policy.stop.aborted) {
      const next = await Promise.race([iterator.next(), allOpen.then(() => null), stopped]);
      if (next === null || next.done) break;
      await safeHandle(next.value);
    }
  })();
  try {
    await Promise.race([allOpen, reader.then(() => allOpen)]);
  } finally {
    clearTimeout(releaseTimer);
  }
  return agreed;
}

function waitOpen(peer: RawPeer): Promise<void> {
  const chans = [peer.control, ...peer.channels];
  return new Promise((resolve) => {
    let remaining = chans.filter((c) => !c.isOpen()).length;
    if (remaining === 0) return resolve();
    for (const c of chans) {
      if (c.isOpen()) continue;
      let counted = false;
      c.onOpen(() => {
        if (counted) return;
        counted = true;
        if (--remaining === 0) resolve();
      });
    }
  });
}

async function send(signaler: Signaler, signal: Signal, log?: Logger): Promise<void> {
  try {
    await signaler.send(signal);
  } catch (e) {
    log?.debug("tether: signal send failed", { kind: signal.kind, error: String(e) });
  }
}
