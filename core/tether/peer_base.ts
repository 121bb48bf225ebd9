/**
 * What both engines' peers share: the negotiated channels (control first, then the data
 * channels), the remote message-size limit read from the SDP, and the one-shot "down" event.
 * An engine supplies only how to open one channel and feeds its connection states in.
 *
 * @module
 */
import {
  CONTROL_CHANNEL_ID,
  type RawChannel,
  type RawPeerConfig,
  sdpMaxMessageSize,
} from "./engine.ts";
import { TetherError } from "./errors.ts";

/** Base of every engine's RawPeer (see core/tether/engine.ts). */
export abstract class PeerBase {
  /** The configuration the peer was created with. */
  protected readonly config: RawPeerConfig;
  #control: RawChannel | undefined;
  #channels: RawChannel[] = [];
  #remoteMax = 65536;
  #downCbs: ((why: string) => void)[] = [];
  #down = false;

  /** Keeps `config`; the subclass creates its peer connection. */
  constructor(config: RawPeerConfig) {
    this.config = config;
  }

  /** The control channel (probes), available after createOffer/acceptOffer. */
  get control(): RawChannel {
    if (!this.#control) throw new TetherError("negotiation", "channels not created yet");
    return this.#control;
  }

  /** The data channels, available after createOffer/acceptOffer. */
  get channels(): readonly RawChannel[] {
    return this.#channels;
  }

  /** Fires once when the connection fails or closes. */
  onDown(cb: (why: string) => void): void {
    if (this.#down) queueMicrotask(() => cb("closed"));
    else this.#downCbs.push(cb);
  }

  /** Largest message the remote end accepts (from its SDP), capped by our own setting. */
  remoteMaxMessageSize(): number {
    return Math.min(this.#remoteMax, this.config.maxMessageSize);
  }

  /** Opens one negotiated, unordered channel without retransmissions. */
  protected abstract openChannel(label: string, id: number): RawChannel;

  /** Opens the control channel and `count` data channels ("d1" … "dN"). */
  protected createChannels(count: number): void {
    this.#control = this.openChannel("ctl", CONTROL_CHANNEL_ID);
    for (let i = 1; i <= count; i++) this.#channels.push(this.openChannel(`d${i}`, i));
  }

  /** Reads the remote end's `a=max-message-size` from its offer or answer. */
  protected remoteDescription(sdp: string): void {
    this.#remoteMax = sdpMaxMessageSize(sdp, 65536);
  }

  /** Feeds a peer connection state: failed, closed and disconnected bring the peer down. */
  protected connectionState(state: string): void {
    if (state === "failed" || state === "closed" || state === "disconnected") {
      this.fireDown(`peer connection ${state}`);
    }
  }

  /** Fires the down callbacks once. */
  protected fireDown(why: string): void {
    if (this.#down) return;
    this.#down = true;
    for (const cb of this.#downCbs.splice(0)) cb(why);
  }
}
