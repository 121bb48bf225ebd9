/**
 * The Guardian's own connections to the Master (team-key pushes, account updates): both keep
 * retrying forever in the background, whatever the Master answers, so that a Guardian started
 * before its nats-server, or outliving a restart of it, catches up by itself.
 *
 * @module
 */
import { connect } from "@nats-io/transport-node";
import { jwtAuthenticator, type NatsConnection } from "@nats-io/nats-core";
import { natsTls } from "../core/control/nats_tls.ts";

/** Who connects, and where. */
export interface GuardianNatsUser {
  /** Connection name in the server's monitoring. */
  name: string;
  servers: string[];
  jwt: string;
  seed: Uint8Array;
  /** PEM of a private CA of the Master's TLS certificate. */
  caPem?: string;
}

/** Connects (waiting for the first server to come up) with endless reconnects. */
export function connectGuardianNats(user: GuardianNatsUser): Promise<NatsConnection> {
  return connect({
    servers: user.servers,
    name: user.name,
    authenticator: jwtAuthenticator(user.jwt, user.seed),
    waitOnFirstConnect: true,
    maxReconnectAttempts: -1,
    reconnectTimeWait: 500,
    ignoreAuthErrorAbort: true,
    ...natsTls(user.servers, user.caPem ? [user.caPem] : []),
  });
}
