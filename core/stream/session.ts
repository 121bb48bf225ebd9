/**
 * Packet protection of one established stream: the sending half (egresser side) and the
 * receiving half (ingresser side). Pure: the caller passes the time.
 *
 * Epochs: the 64-bit AEAD counter is `epoch << 32 | index`. Every epoch has its own key from
 * `deriveStreamKeys(sharedSecret, transcriptHash, epoch)`. The sender moves to the next epoch when
 * the current one is older than `rekeyAfterMs` or has sealed `rekeyAfterPackets` packets, so no
 * rekey message is needed: the receiver sees the epoch in the counter. The receiver keeps the
 * newest and the previous epoch (each with its own replay window) so packets in flight across a
 * rekey are not lost, and refuses older epochs and jumps of more than MAX_EPOCH_JUMP.
 *
 * @module
 */
import { PacketCipher } from "../crypto/aead.ts";
import { deriveStreamKeys } from "../crypto/kdf.ts";
import { ReplayWindow } from "../replay/window.ts";
import type { StreamSecrets } from "./handshake.ts";

/** Default time after which the sender switches to a new epoch key. */
export const DEFAULT_REKEY_AFTER_MS = 120_000;
/** Default packet count after which the sender switches to a new epoch key. */
export const DEFAULT_REKEY_AFTER_PACKETS = 2 ** 28;
/** How many epochs ahead of the newest seen one the receiver is willing to derive keys for. */
export const MAX_EPOCH_JUMP = 2;
/** Epochs per stream; beyond it the stream must be replaced by a new handshake. */
export const MAX_EPOCH = 0xffff_fff0;

/** Rekey thresholds. */
export interface RekeyOptions {
  /** Switch keys after this long (ms); default DEFAULT_REKEY_AFTER_MS. */
  rekeyAfterMs?: number;
  /** Switch keys after this many packets (at most 2^32); default DEFAULT_REKEY_AFTER_PACKETS. */
  rekeyAfterPackets?: number;
}

function cipherFor(secrets: StreamSecrets, epoch: number): PacketCipher {
  return PacketCipher.create(deriveStreamKeys(secrets.sharedSecret, secrets.transcriptHash, epoch));
}

/** Sending half of a stream: hands out counters and seals packets under the current epoch key. */
export class StreamSender {
  /** Stream id carried in every frame. */
  readonly streamId: number;
  /** Time of the last sealed packet (or of creation). */
  lastUsedAt: number;
  /** Time the stream was established. */
  readonly createdAt: number;
  /** Packets sealed over the stream's life. */
  packets = 0;
  #secrets: StreamSecrets;
  #epoch = 0;
  #index = 0;
  #epochStartedAt: number;
  #cipher: PacketCipher;
  #rekeyAfterMs: number;
  #rekeyAfterPackets: number;

  /** Starts epoch 0 at `now`. */
  constructor(secrets: StreamSecrets, now: number, options: RekeyOptions = {}) {
    this.streamId = secrets.streamId;
    this.#secrets = secrets;
    this.lastUsedAt = now;
    this.createdAt = now;
    this.#epochStartedAt = now;
    this.#rekeyAfterMs = options.rekeyAfterMs ?? DEFAULT_REKEY_AFTER_MS;
    this.#rekeyAfterPackets = Math.min(
      options.rekeyAfterPackets ?? DEFAULT_REKEY_AFTER_PACKETS,
      2 ** 32,
    );
    this.#cipher = cipherFor(secrets, 0);
  }

  /** Current key epoch. */
  get epoch(): number {
    return this.#epoch;
  }

  /** True once the stream has used up its epochs and must be replaced. */
  get exhausted(): boolean {
    return this.#epoch >= MAX_EPOCH;
  }

  /** Reserves the counter of the next packet, switching epochs first when a threshold is met. */
  next(now: number): bigint {
    if (
      this.#index >= this.#rekeyAfterPackets || now - this.#epochStartedAt >= this.#rekeyAfterMs
    ) {
      this.#epoch++;
      this.#index = 0;
      this.#epochStartedAt = now;
      this.#cipher = cipherFor(this.#secrets, this.#epoch);
    }
    this.lastUsedAt = now;
    this.packets++;
    return (BigInt(this.#epoch) << 32n) | BigInt(this.#index++);
  }

  /** Seals `plaintext` with `counter` (from `next`) and the frame header `aad`. */
  seal(counter: bigint, aad: Uint8Array, plaintext: Uint8Array): Uint8Array {
    return this.#cipher.seal(counter, aad, plaintext);
  }

  /** Like `seal`, writing ciphertext ‖ tag into `target.out` at `target.offset`; returns bytes. */
  sealInto(
    counter: bigint,
    aad: Uint8Array,
    plaintext: Uint8Array,
    target: { out: Uint8Array; offset: number },
  ): number {
    return this.#cipher.sealInto(counter, aad, plaintext, target);
  }
}

interface EpochState {
  cipher: PacketCipher;
  window: ReplayWindow;
}

/** Receiving half of a stream: authenticates, decrypts and replay-checks packets. */
export class StreamReceiver {
  /** Stream id this receiver serves. */
  readonly streamId: number;
  /** Time of the last accepted packet (or of creation). */
  lastUsedAt: number;
  /** Packets accepted. */
  accepted = 0;
  /** Packets refused (authentication, replay, epoch). */
  rejected = 0;
  #secrets: StreamSecrets;
  #newest = 0;
  #epochs = new Map<number, EpochState>();
  #windowSize: number;

  /** Prepares epoch 0 at `now`; `windowSize` is the replay window per epoch. */
  constructor(secrets: StreamSecrets, now: number, windowSize = 2048) {
    this.streamId = secrets.streamId;
    this.#secrets = secrets;
    this.lastUsedAt = now;
    this.#windowSize = windowSize;
    this.#epochs.set(0, { cipher: cipherFor(secrets, 0), window: new ReplayWindow(windowSize) });
  }

  /** Newest epoch seen in an authentic packet. */
  get epoch(): number {
    return this.#newest;
  }

  /**
   * Returns the plaintext of `sealed`, or null when it fails authentication, was seen before, is
   * too old, or names an epoch out of range. Never throws on bad input.
   */
  open(counter: bigint, aad: Uint8Array, sealed: Uint8Array, now: number): Uint8Array | null {
    const state = this.#check(counter);
    if (!state) return this.#reject();
    const plain = state.cipher.open(counter, aad, sealed);
    if (plain === null || !this.#accept(state, counter, now)) return this.#reject();
    return plain;
  }

  /**
   * Like {@link open}, but writes the plaintext into `target.out` at `target.offset` (a reused
   * buffer: no allocation per packet) and returns its length, or −1 when refused.
   */
  openInto(
    counter: bigint,
    aad: Uint8Array,
    sealed: Uint8Array,
    target: { out: Uint8Array; offset: number; now: number },
  ): number {
    const state = this.#check(counter);
    const n = state ? state.cipher.openInto(counter, aad, sealed, target) : -1;
    if (!state || n < 0 || !this.#accept(state, counter, target.now)) {
      this.#reject();
      return -1;
    }
    return n;
  }

  /** The epoch state for `counter` if it may be opened (range, epoch, replay), else null. */
  #check(counter: bigint): EpochState | null {
    if (counter < 0n || counter > 0xffff_ffff_ffff_ffffn) return null;
    const epoch = Number(counter >> 32n);
    if (epoch < this.#newest - 1 || epoch > this.#newest + MAX_EPOCH_JUMP) return null;
    let state = this.#epochs.get(epoch);
    if (!state) {
      state = {
        cipher: cipherFor(this.#secrets, epoch),
        window: new ReplayWindow(this.#windowSize),
      };
      this.#epochs.set(epoch, state);
    }
    return state.window.check(counter) ? state : null;
  }

  /** Records an authentic packet: replay window, newest epoch, counters. */
  #accept(state: EpochState, counter: bigint, now: number): boolean {
    if (!state.window.update(counter)) return false;
    const epoch = Number(counter >> 32n);
    if (epoch > this.#newest) {
      this.#newest = epoch;
      for (const e of this.#epochs.keys()) if (e < epoch - 1) this.#epochs.delete(e);
    }
    this.lastUsedAt = now;
    this.accepted++;
    return true;
  }

  #reject(): null {
    this.rejected++;
    return null;
  }
}
