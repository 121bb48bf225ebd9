/**
 * NATS subjects of the control channel (PROTOCOL.md, "NATS subjects").
 *
 * Everything of realm R lives under `vn.R.`; replies to a conflux's requests arrive under its
 * inbox prefix `_INBOX.<conflux_id>`. Ids are lowercase hex with a kind letter, so they are always
 * single subject tokens.
 *
 * @module
 */

/** Realm subject prefix `vn.<realm_id>`. */
export function realmPrefix(realmId: string): string {
  return `vn.${realmId}`;
}

/** `vn.<realm>.c.<conflux>.ctl`: direct control messages to one conflux (request/reply allowed). */
export function controlSubject(realmId: string, confluxId: string): string {
  return `${realmPrefix(realmId)}.c.${confluxId}.ctl`;
}

/** `vn.<realm>.c.<conflux>.teams`: team-key updates pushed by the Guardian. */
export function teamsSubject(realmId: string, confluxId: string): string {
  return `${realmPrefix(realmId)}.c.${confluxId}.teams`;
}

/** `vn.<realm>.discover`: realm-wide discovery, answered by reply. */
export function discoverSubject(realmId: string): string {
  return `${realmPrefix(realmId)}.discover`;
}

/**
 * `vn.<realm>.portals`: portals announce themselves here (their certificate names the subnets they
 * serve), and a node that starts asks here, answered by reply (PROTOCOL.md, "Portal mode").
 */
export function portalsSubject(realmId: string): string {
  return `${realmPrefix(realmId)}.portals`;
}

/** `_INBOX.<conflux>`: the inbox prefix of a conflux. */
export function inboxPrefix(confluxId: string): string {
  return `_INBOX.${confluxId}`;
}

/** True when `id` can be used as one subject token (no dots, wildcards or whitespace). */
export function isSubjectToken(id: string): boolean {
  return /^[A-Za-z0-9_-]{1,64}$/.test(id);
}
