/**
 * Request bodies and query parameters: size-limited, decoded and validated; every problem is a
 * 4xx {@link HttpError} naming it.
 *
 * @module
 */

import type { z } from "zod";
import { HttpError } from "./errors.ts";

/** Reads a JSON body of at most `limit` bytes. */
export async function readJson(request: Request, limit: number): Promise<unknown> {
  const declared = request.headers.get("content-length");
  if (declared !== null && Number(declared) > limit) {
    throw new HttpError(413, `request body larger than ${limit} bytes`);
  }
  const chunks: Uint8Array[] = [];
  let size = 0;
  if (request.body) {
    const reader = request.body.getReader();
    for (;;) {
      const { done, value } = await reader.read();
      if (done) break;
      size += value.length;
      if (size > limit) {
        await reader.cancel().catch(() => {});
        throw new HttpError(413, `request body larger than ${limit} bytes`);
      }
      chunks.push(value);
    }
  }
  if (size === 0) throw new HttpError(400, "request body must be a JSON object");
  const bytes = new Uint8Array(size);
  let offset = 0;
  for (const c of chunks) {
    bytes.set(c, offset);
    offset += c.length;
  }
  try {
    return JSON.parse(new TextDecoder("utf-8", { fatal: true }).decode(bytes));
  } catch {
    throw new HttpError(400, "request body is not valid JSON");
  }
}

/** Validates a JSON object against schema `s`; a 400 naming the first problem. */
export function validate<T extends z.ZodType>(s: T, value: unknown): z.infer<T> {
  if (typeof value !== "object" || value === null || Array.isArray(value)) {
    throw new HttpError(400, "request body must be a JSON object");
  }
  const result = s.safeParse(value);
  if (!result.success) {
    const issue = result.error.issues[0];
    const path = issue.path.length ? issue.path.join(".") + ": " : "";
    throw new HttpError(400, `${path}${issue.message}`);
  }
  return result.data;
}

/** The required query parameter `name` (at most 64 characters). */
export function queryParam(url: URL, name: string): string {
  const value = url.searchParams.get(name);
  if (!value || value.length > 64) throw new HttpError(400, `query parameter ${name} is required`);
  return value;
}
