import assert from "node:assert/strict";
import { scrypt } from "node:crypto";
import {
  hashPassword,
  hashToken,
  MAX_CONCURRENT_HASHES,
  needsRehash,
  newId,
  newToken,
  SCRYPT_PARAMS,
  verifyPassword,
} from "./secrets.ts";

/** A hash in the Guardian's old format (N=2^15), as databases made before 2^17 hold. */
function legacyHash(password: string): Promise<string> {
  const salt = crypto.getRandomValues(new Uint8Array(16));
  return new Promise((resolve, reject) => {
    scrypt(password, salt, 32, { N: 1 << 15, r: 8, p: 1, maxmem: 64 << 20 }, (err, key) => {
      if (err) return reject(err);
      const b64 = (b: Uint8Array) => btoa(String.fromCharCode(...b));
      resolve(`scrypt$${1 << 15}$8$1$${b64(salt)}$${b64(new Uint8Array(key))}`);
    });
  });
}

Deno.test("hashPassword: salted scrypt N=2^17 that verifies only the right password", async () => {
  const a = await hashPassword("correct horse battery");
  const b = await hashPassword("correct horse battery");
  assert.notEqual(a, b, "salted");
  assert.ok(!a.includes("correct"));
  assert.ok(a.startsWith(`scrypt$${1 << 17}$8$1$`), a.slice(0, 20));
  assert.equal(SCRYPT_PARAMS.N, 1 << 17);
  assert.equal(await verifyPassword("correct horse battery", a), true);
  assert.equal(await verifyPassword("correct horse batterz", a), false);
  assert.equal(await verifyPassword("x", "scrypt$bad"), false);
  assert.equal(await verifyPassword("x", "plain"), false);
  // A stored N far beyond what we make is refused, not allocated.
  assert.equal(await verifyPassword("x", `scrypt$${2 ** 30}$8$1$AAAA$AAAA`), false);
  assert.equal(needsRehash(a), false);
});

Deno.test("needsRehash: an N=2^15 hash still verifies and asks to be re-hashed", async () => {
  const old = await legacyHash("a long passphrase");
  assert.equal(await verifyPassword("a long passphrase", old), true);
  assert.equal(await verifyPassword("another passphrase", old), false);
  assert.equal(needsRehash(old), true);
  assert.equal(needsRehash("garbage"), false);
});

Deno.test("hashPassword: concurrent hashes queue instead of running all at once", async () => {
  assert.ok(MAX_CONCURRENT_HASHES >= 1);
  const hashes = await Promise.all(
    Array.from({ length: MAX_CONCURRENT_HASHES + 2 }, (_, i) => hashPassword(`password ${i}`)),
  );
  for (const [i, h] of hashes.entries()) {
    assert.equal(await verifyPassword(`password ${i}`, h), true);
  }
});

Deno.test("tokens are random, prefixed, and stored as SHA-256 hex", () => {
  const t1 = newToken("conflux");
  const t2 = newToken("conflux");
  assert.match(t1, /^vnc_[A-Za-z0-9_-]{43}$/);
  assert.notEqual(t1, t2);
  assert.match(hashToken(t1), /^[0-9a-f]{64}$/);
  assert.notEqual(hashToken(t1), hashToken(t2));
  assert.match(newId("r"), /^r[0-9a-f]{16}$/);
});
