/**
 * Client of the running node's local status API: HTTP/1.1 on the Unix socket
 * `<configDir>/conflux.sock`.
 *
 * The request is written straight onto the socket: no URL, no host name, no resolver. (A `fetch`
 * through a Unix-socket HTTP client resolves its URL's host first; with DNS down, `info` waited
 * for the dead resolver and then said the node was not running.) A user runs `info` and `status`
 * precisely when the network is broken, so nothing here may touch it.
 *
 * Every way of failing has its own message and {@link LocalApiProblem}: no socket, not a socket,
 * permission denied, a stale socket nobody listens on, a node too busy to take the connection, a
 * node that took it and never answered, and a reply that is not what a node sends.
 *
 * @module
 */
import { join } from "node:path";
import { SOCKET_FILE } from "./config_dir.ts";
import { CliError } from "./errors.ts";

/** What `GET /info` returns (extra fields are kept as they come). */
export interface NodeInfo {
  conflux_id: string;
  realm_id: string;
  overlay_ip: string;
  tag: string;
  portal: boolean;
  teams: string[];
  tethers: unknown[];
  routes: unknown[];
  streams: unknown[];
  [extra: string]: unknown;
}

/**
 * Why the local API could not be used:
 * - `no-socket`: nothing at the socket path (the node is not running);
 * - `not-a-socket`: something else than a socket is at that path;
 * - `stale`: a socket file nobody listens on (the node ended without removing it);
 * - `permission`: the socket is the node user's (mode 0600) and we are someone else;
 * - `busy`: the node's listen queue is full, it takes no new connection;
 * - `hung`: the node took the connection but did not answer in time;
 * - `bad-reply`: it answered, but not with a JSON object and HTTP 200.
 */
export type LocalApiProblem =
  | "no-socket"
  | "not-a-socket"
  | "stale"
  | "permission"
  | "busy"
  | "hung"
  | "bad-reply";

/** The local API failed; `problem` says how, `message` what to do. */
export class LocalApiError extends CliError {
  /** How it failed. */
  readonly problem: LocalApiProblem;
  /** The socket path that was tried. */
  readonly socket: string;

  /** Creates the error; "not running" problems exit 3, the others 1. */
  constructor(problem: LocalApiProblem, socket: string, message: string) {
    super(NOT_RUNNING.has(problem) ? "not-running" : "node", message);
    this.name = "LocalApiError";
    this.problem = problem;
    this.socket = socket;
  }
}

const NOT_RUNNING = new Set<LocalApiProblem>(["no-socket", "not-a-socket", "stale"]);

/** How long a node may take to answer before it counts as hung (ms). */
export const DEFAULT_LOCAL_API_TIMEOUT_MS = 3_000;
/** Largest reply accepted; a node's /info is a few KB to a few hundred KB. */
const MAX_REPLY_BYTES = 16 * 1024 * 1024;

/** Options of a local API call. */
export interface LocalApiOptions {
  /** Deadline for the whole exchange (ms); default {@link DEFAULT_LOCAL_API_TIMEOUT_MS}. */
  timeoutMs?: number;
}

/** The socket of the node whose configuration directory is `configDir`. */
export function socketPath(configDir: string): string {
  return join(configDir, SOCKET_FILE);
}

const START_HINT = "start it with `veilnet-conflux start` or `veilnet-conflux run`";
const LOG_HINT = "see its log (`journalctl -u veilnet`, or the terminal running " +
  "`veilnet-conflux run`) and restart it (`veilnet-conflux stop`, then `start`)";

/** The error for `problem` at `path`, with the message a user acts on. */
function problemError(problem: LocalApiProblem, path: string, detail = ""): LocalApiError {
  const messages: Record<LocalApiProblem, string> = {
    "no-socket": `the node is not running (no socket at ${path}): ${START_HINT}`,
    "not-a-socket": `the node is not running: ${path} is not a socket (${detail}): remove it ` +
      `and ${START_HINT}`,
    "stale": `the node is not running (nobody listens on ${path}: a stale socket left by a ` +
      `node that ended without removing it): ${START_HINT}`,
    "permission": `cannot connect to the node's socket ${path}: permission denied (it belongs ` +
      "to the node's user, mode 0600): run as root, e.g. with sudo",
    "busy": `the node is busy: its socket ${path} takes no new connection (listen queue ` +
      `full); try again in a moment, and if it lasts, ${LOG_HINT}`,
    "hung": `the node does not answer: it took the connection on ${path} but sent nothing ` +
      `within ${detail}; it is hung or overloaded: ${LOG_HINT}`,
    "bad-reply": `the node's local API at ${path} answered badly (${detail}): ${LOG_HINT}`,
  };
  return new LocalApiError(problem, path, messages[problem]);
}

/** Raw reply of a local API request. */
interface RawReply {
  status: number;
  body: Uint8Array;
}

/**
 * `GET path` on the node's socket; resolves to the decoded JSON body of an HTTP 200 reply.
 * Throws {@link LocalApiError} for every failure.
 */
export async function getLocalApi(
  configDir: string,
  path: string,
  options: LocalApiOptions = {},
): Promise<unknown> {
  if (!/^\/[A-Za-z0-9/_.-]*$/.test(path)) throw new RangeError(`bad local API path "${path}"`);
  const socket = socketPath(configDir);
  const timeoutMs = options.timeoutMs ?? DEFAULT_LOCAL_API_TIMEOUT_MS;
  const reply = await exchange(socket, path, timeoutMs);
  const text = new TextDecoder().decode(reply.body);
  if (reply.status !== 200) {
    const said = safeJson(text) as { error?: unknown } | undefined;
    const why = typeof said?.error === "string" ? `: ${said.error.slice(0, 200)}` : "";
    throw problemError("bad-reply", socket, `HTTP ${reply.status} to GET ${path}${why}`);
  }
  const data = safeJson(text);
  if (data === undefined) throw problemError("bad-reply", socket, `its ${path} is not JSON`);
  return data;
}

function safeJson(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch {
    return undefined;
  }
}

/** Connects, sends the request, reads the reply; maps each failure to its problem. */
async function exchange(socket: string, path: string, timeoutMs: number): Promise<RawReply> {
  let conn: Deno.UnixConn;
  try {
    conn = await Deno.connect({ transport: "unix", path: socket });
  } catch (err) {
    throw connectError(err, socket);
  }
  let timedOut = false;
  const timer = setTimeout(() => {
    timedOut = true;
    try {
      conn.close();
    } catch {
      // already closed
    }
  }, timeoutMs);
  try {
    const request = `GET ${path} HTTP/1.1\r\nHost: localhost\r\nAccept: application/json\r\n` +
      "Connection: close\r\n\r\n";
    await writeAll(conn, new TextEncoder().encode(request));
    return await readReply(conn, socket);
  } catch (err) {
    if (timedOut) throw problemError("hung", socket, formatMs(timeoutMs));
    if (err instanceof LocalApiError) throw err;
    throw problemError("bad-reply", socket, describe(err));
  } finally {
    clearTimeout(timer);
    if (!timedOut) {
      try {
        conn.close();
      } catch {
        // closed by the peer's end of the exchange
      }
    }
  }
}

function formatMs(ms: number): string {
  return ms % 1000 === 0 ? `${ms / 1000} s` : `${ms} ms`;
}

function describe(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}

/** What a failed connect means; a path that is not a socket is told apart by its stat. */
function connectError(err: unknown, socket: string): LocalApiError {
  if (err instanceof Deno.errors.NotFound) return problemError("no-socket", socket);
  if (err instanceof Deno.errors.PermissionDenied) return problemError("permission", socket);
  if (err instanceof Deno.errors.WouldBlock) return problemError("busy", socket);
  if (err instanceof Deno.errors.ConnectionRefused) {
    let info: Deno.FileInfo | null = null;
    try {
      info = Deno.statSync(socket);
    } catch {
      // gone in between: as good as no socket
    }
    if (info === null) return problemError("no-socket", socket);
    if (!info.isSocket) {
      const kind = info.isDirectory
        ? "a directory"
        : info.isFile
        ? "a regular file"
        : "not a socket";
      return problemError("not-a-socket", socket, kind);
    }
    return problemError("stale", socket);
  }
  if (err instanceof Deno.errors.NotADirectory) {
    return problemError("not-a-socket", socket, "a path component is not a directory");
  }
  return new LocalApiError(
    "bad-reply",
    socket,
    `cannot connect to the node's socket ${socket}: ${describe(err)}`,
  );
}

async function writeAll(conn: Deno.Conn, bytes: Uint8Array): Promise<void> {
  let off = 0;
  while (off < bytes.length) off += await conn.write(bytes.subarray(off));
}

/** Reads one HTTP/1.1 response (Content-Length, chunked, or until the peer closes). */
async function readReply(conn: Deno.Conn, socket: string): Promise<RawReply> {
  const reader = new ByteReader(conn, MAX_REPLY_BYTES);
  const head = await reader.readHead();
  if (head === null) throw problemError("bad-reply", socket, "it closed without an HTTP reply");
  const lines = new TextDecoder().decode(head).split("\r\n");
  const status = /^HTTP\/1\.[01] (\d{3})(?: |$)/.exec(lines[0]);
  if (!status) {
    throw problemError("bad-reply", socket, `not an HTTP reply: "${lines[0].slice(0, 60)}"`);
  }
  const headers = new Map<string, string>();
  for (const line of lines.slice(1)) {
    const colon = line.indexOf(":");
    if (colon > 0) {
      headers.set(line.slice(0, colon).trim().toLowerCase(), line.slice(colon + 1).trim());
    }
  }
  let body: Uint8Array;
  const length = headers.get("content-length");
  if (/chunked/i.test(headers.get("transfer-encoding") ?? "")) {
    body = await reader.readChunked();
  } else if (length !== undefined) {
    const n = Number(length);
    if (!/^\d+$/.test(length) || n > MAX_REPLY_BYTES) {
      throw problemError("bad-reply", socket, `bad Content-Length "${length.slice(0, 20)}"`);
    }
    body = await reader.readExactly(n);
  } else {
    body = await reader.readToEnd();
  }
  return { status: Number(status[1]), body };
}

/** Buffered reads off a connection, bounded in total size. */
class ByteReader {
  #conn: Deno.Conn;
  #buf = new Uint8Array(0);
  #total = 0;
  #max: number;
  #eof = false;

  constructor(conn: Deno.Conn, max: number) {
    this.#conn = conn;
    this.#max = max;
  }

  /** Reads more into the buffer; false at end of stream. */
  async #fill(): Promise<boolean> {
    if (this.#eof) return false;
    const chunk = new Uint8Array(64 * 1024);
    const n = await this.#conn.read(chunk);
    if (n === null) {
      this.#eof = true;
      return false;
    }
    this.#total += n;
    if (this.#total > this.#max) throw new Error(`reply larger than ${this.#max} bytes`);
    const next = new Uint8Array(this.#buf.length + n);
    next.set(this.#buf);
    next.set(chunk.subarray(0, n), this.#buf.length);
    this.#buf = next;
    return true;
  }

  #take(n: number): Uint8Array {
    const out = this.#buf.slice(0, n);
    this.#buf = this.#buf.slice(n);
    return out;
  }

  /** The bytes up to `\r\n\r\n` (excluded), or null when the stream ends first. */
  async readHead(): Promise<Uint8Array | null> {
    for (;;) {
      const at = indexOfCrlfCrlf(this.#buf);
      if (at >= 0) {
        const head = this.#take(at);
        this.#take(4);
        return head;
      }
      if (!(await this.#fill())) return null;
    }
  }

  /** A line ending in CRLF (excluded). */
  async #readLine(): Promise<string> {
    for (;;) {
      const at = this.#buf.findIndex((b, i) => b === 13 && this.#buf[i + 1] === 10);
      if (at >= 0) {
        const line = new TextDecoder().decode(this.#take(at));
        this.#take(2);
        return line;
      }
      if (!(await this.#fill())) throw new Error("reply cut short");
    }
  }

  async readExactly(n: number): Promise<Uint8Array> {
    while (this.#buf.length < n) {
      if (!(await this.#fill())) throw new Error("reply cut short");
    }
    return this.#take(n);
  }

  async readToEnd(): Promise<Uint8Array> {
    while (await this.#fill()) { /* keep reading */ }
    return this.#take(this.#buf.length);
  }

  async readChunked(): Promise<Uint8Array> {
    const parts: Uint8Array[] = [];
    let size = 0;
    for (;;) {
      const line = await this.#readLine();
      const m = /^([0-9a-fA-F]{1,8})(;.*)?$/.exec(line.trim());
      if (!m) throw new Error(`bad chunk size "${line.slice(0, 20)}"`);
      const n = parseInt(m[1], 16);
      if (n === 0) return concat(parts, size);
      size += n;
      if (size > this.#max) throw new Error(`reply larger than ${this.#max} bytes`);
      parts.push(await this.readExactly(n));
      await this.readExactly(2); // CRLF after the chunk
    }
  }
}

function indexOfCrlfCrlf(buf: Uint8Array): number {
  for (let i = 0; i + 3 < buf.length; i++) {
    if (buf[i] === 13 && buf[i + 1] === 10 && buf[i + 2] === 13 && buf[i + 3] === 10) return i;
  }
  return -1;
}

function concat(parts: Uint8Array[], size: number): Uint8Array {
  const out = new Uint8Array(size);
  let off = 0;
  for (const p of parts) {
    out.set(p, off);
    off += p.length;
  }
  return out;
}

/** Fetches `GET /info` from the node whose config dir is `configDir`. */
export async function fetchNodeInfo(
  configDir: string,
  options: LocalApiOptions = {},
): Promise<NodeInfo> {
  const data = await getLocalApi(configDir, "/info", options);
  if (typeof data !== "object" || data === null || Array.isArray(data)) {
    throw problemError("bad-reply", socketPath(configDir), "its /info is not a JSON object");
  }
  const info = data as Record<string, unknown>;
  const list = (v: unknown) => (Array.isArray(v) ? v : []);
  return {
    ...info,
    conflux_id: String(info.conflux_id ?? ""),
    realm_id: String(info.realm_id ?? ""),
    overlay_ip: String(info.overlay_ip ?? ""),
    tag: String(info.tag ?? ""),
    portal: info.portal === true,
    teams: list(info.teams).map(String),
    tethers: list(info.tethers),
    routes: list(info.routes),
    streams: list(info.streams),
  };
}

/** What {@link probeNode} found: the node answering with its info, or why not. */
export type NodeProbe =
  | { state: "answering"; socket: string; ms: number; info: NodeInfo }
  | { state: LocalApiProblem; socket: string; ms: number; message: string };

/** Asks the node for /info and reports the outcome instead of throwing (for status, netcheck). */
export async function probeNode(
  configDir: string,
  options: LocalApiOptions = {},
): Promise<NodeProbe> {
  const started = performance.now();
  const ms = () => Math.round((performance.now() - started) * 10) / 10;
  try {
    const info = await fetchNodeInfo(configDir, options);
    return { state: "answering", socket: socketPath(configDir), ms: ms(), info };
  } catch (err) {
    if (!(err instanceof LocalApiError)) throw err;
    return { state: err.problem, socket: err.socket, ms: ms(), message: err.message };
  }
}
