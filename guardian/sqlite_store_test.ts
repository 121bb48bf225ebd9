import assert from "node:assert/strict";
import { join } from "node:path";
import { SqliteStore } from "./sqlite_store.ts";

async function withStore(fn: (store: SqliteStore, path: string) => void | Promise<void>) {
  const dir = await Deno.makeTempDir({ prefix: "veilnet-store-" });
  const path = join(dir, "guardian.db");
  const store = new SqliteStore(path);
  try {
    await fn(store, path);
  } finally {
    store.close();
    await Deno.remove(dir, { recursive: true });
  }
}

const user = { id: "u1", email: "a@b.test", passwordHash: "h", isAdmin: true, createdAt: 1 };

Deno.test("SqliteStore migrates once, reopens, and is in WAL mode", async () => {
  await withStore(async (store, path) => {
    assert.equal(store.schemaVersion, 1);
    store.insertUser(user);
    store.close();
    const again = new SqliteStore(path);
    try {
      assert.equal(again.schemaVersion, 1);
      assert.equal(again.userByEmail("A@B.TEST")?.id, "u1", "email lookup ignores case");
      assert.ok((await Deno.stat(`${path}-wal`)).isFile, "WAL journal");
    } finally {
      again.close();
    }
  });
});

Deno.test("SqliteStore.transaction rolls back every write when the callback throws", async () => {
  await withStore((store) => {
    store.insertUser(user);
    const before = store.contentDigest();
    assert.throws(() =>
      store.transaction(() => {
        store.insertRealm({
          id: "r1",
          name: "x",
          subnet: "100.64.0.0/24",
          ownerId: "u1",
          createdAt: 2,
          deletedAt: null,
        });
        assert.equal(store.leaseAddress("r1", 1, "c1"), true);
        throw new Error("abort");
      })
    );
    assert.equal(store.contentDigest(), before);
    assert.equal(store.realmById("r1"), null);
  });
});

Deno.test("SqliteStore: leases are unique per realm and never released", async () => {
  await withStore((store) => {
    assert.equal(store.leaseAddress("r1", 10, "c1"), true);
    assert.equal(store.leaseAddress("r1", 10, "c2"), false);
    assert.equal(store.leaseAddress("r2", 10, "c3"), true);
    store.insertUser(user);
    store.insertRealm({
      id: "r1",
      name: "x",
      subnet: "100.64.0.0/24",
      ownerId: "u1",
      createdAt: 2,
      deletedAt: null,
    });
    store.deleteRealm("r1", 3);
    assert.deepEqual([...store.leasedAddresses("r1")], [10]);
    assert.equal(store.insertUser({ ...user, id: "u2", email: "A@b.test" }), false);
  });
});
