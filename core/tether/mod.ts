/**
 * Tethers: WebRTC peer connections to next hops, each carrying several unordered,
 * no-retransmit data channels. Entry point of core/tether.
 *
 * @example
 * ```ts
 * import { memorySignalerPair, openTether } from "./mod.ts";
 * const [sa, sb] = memorySignalerPair();
 * const [a, b] = await Promise.all([
 *   openTether({ peerId: "b", role: "offerer", signaler: sa, hostAddresses: ["127.0.0.1"] }),
 *   openTether({ peerId: "a", role: "answerer", signaler: sb, hostAddresses: ["127.0.0.1"] }),
 * ]);
 * b.onMessage((m) => console.log(m.byteLength));
 * a.send(new Uint8Array(1400));
 * ```
 *
 * @module
 */

export * from "./tether.ts";
export * from "./errors.ts";
export * from "./signaler.ts";
export { openTether, type OpenTetherOptions } from "./open.ts";
export { type LoadedEngine, parseEngineChoice, selectEngine } from "./select.ts";
export { FrameBatcher, type FrameBatcherOptions } from "./batcher.ts";
export { candidateAllowed, parseCandidate, parseStunServers } from "./candidates.ts";
