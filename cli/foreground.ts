/**
 * Runs the node in this process until Ctrl-C / SIGTERM: the `run` command, and `register`/`up`
 * with `--debug`.
 *
 * @module
 */
import type { NodeOptions } from "../core/node/mod.ts";
import type { CommandContext } from "./context.ts";
import { CliError } from "./errors.ts";
import type { NodeSettings } from "./settings.ts";
import { endpointCaCerts } from "./guardian_api.ts";
import { stringFlag } from "./flags.ts";

/** Builds the NodeOptions for `settings` and runs the node; resolves to the exit code. */
export async function runForeground(ctx: CommandContext, settings: NodeSettings): Promise<number> {
  const options: NodeOptions = {
    guardianUrl: settings.guardian.url,
    confluxToken: settings.confluxToken,
    configDir: ctx.configDir,
    portal: settings.portal,
    rtcEngine: settings.rtcEngine,
    relay: settings.relay,
    log: ctx.deps.log,
  };
  if (settings.tunName !== undefined) options.tunName = settings.tunName;
  const lane = stringFlag(ctx.parsed, "lane");
  if (lane !== undefined) options.lane = lane !== "off";
  if (settings.portalNetworks) options.subnets = settings.portalNetworks;
  if (settings.underlayInterfaces) options.underlayInterfaces = settings.underlayInterfaces;
  options.dns = settings.dns;
  if (settings.dnsSuffix) options.dnsSuffix = settings.dnsSuffix;
  if (settings.dnsConfig) options.dnsConfig = settings.dnsConfig;
  const caCerts = endpointCaCerts(settings.guardian);
  if (caCerts) options.guardianCaCerts = caCerts;
  if (settings.guardian.keySha256) options.guardianKeySha256 = settings.guardian.keySha256;
  await Deno.mkdir(ctx.configDir, { recursive: true, mode: 0o700 });
  try {
    await ctx.deps.runNode(options, ctx.deps.shutdownSignal());
  } catch (err) {
    throw new CliError("node", `the node stopped: ${(err as Error).message}`, { cause: err });
  }
  return 0;
}
