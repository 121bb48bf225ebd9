/**
 * Helpers that move packets between the nodes of a TestRealm.
 *
 * @module
 */
import { carrying, udpPacket } from "./packets.ts";
import type { TestNode } from "./realm.ts";

/** Sends one datagram `text` from `a` to `b` and waits until `b`'s host receives it. */
export async function deliver(
  a: TestNode,
  b: TestNode,
  text: string,
  timeoutMs = 5000,
): Promise<Uint8Array> {
  const arrived = b.tun.next(carrying(text), timeoutMs);
  a.tun.inject(udpPacket(a.ip, b.ip, text));
  return await arrived;
}

/**
 * Sends datagrams `text-1`, `text-2`, … from `a` to `b` every `everyMs` until one arrives;
 * resolves with how many were sent. Rejects after `timeoutMs`.
 */
export async function deliverEventually(
  a: TestNode,
  b: TestNode,
  text: string,
  { everyMs = 50, timeoutMs = 8000 } = {},
): Promise<number> {
  const start = Date.now();
  for (let i = 1;; i++) {
    const label = `${text}-${i}`;
    const arrived = b.tun.next(carrying(label), everyMs).then(() => true, () => false);
    a.tun.inject(udpPacket(a.ip, b.ip, label));
    if (await arrived) return i;
    if (Date.now() - start > timeoutMs) throw new Error(`${text}: nothing arrived at ${b.name}`);
  }
}

/** True when nothing carrying `text` reached `b`'s host within `ms`. */
export async function nothingArrives(b: TestNode, text: string, ms: number): Promise<boolean> {
  return await b.tun.next(carrying(text), ms).then(() => false, () => true);
}
