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
    assert.equal(store.schemaVersion, 4);
    store.insertUser(user);
    store.close();
    const again = new SqliteStore(path);
    try {
      assert.equal(again.schemaVersion, 4);
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
          autoApprove: [],
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
      autoApprove: [],
    });
    store.deleteRealm("r1", 3);
    assert.deepEqual([...store.leasedAddresses("r1")], [10]);
    assert.equal(store.insertUser({ ...user, id: "u2", email: "A@b.test" }), false);
  });
});

Deno.test("SqliteStore: session user keys of a revoked conflux are listed until they expire", async () => {
  await withStore((store) => {
    store.insertUser(user);
    const realm = {
      id: "r1",
      name: "x",
      subnet: "100.64.0.0/24",
      ownerId: "u1",
      createdAt: 1,
      deletedAt: null,
      autoApprove: [],
    };
    store.insertRealm(realm);
    const conflux = (id: string) => ({
      id,
      realmId: "r1",
      ownerId: "u1",
      tag: id,
      tokenHash: `hash-${id}`,
      overlayIp: "100.64.0.2",
      portal: false,
      createdAt: 1,
      revokedAt: null,
      lastLoginAt: null,
      advertisedSubnets: [],
    });
    store.insertConflux(conflux("c1"));
    store.insertConflux(conflux("c2"));
    store.recordNatsUser("UA", "c1", 10_000, 100);
    store.recordNatsUser("UB", "c1", 20_000, 100);
    store.recordNatsUser("UC", "c2", 20_000, 100);
    // Another conflux stating the same key does not shield it from c1's revocation.
    store.recordNatsUser("UA", "c2", 30_000, 100);
    assert.deepEqual(store.natsRevocations(200), []);

    store.revokeConflux("c1", 500);
    assert.deepEqual(store.natsRevocations(600), [
      { nkey: "UA", revokedAt: 500 },
      { nkey: "UB", revokedAt: 500 },
    ]);
    // Expired JWTs need no revocation; the next session login forgets them.
    assert.deepEqual(store.natsRevocations(15_000), [{ nkey: "UB", revokedAt: 500 }]);
    store.revokeConflux("c2", 700);
    assert.deepEqual(store.natsRevocations(25_000).map((r) => r.nkey), ["UA"]);
    store.recordNatsUser("UD", "c1", 40_000, 35_000);
    assert.deepEqual(store.natsRevocations(0), [], "expired rows are gone");
  });
});

Deno.test("SqliteStore: the team-key sequence only grows, across reopening, whatever the clock", async () => {
  await withStore((store, path) => {
    const first = store.nextTeamKeysSequence();
    // Seeded from the clock at creation (above what the old clock-based scheme handed out).
    assert.ok(first > Date.now() - 60_000, String(first));
    const second = store.nextTeamKeysSequence();
    assert.equal(second, first + 1);
    store.close();
    const again = new SqliteStore(path);
    try {
      assert.equal(again.nextTeamKeysSequence(), second + 1, "kept in the database");
    } finally {
      again.close();
    }
  });
});

Deno.test("SqliteStore: portal decisions, advertised networks and the realm policy", async () => {
  await withStore((store) => {
    store.insertUser(user);
    store.insertRealm({
      id: "r1",
      name: "x",
      subnet: "100.64.0.0/24",
      ownerId: "u1",
      createdAt: 1,
      deletedAt: null,
      autoApprove: ["10.0.0.0/8"],
    });
    assert.deepEqual(store.realmById("r1")?.autoApprove, ["10.0.0.0/8"]);
    store.setRealmAutoApprove("r1", []);
    assert.deepEqual(store.realmById("r1")?.autoApprove, []);
    store.insertConflux({
      id: "c1",
      realmId: "r1",
      ownerId: "u1",
      tag: "p",
      tokenHash: "hash-c1",
      overlayIp: "100.64.0.2",
      portal: false,
      createdAt: 1,
      revokedAt: null,
      lastLoginAt: null,
      advertisedSubnets: [],
    });
    store.recordLogin("c1", true, 5, ["192.0.2.0/24", "10.1.0.0/16"]);
    assert.deepEqual(store.confluxById("c1")?.advertisedSubnets, ["192.0.2.0/24", "10.1.0.0/16"]);
    store.decideSubnets("c1", ["192.0.2.0/24", "10.1.0.0/16"], "approved", "u1", 6);
    store.decideSubnets("c1", ["10.1.0.0/16"], "denied", "u1", 7);
    assert.deepEqual(store.subnetDecisions("c1"), [
      { cidr: "10.1.0.0/16", decision: "denied", decidedAt: 7, decidedBy: "u1" },
      { cidr: "192.0.2.0/24", decision: "approved", decidedAt: 6, decidedBy: "u1" },
    ]);
    // Logout deletes the access token.
    store.insertAccessToken("th", "u1", 100, 1);
    assert.equal(store.userByAccessToken("th", 2)?.id, "u1");
    assert.equal(store.deleteAccessToken("th"), true);
    assert.equal(store.userByAccessToken("th", 2), null);
    assert.equal(store.deleteAccessToken("th"), false);
    store.updatePasswordHash("u1", "scrypt$new");
    assert.equal(store.userById("u1")?.passwordHash, "scrypt$new");
  });
});
