import assert from "node:assert/strict";
import { join } from "node:path";
import { PemFileError, readPemFile } from "./pem_file.ts";

const CERT = "-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n";
const KEY = "-----BEGIN PRIVATE KEY-----\nSECRETBYTES\n-----END PRIVATE KEY-----\n";

Deno.test("pem file: reads certificates and keys; refuses the wrong kind without echoing it", () => {
  const dir = Deno.makeTempDirSync();
  try {
    const cert = join(dir, "ca.pem"), key = join(dir, "key.pem"), junk = join(dir, "junk");
    Deno.writeTextFileSync(cert, CERT);
    Deno.writeTextFileSync(key, KEY);
    Deno.writeTextFileSync(junk, "not pem");
    assert.equal(readPemFile(cert, "--ca", "certificate"), CERT);
    assert.equal(readPemFile(key, "--key", "private key"), KEY);
    const wrong = (() => {
      try {
        readPemFile(key, "--ca", "certificate");
      } catch (e) {
        return e;
      }
    })();
    assert.ok(wrong instanceof PemFileError);
    assert.match(wrong.message, /--ca: .*key\.pem holds no PEM certificate/);
    assert.ok(!wrong.message.includes("SECRETBYTES"));
    assert.throws(() => readPemFile(junk, "--ca", "certificate"), /holds no PEM certificate/);
    assert.throws(() => readPemFile(join(dir, "none"), "--ca", "certificate"), /no such file/);
    assert.throws(() => readPemFile(dir, "--ca", "certificate"), /is not a file/);
    Deno.writeTextFileSync(key, KEY.replaceAll("PRIVATE KEY", "ENCRYPTED PRIVATE KEY"));
    assert.throws(() => readPemFile(key, "--key", "private key"), /encrypted key/);
  } finally {
    Deno.removeSync(dir, { recursive: true });
  }
});
