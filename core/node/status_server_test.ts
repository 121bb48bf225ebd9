import assert from "node:assert/strict";
import { fetchStatus, type NodeInfo, serveStatus } from "./status_server.ts";
import { memoryLogger } from "../log/logger.ts";

const sample: NodeInfo = {
  conflux_id: "c1",
  realm_id: "r1",
  overlay_ip: "100.64.0.2",
  tag: "t",
  portal: false,
  teams: ["dev"],
  tethers: [],
  routes: [],
  streams: [],
};

Deno.test("status server: GET /info over the unix socket, 404 elsewhere, socket removed", async () => {
  const dir = await Deno.makeTempDir();
  const path = `${dir}/conflux.sock`;
  const server = serveStatus(path, () => sample, { log: memoryLogger() });
  try {
    assert.deepEqual(await fetchStatus(path), sample);
    assert.equal(Deno.statSync(path).mode! & 0o777, 0o600);
    const client = Deno.createHttpClient({ proxy: { transport: "unix", path } });
    const res = await fetch("http://localhost/other", { client });
    assert.equal(res.status, 404);
    await res.body?.cancel();
    const post = await fetch("http://localhost/info", { client, method: "POST" });
    assert.equal(post.status, 405);
    await post.body?.cancel();
    client.close();
    await server.close();
    assert.throws(() => Deno.statSync(path), Deno.errors.NotFound);
  } finally {
    await server.close();
    await Deno.remove(dir, { recursive: true });
  }
});
