import assert from "node:assert/strict";
import { portalsSubject } from "../control/subjects.ts";
import { peekEnvelope } from "../wire/envelope.ts";
import { EnvelopeSchema, MessageType, SignedEnvelopeSchema } from "../wire/gen/veilnet_pb.ts";
import { fromBinary } from "@bufbuild/protobuf";
import { portalAnswerSubject, type PortalHost } from "./portals.ts";
import { withRealm } from "./testing/realm.ts";

function fakeHost(): PortalHost & { routes: Set<string> } {
  const routes = new Set<string>();
  return {
    routes,
    hostRoutes: () => Promise.resolve([]),
    addRoute: (cidr) => Promise.resolve(void routes.add(cidr)),
    removeRoute: (cidr) => Promise.resolve(void routes.delete(cidr)),
  };
}

async function until(cond: () => boolean, ms: number): Promise<boolean> {
  const end = Date.now() + ms;
  while (Date.now() < end) {
    if (cond()) return true;
    await new Promise((r) => setTimeout(r, 50));
  }
  return cond();
}

Deno.test("portals: a teammate learns the portal's networks; no realm-wide message carries them", async () => {
  await withRealm(async (realm) => {
    const LAN = "192.168.77.0/24";
    const hosts = [fakeHost(), fakeHost(), fakeHost()];
    // The teammate and the stranger start first: they hear of the portal only through it.
    const mate = realm.add("mate", { teams: ["dev"], extra: { portalHost: hosts[1] } });
    const stranger = realm.add("stranger", { teams: ["ops"], extra: { portalHost: hosts[2] } });
    await new Promise((r) => setTimeout(r, 100));
    const portal = realm.add("portal", {
      teams: ["dev"],
      subnets: [LAN],
      extra: { portalHost: hosts[0] },
    });
    assert.ok(await until(() => hosts[1].routes.has(LAN), 8_000), "the teammate never routed");
    // Later rounds (the stranger's queries included) give it nothing either.
    await new Promise((r) => setTimeout(r, 500));
    assert.equal(hosts[2].routes.size, 0, "the stranger routed the portal's network");
    const realmSubject = portalsSubject(realm.realmId);
    for (const m of realm.bus.log) {
      if (m.from !== portal.name) continue;
      let peek;
      try {
        peek = peekEnvelope(m.data);
      } catch {
        continue;
      }
      const env = fromBinary(EnvelopeSchema, fromBinary(SignedEnvelopeSchema, m.data).envelope);
      if (env.senderCertificate.length === 0) continue;
      // The portal's certificate (with its networks) went on the portal subjects only to the
      // teammate's own subject.
      if (m.subject === realmSubject && peek.type !== 11 /* PORTAL_QUERY */) {
        assert.fail(`portal message of type ${peek.type} with certificate on ${m.subject}`);
      }
      if (m.subject.endsWith(".portals") && m.subject !== realmSubject) {
        assert.ok(m.subject.includes(`.c.${mate.id}.`), `answered ${m.subject}`);
      }
    }
    void stranger;
  });
});

Deno.test("portals: a portal answers one teammate's queries at most once per 2 s", async () => {
  await withRealm(async (realm) => {
    const LAN = "192.168.78.0/24";
    const portal = realm.add("portal", {
      teams: ["dev"],
      subnets: [LAN],
      extra: { portalHost: fakeHost() },
    });
    // No portal host: this node runs no portal mode of its own, so only the test asks for it.
    const asker = realm.add("asker", { teams: ["dev"] });
    await new Promise((r) => setTimeout(r, 200));
    const realmSubject = portalsSubject(realm.realmId);
    const answerSubject = portalAnswerSubject(realmSubject, asker.id);
    const answers = () =>
      realm.bus.log.filter((m) => m.from === portal.name && m.subject === answerSubject).length;
    assert.equal(answers(), 0);
    for (let i = 0; i < 6; i++) {
      asker.control.publish(realmSubject, asker.seal(MessageType.PORTAL_QUERY, new Uint8Array()));
    }
    assert.ok(await until(() => answers() > 0, 3_000), "the portal never answered");
    await new Promise((r) => setTimeout(r, 300));
    assert.equal(answers(), 1, "six queries at once, one answer");
    // After ANSWER_EVERY_MS the asker is answered again.
    await new Promise((r) => setTimeout(r, 2_000));
    asker.control.publish(realmSubject, asker.seal(MessageType.PORTAL_QUERY, new Uint8Array()));
    assert.ok(await until(() => answers() === 2, 3_000), "not answered after 2 s");
  });
});
