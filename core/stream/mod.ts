/**
 * Streams: end-to-end, uni-directional, post-quantum secure channels between two confluxes.
 * Pure logic (handshake, keys per epoch, replay protection, ids); the node runtime does the I/O.
 *
 * @module
 */
export * from "./errors.ts";
export * from "./handshake.ts";
export * from "./session.ts";
export * from "./stream_id.ts";
