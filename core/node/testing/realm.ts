/**
 * A test realm: a Guardian key that issues certificates, team keys, and nodes running the real
 * runtime over in-memory ports (control bus, tethers, TUN). No root, no TUN device, no NATS.
 *
 * @module
 */
import { generateSigningKeyPair } from "../../crypto/mldsa.ts";
import { memoryLogger } from "../../log/logger.ts";
import { type CertificateFields, issueCertificate } from "../../wire/certificate.ts";
import { Node, type NodeRuntimeOptions, type SessionTeam } from "../node.ts";
import { Messenger } from "../messenger.ts";
import type { MessageType } from "../../wire/gen/veilnet_pb.ts";
import { MemoryBus, type MemoryControl } from "./memory_control.ts";
import { MemoryTetherNet } from "./memory_tethers.ts";
import { MemoryTun } from "./memory_tun.ts";
import { MemoryUdpNet } from "./memory_udp.ts";
import { parseIpv4 } from "../../net/ipv4.ts";

/** A node of a test realm and its ports. */
export interface TestNode {
  name: string;
  /** Its host (underlay) address. */
  underlay: string;
  id: string;
  ip: string;
  node: Node;
  tun: MemoryTun;
  control: MemoryControl;
  log: ReturnType<typeof memoryLogger>;
  /** Signs a control message as this node (for tests that play a misbehaving member). */
  seal(type: MessageType, body: Uint8Array): Uint8Array;
}

/** Options of one test node. */
export interface TestNodeOptions {
  /** Team names it holds (keys are the realm's). */
  teams?: string[];
  /** Relaying on (default true, as `veilnet-conflux` runs without `--no-relay`). */
  relay?: boolean;
  /** Idle timeout (default 30 s). */
  idleTimeoutMs?: number;
  /** Portal networks its certificate names. */
  subnets?: string[];
  /** A datagram lane socket on the realm's MemoryUdpNet (default false). */
  lane?: boolean;
  /** More runtime options (rekey, faults). */
  extra?: Partial<NodeRuntimeOptions>;
}

let seedCounter = 1;

function seed(): Uint8Array {
  const s = new Uint8Array(32);
  new DataView(s.buffer).setUint32(0, seedCounter++);
  return s;
}

/** A realm of in-memory nodes. */
export class TestRealm {
  readonly bus = new MemoryBus();
  readonly net = new MemoryTetherNet();
  readonly udp = new MemoryUdpNet();
  readonly realmId = "realm-test";
  readonly subnet = "100.64.0.0/24";
  readonly nodes: TestNode[] = [];
  readonly #guardian = generateSigningKeyPair(seed());
  readonly #teams = new Map<string, SessionTeam>();
  #next = 1;

  /** The team named `name` (made on first use, version 1). */
  team(name: string): SessionTeam {
    let t = this.#teams.get(name);
    if (!t) {
      t = { teamId: `team-${name}`, name, version: 1, key: seed() };
      this.#teams.set(name, t);
    }
    return t;
  }

  /** Starts a node called `name`. */
  add(name: string, o: TestNodeOptions = {}): TestNode {
    return this.#start(name, this.#next++, o);
  }

  /**
   * Stops `t` and starts it again as a new process would: same conflux id, address and teams, a
   * new key and certificate, and no memory of its streams.
   */
  async restart(t: TestNode, o: TestNodeOptions = {}): Promise<TestNode> {
    const stopping = t.node.stop();
    t.tun.close();
    t.control.close();
    await stopping;
    this.nodes.splice(this.nodes.indexOf(t), 1);
    return this.#start(t.name, Number(t.ip.split(".")[3]), o);
  }

  #start(name: string, n: number, o: TestNodeOptions): TestNode {
    const id = `cx-${name}`;
    const ip = `100.64.0.${n}`;
    const underlay = `198.18.0.${n}`;
    const keys = generateSigningKeyPair(seed());
    const now = Date.now();
    const fields: CertificateFields = {
      confluxId: id,
      realmId: this.realmId,
      realmSubnet: this.subnet,
      overlayIp: ip,
      mldsaPublicKey: keys.publicKey,
      issuedAt: now - 1000,
      expiresAt: now + 3_600_000,
      tag: name,
      portal: (o.subnets?.length ?? 0) > 0,
      subnets: o.subnets ?? [],
    };
    const signedCertificate = issueCertificate(fields, this.#guardian.secretKey);
    const teams = (o.teams ?? []).map((t) => this.team(t));
    const own = new Messenger({
      fields,
      certificate: signedCertificate,
      secretKey: keys.secretKey,
      guardianPublicKey: this.#guardian.publicKey,
    }, teams.map((t) => t.key));
    const tun = new MemoryTun(`mem-${name}`);
    const control = this.bus.connect(name);
    const log = memoryLogger();
    const node = new Node({
      session: {
        certificate: fields,
        signedCertificate,
        guardianPublicKey: this.#guardian.publicKey,
        teams,
        iceServers: [],
      },
      secretKey: keys.secretKey,
      control,
      tun,
      tethers: this.net.port(id, underlay),
      datagrams: o.lane ? this.udp.bind(parseIpv4(underlay)) : undefined,
      engine: "auto",
      idleTimeoutMs: o.idleTimeoutMs ?? 30_000,
      relay: o.relay ?? true,
      log,
      ...o.extra,
    });
    node.start();
    const seal = (type: MessageType, body: Uint8Array) => own.seal(type, body, Date.now());
    const t = { name, underlay, id, ip, node, tun, control, log, seal };
    this.nodes.push(t);
    return t;
  }

  /** Stops every node and closes its ports. */
  async close(): Promise<void> {
    await Promise.all(this.nodes.map(async (t) => {
      const stopping = t.node.stop();
      t.tun.close();
      t.control.close();
      await stopping;
    }));
  }
}

/** Runs `fn` with a fresh realm that is closed afterwards, even on failure. */
export async function withRealm(fn: (realm: TestRealm) => Promise<void>): Promise<void> {
  const realm = new TestRealm();
  try {
    await fn(realm);
  } finally {
    await realm.close();
  }
}
