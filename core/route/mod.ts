/**
 * Routing core: the Q-routing agent, flowlet switching, the relay rate limiter, the route
 * control messages and their protobuf bodies, and a seeded PRNG. Pure logic; the node runtime
 * wires it to tethers, NATS and a clock.
 *
 * @example How a runtime drives it (`now` is `Date.now()` read by the runtime, never by core/)
 * ```ts
 * const agent = new RouteAgent({ self: myConfluxId, random: Math.random });
 * const flows = new FlowletTable();
 * const limiter = new RelayLimiter({ ratePerSecond: 20_000, burst: 2_000 });
 *
 * // Tether probes (every 250 ms): feed RTT/loss/queue; 3 missed probes or a closed channel:
 * agent.linkMeasured(peer, now, { rttMs, loss, queueMs });
 * agent.linkDown(peer, now);
 *
 * // A packet from TUN for destination conflux `dst` (5-tuple bytes `tuple`):
 * const hop = flows.pick(flowHash(tuple), now, {
 *   choose: () => {
 *     const c = agent.choose(dst, now);
 *     return c.kind === "next-hop" ? c.nextHop : null; // "no-route": discovery is under way
 *   },
 *   delayMs: (h) => agent.estimateVia(dst, h),
 * });
 *
 * // A frame to relay, from tether peer `prev`, for `dst`:
 * if (limiter.allow(prev, now)) {
 *   agent.noteUpstream(prev, dst, now);
 *   const c = agent.choose(dst, now, { exclude: prev, discover: false });
 *   // c.kind === "next-hop" → forward (hop limit − 1); otherwise drop
 * }
 *
 * // A ROUTE_QUERY / ROUTE_REPLY envelope from tether peer `peer` (already verified):
 * try {
 *   agent.receive(peer, decodeRouteMessage(envelope.type, envelope.body), now);
 * } catch (e) {
 *   if (!(e instanceof RouteError)) throw e; // log and drop a malformed message
 * }
 *
 * // Every 100–250 ms and after the events above: send what the agent wants sent.
 * for (const { to, message } of agent.poll(now)) {
 *   const { type, body } = encodeRouteMessage(message);
 *   sendSignedEnvelope(to, type, body); // over the tether's control channel or NATS ctl subject
 * }
 * ```
 *
 * @module
 */

export * from "./agent.ts";
export * from "./codec.ts";
export * from "./errors.ts";
export * from "./flowlet.ts";
export * from "./link_monitor.ts";
export * from "./messages.ts";
export * from "./prng.ts";
export * from "./relay_limiter.ts";
