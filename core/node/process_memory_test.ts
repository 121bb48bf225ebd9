import assert from "node:assert/strict";
import { processMemory, statusField } from "./process_memory.ts";

const STATUS = "Name:\tdeno\nVmRSS:\t  101888 kB\nRssAnon:\t   45264 kB\nRssFile:\t   56624 kB\n";

Deno.test("process memory: kB fields of /proc status are read as bytes", () => {
  assert.equal(statusField(STATUS, "RssAnon"), 45264 * 1024);
  assert.equal(statusField(STATUS, "RssFile"), 56624 * 1024);
  assert.equal(statusField(STATUS, "RssShmem"), undefined);
  assert.equal(statusField("RssAnon: lots", "RssAnon"), undefined);
});

Deno.test("process memory: anon and file pages from the status text, heap from V8", () => {
  const m = processMemory(STATUS);
  assert.equal(m.anon_mb, 44.2);
  assert.equal(m.file_mb, 55.3);
  assert.ok(m.rss_mb > 0 && m.heap_used_mb > 0 && m.heap_total_mb >= m.heap_used_mb);
  const bare = processMemory(undefined);
  assert.equal(bare.anon_mb, undefined);
  assert.equal(bare.file_mb, undefined);
});
