/**
 * The stream handshake as pure functions: no I/O, randomness passed in.
 *
 * The initiator (the sending end of a uni-directional stream) builds a StreamRequest with a fresh
 * X-Wing encapsulation key; the runtime wraps it in a SignedEnvelope, which adds the initiator's
 * certificate, affinity tags, timestamp and ML-DSA signature. The responder (the receiving end),
 * after the envelope and team affinity checked out, encapsulates to that key, picks the stream id
 * and answers with a StreamResponse, also sent in a signed envelope. Both ends then hold the same
 * X-Wing shared secret and hash the same transcript:
 *
 *   transcript = SHA-256("veilnet/v1/stream" ‖ len‖initiator cert hash ‖ len‖responder cert hash
 *                        ‖ len‖request body ‖ len‖response body)
 *
 * Binding both certificate hashes and both exact bodies means a key can only come out of this
 * pair of messages between these two identities.
 *
 * @module
 */
import { create, fromBinary, toBinary } from "@bufbuild/protobuf";
import { sha256 } from "@noble/hashes/sha2.js";
import { xwing } from "../crypto/kem.ts";
import {
  type StreamRequest,
  StreamRequestSchema,
  type StreamResponse,
  StreamResponseSchema,
} from "../wire/gen/veilnet_pb.ts";
import { StreamError } from "./errors.ts";
import { isStreamId } from "./stream_id.ts";

/** Byte length of a request id. */
export const REQUEST_ID_LENGTH = 16;
/** Bytes of randomness `createStreamRequest` consumes: request id + X-Wing key seed. */
export const REQUEST_RANDOM_LENGTH = REQUEST_ID_LENGTH + 32;
/** Bytes of randomness `acceptStreamRequest` consumes (X-Wing encapsulation). */
export const ACCEPT_RANDOM_LENGTH = 64;

const LABEL = new TextEncoder().encode("veilnet/v1/stream");

/** What both ends of an established stream know; input to the packet keys of every epoch. */
export interface StreamSecrets {
  /** Stream id chosen by the responder, carried in every data frame. */
  streamId: number;
  /** X-Wing shared secret (32 bytes). */
  sharedSecret: Uint8Array;
  /** SHA-256 of the handshake transcript (32 bytes). */
  transcriptHash: Uint8Array;
}

/** The initiator's state between sending a request and receiving its response. */
export interface PendingStreamRequest {
  /** 16-byte id the response must echo. */
  requestId: Uint8Array;
  /** Conflux id the request is addressed to. */
  responderId: string;
  /** Encoded StreamRequest body, exactly as sent. */
  requestBody: Uint8Array;
  /** Ephemeral X-Wing decapsulation key; dropped once the handshake completes. */
  secretKey: Uint8Array;
}

/** Certificate hashes of both ends, bound into the transcript. */
export interface HandshakeIdentities {
  /** SHA-256 of the initiator's SignedCertificate. */
  initiatorCertificateHash: Uint8Array;
  /** SHA-256 of the responder's SignedCertificate. */
  responderCertificateHash: Uint8Array;
}

/**
 * Builds a stream request to `responderId`. `random` must hold REQUEST_RANDOM_LENGTH bytes.
 * Returns the body to put in a STREAM_REQUEST envelope and the state to finish it with.
 */
export function createStreamRequest(
  responderId: string,
  random: Uint8Array,
): { body: Uint8Array; pending: PendingStreamRequest } {
  if (random.length < REQUEST_RANDOM_LENGTH) {
    throw new StreamError("key-length", `need ${REQUEST_RANDOM_LENGTH} random bytes`);
  }
  const requestId = random.slice(0, REQUEST_ID_LENGTH);
  const keys = xwing.generateKeyPair(random.slice(REQUEST_ID_LENGTH, REQUEST_RANDOM_LENGTH));
  const body = toBinary(
    StreamRequestSchema,
    create(StreamRequestSchema, {
      requestId,
      responderId,
      encapsulationKey: keys.publicKey,
    }),
  );
  return {
    body,
    pending: { requestId, responderId, requestBody: body, secretKey: keys.secretKey },
  };
}

/** Decodes a StreamRequest body; throws StreamError("malformed") on anything unusable. */
export function decodeStreamRequest(body: Uint8Array): StreamRequest {
  let msg: StreamRequest;
  try {
    msg = fromBinary(StreamRequestSchema, body);
  } catch {
    throw new StreamError("malformed", "stream request does not decode");
  }
  if (msg.requestId.length !== REQUEST_ID_LENGTH) {
    throw new StreamError("malformed", "stream request id has the wrong length");
  }
  if (msg.encapsulationKey.length !== xwing.publicKeyLength) {
    throw new StreamError("key-length", "encapsulation key has the wrong length");
  }
  return msg;
}

/** Decodes a StreamResponse body; throws StreamError("malformed") on anything unusable. */
export function decodeStreamResponse(body: Uint8Array): StreamResponse {
  let msg: StreamResponse;
  try {
    msg = fromBinary(StreamResponseSchema, body);
  } catch {
    throw new StreamError("malformed", "stream response does not decode");
  }
  if (msg.requestId.length !== REQUEST_ID_LENGTH) {
    throw new StreamError("malformed", "stream response id has the wrong length");
  }
  if (msg.cipherText.length !== xwing.cipherTextLength) {
    throw new StreamError("key-length", "ciphertext has the wrong length");
  }
  if (!isStreamId(msg.streamId)) throw new StreamError("stream-id", "invalid stream id");
  return msg;
}

/**
 * The responder's side: checks that `requestBody` is addressed to `ownId`, encapsulates to its
 * key with `options.random` (ACCEPT_RANDOM_LENGTH bytes) and returns the response body plus the
 * stream secrets. Signature, certificate, freshness and affinity are the caller's checks (they
 * live on the envelope), made before calling this.
 */
export function acceptStreamRequest(
  requestBody: Uint8Array,
  options: HandshakeIdentities & { ownId: string; streamId: number; random: Uint8Array },
): { body: Uint8Array; secrets: StreamSecrets } {
  const request = decodeStreamRequest(requestBody);
  if (request.responderId !== options.ownId) {
    throw new StreamError("misaddressed", "stream request is addressed to another conflux");
  }
  if (!isStreamId(options.streamId)) throw new StreamError("stream-id", "invalid stream id");
  const { cipherText, sharedSecret } = xwing.encapsulate(request.encapsulationKey, options.random);
  const body = toBinary(
    StreamResponseSchema,
    create(StreamResponseSchema, {
      requestId: request.requestId,
      cipherText,
      streamId: options.streamId,
    }),
  );
  const transcriptHash = transcript(options, requestBody, body);
  return { body, secrets: { streamId: options.streamId, sharedSecret, transcriptHash } };
}

/**
 * The initiator's side: decapsulates `responseBody` with the pending request's key and returns
 * the stream secrets. Throws StreamError("unknown-request") when the response echoes another
 * request id.
 */
export function completeStreamRequest(
  pending: PendingStreamRequest,
  responseBody: Uint8Array,
  identities: HandshakeIdentities,
): StreamSecrets {
  const response = decodeStreamResponse(responseBody);
  if (!equalBytes(response.requestId, pending.requestId)) {
    throw new StreamError("unknown-request", "response to another request");
  }
  const sharedSecret = xwing.decapsulate(response.cipherText, pending.secretKey);
  const transcriptHash = transcript(identities, pending.requestBody, responseBody);
  return { streamId: response.streamId, sharedSecret, transcriptHash };
}

function transcript(
  ids: HandshakeIdentities,
  requestBody: Uint8Array,
  responseBody: Uint8Array,
): Uint8Array {
  const h = sha256.create();
  h.update(LABEL);
  for (
    const part of [
      ids.initiatorCertificateHash,
      ids.responderCertificateHash,
      requestBody,
      responseBody,
    ]
  ) {
    const len = new Uint8Array(4);
    new DataView(len.buffer).setUint32(0, part.length);
    h.update(len);
    h.update(part);
  }
  return h.digest();
}

function equalBytes(a: Uint8Array, b: Uint8Array): boolean {
  if (a.length !== b.length) return false;
  let diff = 0;
  for (let i = 0; i < a.length; i++) diff |= a[i] ^ b[i];
  return diff === 0;
}
