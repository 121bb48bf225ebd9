/**
 * Structured logging shared by every part of the node and the Guardian.
 *
 * Values of fields whose name looks secret (token, key, seed, jwt, password)
 * are replaced before printing, so a careless call cannot leak a credential.
 *
 * @module
 */

/** Severity, least to most severe. */
export type LogLevel = "debug" | "info" | "warn" | "error";

/** Extra key/value context for one log line. */
export type LogFields = Record<string, unknown>;

/** What the runtime logs through; tests pass a collecting implementation. */
export interface Logger {
  debug(message: string, fields?: LogFields): void;
  info(message: string, fields?: LogFields): void;
  warn(message: string, fields?: LogFields): void;
  error(message: string, fields?: LogFields): void;
}

const ORDER: Record<LogLevel, number> = { debug: 0, info: 1, warn: 2, error: 3 };
const SECRET_FIELD = /token|secret|key|seed|jwt|password|credential/i;

/** Returns a copy of `fields` with secret-looking values replaced by "[redacted]". */
export function redact(fields: LogFields): LogFields {
  const out: LogFields = {};
  for (const [name, value] of Object.entries(fields)) {
    out[name] = SECRET_FIELD.test(name) ? "[redacted]" : value;
  }
  return out;
}

/** Formats one line as `LEVEL message k=v …` (values JSON-encoded). */
export function formatLine(level: LogLevel, message: string, fields?: LogFields): string {
  const parts = [level.toUpperCase().padEnd(5), message];
  if (fields) {
    for (const [k, v] of Object.entries(redact(fields))) {
      parts.push(`${k}=${typeof v === "string" ? JSON.stringify(v) : JSON.stringify(v ?? null)}`);
    }
  }
  return parts.join(" ");
}

/** A logger that writes lines at or above `level` to stderr. */
export function consoleLogger(level: LogLevel = "info", prefix = ""): Logger {
  const emit = (l: LogLevel) => (message: string, fields?: LogFields) => {
    if (ORDER[l] < ORDER[level]) return;
    console.error(prefix + formatLine(l, message, fields));
  };
  return { debug: emit("debug"), info: emit("info"), warn: emit("warn"), error: emit("error") };
}

/** A logger that keeps lines in memory; for tests. */
export function memoryLogger(): Logger & { lines: string[] } {
  const lines: string[] = [];
  const emit = (l: LogLevel) => (message: string, fields?: LogFields) => {
    lines.push(formatLine(l, message, fields));
  };
  return {
    lines,
    debug: emit("debug"),
    info: emit("info"),
    warn: emit("warn"),
    error: emit("error"),
  };
}
