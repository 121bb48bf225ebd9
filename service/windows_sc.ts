/**
 * The `sc.exe` command lines that install and drive the Windows service "VeilNet Conflux".
 *
 * @module
 */
import type { ServiceDescription } from "./description.ts";

/**
 * Quotes one argument the way the Microsoft C runtime splits a command line: backslashes are
 * literal unless they precede a double quote, and a double quote is escaped with a backslash.
 */
export function windowsQuote(arg: string): string {
  if (arg !== "" && !/[\s"]/.test(arg)) return arg;
  let out = '"';
  let slashes = 0;
  for (const ch of arg) {
    if (ch === "\\") {
      slashes++;
      continue;
    }
    if (ch === '"') {
      out += "\\".repeat(slashes * 2 + 1) + '"';
    } else {
      out += "\\".repeat(slashes) + ch;
    }
    slashes = 0;
  }
  return out + "\\".repeat(slashes * 2) + '"';
}

/** The service's command line as the service control manager stores it (`binPath=`). */
export function windowsCommandLine(service: ServiceDescription): string {
  // sc.exe keeps the program path quoted even without spaces, as Windows recommends
  // (an unquoted path with spaces is a known privilege-escalation hole).
  const [program, ...args] = service.argv;
  return [`"${program}"`, ...args.map(windowsQuote)].join(" ");
}

/** argv (after `sc.exe`) that installs the service. `sc.exe` wants `key=` and its value apart. */
export interface ScInstallCommands {
  create: string[];
  description: string[];
  failure: string[];
}

/** The `sc.exe` invocations that create and configure the service. */
export function scInstallCommands(service: ServiceDescription): ScInstallCommands {
  const name = service.windowsName;
  return {
    create: [
      "create",
      name,
      "binPath=",
      windowsCommandLine(service),
      "start=",
      "auto",
      "DisplayName=",
      name,
    ],
    description: ["description", name, `${service.summary}: decentralized post-quantum overlay`],
    // Restart on failure after the same delay systemd uses; reset the counter after a day.
    failure: [
      "failure",
      name,
      "reset=",
      "86400",
      "actions=",
      [1, 2, 3].map(() => `restart/${service.restartDelaySeconds * 1000}`).join("/"),
    ],
  };
}

/** argv (after `sc.exe`) that controls an installed service. */
export interface ScControlCommands {
  start: string[];
  stop: string[];
  queryex: string[];
  qc: string[];
  delete: string[];
}

/** The `sc.exe` invocations that start, stop, query and delete the service `name`. */
export function scControlCommands(name: string): ScControlCommands {
  return {
    start: ["start", name],
    stop: ["stop", name],
    queryex: ["queryex", name],
    qc: ["qc", name],
    delete: ["delete", name],
  };
}
