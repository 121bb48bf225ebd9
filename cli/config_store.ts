/**
 * The saved configuration: `conflux.json` (written by `register`) and `up.json` (written by
 * `up`). Files are replaced atomically with mode 0600 because they hold the conflux token.
 *
 * @module
 */
import { join } from "node:path";
import { z } from "zod";
import { readTextIfExists, removeIfExists, writeFileAtomic } from "../core/fs/atomic_file.ts";
import { REGISTER_FILE, UP_FILE } from "./config_dir.ts";
import { CliError } from "./errors.ts";

const rtc = z.enum(["auto", "werift", "libdatachannel"]);
const url = z.string().regex(/^https?:\/\/[^\s]+$/, "expected an http(s) URL");
/** SHA-256 (hex) of the Guardian's ML-DSA key, pinned by `register`/`up`. */
const guardianKey = z.string().regex(/^[0-9a-f]{64}$/, "expected 64 hex digits (SHA-256)");

/** Schema of `conflux.json`. */
export const RegisterConfigSchema = z.object({
  version: z.literal(1),
  guardian: url,
  guardian_ca: z.string().min(1).optional(),
  guardian_key_sha256: guardianKey.optional(),
  conflux_id: z.string().min(1),
  conflux_token: z.string().min(1),
  realm_id: z.string().optional(),
  overlay_ip: z.string().optional(),
  tag: z.string().optional(),
  cidr: z.string().optional(),
  portal: z.boolean(),
  portal_networks: z.array(z.string()).max(32).optional(),
  teams: z.array(z.string()),
  rtc,
  relay: z.boolean(),
  underlay_interfaces: z.array(z.string()).max(64).optional(),
  dns: z.boolean().optional(),
  dns_suffix: z.string().min(1).max(200).optional(),
  dns_config: z.enum(["auto", "resolv.conf"]).optional(),
  registered_at: z.string(),
});

/** Schema of `up.json`. */
export const UpConfigSchema = z.object({
  version: z.literal(1),
  guardian: url,
  guardian_ca: z.string().min(1).optional(),
  guardian_key_sha256: guardianKey.optional(),
  conflux_token: z.string().min(1),
  portal: z.boolean(),
  portal_networks: z.array(z.string()).max(32).optional(),
  rtc,
  relay: z.boolean(),
  underlay_interfaces: z.array(z.string()).max(64).optional(),
  dns: z.boolean().optional(),
  dns_suffix: z.string().min(1).max(200).optional(),
  dns_config: z.enum(["auto", "resolv.conf"]).optional(),
});

/** Contents of `conflux.json`. */
export type RegisterConfig = z.infer<typeof RegisterConfigSchema>;
/** Contents of `up.json`. */
export type UpConfig = z.infer<typeof UpConfigSchema>;

/** Which saved file: `register` → conflux.json, `up` → up.json. */
export type Profile = "register" | "up";

/** What each profile's file holds. */
export interface ProfileConfig {
  register: RegisterConfig;
  up: UpConfig;
}

const FILES: Record<Profile, string> = { register: REGISTER_FILE, up: UP_FILE };
const SCHEMAS = { register: RegisterConfigSchema, up: UpConfigSchema } as const;

/** Path of a profile's file in `configDir`. */
export function configPath(configDir: string, profile: Profile): string {
  return join(configDir, FILES[profile]);
}

/**
 * Reads and validates a profile's file. Returns null when it does not exist; throws a
 * CliError("config") naming the file when it cannot be read or is corrupt. Never writes.
 */
export async function loadConfig<P extends Profile>(
  configDir: string,
  profile: P,
): Promise<ProfileConfig[P] | null> {
  const path = configPath(configDir, profile);
  let text: string | null;
  try {
    text = await readTextIfExists(path);
  } catch (err) {
    const why = err instanceof Deno.errors.PermissionDenied
      ? "permission denied (run as root, e.g. with sudo)"
      : String((err as Error).message);
    throw new CliError("config", `cannot read ${path}: ${why}`);
  }
  if (text === null) return null;
  let data: unknown;
  try {
    data = JSON.parse(text);
  } catch {
    throw new CliError(
      "config",
      `${path} is corrupt (not valid JSON): fix it, or delete it and run \`veilnet-conflux ` +
        `${profile}\` again`,
    );
  }
  const parsed = SCHEMAS[profile].safeParse(data);
  if (!parsed.success) {
    const issue = parsed.error.issues[0];
    const where = issue?.path.length ? issue.path.join(".") : "(top level)";
    throw new CliError(
      "config",
      `${path} is invalid (${where}: ${issue?.message ?? "bad value"}): fix it, or delete it ` +
        `and run \`veilnet-conflux ${profile}\` again`,
    );
  }
  return parsed.data as ProfileConfig[P];
}

/** Writes a profile's file atomically with mode 0600. */
export async function saveConfig<P extends Profile>(
  configDir: string,
  options: { profile: P; config: ProfileConfig[P] },
): Promise<void> {
  const checked = SCHEMAS[options.profile].parse(options.config);
  await writeFileAtomic(
    configPath(configDir, options.profile),
    JSON.stringify(checked, null, 2) + "\n",
    { mode: 0o600 },
  );
}

/** Deletes a profile's file; returns whether it existed. */
export function deleteConfig(configDir: string, profile: Profile): Promise<boolean> {
  return removeIfExists(configPath(configDir, profile));
}

/** The raw bytes of a profile's file (or null), to put back exactly on rollback. */
export function readRawConfig(configDir: string, profile: Profile): Promise<string | null> {
  return readTextIfExists(configPath(configDir, profile)).catch(() => null);
}

/** Puts back what {@link readRawConfig} returned (deletes the file when it was null). */
export async function restoreRawConfig(
  configDir: string,
  options: { profile: Profile; raw: string | null },
): Promise<void> {
  if (options.raw === null) await deleteConfig(configDir, options.profile);
  else await writeFileAtomic(configPath(configDir, options.profile), options.raw, { mode: 0o600 });
}
