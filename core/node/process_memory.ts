/**
 * The node process's memory as `/info` reports it (issue 16 item 4: measure before cutting).
 * Resident set split the way the kernel counts it: anonymous pages are the process's own (V8
 * heap, malloc, buffers); file-backed pages are mapped executables and libraries, shared with
 * other processes running the same files and reclaimable, so RSS overstates what a node costs.
 *
 * @module
 */

/** Memory of this process, in MB (one decimal). */
export interface ProcessMemory {
  /** VmRSS: resident set. */
  rss_mb: number;
  /** RssAnon: resident anonymous pages (heap, stacks, buffers): the process's own cost. */
  anon_mb?: number;
  /** RssFile: resident pages of mapped files (the runtime binary, libraries). */
  file_mb?: number;
  /** V8's heap: bytes in use and reserved. */
  heap_used_mb: number;
  heap_total_mb: number;
  /** Memory of JS objects held outside the V8 heap (ArrayBuffers). */
  external_mb: number;
}

const MB = 1024 * 1024;

function mb(bytes: number): number {
  return Math.round((bytes / MB) * 10) / 10;
}

/** The `kB` field `key` of a /proc status text, in bytes, or undefined. */
export function statusField(text: string, key: string): number | undefined {
  const m = new RegExp(`^${key}:\\s+(\\d+) kB$`, "m").exec(text);
  return m ? Number(m[1]) * 1024 : undefined;
}

/** Reads this process's memory; `status` is /proc/self/status's text where the OS has one. */
export function processMemory(status?: string): ProcessMemory {
  const usage = Deno.memoryUsage();
  const anon = status === undefined ? undefined : statusField(status, "RssAnon");
  const file = status === undefined ? undefined : statusField(status, "RssFile");
  return {
    rss_mb: mb(usage.rss),
    ...(anon === undefined ? {} : { anon_mb: mb(anon) }),
    ...(file === undefined ? {} : { file_mb: mb(file) }),
    heap_used_mb: mb(usage.heapUsed),
    heap_total_mb: mb(usage.heapTotal),
    external_mb: mb(usage.external),
  };
}

/** /proc/self/status, or undefined off Linux or when it cannot be read. */
export function readOwnStatus(): string | undefined {
  if (Deno.build.os !== "linux") return undefined;
  try {
    return Deno.readTextFileSync("/proc/self/status");
  } catch {
    return undefined;
  }
}
