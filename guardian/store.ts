/**
 * The Guardian's storage interface; it lives in store/types.ts (one place for the records).
 *
 * @module
 */
export * from "./store/types.ts";
