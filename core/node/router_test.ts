import assert from "node:assert/strict";
import { memoryLogger } from "../log/logger.ts";
import { mulberry32 } from "../route/prng.ts";
import { decodeFrame, encodeFrame, FrameType } from "../wire/frame.ts";
import { RouteError } from "../route/errors.ts";
import { Router } from "./router.ts";

/** Routers joined by tethers with a one-way delay each; time advances in 5 ms steps. */
class Net {
  now = 0;
  routers = new Map<string, Router>();
  #delay = new Map<string, number>();
  #cut = new Set<string>();
  #inFlight: { at: number; from: string; to: string; bytes: Uint8Array }[] = [];

  constructor(
    names: string[],
    options: { relay?: (name: string) => boolean; accepts?: (name: string) => boolean } = {},
  ) {
    for (const name of names) {
      this.routers.set(
        name,
        new Router({
          self: name,
          random: mulberry32(name.charCodeAt(0)),
          send: (to, bytes) => {
            if (!this.#delay.has(`${name}>${to}`)) return false;
            if (this.#cut.has(`${name}>${to}`)) return true;
            this.#inFlight.push({
              at: this.now + this.#delay.get(`${name}>${to}`)!,
              from: name,
              to,
              bytes,
            });
            return true;
          },
          queueMs: () => 0,
          relay: options.relay?.(name) ?? true,
          accepts: options.accepts,
          log: memoryLogger(),
        }),
      );
    }
  }

  r(name: string): Router {
    return this.routers.get(name)!;
  }

  link(a: string, b: string, oneWayMs: number): void {
    this.#delay.set(`${a}>${b}`, oneWayMs);
    this.#delay.set(`${b}>${a}`, oneWayMs);
    this.r(a).linkUp(b, this.now);
    this.r(b).linkUp(a, this.now);
  }

  /** Frames stop flowing both ways (the tethers stay "open": only probes can tell). */
  cut(a: string, b: string): void {
    this.#cut.add(`${a}>${b}`);
    this.#cut.add(`${b}>${a}`);
  }

  /** Runs for `ms`, ticking every router each 100 ms; returns the dead links each reported. */
  run(ms: number): Map<string, string[]> {
    const dead = new Map<string, string[]>();
    const end = this.now + ms;
    for (; this.now < end; this.now += 5) {
      const due = this.#inFlight.filter((m) => m.at <= this.now);
      this.#inFlight = this.#inFlight.filter((m) => m.at > this.now);
      for (const m of due) {
        this.r(m.to).heard(m.from, this.now);
        this.r(m.to).onLinkFrame(m.from, decodeFrame(m.bytes), this.now);
      }
      if (this.now % 100 === 0) {
        for (const [name, router] of this.routers) {
          const d = router.tick(this.now);
          if (d.length) dead.set(name, [...(dead.get(name) ?? []), ...d]);
        }
      }
    }
    return dead;
  }
}

/** a reaches c through relays b1 and b2 (1 ms links); returns the relay flow `flow` settled on. */
function twoRelays(flow: number): { net: Net; used: string } {
  const net = new Net(["a", "b1", "b2", "c"]);
  for (const relay of ["b1", "b2"]) {
    net.link("a", relay, 1);
    net.link(relay, "c", 1);
  }
  net.run(500);
  net.r("a").nextHop("c", flow, net.now);
  net.run(1500);
  return { net, used: net.r("a").nextHop("c", flow, net.now)! };
}

Deno.test("router: a chain a—b—c routes a's traffic for c through b", () => {
  const net = new Net(["a", "b", "c"]);
  net.link("a", "b", 1);
  net.link("b", "c", 1);
  net.run(500);
  assert.equal(net.r("a").nextHop("c", 1, net.now), null, "no route before discovery");
  net.run(1000);
  assert.equal(net.r("a").nextHop("c", 1, net.now), "b");
  assert.equal(net.r("b").nextHop("c", 2, net.now, "a"), "c");
  // A relay never sends a frame back where it came from.
  assert.equal(net.r("b").nextHop("a", 3, net.now, "a"), null);
});

Deno.test("router: of two relays the faster one carries new flows", () => {
  const net = new Net(["a", "fast", "slow", "d"]);
  net.link("a", "fast", 1);
  net.link("fast", "d", 1);
  net.link("a", "slow", 1);
  net.link("slow", "d", 20);
  net.run(500);
  net.r("a").nextHop("d", 0, net.now);
  net.run(2000);
  const counts = new Map<string, number>();
  for (let flow = 1; flow <= 200; flow++) {
    const hop = net.r("a").nextHop("d", flow, net.now)!;
    counts.set(hop, (counts.get(hop) ?? 0) + 1);
  }
  assert.ok((counts.get("fast") ?? 0) >= 180, JSON.stringify([...counts]));
  const best = net.r("a").agent.best("d");
  assert.equal(best?.nextHop, "fast");
});

Deno.test("router: a silent relay is found dead within about a second and flows move", () => {
  const { net, used } = twoRelays(7);
  assert.ok(used === "b1" || used === "b2");
  const other = used === "b1" ? "b2" : "b1";
  net.cut("a", used);
  const cutAt = net.now;
  let movedAt = -1;
  for (let i = 0; i < 40 && movedAt < 0; i++) {
    const dead = net.run(50);
    if (dead.get("a")?.includes(used)) assert.ok(net.now - cutAt <= 1300);
    if (net.r("a").nextHop("c", 7, net.now) === other) movedAt = net.now;
  }
  assert.ok(movedAt > 0, "the flow never moved");
  assert.ok(movedAt - cutAt <= 1300, `moved after ${movedAt - cutAt} ms`);
});

Deno.test("router: a relay's failed far link is reported back and the source moves", () => {
  const { net, used } = twoRelays(9);
  // The relay forwards for a, so it reports changes of its estimate for c back to a.
  net.r(used).forwarded("a", "c", net.now);
  net.r(used).nextHop("c", 1, net.now, "a");
  net.run(300);
  net.cut(used, "c");
  net.run(1600);
  assert.notEqual(net.r("a").nextHop("c", 9, net.now), used);
});

Deno.test("router: a node without relaying does not answer route queries", () => {
  const net = new Net(["a", "b", "c"], { relay: (n) => n !== "b" });
  net.link("a", "b", 1);
  net.link("b", "c", 1);
  net.r("a").nextHop("c", 1, 0);
  net.run(3000);
  assert.equal(net.r("a").nextHop("c", 1, net.now), null);
});

Deno.test("router: malformed routing frames throw RouteError only", () => {
  const net = new Net(["a", "b"]);
  net.link("a", "b", 1);
  const link = (type: FrameType, payload: Uint8Array) =>
    encodeFrame({ type, hopLimit: 1, flags: 0, destination: 0, streamId: 0, counter: 0n, payload });
  const bad = [
    link(FrameType.Probe, new Uint8Array(3)),
    link(FrameType.Feedback, Uint8Array.of(7, 0xff, 0xff)),
    link(FrameType.Feedback, Uint8Array.of(1)),
  ];
  for (const bytes of bad) {
    assert.throws(() => net.r("a").onLinkFrame("b", decodeFrame(bytes), 0), RouteError);
  }
});

Deno.test("router: route messages about names outside the realm are dropped", () => {
  const net = new Net(["a", "b", "c", "x"], { accepts: (n) => n !== "x" });
  net.link("a", "b", 1);
  net.link("b", "c", 1);
  net.link("b", "x", 1);
  net.r("a").nextHop("c", 1, 0);
  net.r("a").nextHop("x", 2, 0);
  net.run(3000);
  assert.equal(net.r("a").nextHop("c", 1, net.now), "b");
  // b never answers a query for x, and its reports about x never reach a's agent.
  assert.equal(net.r("a").nextHop("x", 2, net.now), null);
  assert.ok(!net.r("a").snapshot().some((d) => d.destination === "x" && d.best !== null));
});

Deno.test("router: a relay does not start discovery for what it forwards", () => {
  const net = new Net(["a", "b", "c"]);
  net.link("a", "b", 1);
  net.link("b", "c", 1);
  net.run(500);
  const before = net.r("b").agent.stats.discoveriesStarted;
  for (let i = 0; i < 50; i++) net.r("b").nextHop(`nowhere-${i}`, i, net.now, "a");
  net.run(500);
  assert.equal(net.r("b").agent.stats.discoveriesStarted, before);
  assert.equal(net.r("b").nextHop("c", 1, net.now, "a"), "c");
});
