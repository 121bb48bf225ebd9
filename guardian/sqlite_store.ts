/**
 * The SQLite store; it lives in store/sqlite_store.ts (schema in store/migrations.ts).
 *
 * @module
 */
export { SqliteStore } from "./store/sqlite_store.ts";
