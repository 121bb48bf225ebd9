/**
 * The program version printed by `veilnet-conflux version`.
 *
 * @module
 */

/** Semantic version of this build. */
export const VERSION = "0.1.0";
