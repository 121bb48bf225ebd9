/**
 * The JSON shapes of records in API answers (PROTOCOL.md, "Guardian API").
 *
 * @module
 */

import type { ConfluxRecord, RealmRecord, UserRecord } from "../store.ts";

/** A user as the API shows it. */
export function userJson(u: UserRecord) {
  return { id: u.id, email: u.email, is_admin: u.isAdmin, created_at: u.createdAt };
}

/** A realm as the API shows it. */
export function realmJson(r: RealmRecord) {
  return {
    id: r.id,
    name: r.name,
    subnet: r.subnet,
    auto_approve: r.autoApprove,
    created_at: r.createdAt,
  };
}

/** A conflux as the API shows it. */
export function confluxJson(c: ConfluxRecord) {
  return {
    conflux_id: c.id,
    realm_id: c.realmId,
    tag: c.tag,
    overlay_ip: c.overlayIp,
    portal: c.portal,
    created_at: c.createdAt,
    last_login_at: c.lastLoginAt,
  };
}
