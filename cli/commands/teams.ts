/**
 * `veilnet-conflux teams list|add|remove [TEAM]`: this conflux's teams at the Guardian. `list`
 * and `remove` work with the conflux's own token; `add` needs the owner's user access token
 * (`--access-token`): a conflux token cannot grant itself teams.
 *
 * @module
 */
import { loadConfig } from "../config_store.ts";
import type { CommandContext } from "../context.ts";
import { CliError } from "../errors.ts";
import { boolFlag, stringFlag } from "../flags.ts";
import { changeConfluxTeam, GuardianRefusal, listConfluxTeams } from "../guardian_api.ts";
import { fetchNodeInfo } from "../local_api.ts";
import { resolveGuardian } from "../settings.ts";
import { renderTable } from "../table.ts";

/** Runs `teams`; resolves to the exit code. */
export async function teamsCommand(ctx: CommandContext): Promise<number> {
  const { parsed, deps, configDir } = ctx;
  const [action, team] = parsed.positionals;
  if (action !== "list" && action !== "add" && action !== "remove") {
    throw new CliError(
      "usage",
      `veilnet-conflux teams: expected list, add TEAM or remove TEAM${
        action ? ` (got "${action}")` : ""
      }`,
    );
  }
  if (action === "list" && team !== undefined) {
    throw new CliError("usage", `veilnet-conflux teams list: unexpected argument "${team}"`);
  }
  if (action !== "list" && !team) {
    throw new CliError(
      "usage",
      `veilnet-conflux teams ${action}: name the team: teams ${action} TEAM`,
    );
  }
  const registered = await loadConfig(configDir, "register");
  const up = registered ? null : await loadConfig(configDir, "up");
  const accessToken = stringFlag(parsed, "access-token");
  if (action === "add" && !accessToken) {
    throw new CliError(
      "usage",
      `veilnet-conflux teams add: adding a team needs the conflux's owner: pass the owner's ` +
        "access token with --access-token TOKEN (or VEILNET_ACCESS_TOKEN; from POST /auth/login " +
        "at the Guardian). This conflux's own token may only list and remove its teams.",
    );
  }
  const bearer = accessToken ?? stringFlag(parsed, "token") ?? registered?.conflux_token ??
    up?.conflux_token;
  if (!bearer) {
    throw new CliError(
      "usage",
      "no conflux token: register first, or pass -t CONFLUX_TOKEN / set VEILNET_CONFLUX_TOKEN",
    );
  }
  let confluxId = stringFlag(parsed, "conflux-id") ?? registered?.conflux_id;
  if (!confluxId) {
    try {
      confluxId = (await fetchNodeInfo(configDir)).conflux_id;
    } catch {
      throw new CliError(
        "usage",
        "unknown conflux id: pass --conflux-id ID (or start the node so it can be asked)",
      );
    }
  }
  const guardian = resolveGuardian(parsed, registered ?? up ?? undefined);
  const target = { confluxId, bearer };
  if (action !== "list") {
    try {
      await changeConfluxTeam(guardian, { ...target, team: team!, action });
    } catch (err) {
      if (err instanceof GuardianRefusal && err.status === 401 && action === "add") {
        throw new CliError(
          "guardian",
          `${err.message}: teams add needs the owner's user access token (--access-token), ` +
            "which expires after 24 h: log in again",
        );
      }
      throw err;
    }
    deps.stdout(action === "add" ? `added to team ${team}` : `removed from team ${team}`);
    return 0;
  }
  const teams = await listConfluxTeams(guardian, target);
  if (boolFlag(parsed, "json")) deps.stdout(JSON.stringify(teams));
  else deps.stdout(teams.length > 0 ? renderTable(teams) : "no teams");
  return 0;
}
