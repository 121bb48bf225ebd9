import assert from "node:assert/strict";
import dgram from "node:dgram";
import { memoryLogger } from "../core/log/logger.ts";
import {
  BINDING_INDICATION,
  BINDING_SUCCESS,
  decodeMappedAddress,
  decodeStunMessage,
  decodeXorMappedAddress,
  encodeBindingRequest,
  encodeBindingSuccess,
  fingerprintOk,
  MAGIC_COOKIE,
} from "../core/stun/message.ts";
import {
  DEFAULT_BURST,
  DEFAULT_RATE_PER_SECOND,
  limitKey,
  startStunServer,
  type StunServer,
  type StunServerOptions,
} from "./stun_server.ts";

/** A client UDP socket that queues what it receives. */
interface Client {
  socket: dgram.Socket;
  port: number;
  send(bytes: Uint8Array, to: StunServer): void;
  /** The next datagram, or null if none arrives within `ms`. */
  receive(ms: number): Promise<Uint8Array | null>;
  close(): Promise<void>;
}

async function client(hostname = "127.0.0.1"): Promise<Client> {
  const socket = dgram.createSocket({ type: hostname.includes(":") ? "udp6" : "udp4" });
  await new Promise<void>((resolve, reject) => {
    socket.once("error", reject);
    socket.bind(0, hostname, () => resolve());
  });
  const queue: Uint8Array[] = [];
  let waiter: (() => void) | null = null;
  socket.on("message", (data: Uint8Array) => {
    queue.push(new Uint8Array(data));
    waiter?.();
  });
  return {
    socket,
    port: socket.address().port,
    send: (bytes, to) => socket.send(bytes, to.addr.port, to.addr.hostname),
    async receive(ms) {
      if (queue.length === 0) {
        let timer: ReturnType<typeof setTimeout> | undefined;
        await new Promise<void>((resolve) => {
          waiter = resolve;
          timer = setTimeout(resolve, ms);
        });
        clearTimeout(timer);
        waiter = null;
      }
      return queue.shift() ?? null;
    },
    close: () => new Promise<void>((resolve) => socket.close(() => resolve())),
  };
}

async function withServer(
  options: Partial<StunServerOptions>,
  body: (server: StunServer) => Promise<void>,
): Promise<void> {
  const server = await startStunServer({
    hostname: "127.0.0.1",
    port: 0,
    log: memoryLogger(),
    ...options,
  });
  try {
    await body(server);
  } finally {
    await server.close();
  }
}

const id = () => crypto.getRandomValues(new Uint8Array(12));

Deno.test("stun server: a Binding request learns the client's own address and port", async () => {
  await withServer({}, async (server) => {
    assert.equal(server.addr.hostname, "127.0.0.1");
    assert.ok(server.addr.port > 0);
    assert.equal(server.url, `stun:127.0.0.1:${server.addr.port}`);
    const c = await client();
    try {
      const tid = id();
      const request = encodeBindingRequest(tid);
      c.send(request, server);
      const reply = await c.receive(2000);
      assert.ok(reply, "an answer");
      const msg = decodeStunMessage(reply);
      assert.equal(msg.type, BINDING_SUCCESS);
      assert.deepEqual(msg.transactionId, tid);
      const expected = { address: "127.0.0.1", port: c.port, family: 4 };
      assert.deepEqual(decodeXorMappedAddress(msg), expected);
      assert.deepEqual(decodeMappedAddress(msg), expected);
      assert.ok(fingerprintOk(reply));
      assert.ok(reply.length <= 2 * request.length + 64, "no amplifier");
      assert.deepEqual(server.stats(), { answered: 1, dropped: 0, limited: 0 });
    } finally {
      await c.close();
    }
  });
});

Deno.test("stun server: garbage and non-Binding-request messages get no answer", async () => {
  await withServer({}, async (server) => {
    const c = await client();
    try {
      const indication = encodeBindingRequest(id());
      new DataView(indication.buffer).setUint16(0, BINDING_INDICATION);
      const otherMethod = encodeBindingRequest(id());
      new DataView(otherMethod.buffer).setUint16(0, 0x0003); // an Allocate request (TURN)
      const wrongCookie = encodeBindingRequest(id());
      new DataView(wrongCookie.buffer).setUint32(4, MAGIC_COOKIE ^ 0xff);
      const badFingerprint = encodeBindingSuccess(id(), {
        address: "192.0.2.1",
        port: 1,
        family: 4,
      }, { fingerprint: true });
      new DataView(badFingerprint.buffer).setUint16(0, 0x0001); // now a request, CRC stale
      const unwanted = [
        new TextEncoder().encode("GET / HTTP/1.1\r\n\r\n"),
        new Uint8Array(0),
        new Uint8Array(20),
        crypto.getRandomValues(new Uint8Array(100)),
        encodeBindingRequest(id()).subarray(0, 19),
        indication,
        otherMethod,
        wrongCookie,
        badFingerprint,
        encodeBindingSuccess(id(), { address: "192.0.2.1", port: 1, family: 4 }),
        new Uint8Array(2000),
      ];
      for (const bytes of unwanted) c.send(bytes, server);
      assert.equal(await c.receive(300), null, "silence");
      assert.equal(server.stats().answered, 0);
      assert.equal(server.stats().dropped, unwanted.length);
      // Still serving after all that.
      c.send(encodeBindingRequest(id()), server);
      assert.ok(await c.receive(2000));
    } finally {
      await c.close();
    }
  });
});

Deno.test("stun server: a flood of 200 requests gets at most burst + rate answers", async () => {
  await withServer({}, async (server) => {
    const c = await client();
    try {
      const started = performance.now();
      for (let i = 0; i < 200; i++) c.send(encodeBindingRequest(id()), server);
      let answers = 0;
      while (await c.receive(300)) answers++;
      const seconds = (performance.now() - started) / 1000;
      const allowed = DEFAULT_BURST + Math.ceil(DEFAULT_RATE_PER_SECOND * seconds);
      assert.ok(answers >= DEFAULT_BURST, `${answers} answers, expected at least the burst`);
      assert.ok(answers <= allowed, `${answers} answers in ${seconds} s, allowed ${allowed}`);
      const stats = server.stats();
      assert.equal(stats.answered, answers);
      assert.equal(stats.answered + stats.limited, 200);
      assert.equal(stats.dropped, stats.limited);
    } finally {
      await c.close();
    }
  });
});

Deno.test("stun server: buckets refill with time and are per source", async () => {
  let clock = 1_000_000;
  await withServer({ ratePerSecond: 1, burst: 2, now: () => clock }, async (server) => {
    const a = await client();
    const b = await client();
    try {
      const ask = async (c: Client) => {
        c.send(encodeBindingRequest(id()), server);
        return (await c.receive(300)) !== null;
      };
      assert.deepEqual([await ask(a), await ask(a), await ask(a)], [true, true, false]);
      // Same source IP (127.0.0.1), so the second socket shares the bucket.
      assert.equal(await ask(b), false);
      clock += 1000;
      assert.deepEqual([await ask(b), await ask(a)], [true, false]);
      assert.deepEqual(server.stats(), { answered: 3, dropped: 3, limited: 3 });
    } finally {
      await a.close();
      await b.close();
    }
  });
});

Deno.test("stun server: IPv6 on ::1", async () => {
  let server: StunServer;
  try {
    server = await startStunServer({ hostname: "::1", port: 0, log: memoryLogger() });
  } catch {
    console.log("no IPv6 loopback here; skipped");
    return;
  }
  try {
    assert.equal(server.url, `stun:[::1]:${server.addr.port}`);
    const c = await client("::1");
    try {
      c.send(encodeBindingRequest(id()), server);
      const reply = await c.receive(2000);
      assert.ok(reply);
      assert.deepEqual(decodeXorMappedAddress(decodeStunMessage(reply)), {
        address: "::1",
        port: c.port,
        family: 6,
      });
    } finally {
      await c.close();
    }
  } finally {
    await server.close();
  }
});

Deno.test("stun server: close() is clean and idempotent; a busy port rejects", async () => {
  const log = memoryLogger();
  const server = await startStunServer({ hostname: "127.0.0.1", port: 0, log });
  const c = await client();
  try {
    await Promise.all([server.close(), server.close()]);
    await server.close();
    c.send(encodeBindingRequest(id()), server);
    assert.equal(await c.receive(200), null, "nobody answers after close");
    assert.ok(log.lines.some((l) => l.includes("stun server stopped")));
    // Bind the port our client holds: the start fails and leaves nothing open behind.
    await assert.rejects(startStunServer({ hostname: "127.0.0.1", port: c.port, log }));
  } finally {
    await c.close();
  }
});

Deno.test("stun server: rate-limit keys are IPv4 addresses or IPv6 /64s", () => {
  assert.equal(limitKey("192.0.2.1"), "192.0.2.1");
  assert.equal(limitKey("::ffff:192.0.2.1"), "192.0.2.1");
  assert.equal(limitKey("2001:db8:1:2:aaaa::1"), "2001:db8:1:2::/64");
  assert.equal(limitKey("2001:DB8:1:2:bbbb:cccc:dddd:eeee"), "2001:db8:1:2::/64");
  assert.equal(limitKey("2001:0db8::1"), "2001:db8:0:0::/64");
  assert.equal(limitKey("::1"), "0:0:0:0::/64");
  assert.equal(limitKey("fe80::1%eth0"), "fe80:0:0:0::/64");
});
