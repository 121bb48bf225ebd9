/**
 * `info` reads the node's local API (the node's own status server on `<configDir>/conflux.sock`)
 * and prints it as a table or JSON; without a running node it exits 3 with a hint.
 */
import assert from "node:assert/strict";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { memoryLogger } from "../core/log/logger.ts";
import { type NodeInfo, serveStatus } from "../core/node/status_server.ts";
import { main } from "../cli/mod.ts";
import { controlLine, memoryLine, renderInfo } from "../cli/commands/info.ts";

const MAIN = fileURLToPath(new URL("../main.ts", import.meta.url));
const CONFIG = fileURLToPath(new URL("../deno.json", import.meta.url));

const sample: NodeInfo = {
  conflux_id: "c0123456789abcdef",
  realm_id: "r0123456789abcdef",
  overlay_ip: "100.64.0.7",
  tag: "web-1",
  portal: true,
  teams: ["dev", "ops"],
  stats: { frames_in: 5, frames_dropped: 1, packets_in: 4, packets_out: 6, control_dropped: 0 },
  tethers: [{
    peer: "c_peer",
    engine: "libdatachannel",
    channels: 4,
    rtt_ms: 0.4,
    bytes_sent: 1200,
    bytes_received: 3400,
    idle_ms: 10,
    local: { type: "srflx", address: "198.18.0.10", port: 40001 },
    remote: { type: "host", address: "198.18.101.2", port: 50002 },
  }],
  underlay: ["198.18.0.10", "198.18.101.1", "2001:db8::5"],
  routes: [{
    destination: "100.64.0.9",
    conflux_id: "c_peer",
    next_hop: "c_relay",
    state: "ready",
    estimate_ms: 1.25,
    candidates: [
      { next_hop: "c_relay", estimate_ms: 1.25, hops: 2 },
      { next_hop: "c_peer", estimate_ms: 9.5, hops: 1 },
    ],
  }],
  streams: [],
  portals: {
    serving: ["198.19.77.0/24"],
    portals: [{
      conflux_id: "c_portal",
      overlay_ip: "100.64.0.3",
      subnets: ["198.18.0.0/24", "198.19.80.0/20"],
      routed: ["198.19.80.0/20"],
    }],
  },
};

Deno.test("info: table and --json from the node's status socket, in-process and as a program", async () => {
  const dir = await Deno.makeTempDir({ prefix: "veilnet-cli-info-" });
  const server = serveStatus(join(dir, "conflux.sock"), () => sample, { log: memoryLogger() });
  try {
    const out: string[] = [];
    const deps = { env: {}, stdout: (t: string) => out.push(t), stderr: () => {} };
    assert.equal(await main(["info", "--config-dir", dir], deps), 0);
    const text = out.join("\n");
    assert.match(text, /conflux:\s+c0123456789abcdef/);
    assert.match(text, /overlay ip:\s+100\.64\.0\.7/);
    assert.match(text, /realm:\s+r0123456789abcdef/);
    assert.match(text, /teams:\s+dev, ops/);
    assert.match(text, /stats:\s+frames_in=5 frames_dropped=1 packets_in=4 packets_out=6/);
    assert.match(text, /tethers \(1\)\nPEER\s+ENGINE\s+CHANNELS/);
    assert.match(text, /c_peer\s+libdatachannel\s+4\s+0\.4/);
    // The selected candidate pair, so a user sees which interface and NAT mapping a tether uses.
    assert.match(text, /srflx 198\.18\.0\.10:40001\s+host 198\.18\.101\.2:50002/);
    assert.match(text, /underlay:\s+198\.18\.0\.10, 198\.18\.101\.1, 2001:db8::5/);
    assert.match(
      text,
      /routes \(1\)\nDESTINATION\s+CONFLUX_ID\s+NEXT_HOP\s+STATE\s+ESTIMATE_MS\s+CANDIDATES\n100\.64\.0\.9/,
    );
    assert.match(text, /c_relay \(1\.25 ms, 2 hops\), c_peer \(9\.5 ms, 1 hop\)/);
    assert.match(text, /streams \(0\)/);
    assert.match(text, /serving:\s+198\.19\.77\.0\/24/);
    assert.match(
      text,
      /portals \(1\)\nCONFLUX_ID\s+OVERLAY_IP\s+SUBNETS\s+ROUTED\nc_portal\s+100\.64\.0\.3\s+198\.18\.0\.0\/24, 198\.19\.80\.0\/20\s+198\.19\.80\.0\/20/,
    );

    // The real program, reading the directory from VEILNET_CONFIG_DIR.
    const r = await new Deno.Command(Deno.execPath(), {
      args: ["run", "-A", "--config", CONFIG, MAIN, "info", "--json"],
      env: { VEILNET_CONFIG_DIR: dir },
      stdout: "piped",
      stderr: "piped",
    }).output();
    assert.equal(r.code, 0, new TextDecoder().decode(r.stderr));
    assert.deepEqual(JSON.parse(new TextDecoder().decode(r.stdout)), sample);
  } finally {
    await server.close();
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("info: no node running exits 3 and says how to start it", async () => {
  const dir = await Deno.makeTempDir({ prefix: "veilnet-cli-info-" });
  try {
    const err: string[] = [];
    const deps = { env: {}, stdout: () => {}, stderr: (t: string) => err.push(t) };
    assert.equal(await main(["info", "--config-dir", dir], deps), 3);
    assert.match(err.join("\n"), /node is not running .*conflux\.sock.*veilnet-conflux start/);
    // A stale socket file with nobody listening behind it.
    const listener = Deno.listen({ transport: "unix", path: join(dir, "conflux.sock") });
    listener.close();
    err.length = 0;
    const code = await main(["info", "--config-dir", dir], deps);
    assert.equal(code, 3);
    assert.match(err.join("\n"), /not running/);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("info: the control line says the channel's state, session expiry and Guardian contact", () => {
  const now = Date.UTC(2026, 11, 4, 12, 0, 0);
  const [[key, up]] = controlLine({
    state: "connected",
    since: now - 90_000,
    session_expires_at: now + 412_000,
    last_guardian_contact_at: now - 198_000,
  }, now);
  assert.equal(key, "control");
  assert.equal(
    up,
    "connected since 2026-12-04T11:58:30.000Z (90 s); session expires in 412 s; " +
      "Guardian last answered 198 s ago",
  );
  const [[, down]] = controlLine({
    state: "offline",
    since: now - 5000,
    session_expires_at: now - 3000,
    last_guardian_contact_at: now - 600_000,
    last_renewal_error: "HTTP 503",
  }, now);
  assert.match(down, /^offline since .*session expired 3 s ago; .*last renewal failed: HTTP 503$/);
  assert.deepEqual(controlLine(undefined, now), []);
  // The drops line names only the causes that occurred.
  const text = renderInfo({
    ...sample,
    stats: { ...sample.stats!, drops: { queue_full: 0, tether_full: 3, auth: 1 } },
  });
  assert.match(text, /drops:\s+tether_full=3 auth=1\n/);
});

Deno.test("info: the memory line splits the resident set into own and shared-file pages", () => {
  const [[key, line]] = memoryLine({
    rss_mb: 99.5,
    anon_mb: 44.2,
    file_mb: 55.3,
    heap_used_mb: 12.1,
    heap_total_mb: 20,
    external_mb: 3,
  });
  assert.equal(key, "memory");
  assert.equal(line, "rss 99.5 MB (own 44.2 MB, shared files 55.3 MB); V8 heap 12.1/20 MB");
  assert.equal(memoryLine({ rss_mb: 10 })[0][1], "rss 10 MB");
  assert.deepEqual(memoryLine(undefined), []);
  assert.deepEqual(memoryLine({ rss_mb: "x" }), []);
});
