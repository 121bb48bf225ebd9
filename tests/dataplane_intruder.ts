/**
 * Test helper process (not a test): a conflux with valid credentials that misbehaves. Run in a
 * lab namespace by dataplane_hostile_test.ts:
 *
 *   deno run -A tests/dataplane_intruder.ts GUARDIAN_URL CONFLUX_TOKEN TARGET_OVERLAY_IP
 *
 * 1. publishes garbage and malformed-but-signed messages on the target's control subject and on
 *    discovery; 2. opens a real stream and tether to the target; 3. sends garbage messages and
 *    frames over the tether; 4. sends one valid sealed UDP packet, then the same frame twice more
 *    (replays). Prints one JSON line `{"done":true,...}` and waits to be stopped.
 *
 * @module
 */
import { create, fromBinary, toBinary } from "@bufbuild/protobuf";
import { controlSubject, discoverSubject } from "../core/control/subjects.ts";
import { loginAsConflux, randomBytes } from "./helpers/control_login.ts";
import { Messenger } from "../core/node/messenger.ts";
import { parseIpv4 } from "../core/node/packet.ts";
import { TetherPool } from "../core/node/tether_pool.ts";
import {
  completeStreamRequest,
  createStreamRequest,
  REQUEST_RANDOM_LENGTH,
} from "../core/stream/handshake.ts";
import { StreamSender } from "../core/stream/session.ts";
import { decodeSignal, encodeSignal } from "../core/tether/signaler.ts";
import { verifyCertificate } from "../core/wire/certificate.ts";
import {
  DEFAULT_HOP_LIMIT,
  encodeBatch,
  FRAME_HEADER_LENGTH,
  frameAad,
  FrameType,
  writeFrameHeader,
} from "../core/wire/frame.ts";
import {
  DiscoverReplySchema,
  DiscoverSchema,
  MessageType,
  Signal_Kind,
  SignalSchema,
} from "../core/wire/gen/veilnet_pb.ts";

const [guardianUrl, token, targetIp] = Deno.args;
const rnd = randomBytes;
const { keys, control, log } = await loginAsConflux(guardianUrl, token, "intruder");
const s = control.session;
const fields = verifyCertificate(s.certificate, s.guardianPublicKey, Date.now());
const messenger = new Messenger({
  fields,
  certificate: s.certificate,
  secretKey: keys.secretKey,
  guardianPublicKey: s.guardianPublicKey,
}, s.teams.map((t) => t.key));
const report: Record<string, number> = {};
const count = (k: string, n = 1) => report[k] = (report[k] ?? 0) + n;

// --- find the target (a legitimate discovery) ---
const query = messenger.seal(
  MessageType.DISCOVER,
  toBinary(DiscoverSchema, create(DiscoverSchema, { overlayIp: targetIp })),
  Date.now(),
);
const found = messenger.open(
  (await control.request(discoverSubject(s.realmId), query, 5000)).data,
  Date.now(),
);
const targetId = fromBinary(DiscoverReplySchema, found.body).confluxId;
const ctl = controlSubject(s.realmId, targetId);

// --- 1. garbage on the control channel ---
for (const size of [0, 1, 17, 300, 9000, 60_000]) {
  control.publish(ctl, rnd(size));
  control.publish(discoverSubject(s.realmId), rnd(size));
  count("control_garbage", 2);
}
for (const type of [MessageType.STREAM_REQUEST, MessageType.SIGNAL, MessageType.STREAM_CLOSE]) {
  const env = messenger.seal(type, rnd(200), Date.now());
  control.publish(ctl, env);
  control.publish(ctl, env); // replayed envelope
  const cut = env.slice(0, env.length - 100);
  control.publish(ctl, cut);
  count("control_signed_garbage", 3);
}
let answered = 0;
try {
  await control.request(ctl, messenger.seal(MessageType.STREAM_REQUEST, rnd(64), Date.now()), 1500);
  answered++;
} catch {
  // expected: no reply
}
report.garbage_request_answered = answered;

// --- 2. a real stream and tether ---
const pool = new TetherPool({
  ownId: s.confluxId,
  engine: "auto",
  iceServers: [],
  hostAddresses: Deno.networkInterfaces().filter((i) =>
    i.family === "IPv4" && i.address.startsWith("198.18.")
  ).map((i) => i.address),
  sendSignal: (peer, signal) => {
    const kind = signal.kind === "offer"
      ? Signal_Kind.OFFER
      : signal.kind === "answer"
      ? Signal_Kind.ANSWER
      : Signal_Kind.CANDIDATE;
    const body = toBinary(
      SignalSchema,
      create(SignalSchema, {
        tetherId: signal.session,
        kind,
        payload: new TextDecoder().decode(encodeSignal(signal)),
      }),
    );
    control.publish(
      controlSubject(s.realmId, peer),
      messenger.seal(MessageType.SIGNAL, body, Date.now()),
    );
    return Promise.resolve();
  },
  onMessage: () => {},
  log,
});
(async () => {
  for await (const m of control.subscribe(controlSubject(s.realmId, s.confluxId))) {
    try {
      const opened = messenger.open(m.data, Date.now());
      if (opened.type !== MessageType.SIGNAL) continue;
      const sig = fromBinary(SignalSchema, opened.body);
      pool.onSignal(
        opened.sender.confluxId,
        decodeSignal(new TextEncoder().encode(sig.payload)),
      );
    } catch {
      // ignore
    }
  }
})();
const { body, pending } = createStreamRequest(targetId, rnd(REQUEST_RANDOM_LENGTH));
const reply = messenger.open(
  (await control.request(
    ctl,
    messenger.seal(MessageType.STREAM_REQUEST, body, Date.now()),
    5000,
  )).data,
  Date.now(),
);
const secrets = completeStreamRequest(pending, reply.body, {
  initiatorCertificateHash: messenger.ownCertificateHash,
  responderCertificateHash: reply.senderCertificateHash,
});
const sender = new StreamSender(secrets, Date.now());
const tether = await pool.ensure(targetId);
const dst = parseIpv4(targetIp);

function frame(streamId: number, payloadLength: number): Uint8Array {
  const out = rnd(FRAME_HEADER_LENGTH + payloadLength);
  writeFrameHeader({
    type: FrameType.Data,
    hopLimit: DEFAULT_HOP_LIMIT,
    flags: 0,
    destination: dst,
    streamId,
    counter: BigInt(out[0]),
  }, { out, offset: 0 });
  return out;
}

// --- 3. garbage over the tether ---
const garbage: Uint8Array[] = [
  rnd(1),
  rnd(19),
  rnd(1500),
  encodeBatch([rnd(40), rnd(60)]),
  frame((secrets.streamId ^ 0x5a5a) >>> 0, 100), // unknown stream
  frame(secrets.streamId, 100), // right stream, forged ciphertext
  encodeBatch([frame(secrets.streamId, 64), frame(1, 64), frame(secrets.streamId, 1400)]),
];
for (const g of garbage) {
  tether.send(g);
  count("tether_garbage");
}

// --- 4. one valid packet, then replays of the same frame ---
const valid = sealedUdp(parseIpv4(s.overlayIp), dst, "hi");
await new Promise((r) => setTimeout(r, 300));
tether.send(valid);
await new Promise((r) => setTimeout(r, 300));
tether.send(valid);
tether.send(encodeBatch([valid, valid]));
report.valid_sent = 1;
report.replays_sent = 3;

// --- 5. sealed frames whose packets are misaddressed: to an address the target does not serve
// (it is no portal), and from an overlay address that is not the intruder's ---
const misaddressed: [number, number][] = [
  [parseIpv4(s.overlayIp), parseIpv4("198.19.200.1")],
  [parseIpv4("100.64.0.200"), dst],
];
for (const [src, to] of misaddressed) tether.send(sealedUdp(src, to, "no"));
report.misaddressed_sent = misaddressed.length;
await new Promise((r) => setTimeout(r, 500));
console.log(JSON.stringify({ done: true, ...report }));
await new Promise(() => {});

/**
 * A DATA frame to the target on our stream: a UDP packet from `src` to `to`, sealed after a
 * 10-byte virtio_net_hdr (zeros: a plain packet).
 */
function sealedUdp(src: number, to: number, text: string): Uint8Array {
  const udp = udpPacket(src, to, 40000, 9, new TextEncoder().encode(text));
  const plain = new Uint8Array(10 + udp.length);
  plain.set(udp, 10);
  const counter = sender.next(Date.now());
  const frame = new Uint8Array(FRAME_HEADER_LENGTH + plain.length + 16);
  writeFrameHeader({
    type: FrameType.Data,
    hopLimit: DEFAULT_HOP_LIMIT,
    flags: 0,
    destination: dst,
    streamId: sender.streamId,
    counter,
  }, { out: frame, offset: 0 });
  sender.sealInto(counter, frameAad(frame), plain, { out: frame, offset: FRAME_HEADER_LENGTH });
  return frame;
}

function udpPacket(src: number, dstIp: number, sport: number, dport: number, data: Uint8Array) {
  const p = new Uint8Array(28 + data.length);
  const v = new DataView(p.buffer);
  p[0] = 0x45;
  v.setUint16(2, p.length);
  p[8] = 64;
  p[9] = 17;
  v.setUint32(12, src);
  v.setUint32(16, dstIp);
  let sum = 0;
  for (let i = 0; i < 20; i += 2) sum += v.getUint16(i);
  while (sum > 0xffff) sum = (sum & 0xffff) + (sum >>> 16);
  v.setUint16(10, ~sum & 0xffff);
  v.setUint16(20, sport);
  v.setUint16(22, dport);
  v.setUint16(24, 8 + data.length);
  p.set(data, 28);
  return p;
}
