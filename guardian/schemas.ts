/**
 * Request bodies of the Guardian API, validated with zod. Unknown fields are ignored so newer
 * clients keep working; wrong types, missing fields and out-of-range values are refused.
 *
 * @module
 */

import { z } from "zod";

const email = z.email().max(254);
const password = z.string().min(8).max(1024);
const name = z.string().trim().min(1).max(64);
const id = z.string().min(1).max(64);
const tag = z.string().max(64).regex(/^[\x20-\x7e]*$/, "printable ASCII only");
const token = z.string().min(1).max(256);

/** `POST /auth/signup` and `POST /auth/login`. */
export const Credentials = z.object({ email, password });

/** A list of portal networks (canonical IPv4 CIDR, checked further by checkPortalSubnets). */
const subnetList = z.array(z.string().max(64)).max(32);

/** `POST /realm`; `auto_approve` is the realm's policy for portal networks. */
export const CreateRealm = z.object({
  name,
  subnet: z.string().min(9).max(18),
  auto_approve: subnetList.optional(),
});

/** `POST /realm/policy`: replaces the realm's auto-approved portal networks. */
export const RealmPolicy = z.object({ realm_id: id, auto_approve: subnetList });

/** `POST /auth/create/registration-token`; `expires_after` is in days (fractions allowed). */
export const CreateRegistrationToken = z.object({
  realm_id: id,
  expires_after: z.number().positive().max(3650),
  tag: tag.optional(),
});

/** `POST /conflux/register`. */
export const Register = z.object({
  registration_token: token,
  tag: tag.optional(),
  cidr: z.string().min(9).max(18).optional(),
  teams: z.array(z.string().min(1).max(64)).max(64).optional(),
});

/** `POST /conflux/session/login`. */
export const SessionLogin = z.object({
  token,
  mldsa_public_key: z.base64().max(4096),
  nkey: z.string().regex(/^U[A-Z2-7]{55}$/, "expected a public user nkey"),
  portal: z.boolean().optional(),
  /**
   * IPv4 networks the portal asks to serve (only with `portal: true`); checked by
   * checkPortalSubnets. Only those the owner approved are certified.
   */
  subnets: subnetList.optional(),
});

/** `POST /conflux/subnets/approve` and `/deny`: one to 32 networks of one portal. */
export const SubnetDecision = z.object({ conflux_id: id, subnets: subnetList.min(1) });

/** `POST /org/team`. */
export const CreateTeam = z.object({ name });

/** `POST /org/team/invite`. */
export const InviteMember = z.object({ team_id: id, email });

/** `POST /org/team/invite/accept`. */
export const AcceptInvitation = z.object({ invitation_id: id });

/** `DELETE /org/team/member`: name the member by `user_id` or `email`. */
export const RemoveMember = z.object({
  team_id: id,
  user_id: id.optional(),
  email: email.optional(),
}).refine((v) => v.user_id !== undefined || v.email !== undefined, {
  message: "user_id or email is required",
});

/** `POST /conflux/team` and `DELETE /conflux/team`; `team` is a team id or name. */
export const ConfluxTeam = z.object({ conflux_id: id, team: z.string().min(1).max(64) });
