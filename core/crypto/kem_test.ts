import assert from "node:assert/strict";
import { bytesToHex, hexToBytes } from "@noble/hashes/utils.js";
import { type Kem, mlkem768, xwing } from "./kem.ts";
import { CryptoError } from "./errors.ts";

const read = async (name: string) =>
  JSON.parse(await Deno.readTextFile(new URL(`./testdata/${name}`, import.meta.url)));
const acvp = await read("acvp_subset.json");
const cctv = await read("cctv_mlkem768.json");
const xwingKat = await read("xwing_kat.json");

function concat(a: Uint8Array, b: Uint8Array): Uint8Array {
  const out = new Uint8Array(a.length + b.length);
  out.set(a);
  out.set(b, a.length);
  return out;
}

interface KeygenVector {
  tcId: number;
  d: string;
  z: string;
  ek: string;
  dk: string;
}

Deno.test("kem: ML-KEM-768 key generation known answers (NIST ACVP FIPS 203)", () => {
  assert.equal(acvp.mlkem768Keygen.length, 3);
  for (const v of acvp.mlkem768Keygen as KeygenVector[]) {
    const keys = mlkem768.generateKeyPair(concat(hexToBytes(v.d), hexToBytes(v.z)));
    assert.equal(bytesToHex(keys.publicKey), v.ek, `tcId ${v.tcId} ek`);
    assert.equal(bytesToHex(keys.secretKey), v.dk, `tcId ${v.tcId} dk`);
  }
});

Deno.test("kem: ML-KEM-768 encapsulation known answers (NIST ACVP FIPS 203)", () => {
  assert.equal(acvp.mlkem768Encaps.length, 3);
  for (const v of acvp.mlkem768Encaps) {
    const enc = mlkem768.encapsulate(hexToBytes(v.ek), hexToBytes(v.m));
    assert.equal(bytesToHex(enc.cipherText), v.c, `tcId ${v.tcId} c`);
    assert.equal(bytesToHex(enc.sharedSecret), v.k, `tcId ${v.tcId} k`);
  }
});

Deno.test("kem: ML-KEM-768 decapsulation known answers (NIST ACVP and C2SP strcmp)", () => {
  const vectors = [
    ...acvp.mlkem768Decaps,
    ...cctv.decaps.map((v: Record<string, string>) => ({
      tcId: v.name,
      dk: v.dk,
      c: v.c,
      k: v.K,
    })),
  ];
  assert.equal(vectors.length, 4);
  for (const v of vectors) {
    const k = mlkem768.decapsulate(hexToBytes(v.c), hexToBytes(v.dk));
    assert.equal(bytesToHex(k), v.k, `tcId ${v.tcId}`);
  }
});

Deno.test("kem: ML-KEM-768 rejects encapsulation keys failing the modulus check (ACVP, C2SP)", () => {
  const bad = [
    ...acvp.mlkem768EncapsulationKeyCheck.filter((v: { testPassed: boolean }) => !v.testPassed)
      .map((v: { ek: string }) => v.ek),
    ...cctv.invalidEncapsulationKeys,
  ];
  assert.equal(bad.length, 5);
  for (const ek of bad) {
    assert.throws(
      () => mlkem768.encapsulate(hexToBytes(ek), new Uint8Array(32)),
      (e: unknown) => e instanceof CryptoError && e.code === "input",
    );
  }
  for (
    const v of acvp.mlkem768EncapsulationKeyCheck.filter((v: { testPassed: boolean }) =>
      v.testPassed
    )
  ) {
    const { cipherText } = mlkem768.encapsulate(hexToBytes(v.ek), new Uint8Array(32));
    assert.equal(cipherText.length, mlkem768.cipherTextLength);
  }
});

Deno.test("kem: X-Wing known answers (draft-connolly-cfrg-xwing-kem vectors)", () => {
  assert.equal(xwingKat.vectors.length, 3);
  for (const v of xwingKat.vectors) {
    const keys = xwing.generateKeyPair(hexToBytes(v.seed));
    assert.equal(bytesToHex(keys.publicKey), v.pk);
    assert.equal(bytesToHex(keys.secretKey), v.sk);
    const enc = xwing.encapsulate(keys.publicKey, hexToBytes(v.eseed));
    assert.equal(bytesToHex(enc.cipherText), v.ct);
    assert.equal(bytesToHex(enc.sharedSecret), v.ss);
    assert.equal(bytesToHex(xwing.decapsulate(hexToBytes(v.ct), keys.secretKey)), v.ss);
  }
});

for (const kem of [mlkem768, xwing] as Kem[]) {
  Deno.test(`kem: ${kem.name} round trip, tamper, wrong key, bad lengths`, () => {
    const keys = kem.generateKeyPair(new Uint8Array(kem.seedLength).fill(3));
    assert.equal(keys.publicKey.length, kem.publicKeyLength);
    assert.equal(keys.secretKey.length, kem.secretKeyLength);
    const enc = kem.encapsulate(keys.publicKey, new Uint8Array(kem.randomLength).fill(4));
    assert.equal(enc.cipherText.length, kem.cipherTextLength);
    assert.equal(enc.sharedSecret.length, kem.sharedSecretLength);
    assert.deepEqual(kem.decapsulate(enc.cipherText, keys.secretKey), enc.sharedSecret);

    // Implicit rejection: a tampered ciphertext yields an unrelated secret, not an exception.
    for (const index of [0, kem.cipherTextLength >> 1, kem.cipherTextLength - 1]) {
      const tampered = enc.cipherText.slice();
      tampered[index] ^= 1;
      assert.notDeepEqual(kem.decapsulate(tampered, keys.secretKey), enc.sharedSecret);
    }
    const wrong = kem.generateKeyPair(new Uint8Array(kem.seedLength).fill(5));
    assert.notDeepEqual(kem.decapsulate(enc.cipherText, wrong.secretKey), enc.sharedSecret);

    const isLength = (e: unknown) => e instanceof CryptoError && e.code === "length";
    assert.throws(() => kem.decapsulate(enc.cipherText.subarray(1), keys.secretKey), isLength);
    assert.throws(() => kem.decapsulate(enc.cipherText, keys.secretKey.subarray(1)), isLength);
    assert.throws(() => kem.encapsulate(keys.publicKey.subarray(1), new Uint8Array(32)), isLength);
    assert.throws(() => kem.encapsulate(keys.publicKey, new Uint8Array(7)), isLength);
    assert.throws(() => kem.generateKeyPair(new Uint8Array(7)), isLength);
  });

  Deno.test(`kem: ${kem.name} accepts 32-byte seeds and randomness deterministically`, () => {
    const a = kem.generateKeyPair(new Uint8Array(32).fill(1));
    const b = kem.generateKeyPair(new Uint8Array(32).fill(1));
    assert.deepEqual(a.publicKey, b.publicKey);
    const e1 = kem.encapsulate(a.publicKey, new Uint8Array(32).fill(2));
    const e2 = kem.encapsulate(a.publicKey, new Uint8Array(32).fill(2));
    assert.deepEqual(e1.cipherText, e2.cipherText);
    assert.deepEqual(kem.decapsulate(e1.cipherText, a.secretKey), e1.sharedSecret);
  });
}
