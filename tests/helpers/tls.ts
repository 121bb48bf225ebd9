/**
 * Test helper: a private certificate authority and a server certificate for 127.0.0.1 made with
 * the openssl command (P-256, valid two days), as a self-hoster would make them.
 *
 * @module
 */
import { join } from "node:path";

/** Files (and texts) of a test CA and its server certificate. */
export interface TestCa {
  /** The CA certificate (what `--guardian-ca` and `--nats-ca` take). */
  caFile: string;
  caPem: string;
  /** Server certificate for IP 127.0.0.1 and DNS localhost, signed by the CA. */
  certFile: string;
  certPem: string;
  /** Its private key. */
  keyFile: string;
}

async function openssl(args: string[], cwd: string): Promise<void> {
  const out = await new Deno.Command("openssl", { args, cwd, stdout: "null", stderr: "piped" })
    .output();
  if (!out.success) {
    throw new Error(`openssl ${args[0]} failed: ${new TextDecoder().decode(out.stderr)}`);
  }
}

/** Whether the openssl command is installed (`.ci/run` installs it). */
export function opensslAvailable(): boolean {
  try {
    return new Deno.Command("openssl", { args: ["version"], stdout: "null", stderr: "null" })
      .outputSync().success;
  } catch {
    return false;
  }
}

/** Makes a CA and a server certificate in `dir`. */
export async function makeTestCa(dir: string, caName = "VeilNet test CA"): Promise<TestCa> {
  const ec = ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes"];
  await openssl(
    [
      "req",
      "-x509",
      ...ec,
      "-keyout",
      "ca.key",
      "-out",
      "ca.pem",
      "-days",
      "2",
      "-subj",
      `/CN=${caName}`,
    ],
    dir,
  );
  await openssl([
    "req",
    ...ec,
    "-keyout",
    "server.key",
    "-out",
    "server.csr",
    "-subj",
    "/CN=127.0.0.1",
  ], dir);
  await Deno.writeTextFile(join(dir, "ext.cnf"), "subjectAltName=IP:127.0.0.1,DNS:localhost\n");
  await openssl([
    "x509",
    "-req",
    "-in",
    "server.csr",
    "-CA",
    "ca.pem",
    "-CAkey",
    "ca.key",
    "-CAcreateserial",
    "-out",
    "server.pem",
    "-days",
    "2",
    "-extfile",
    "ext.cnf",
  ], dir);
  const caFile = join(dir, "ca.pem"), certFile = join(dir, "server.pem");
  return {
    caFile,
    caPem: await Deno.readTextFile(caFile),
    certFile,
    certPem: await Deno.readTextFile(certFile),
    keyFile: join(dir, "server.key"),
  };
}
