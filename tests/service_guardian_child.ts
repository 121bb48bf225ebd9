/**
 * Child process of tests/service_systemd_test.ts, started with `ip netns exec NS` so that the
 * Guardian and its nats-server listen on the loopback of the test's own network namespace (the
 * booted container joins that namespace). Prints one JSON line `{url, natsUrl, token, realmId}`,
 * then answers `live` on stdin with `{"live": N}` (live confluxes of the realm), and stops
 * everything when stdin closes.
 *
 * @module
 */
import { createRealm, registrationToken, startGuardian } from "./helpers/guardian.ts";

const g = await startGuardian({ sessionTtlSec: 600 });
try {
  const realm = await createRealm(g, { subnet: "100.64.7.0/24" });
  const token = await registrationToken(g, realm, { tag: "nspawn" });
  console.log(
    JSON.stringify({ url: g.url, natsUrl: g.natsUrls[0], token, realmId: realm.realmId }),
  );
  let pending = "";
  for await (const chunk of Deno.stdin.readable.pipeThrough(new TextDecoderStream())) {
    pending += chunk;
    let nl;
    while ((nl = pending.indexOf("\n")) >= 0) {
      const line = pending.slice(0, nl).trim();
      pending = pending.slice(nl + 1);
      if (line === "live") {
        const live = g.server!.store.listConfluxes(realm.realmId).length;
        console.log(JSON.stringify({ live }));
      }
    }
  }
} finally {
  await g.stop();
}
