import assert from "node:assert/strict";
import { mulberry32 } from "./prng.ts";
import { smallWorld } from "./testing/agent_net.ts";

Deno.test("discovery on a 600-node small world: every cold query finds its destination", () => {
  const random = mulberry32(99);
  let walks = 0;
  for (let i = 0; i < 25; i++) {
    // A fresh realm for every pair, so that no earlier answer helps: each query must walk all
    // the way to the destination itself, within the first attempt (two walks, no retry).
    const net = smallWorld(600, 11);
    const src = `n${Math.floor(random() * 600)}`;
    const dst = `n${Math.floor(random() * 600)}`;
    if (src === dst || net.agent(src).best(dst)) continue;
    assert.equal(net.agent(src).choose(dst, 0).kind, "no-route");
    net.settle();
    walks += net.sent.filter((s) => s.message.kind === "query").length;
    assert.ok(net.agent(src).best(dst), `${src} found ${dst}`);
    assert.equal(net.agent(src).stats.discoveriesStarted, 1);
  }
  // Each discovery is two bounded walks (not a flood): at most 2 × TTL query messages.
  assert.ok(walks > 0 && walks <= 25 * 2 * 32, `${walks} query messages`);
});

Deno.test("a query steered by cost as much as by the prior crawls and runs out of hops", () => {
  // The same realm and pairs with a tight TTL: progress-first steering (the default) gets
  // further than steering that scores each hop by its whole detour (cost weight 1).
  const found = (queryCostWeight: number) => {
    const net = smallWorld(600, 11, { queryTtl: 8, queryFanout: [1], queryCostWeight });
    const random = mulberry32(5);
    let ok = 0;
    for (let i = 0; i < 40; i++) {
      const a = `n${Math.floor(random() * 600)}`;
      const b = `n${Math.floor(random() * 600)}`;
      if (a === b) continue;
      net.agent(a).choose(b, net.now);
      net.settle();
      if (net.agent(a).best(b)) ok++;
      net.now += 10_000;
    }
    return ok;
  };
  const progress = found(0.1);
  const detour = found(1);
  assert.ok(progress > detour, `progress-first ${progress} vs detour ${detour}`);
});
