/**
 * NATS decentralized auth for the Master: operator and account JWTs, the permissions of a
 * conflux, and the short-lived user JWTs the Guardian mints at session login.
 *
 * Subjects (PROTOCOL.md, "NATS subjects"): everything of realm R lives under `vn.R.`; a conflux
 * may publish anywhere in its realm and reply to requests it received, and may subscribe only to
 * its own subjects, realm discovery, the realm's portal announcements and its own inbox prefix
 * `_INBOX.<conflux_id>`.
 *
 * @module
 */

import { encodeAccount, encodeOperator, encodeUser, type Permissions } from "@nats-io/jwt";
import type { KeyPair } from "@nats-io/nkeys";
import type { GuardianKeys } from "./keys.ts";
import {
  discoverSubject,
  inboxPrefix,
  portalsSubject,
  realmPrefix,
} from "../core/control/subjects.ts";

export {
  controlSubject,
  discoverSubject,
  inboxPrefix,
  realmPrefix,
  teamsSubject,
} from "../core/control/subjects.ts";

/** Unlimited account limits (JWTs without limits would mean "nothing allowed"). */
const UNLIMITED = {
  subs: -1,
  data: -1,
  payload: -1,
  imports: -1,
  exports: -1,
  wildcards: true,
  conn: -1,
  leaf: -1,
};

/** The NATS permissions of conflux `confluxId` in realm `realmId`. */
export function confluxPermissions(realmId: string, confluxId: string): Permissions {
  return {
    // Team-key pushes come only from the Guardian: no member may publish on anyone's teams
    // subject (a push is signed, so this is about floods, not forgery).
    pub: { allow: [`${realmPrefix(realmId)}.>`], deny: [`${realmPrefix(realmId)}.c.*.teams`] },
    sub: {
      allow: [
        `${realmPrefix(realmId)}.c.${confluxId}.>`,
        discoverSubject(realmId),
        portalsSubject(realmId),
        `${inboxPrefix(confluxId)}.>`,
      ],
    },
    // Lets the conflux answer requests it received (their reply subjects are others' inboxes)
    // without being able to publish into arbitrary inboxes.
    resp: { max: 1, ttl: 0 },
  };
}

/** Operator JWT naming the system account. */
export function operatorJwt(keys: GuardianKeys): Promise<string> {
  return encodeOperator("veilnet", keys.operator, {
    system_account: keys.systemAccount.getPublicKey(),
  });
}

/** JWTs of the system account and the application account, both signed by the operator. */
export async function accountJwts(
  keys: GuardianKeys,
): Promise<{ system: string; application: string }> {
  const system = await encodeAccount("SYS", keys.systemAccount, { limits: UNLIMITED }, {
    signer: keys.operator,
  });
  return { system, application: await applicationAccountJwt(keys) };
}

/**
 * The application account's JWT; `revocations` maps user keys to a time (seconds): the server
 * refuses, and disconnects, users of those keys whose JWT was issued at or before it.
 */
export function applicationAccountJwt(
  keys: GuardianKeys,
  revocations: Record<string, number> = {},
): Promise<string> {
  return encodeAccount("veilnet", keys.account, {
    limits: UNLIMITED,
    signing_keys: [keys.accountSigning.getPublicKey()],
    ...(Object.keys(revocations).length > 0 ? { revocations } : {}),
  }, { signer: keys.operator });
}

/**
 * A user of the system account for the Guardian itself: it may only push account updates
 * (`$SYS.REQ.ACCOUNT.<account>.CLAIMS.UPDATE`) and hear the answers.
 */
export function mintSystemUserJwt(keys: GuardianKeys, nkey: string): Promise<string> {
  return encodeUser("veilnet-guardian-system", nkey, keys.systemAccount, {
    pub: { allow: ["$SYS.REQ.ACCOUNT.*.CLAIMS.UPDATE"] },
    sub: { allow: ["_INBOX.>"] },
    bearer_token: false,
  });
}

/**
 * Mints the system-account user that watches presence (domain/presence.ts): it may only read
 * the application account's connect/disconnect advisories and ask for its CONNZ.
 */
export function mintPresenceUserJwt(keys: GuardianKeys, nkey: string): Promise<string> {
  const account = keys.account.getPublicKey();
  return encodeUser("veilnet-guardian-presence", nkey, keys.systemAccount, {
    pub: { allow: [`$SYS.REQ.ACCOUNT.${account}.CONNZ`] },
    sub: {
      allow: [`$SYS.ACCOUNT.${account}.CONNECT`, `$SYS.ACCOUNT.${account}.DISCONNECT`, "_INBOX.>"],
    },
    bearer_token: false,
  });
}

/** Options of {@link mintUserJwt}. */
export interface MintUserOptions {
  /** Public user nkey ("U…") the JWT is bound to. */
  nkey: string;
  /** Name shown in server logs and monitoring (the conflux id). */
  name: string;
  /** Permissions of the user. */
  permissions: Permissions;
  /** Expiry in seconds since the epoch; omit for a JWT without expiry. */
  expiresAtSec?: number;
}

/** Mints a user JWT in the application account, signed by the account's signing key. */
export function mintUserJwt(keys: GuardianKeys, options: MintUserOptions): Promise<string> {
  return encodeUser(options.name, options.nkey, keys.account, {
    ...options.permissions,
    bearer_token: false,
  }, {
    signer: keys.accountSigning as KeyPair,
    exp: options.expiresAtSec,
  });
}
