import assert from "node:assert/strict";
import {
  ACCEPT_RANDOM_LENGTH,
  acceptStreamRequest,
  completeStreamRequest,
  createStreamRequest,
  REQUEST_RANDOM_LENGTH,
} from "./handshake.ts";
import { StreamError } from "./errors.ts";

function bytes(n: number, fill: number): Uint8Array {
  return new Uint8Array(n).fill(fill);
}

const ids = {
  initiatorCertificateHash: bytes(32, 1),
  responderCertificateHash: bytes(32, 2),
};

function handshake(streamId = 7) {
  const { body, pending } = createStreamRequest(
    "B",
    crypto.getRandomValues(new Uint8Array(REQUEST_RANDOM_LENGTH)),
  );
  const accepted = acceptStreamRequest(body, {
    ...ids,
    ownId: "B",
    streamId,
    random: crypto.getRandomValues(new Uint8Array(ACCEPT_RANDOM_LENGTH)),
  });
  return { body, pending, accepted };
}

Deno.test("stream handshake: both ends derive the same secrets and stream id", () => {
  const { pending, accepted } = handshake(4242);
  const initiator = completeStreamRequest(pending, accepted.body, ids);
  assert.equal(initiator.streamId, 4242);
  assert.deepEqual(initiator.sharedSecret, accepted.secrets.sharedSecret);
  assert.deepEqual(initiator.transcriptHash, accepted.secrets.transcriptHash);
  assert.equal(initiator.sharedSecret.length, 32);
});

Deno.test("stream handshake: two handshakes never share secrets", () => {
  const a = handshake();
  const b = handshake();
  assert.notDeepEqual(a.accepted.secrets.sharedSecret, b.accepted.secrets.sharedSecret);
  assert.notDeepEqual(a.accepted.secrets.transcriptHash, b.accepted.secrets.transcriptHash);
});

Deno.test("stream handshake: transcript binds the certificate hashes", () => {
  const { pending, accepted } = handshake();
  const other = completeStreamRequest(pending, accepted.body, {
    ...ids,
    responderCertificateHash: bytes(32, 9),
  });
  assert.notDeepEqual(other.transcriptHash, accepted.secrets.transcriptHash);
});

Deno.test("stream handshake: a request for another conflux is refused", () => {
  const { body } = createStreamRequest("C", new Uint8Array(REQUEST_RANDOM_LENGTH));
  assert.throws(
    () =>
      acceptStreamRequest(body, {
        ...ids,
        ownId: "B",
        streamId: 1,
        random: new Uint8Array(ACCEPT_RANDOM_LENGTH),
      }),
    (e: unknown) => e instanceof StreamError && e.code === "misaddressed",
  );
});

Deno.test("stream handshake: a response to another request is refused", () => {
  const first = handshake();
  const second = handshake();
  assert.throws(
    () => completeStreamRequest(first.pending, second.accepted.body, ids),
    (e: unknown) => e instanceof StreamError && e.code === "unknown-request",
  );
});

Deno.test("stream handshake: garbage bodies give typed errors", () => {
  const { pending } = handshake();
  for (const junk of [new Uint8Array(0), bytes(50, 0xff), bytes(3000, 7)]) {
    assert.throws(
      () =>
        acceptStreamRequest(junk, {
          ...ids,
          ownId: "B",
          streamId: 1,
          random: new Uint8Array(ACCEPT_RANDOM_LENGTH),
        }),
      StreamError,
    );
    assert.throws(() => completeStreamRequest(pending, junk, ids), StreamError);
  }
});

Deno.test("stream handshake: stream id 0 is refused", () => {
  const { body } = createStreamRequest("B", new Uint8Array(REQUEST_RANDOM_LENGTH));
  assert.throws(
    () =>
      acceptStreamRequest(body, {
        ...ids,
        ownId: "B",
        streamId: 0,
        random: new Uint8Array(ACCEPT_RANDOM_LENGTH),
      }),
    (e: unknown) => e instanceof StreamError && e.code === "stream-id",
  );
});
