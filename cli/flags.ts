/**
 * Flag and environment parsing for every command, on `node:util` parseArgs. A flag overrides its
 * environment variable; the caller then falls back to the saved file and the default.
 *
 * @module
 */
import { parseArgs } from "node:util";
import { CliError } from "./errors.ts";

/** One flag of a command, with the environment variable that can stand in for it. */
export interface FlagSpec {
  /** Long name without dashes. */
  name: string;
  /** One-letter alias. */
  short?: string;
  /** `string` takes a value; `boolean` is a switch. */
  type: "string" | "boolean";
  /** Environment variable read when the flag is absent. */
  env?: string;
  /** Placeholder of the value in help text. */
  metavar?: string;
  /** Allowed values. */
  choices?: readonly string[];
  /** One-line help. */
  help: string;
}

/** A command: its flags, positional arguments and help. */
export interface CommandSpec {
  /** Name as typed. */
  name: string;
  /** One-line summary for `help`. */
  summary: string;
  /** Positional arguments in the usage line, e.g. `list|add|remove [TEAM]`. */
  args?: string;
  /** Most positional arguments accepted. */
  maxPositionals?: number;
  /** Flags. */
  flags: FlagSpec[];
  /** Paragraph printed after the flags in `--help`. */
  details?: string;
}

/** A flag's value and where it came from. */
export interface FlagValue {
  value: string | boolean;
  origin: "flag" | "env";
}

/** Parsed command line of one command. */
export interface ParsedCommand {
  /** Flag values from the command line or environment; absent flags are missing. */
  values: Map<string, FlagValue>;
  /** Positional arguments. */
  positionals: string[];
}

const TRUE = new Set(["1", "true", "yes", "on"]);
const FALSE = new Set(["0", "false", "no", "off", ""]);

/** Parses a boolean environment value; throws a usage error naming the variable otherwise. */
export function parseBoolEnv(name: string, raw: string): boolean {
  const v = raw.trim().toLowerCase();
  if (TRUE.has(v)) return true;
  if (FALSE.has(v)) return false;
  throw new CliError("usage", `${name}=${raw} is not a boolean: set it to true or false`);
}

/** Flag name mentioned in a parseArgs error message (`'-t, --token <value>'` → `--token`). */
function flagIn(message: string): string {
  const quoted = /'([^']*)'/.exec(message)?.[1] ?? "";
  return /--[\w-]+/.exec(quoted)?.[0] ?? quoted.split(/[ ,=]/)[0] ?? quoted;
}

/** Parses `args` (after the command name) against `spec`, filling absent flags from `env`. */
export function parseCommand(
  spec: CommandSpec,
  args: string[],
  env: Record<string, string | undefined>,
): ParsedCommand {
  const options: Record<string, { type: "string" | "boolean"; short?: string }> = {};
  for (const f of spec.flags) {
    options[f.name] = f.short ? { type: f.type, short: f.short } : { type: f.type };
  }
  const cmd = `veilnet-conflux ${spec.name}`;
  const fix = `see \`${cmd} --help\``;
  let parsed;
  try {
    parsed = parseArgs({ args, options, strict: true, allowPositionals: true });
  } catch (err) {
    const e = err as Error & { code?: string };
    const flag = flagIn(e.message);
    const f = spec.flags.find((x) => `--${x.name}` === flag);
    switch (e.code) {
      case "ERR_PARSE_ARGS_UNKNOWN_OPTION":
        throw new CliError("usage", `${cmd}: unknown flag ${flag}: ${fix}`);
      case "ERR_PARSE_ARGS_INVALID_OPTION_VALUE":
        if (f?.type === "boolean") {
          throw new CliError("usage", `${cmd}: ${flag} takes no value: write just ${flag}`);
        }
        throw new CliError(
          "usage",
          `${cmd}: ${flag} needs a value: write ${flag} ${f?.metavar ?? "VALUE"}`,
        );
      default:
        throw new CliError("usage", `${cmd}: ${e.message.split(". ")[0]}: ${fix}`);
    }
  }
  const positionals = parsed.positionals;
  if (positionals.length > (spec.maxPositionals ?? 0)) {
    const extra = positionals[spec.maxPositionals ?? 0];
    throw new CliError("usage", `${cmd}: unexpected argument "${extra}": ${fix}`);
  }
  const values = new Map<string, FlagValue>();
  const raw = parsed.values as Record<string, string | boolean | undefined>;
  for (const f of spec.flags) {
    let v: FlagValue | undefined;
    const given = raw[f.name];
    if (given !== undefined) {
      v = { value: given, origin: "flag" };
      if (f.type === "string" && given === "") {
        throw new CliError("usage", `${cmd}: --${f.name} is empty: write --${f.name} ${f.metavar}`);
      }
    } else if (f.env !== undefined && env[f.env] !== undefined && env[f.env] !== "") {
      const e = env[f.env] as string;
      v = { value: f.type === "boolean" ? parseBoolEnv(f.env, e) : e, origin: "env" };
    }
    if (v && f.choices && !f.choices.includes(String(v.value))) {
      const where = v.origin === "flag" ? `--${f.name}` : f.env;
      throw new CliError(
        "usage",
        `${cmd}: ${where} must be one of ${f.choices.join(", ")} (got "${v.value}")`,
      );
    }
    if (v) values.set(f.name, v);
  }
  return { values, positionals };
}

/** The string value of a flag (or its variable), or undefined. */
export function stringFlag(parsed: ParsedCommand, name: string): string | undefined {
  const v = parsed.values.get(name)?.value;
  return typeof v === "string" ? v : undefined;
}

/** The boolean value of a switch (or its variable), or undefined when neither was given. */
export function boolFlag(parsed: ParsedCommand, name: string): boolean | undefined {
  const v = parsed.values.get(name)?.value;
  return typeof v === "boolean" ? v : undefined;
}

/** Renders `--help` for a command. */
export function renderCommandHelp(spec: CommandSpec): string {
  const lines = [
    `Usage: veilnet-conflux ${spec.name}${spec.args ? " " + spec.args : ""} [flags]`,
    "",
    spec.summary,
    "",
    "Flags:",
  ];
  const left = spec.flags.map((f) => {
    const short = f.short ? `-${f.short}, ` : "    ";
    return `  ${short}--${f.name}${f.type === "string" ? " " + (f.metavar ?? "VALUE") : ""}`;
  });
  const width = Math.max(...left.map((l) => l.length)) + 2;
  spec.flags.forEach((f, i) => {
    const env = f.env ? ` [env ${f.env}]` : "";
    lines.push(left[i].padEnd(width) + f.help + env);
  });
  if (spec.details) lines.push("", spec.details);
  return lines.join("\n");
}
