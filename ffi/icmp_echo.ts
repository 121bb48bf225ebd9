/**
 * Turns an ICMP (IPv4) or ICMPv6 echo request into its echo reply in place. Used by the
 * binding's tests and by diagnostics to answer `ping` on a TUN without a kernel stack.
 *
 * @module
 */

function sum(bytes: Uint8Array, start: number, end: number, acc: number): number {
  let i = start;
  for (; i + 1 < end; i += 2) acc += (bytes[i] << 8) | bytes[i + 1];
  if (i < end) acc += bytes[i] << 8;
  return acc;
}

function fold(acc: number): number {
  while (acc > 0xffff) acc = (acc & 0xffff) + Math.floor(acc / 65536);
  return acc;
}

/**
 * If `packet` is an ICMP/ICMPv6 echo request, rewrites it into the matching reply (swapped
 * addresses, reply type, recomputed checksum) and returns true; otherwise returns false and
 * leaves it untouched. Never throws on malformed input.
 */
export function echoReplyInPlace(packet: Uint8Array): boolean {
  if (packet.length < 28) return false;
  const version = packet[0] >> 4;
  let l4: number;
  if (version === 4) {
    l4 = (packet[0] & 0x0f) * 4;
    if (l4 < 20 || packet[9] !== 1 || packet.length < l4 + 8 || packet[l4] !== 8) return false;
  } else if (version === 6) {
    l4 = 40;
    if (packet.length < 48 || packet[6] !== 58 || packet[l4] !== 128) return false;
  } else {
    return false;
  }
  const addrAt = version === 4 ? 12 : 8;
  const addrLen = version === 4 ? 4 : 16;
  for (let i = 0; i < addrLen; i++) {
    const t = packet[addrAt + i];
    packet[addrAt + i] = packet[addrAt + addrLen + i];
    packet[addrAt + addrLen + i] = t;
  }
  packet[l4] = version === 4 ? 0 : 129;
  packet[l4 + 2] = 0;
  packet[l4 + 3] = 0;
  let acc = sum(packet, l4, packet.length, 0);
  if (version === 6) {
    const len = packet.length - l4;
    acc = sum(packet, 8, 40, acc) + Math.floor(len / 65536) + (len & 0xffff) + 58;
  }
  const c = 0xffff - fold(acc);
  packet[l4 + 2] = c >> 8;
  packet[l4 + 3] = c & 0xff;
  return true;
}
