// Property test: every decoder in core/wire, fed random and mutated bytes, either returns a value
// or throws WireError — never another exception. The PRNG is seeded so failures reproduce.
import assert from "node:assert/strict";
import { generateSigningKeyPair } from "../crypto/mldsa.ts";
import { affinityTags } from "../crypto/affinity.ts";
import { issueCertificate, parseCertificate, verifyCertificate } from "./certificate.ts";
import {
  CertificateCache,
  MessageType,
  openEnvelope,
  peekEnvelope,
  sealEnvelope,
} from "./envelope.ts";
import {
  decodeBatch,
  decodeFrame,
  encodeBatch,
  encodeFrame,
  FrameType,
  splitMessage,
} from "./frame.ts";
import { decodeMessage } from "./protobuf.ts";
import { file_veilnet } from "./gen/veilnet_pb.ts";
import { WireError } from "./errors.ts";

function prng(seed: number): () => number {
  let s = seed >>> 0;
  return () => {
    s = (s + 0x6d2b79f5) >>> 0;
    let t = s;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

const rand = prng(0xc0ffee);
const int = (n: number) => Math.floor(rand() * n);

function randomBytes(maxLength: number): Uint8Array {
  const out = new Uint8Array(int(maxLength + 1));
  for (let i = 0; i < out.length; i++) out[i] = int(256);
  return out;
}

function mutate(input: Uint8Array): Uint8Array {
  let b = input.slice();
  const rounds = 1 + int(4);
  for (let r = 0; r < rounds; r++) {
    switch (int(6)) {
      case 0: // flip a bit
        if (b.length) b[int(b.length)] ^= 1 << int(8);
        break;
      case 1: // set a byte to an edge value
        if (b.length) b[int(b.length)] = [0, 1, 0x7f, 0x80, 0xff][int(5)];
        break;
      case 2: // truncate
        b = b.subarray(0, int(b.length + 1));
        break;
      case 3: { // append garbage
        const extra = randomBytes(16);
        const c = new Uint8Array(b.length + extra.length);
        c.set(b);
        c.set(extra, b.length);
        b = c;
        break;
      }
      case 4: { // delete a run
        const at = int(b.length + 1);
        const c = new Uint8Array(b.length - Math.min(int(8), b.length - at));
        c.set(b.subarray(0, at));
        c.set(b.subarray(at + (b.length - c.length)), at);
        b = c;
        break;
      }
      default: { // duplicate a run
        const at = int(b.length + 1);
        const run = b.slice(at, at + int(16));
        const c = new Uint8Array(b.length + run.length);
        c.set(b.subarray(0, at));
        c.set(run, at);
        c.set(b.subarray(at), at + run.length);
        b = c;
      }
    }
  }
  return b;
}

function onlyWireErrors(name: string, input: Uint8Array, decode: (b: Uint8Array) => unknown) {
  try {
    decode(input);
    return "ok";
  } catch (error) {
    if (!(error instanceof WireError)) {
      const hex = Array.from(input.subarray(0, 64), (x) => x.toString(16).padStart(2, "0")).join(
        "",
      );
      assert.fail(`${name} threw ${String(error)} for ${input.length} bytes ${hex}…`);
    }
    return error.code;
  }
}

const guardian = generateSigningKeyPair(new Uint8Array(32).fill(1));
const sender = generateSigningKeyPair(new Uint8Array(32).fill(2));
const now = 1_800_000_000_000;
const cert = issueCertificate({
  confluxId: "fuzz",
  realmId: "realm",
  realmSubnet: "100.64.0.0/10",
  overlayIp: "100.64.0.3",
  mldsaPublicKey: sender.publicKey,
  issuedAt: now - 1,
  expiresAt: now + 60_000,
  tag: "t",
  portal: false,
  subnets: [],
}, guardian.secretKey);
const envelope = sealEnvelope(
  {
    type: MessageType.STREAM_REQUEST,
    senderCertificate: cert,
    affinityTags: affinityTags([new Uint8Array(32)], sender.publicKey),
    body: new Uint8Array(40).fill(5),
  },
  sender.secretKey,
  { now, nonce: new Uint8Array(16).fill(1) },
);
const shortEnvelope = sealEnvelope(
  {
    type: MessageType.SIGNAL,
    senderCertificate: cert,
    affinityTags: [],
    body: new Uint8Array(10),
    includeCertificate: false,
  },
  sender.secretKey,
  { now, nonce: new Uint8Array(16).fill(2) },
);
const frame = encodeFrame({
  type: FrameType.Data,
  hopLimit: 8,
  flags: 0,
  destination: 1,
  streamId: 2,
  counter: 3n,
  payload: new Uint8Array(40),
});
const batch = encodeBatch([
  frame,
  frame,
  encodeFrame({
    type: FrameType.Probe,
    hopLimit: 1,
    flags: 0,
    destination: 0,
    streamId: 0,
    counter: 0n,
    payload: new Uint8Array(0),
  }),
]);

const cache = new CertificateCache();
cache.verify(cert, { guardianPublicKey: guardian.publicKey, now });
const open = (b: Uint8Array) =>
  openEnvelope(b, { guardianPublicKey: guardian.publicKey, now, certificates: cache });

Deno.test("fuzz: frame and batch decoders", () => {
  const codes = new Map<string, number>();
  for (let i = 0; i < 3000; i++) {
    const input = i % 3 === 0 ? randomBytes(80) : mutate(i % 3 === 1 ? frame : batch);
    for (
      const [name, decode] of [
        ["decodeFrame", decodeFrame],
        ["decodeBatch", decodeBatch],
        ["splitMessage", (b: Uint8Array) => splitMessage(b).map(decodeFrame)],
      ] as const
    ) {
      const code = onlyWireErrors(name, input, decode);
      codes.set(code, (codes.get(code) ?? 0) + 1);
    }
  }
  // The corpus reaches both acceptance and several distinct rejections.
  assert.ok((codes.get("ok") ?? 0) > 0);
  for (const code of ["truncated", "version", "unknown-type", "malformed", "trailing"]) {
    assert.ok((codes.get(code) ?? 0) > 0, `no input hit ${code}: ${[...codes]}`);
  }
});

Deno.test("fuzz: protobuf decoders of every message in the schema", () => {
  const schemas = file_veilnet.messages;
  assert.ok(schemas.length >= 4);
  const seeds = [cert, envelope, shortEnvelope];
  for (let i = 0; i < 3000; i++) {
    const input = i % 2 === 0 ? randomBytes(200) : mutate(seeds[i % seeds.length]);
    for (const schema of schemas) {
      onlyWireErrors(
        schema.typeName,
        input,
        (b) => decodeMessage(schema, b, { maxBytes: 65536, what: schema.name }),
      );
    }
    onlyWireErrors("parseCertificate", input, parseCertificate);
    onlyWireErrors("peekEnvelope", input, peekEnvelope);
  }
});

Deno.test("fuzz: certificate verification and envelope opening", () => {
  const codes = new Map<string, number>();
  for (let i = 0; i < 1500; i++) {
    const seed = [cert, envelope, shortEnvelope][i % 3];
    const input = i % 10 === 0 ? randomBytes(300) : mutate(seed);
    const decode = seed === cert
      ? (b: Uint8Array) => verifyCertificate(b, guardian.publicKey, now)
      : open;
    const code = onlyWireErrors(
      seed === cert ? "verifyCertificate" : "openEnvelope",
      input,
      decode,
    );
    codes.set(code, (codes.get(code) ?? 0) + 1);
  }
  for (const code of ["truncated", "malformed", "signature"]) {
    assert.ok((codes.get(code) ?? 0) > 0, `no input hit ${code}: ${[...codes]}`);
  }
});
