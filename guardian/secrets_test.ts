import assert from "node:assert/strict";
import { hashPassword, hashToken, newId, newToken, verifyPassword } from "./secrets.ts";

Deno.test("hashPassword: salted scrypt that verifies only the right password", async () => {
  const a = await hashPassword("correct horse battery");
  const b = await hashPassword("correct horse battery");
  assert.notEqual(a, b, "salted");
  assert.ok(!a.includes("correct"));
  assert.equal(await verifyPassword("correct horse battery", a), true);
  assert.equal(await verifyPassword("correct horse batterz", a), false);
  assert.equal(await verifyPassword("x", "scrypt$bad"), false);
  assert.equal(await verifyPassword("x", "plain"), false);
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
