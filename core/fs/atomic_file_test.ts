import assert from "node:assert/strict";
import { join } from "node:path";
import { readTextIfExists, removeIfExists, writeFileAtomic } from "./atomic_file.ts";

Deno.test("writeFileAtomic: exact mode, parent created, failure leaves the old file", async () => {
  const dir = await Deno.makeTempDir({ prefix: "veilnet-atomic-" });
  try {
    const path = join(dir, "a", "file.json");
    await writeFileAtomic(path, "one");
    assert.equal(await Deno.readTextFile(path), "one");
    assert.equal((await Deno.stat(path)).mode! & 0o777, 0o600);
    await writeFileAtomic(path, "two", { mode: 0o644 });
    assert.equal(await Deno.readTextFile(path), "two");
    assert.equal((await Deno.stat(path)).mode! & 0o777, 0o644);
    // A target that is a directory cannot be replaced: the error surfaces, no temp file stays.
    const blocked = join(dir, "a", "blocked");
    await Deno.mkdir(join(blocked, "child"), { recursive: true });
    await assert.rejects(() => writeFileAtomic(blocked, "x"));
    const names = [...Deno.readDirSync(join(dir, "a"))].map((e) => e.name).sort();
    assert.deepEqual(names, ["blocked", "file.json"]);
    assert.equal(await readTextIfExists(join(dir, "missing")), null);
    assert.equal(await removeIfExists(path), true);
    assert.equal(await removeIfExists(path), false);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
