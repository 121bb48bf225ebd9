/**
 * `teams list|add|remove` against a real Guardian: list and remove with the conflux's own token;
 * add only with the owner's access token (a conflux token cannot grant itself teams).
 */
import assert from "node:assert/strict";
import { join } from "node:path";
import { createRealm, registrationToken, startGuardian } from "./helpers/guardian.ts";
import { cliHarness } from "./cli_harness.ts";

Deno.test("teams: register with --teams, list, add, remove, refusals", async () => {
  const g = await startGuardian({ nats: false });
  const h = await cliHarness();
  try {
    const realm = await createRealm(g);
    await g.client.createTeam(realm.accessToken, "dev");
    await g.client.createTeam(realm.accessToken, "ops");
    const token = await registrationToken(g, realm);
    const code = await h.run(["register", "-t", token, "-g", g.url, "--teams", "dev,nope"]);
    assert.equal(code, 0, h.err.join("\n"));
    assert.match(h.err.join("\n"), /teams ignored .*nope/);
    const saved = JSON.parse(await Deno.readTextFile(join(h.configDir, "conflux.json")));

    const list = async () => {
      h.out.length = 0;
      assert.equal(await h.run(["teams", "list", "--json"]), 0, h.err.join("\n"));
      return (JSON.parse(h.out.join("")) as Array<{ name: string }>).map((t) => t.name).sort();
    };
    assert.deepEqual(await list(), ["dev"]);
    // Adding needs the owner: without an access token the CLI says so and asks nothing.
    assert.equal(await h.run(["teams", "add", "ops"]), 2);
    assert.match(h.err.at(-1)!, /adding a team needs the conflux's owner: .*--access-token/);
    // The conflux token passed as if it were the owner's is refused by the Guardian itself.
    assert.equal(await h.run(["teams", "add", "ops", "--access-token", saved.conflux_token]), 1);
    assert.match(h.err.at(-1)!, /Guardian refused: a conflux token cannot add teams/);
    assert.deepEqual(await list(), ["dev"]);
    assert.equal(
      await h.run(["teams", "add", "ops"], { VEILNET_ACCESS_TOKEN: realm.accessToken }),
      0,
      h.err.join("\n"),
    );
    assert.deepEqual(await list(), ["dev", "ops"]);
    h.out.length = 0;
    assert.equal(await h.run(["teams", "list"]), 0);
    assert.match(h.out.join("\n"), /TEAM_ID\s+NAME\s+VERSION\n/);
    assert.equal(await h.run(["teams", "remove", "dev"]), 0, h.err.join("\n"));
    assert.deepEqual(await list(), ["ops"]);

    // Refusals are one-line errors from the Guardian.
    assert.equal(
      await h.run(["teams", "add", "no-such-team", "--access-token", realm.accessToken]),
      1,
    );
    assert.match(h.err.at(-1)!, /Guardian refused: unknown team/);
    assert.equal(await h.run(["teams", "remove", "dev"]), 1);
    assert.match(h.err.at(-1)!, /does not hold that team/);
    // A conflux token may only manage its own conflux.
    assert.equal(await h.run(["teams", "list", "--conflux-id", "c_someone_else"]), 1);
    assert.match(h.err.at(-1)!, /Guardian refused/);
    // Token from the environment, conflux id from the flag: no saved file needed.
    await Deno.remove(join(h.configDir, "conflux.json"));
    h.out.length = 0;
    const env = { VEILNET_CONFLUX_TOKEN: saved.conflux_token, VEILNET_GUARDIAN: g.url };
    assert.equal(
      await h.run(["teams", "list", "--json", "--conflux-id", saved.conflux_id], env),
      0,
      h.err.join("\n"),
    );
    assert.deepEqual(JSON.parse(h.out.join("")).map((t: { name: string }) => t.name), ["ops"]);
  } finally {
    await h.cleanup();
    await g.stop();
  }
});
