// Interop with an independent ML-KEM-768 implementation: the npm package `mlkem` (its own
// Keccak and lattice code, no shared dependency with @noble/post-quantum).
import assert from "node:assert/strict";
import { MlKem768 } from "mlkem";
import { mlkem768 } from "./kem.ts";

const other = new MlKem768();
const seeds = [1, 2, 3].map((n) => new Uint8Array(64).map((_, i) => (i * 31 + n) & 0xff));

Deno.test("kem interop: same seed gives the same key pair in both implementations", async () => {
  for (const seed of seeds) {
    const ours = mlkem768.generateKeyPair(seed);
    const [pk, sk] = await other.deriveKeyPair(seed);
    assert.deepEqual(ours.publicKey, pk);
    assert.deepEqual(ours.secretKey, sk);
  }
});

Deno.test("kem interop: their key + our encapsulation, decapsulated by them", async () => {
  for (let n = 0; n < 3; n++) {
    const [pk, sk] = await other.generateKeyPair();
    const random = crypto.getRandomValues(new Uint8Array(32));
    const { cipherText, sharedSecret } = mlkem768.encapsulate(pk, random);
    assert.deepEqual(await other.decap(cipherText, sk), sharedSecret);
  }
});

Deno.test("kem interop: our key + their encapsulation, decapsulated by us", async () => {
  for (const seed of seeds) {
    const ours = mlkem768.generateKeyPair(seed);
    const [cipherText, sharedSecret] = await other.encap(ours.publicKey);
    assert.deepEqual(mlkem768.decapsulate(cipherText, ours.secretKey), sharedSecret);
    // Implicit rejection agrees too: both sides derive the same rejection secret.
    const tampered = cipherText.slice();
    tampered[7] ^= 0x40;
    const ourReject = mlkem768.decapsulate(tampered, ours.secretKey);
    assert.notDeepEqual(ourReject, sharedSecret);
    assert.deepEqual(await other.decap(tampered, ours.secretKey), ourReject);
  }
});

Deno.test("kem interop: deterministic encapsulation matches byte for byte", async () => {
  const ours = mlkem768.generateKeyPair(seeds[0]);
  const m = new Uint8Array(32).fill(0x5a);
  const [ct, ss] = await other.encap(ours.publicKey, m);
  const mine = mlkem768.encapsulate(ours.publicKey, m);
  assert.deepEqual(mine.cipherText, ct);
  assert.deepEqual(mine.sharedSecret, ss);
});
