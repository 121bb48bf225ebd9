/**
 * The conflux side of the control plane: the Guardian HTTP client, the NATS control channel,
 * subjects, team-key updates and envelope verification on receipt.
 *
 * @module
 */

export {
  type CallOptions,
  GuardianApiError,
  GuardianClient,
  parseSession,
  type RegisterRequest,
  type Registration,
  type Session,
  type SessionLoginRequest,
} from "./guardian_client.ts";
export {
  ControlClient,
  type ControlClientOptions,
  ControlClosedError,
  ControlOfflineError,
  type Msg,
} from "./control_client.ts";
export { MAX_PENDING_MESSAGES, ResilientSubscription } from "./resilient_subscription.ts";
export {
  controlSubject,
  discoverSubject,
  inboxPrefix,
  isSubjectToken,
  portalsSubject,
  realmPrefix,
  teamsSubject,
} from "./subjects.ts";
export {
  openTeamKeys,
  sealTeamKeys,
  type TeamKey,
  teamKeyFromJson,
  type TeamKeyJson,
  type TeamKeysUpdate,
  teamKeyToJson,
} from "./team_keys.ts";
export { decodeBase64, encodeBase64 } from "./base64.ts";
