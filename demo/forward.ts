/**
 * Test helper process: forwards connections from a Unix socket to a TCP address. Run inside a
 * test's network namespace, it lets the test process (outside) reach a server that listens only
 * inside (Unix sockets are files, not network endpoints, so they cross namespaces).
 *
 *   deno run -A demo/forward.ts SOCKET_PATH HOST:PORT
 *
 * @module
 */
const [path, target] = Deno.args;
const colon = target?.lastIndexOf(":") ?? -1;
if (!path || colon < 0) {
  console.error("usage: dataplane_forward.ts SOCKET_PATH HOST:PORT");
  Deno.exit(2);
}
const hostname = target.slice(0, colon);
const port = Number(target.slice(colon + 1));
try {
  Deno.removeSync(path);
} catch {
  // no stale socket
}
const listener = Deno.listen({ transport: "unix", path });
console.log("forwarding");
for await (const conn of listener) {
  (async () => {
    let upstream: Deno.TcpConn;
    try {
      upstream = await Deno.connect({ hostname, port });
    } catch {
      conn.close();
      return;
    }
    await Promise.allSettled([
      conn.readable.pipeTo(upstream.writable),
      upstream.readable.pipeTo(conn.writable),
    ]);
  })();
}
