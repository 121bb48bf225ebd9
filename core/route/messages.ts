/**
 * The control messages routing agents exchange, as plain typed objects.
 *
 * The agent produces and consumes these; the runtime encodes them (protobuf bodies
 * `RouteQuery` / `RouteReport` of MESSAGE_TYPE_ROUTE_QUERY / MESSAGE_TYPE_ROUTE_REPLY) and sends
 * them to the named neighbour. Anything that arrives from the network goes through
 * {@link parseRouteMessage} first, so that the agent only ever sees well-formed input.
 *
 * @module
 */

import { RouteError } from "./errors.ts";

/** Longest node id accepted (conflux ids are UUID-sized). */
export const MAX_ID_LENGTH = 128;
/** Most estimates one report may carry. */
export const MAX_ESTIMATES_PER_REPORT = 512;
/** Longest query path (also the largest hop limit a query may carry). */
export const MAX_QUERY_PATH = 64;

/**
 * "Who can reach `destination`, at what estimate?" — forwarded hop by hop towards the
 * destination, answered with a {@link RouteReport} by the first node that has a finite estimate.
 */
export interface RouteQuery {
  kind: "query";
  /** Chosen by the origin; (origin, queryId) identifies the query for duplicate suppression. */
  queryId: number;
  origin: string;
  destination: string;
  /** Hops the query may still travel. */
  ttl: number;
  /** Nodes the query has visited, origin first; used to avoid loops. */
  path: string[];
  /** Lowest prior delay to the destination seen on the way (ms), for escaping local minima. */
  closestMs: number;
  /** Hops since the query last got closer by that prior. */
  stall: number;
}

/** One destination's delivery-time estimate from the reporting node. */
export interface RouteEstimate {
  destination: string;
  /** Milliseconds from the reporter to the destination; `Infinity` = no route via the reporter. */
  estimateMs: number;
  /** Hops from the reporter to the destination on its best route. */
  hops: number;
}

/**
 * Estimates a node sends to neighbours that route through it or asked it (Q-routing feedback).
 * Several destinations travel in one message.
 */
export interface RouteReport {
  kind: "report";
  estimates: RouteEstimate[];
}

/** Any route control message. */
export type RouteMessage = RouteQuery | RouteReport;

/** A message the agent wants sent to one neighbour. */
export interface OutboundRouteMessage {
  /** Node id of the neighbour (a current tether peer). */
  to: string;
  message: RouteMessage;
}

function fail(message: string): never {
  throw new RouteError("malformed", message);
}

function id(value: unknown, field: string): string {
  if (typeof value !== "string" || value.length === 0 || value.length > MAX_ID_LENGTH) {
    fail(`${field} must be a non-empty string of at most ${MAX_ID_LENGTH} characters`);
  }
  return value;
}

function integer(value: unknown, field: string, max: number): number {
  if (typeof value !== "number" || !Number.isInteger(value) || value < 0 || value > max) {
    fail(`${field} must be an integer in [0, ${max}]`);
  }
  return value;
}

function record(value: unknown, field: string): Record<string, unknown> {
  if (typeof value !== "object" || value === null || Array.isArray(value)) {
    fail(`${field} must be an object`);
  }
  return value as Record<string, unknown>;
}

function closest(value: unknown): number {
  if (value === undefined) return Infinity;
  if (typeof value !== "number" || Number.isNaN(value) || value < 0) {
    fail("closestMs must be a number >= 0 or Infinity");
  }
  return value;
}

/**
 * Checks an untrusted, already-decoded message and returns a clean copy.
 * Throws {@link RouteError} (`malformed` or `oversized`) and never anything else.
 */
export function parseRouteMessage(value: unknown): RouteMessage {
  const m = record(value, "message");
  if (m.kind === "query") {
    if (!Array.isArray(m.path)) fail("path must be an array");
    if (m.path.length > MAX_QUERY_PATH) {
      throw new RouteError("oversized", `path longer than ${MAX_QUERY_PATH}`);
    }
    return {
      kind: "query",
      queryId: integer(m.queryId, "queryId", 0xffffffff),
      origin: id(m.origin, "origin"),
      destination: id(m.destination, "destination"),
      ttl: integer(m.ttl, "ttl", MAX_QUERY_PATH),
      path: m.path.map((p, i) => id(p, `path[${i}]`)),
      closestMs: closest(m.closestMs),
      stall: m.stall === undefined ? 0 : integer(m.stall, "stall", MAX_QUERY_PATH),
    };
  }
  if (m.kind === "report") {
    if (!Array.isArray(m.estimates)) fail("estimates must be an array");
    if (m.estimates.length > MAX_ESTIMATES_PER_REPORT) {
      throw new RouteError("oversized", `more than ${MAX_ESTIMATES_PER_REPORT} estimates`);
    }
    const estimates = m.estimates.map((raw, i): RouteEstimate => {
      const e = record(raw, `estimates[${i}]`);
      const ms = e.estimateMs;
      if (typeof ms !== "number" || Number.isNaN(ms) || ms < 0) {
        fail(`estimates[${i}].estimateMs must be a number >= 0 or Infinity`);
      }
      return {
        destination: id(e.destination, `estimates[${i}].destination`),
        estimateMs: ms,
        hops: integer(e.hops, `estimates[${i}].hops`, 255),
      };
    });
    return { kind: "report", estimates };
  }
  return fail('kind must be "query" or "report"');
}
