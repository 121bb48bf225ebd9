/**
 * `deno task bench [NAME] [ARGS…]`: one entry for every benchmark.
 *
 * - no NAME or `micro`: the Deno.bench micro-benchmarks (crypto, AES-GCM engines);
 * - `tun`, `tether`, `tunnel`, `peers`, `paths`, `handoff`, `v8flags`, `scale`: the matching
 *   `bench/NAME_bench.ts` script, which sets up its own namespaces (root) where it needs them and
 *   prints JSON.
 *
 * @module
 */

const MICRO = ["bench/crypto_bench.ts", "bench/aead_bench.ts"];
const SCRIPTS = [
  "tun",
  "tether",
  "tunnel",
  "peers",
  "paths",
  "handoff",
  "v8flags",
  "scale",
] as const;

/** The command line that runs benchmark `name` with `args`, or null for an unknown name. */
export function benchCommand(name: string | undefined, args: string[]): string[] | null {
  if (name === undefined || name === "micro") return ["bench", "-A", ...MICRO, ...args];
  if (!(SCRIPTS as readonly string[]).includes(name)) return null;
  return ["run", "-A", `bench/${name}_bench.ts`, ...args];
}

if (import.meta.main) {
  const [name, ...args] = Deno.args;
  const command = benchCommand(name, args);
  if (!command) {
    console.error(`unknown benchmark "${name}": use one of micro, ${SCRIPTS.join(", ")}`);
    Deno.exit(2);
  }
  const status = await new Deno.Command(Deno.execPath(), { args: command }).spawn().status;
  Deno.exit(status.code);
}
