/**
 * Session login: a conflux token in, a certificate, a NATS JWT and team keys out.
 *
 * @module
 */

import { fromPublic } from "@nats-io/nkeys";
import { issueCertificate } from "../../core/wire/certificate.ts";
import { checkPortalSubnets } from "../../core/wire/portal_subnets.ts";
import { MLDSA_PUBLIC_KEY_LENGTH } from "../../core/crypto/mldsa.ts";
import { decodeBase64, encodeBase64 } from "../../core/control/base64.ts";
import { teamKeyToJson } from "../../core/control/team_keys.ts";
import { confluxPermissions, inboxPrefix, mintUserJwt } from "../nats_auth.ts";
import * as schema from "../schemas.ts";
import type { RealmRecord } from "../store.ts";
import { readJson, validate } from "../http/body.ts";
import { HttpError, json } from "../http/errors.ts";
import type { Route } from "../http/router.ts";
import { type ApiContext } from "../domain/context.ts";
import { subnetState } from "../domain/subnets.ts";

/** The routes of this resource. */
export function sessionRoutes(ctx: ApiContext): Route[] {
  const {
    store,
    keys,
    log,
    deps,
    config,
    ttlSec,
    maxBody,
    guardianPublicKey,
    issuedAt,
    requireConflux,
    teamKeys,
  } = ctx;
  return [
    {
      method: "POST",
      path: "/conflux/session/login",
      limit: "conflux",
      run: async (request) => {
        const body = validate(schema.SessionLogin, await readJson(request, maxBody));
        const publicKey = decodeBase64(body.mldsa_public_key);
        if (!publicKey || publicKey.length !== MLDSA_PUBLIC_KEY_LENGTH) {
          throw new HttpError(400, `mldsa_public_key: expected ${MLDSA_PUBLIC_KEY_LENGTH} bytes`);
        }
        try {
          fromPublic(body.nkey);
        } catch {
          throw new HttpError(400, "nkey: not a valid public user nkey");
        }
        const portal = body.portal ?? false;
        const subnets = body.subnets ?? [];
        if (subnets.length > 0 && !portal) {
          throw new HttpError(400, "subnets: only a portal (portal: true) serves subnets");
        }
        const c = requireConflux(body.token);
        const realm = store.realmById(c.realmId) as RealmRecord;
        const problem = checkPortalSubnets(subnets, realm.subnet);
        if (problem !== null) throw new HttpError(400, `subnets: ${problem}`);
        // The certificate states only what the owner approved (or the realm's policy allows).
        const state = subnetState(subnets, store.subnetDecisions(c.id), realm.autoApprove);
        const now = deps.now();
        // JWT `exp` has second resolution: round up so a session lasts at least the TTL.
        const expiresAtSec = Math.ceil(now / 1000) + ttlSec;
        const expiresAt = expiresAtSec * 1000;
        const natsJwt = await mintUserJwt(keys, {
          nkey: body.nkey,
          name: c.id,
          permissions: confluxPermissions(c.realmId, c.id),
          expiresAtSec,
        });
        const certificate = issueCertificate(
          {
            confluxId: c.id,
            realmId: c.realmId,
            realmSubnet: realm.subnet,
            overlayIp: c.overlayIp,
            mldsaPublicKey: publicKey,
            issuedAt: now,
            expiresAt,
            tag: c.tag,
            portal,
            subnets: state.certified,
          },
          keys.identity.secretKey,
          crypto.getRandomValues(new Uint8Array(32)),
        );
        store.recordLogin(c.id, portal, now, subnets);
        store.recordNatsUser(body.nkey, c.id, expiresAt, now);
        const teamsIssuedAt = issuedAt();
        log.info("session issued", { conflux_id: c.id, expires_at: expiresAt });
        if (state.pending.length > 0) {
          log.info("portal networks await approval", {
            conflux_id: c.id,
            pending: state.pending,
          });
        }
        return json(200, {
          conflux_id: c.id,
          realm_id: c.realmId,
          realm_subnet: realm.subnet,
          overlay_ip: c.overlayIp,
          tag: c.tag,
          portal,
          subnets: state.certified,
          subnets_pending: state.pending,
          subnets_denied: subnets.filter((s) => state.denied.includes(s)),
          certificate: encodeBase64(certificate),
          guardian_public_key: guardianPublicKey,
          nats_jwt: natsJwt,
          nats_urls: config.natsUrls,
          inbox_prefix: inboxPrefix(c.id),
          teams: teamKeys(c).map(teamKeyToJson),
          teams_issued_at: teamsIssuedAt,
          ice_servers: config.iceServers ?? [],
          expires_at: expiresAt,
        });
      },
    },
  ];
}
