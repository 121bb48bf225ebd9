/** Entry point of the `veilnet-conflux` executable: the CLI lives in `cli/`. */
if (import.meta.main) {
  console.error("veilnet-conflux: the CLI is being assembled (cli/)");
  Deno.exit(1);
}
