/**
 * The small interfaces through which the node runtime reaches the control channel. The real
 * implementation is core/control's ControlClient; keeping the surface this small lets tests and
 * tools drive the runtime with a plain NATS connection.
 *
 * @module
 */
import { controlSubject, discoverSubject } from "../control/subjects.ts";

/** One message received on a subscription. */
export interface ControlMessage {
  /** Subject it arrived on. */
  subject: string;
  /** Payload bytes (untrusted). */
  data: Uint8Array;
  /** Reply subject when the sender used request/reply. */
  reply?: string;
}

/** What the data plane needs from the control channel. */
export interface ControlPort {
  /** Publishes `data` on `subject` (fire and forget). */
  publish(subject: string, data: Uint8Array): void;
  /** Sends a request and resolves with the first reply; rejects on timeout or no responders. */
  request(subject: string, data: Uint8Array, timeoutMs: number): Promise<Uint8Array>;
  /** Subscribes; the iterable ends when the subscription or the connection closes. */
  subscribe(subject: string): AsyncIterable<ControlMessage>;
}

/** NATS subjects of one realm, as PROTOCOL.md lists them (built by core/control/subjects.ts). */
export interface RealmSubjects {
  /** Direct control messages to `confluxId`. */
  control(confluxId: string): string;
  /** Realm-wide discovery. */
  readonly discover: string;
}

/** Subjects of realm `realmId`. */
export function realmSubjects(realmId: string): RealmSubjects {
  return {
    control: (confluxId: string) => controlSubject(realmId, confluxId),
    discover: discoverSubject(realmId),
  };
}
