/**
 * Entry point of the `veilnet-conflux` executable; the commands live in `cli/`.
 *
 * @module
 */
import { main } from "./cli/mod.ts";

if (import.meta.main) {
  Deno.exit(await main(Deno.args));
}
