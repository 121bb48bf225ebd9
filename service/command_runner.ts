/**
 * Runs the OS's service tools (systemctl, launchctl, sc.exe). Drivers take a runner so that their
 * exact command lines can be checked on machines that lack the tool.
 *
 * @module
 */

/** Exit code and captured output of one command. */
export interface CommandResult {
  /** Exit code; 127 when the program does not exist. */
  code: number;
  stdout: string;
  stderr: string;
}

/** Something that runs a program to completion. */
export interface CommandRunner {
  /** Runs `program args…` and captures its output. */
  run(program: string, args: string[]): Promise<CommandResult>;
}

/** Runs commands on this machine with `Deno.Command`. */
export function systemRunner(): CommandRunner {
  return {
    async run(program: string, args: string[]): Promise<CommandResult> {
      try {
        const out = await new Deno.Command(program, {
          args,
          stdin: "null",
          stdout: "piped",
          stderr: "piped",
        }).output();
        const dec = new TextDecoder();
        return { code: out.code, stdout: dec.decode(out.stdout), stderr: dec.decode(out.stderr) };
      } catch (err) {
        if (err instanceof Deno.errors.NotFound) {
          return { code: 127, stdout: "", stderr: `${program}: command not found` };
        }
        throw err;
      }
    },
  };
}
