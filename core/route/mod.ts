/**
 * Routing core: the Q-routing agent, flowlet switching, the relay rate limiter, the route
 * control messages and a seeded PRNG. Pure logic; the node runtime wires it to tethers and NATS.
 *
 * @module
 */

export * from "./agent.ts";
export * from "./codec.ts";
export * from "./errors.ts";
export * from "./flowlet.ts";
export * from "./messages.ts";
export * from "./prng.ts";
export * from "./relay_limiter.ts";
