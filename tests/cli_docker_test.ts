/**
 * Dockerfile and docker-compose.yml: there is no Docker engine here, so this checks what can be
 * checked without one — the compose file matches the seed (privileged, host network, env file),
 * the image's entrypoint is `run` in the foreground, every file the image copies exists, and the
 * entrypoint command configured only by the seed's `.env` file runs the node with those settings.
 */
import assert from "node:assert/strict";
import { NODE_V8_FLAGS } from "../core/node/options.ts";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { main } from "../cli/mod.ts";
import type { NodeOptions } from "../core/node/mod.ts";
import { freePort } from "./helpers/nats_server.ts";

const REPO = dirname(dirname(fileURLToPath(import.meta.url)));
const APP = "/opt/veilnet-conflux";

/** Parses the YAML subset docker-compose.yml uses (nested maps, scalars, lists of scalars). */
function parseComposeYaml(text: string): Record<string, unknown> {
  const lines = text.split("\n").filter((l) => l.trim() !== "" && !l.trim().startsWith("#"))
    .map((l) => {
      assert.ok(!l.includes("\t"), "YAML must not contain tabs");
      return { indent: l.length - l.trimStart().length, text: l.trim() };
    });
  const scalar = (v: string): unknown => (v === "true" ? true : v === "false" ? false : v);
  let i = 0;
  const block = (indent: number): unknown => {
    if (lines[i].text.startsWith("- ")) {
      const list: unknown[] = [];
      while (i < lines.length && lines[i].indent === indent && lines[i].text.startsWith("- ")) {
        list.push(scalar(lines[i++].text.slice(2).trim()));
      }
      return list;
    }
    const map: Record<string, unknown> = {};
    while (i < lines.length && lines[i].indent === indent) {
      const m = /^([A-Za-z0-9_.-]+):(?:\s+(.*))?$/.exec(lines[i].text);
      assert.ok(m, `not a "key: value" line: ${lines[i].text}`);
      assert.ok(!(m[1] in map), `duplicate key ${m[1]}`);
      i++;
      if (m[2]) {
        map[m[1]] = scalar(m[2]);
      } else {
        assert.ok(i < lines.length && lines[i].indent > indent, `empty value for ${m[1]}`);
        map[m[1]] = block(lines[i].indent);
      }
    }
    return map;
  };
  const root = block(0) as Record<string, unknown>;
  assert.equal(i, lines.length, `bad indentation at: ${lines[i]?.text}`);
  return root;
}

/** The final stage's instructions of a Dockerfile (continuation lines joined). */
function finalStage(text: string): Array<[string, string]> {
  const joined = text.replace(/\\\n/g, " ").split("\n").filter((l) =>
    l.trim() && !l.startsWith("#")
  );
  const ins = joined.map((l): [string, string] => {
    const m = /^(\w+)\s+(.*)$/.exec(l.trim())!;
    return [m[1].toUpperCase(), m[2]];
  });
  const from = ins.map((x) => x[0]).lastIndexOf("FROM");
  return ins.slice(from);
}

/** Parses a docker `--env-file`/`env_file` file. */
function parseEnvFile(text: string): Record<string, string> {
  const env: Record<string, string> = {};
  for (const line of text.split("\n")) {
    const t = line.trim();
    if (!t || t.startsWith("#")) continue;
    const eq = t.indexOf("=");
    env[t.slice(0, eq)] = t.slice(eq + 1);
  }
  return env;
}

/** The seed's `.env` example. */
const SEED_ENV = `VEILNET_CONFLUX_TOKEN=your-conflux-token
VEILNET_GUARDIAN=https://guardian.veilnet.app
VEILNET_PORTAL=false
`;

Deno.test("docker-compose.yml matches the seed", async () => {
  const compose = parseComposeYaml(await Deno.readTextFile(join(REPO, "docker-compose.yml")));
  const services = compose.services as Record<string, Record<string, unknown>>;
  assert.deepEqual(Object.keys(services), ["veilnet-conflux"]);
  assert.deepEqual(services["veilnet-conflux"], {
    image: "veilnet/conflux:beta",
    container_name: "veilnet-conflux",
    pull_policy: "always",
    restart: "unless-stopped",
    privileged: true,
    network_mode: "host",
    env_file: [".env"],
  });
});

Deno.test("Dockerfile: runs `run` in the foreground; every copied path exists", async () => {
  const text = await Deno.readTextFile(join(REPO, "Dockerfile"));
  const stage = finalStage(text);
  const entry = JSON.parse(stage.find((x) => x[0] === "ENTRYPOINT")![1]) as string[];
  const cmd = JSON.parse(stage.find((x) => x[0] === "CMD")![1]) as string[];
  assert.deepEqual(cmd, ["run"]);
  assert.deepEqual(entry, [
    "deno",
    "run",
    "-A",
    "--cached-only",
    "--config",
    `${APP}/deno.json`,
    `${APP}/main.ts`,
  ]);
  // Sources copied from the build context must exist in the repository.
  for (
    const [op, args] of text.replace(/\\\n/g, " ").split("\n").map((l) => l.trim().split(/\s+/))
      .map((p): [string, string[]] => [p[0], p.slice(1)])
  ) {
    if (op !== "COPY" || args[0]?.startsWith("--from")) continue;
    for (const src of args.slice(0, -1)) await Deno.stat(join(REPO, src));
  }
  const env = stage.filter((x) => x[0] === "ENV").map((x) => x[1]).join(" ");
  assert.match(env, /DENO_DIR=\/opt\/veilnet-conflux\/\.deno/);
  assert.match(env, /VEILNET_CACHE_DIR=\/opt\/veilnet-conflux\/lib/);
  // The node in the container runs with the same V8 flags as the release binary.
  assert.ok(env.includes(`DENO_V8_FLAGS=${NODE_V8_FLAGS}`), env);
});

Deno.test("the container's command with the seed's .env runs the node from the environment", async () => {
  const env = parseEnvFile(SEED_ENV);
  const runs: NodeOptions[] = [];
  const code = await main(["run"], {
    env: { ...env, HOME: "/nonexistent-home" },
    stdout: () => {},
    stderr: () => {},
    runNode: (options) => {
      runs.push(options);
      return Promise.resolve();
    },
    shutdownSignal: () => AbortSignal.abort(),
  });
  assert.equal(code, 0);
  assert.equal(runs.length, 1);
  assert.equal(runs[0].confluxToken, "your-conflux-token");
  assert.equal(runs[0].guardianUrl, "https://guardian.veilnet.app");
  assert.equal(runs[0].portal, false);
  assert.equal(runs[0].configDir, "/nonexistent-home/.config/conflux");
});

Deno.test("the entrypoint as a program: env only, no saved file; a missing token exits 2", async () => {
  const text = await Deno.readTextFile(join(REPO, "Dockerfile"));
  const stage = finalStage(text);
  const entry = JSON.parse(stage.find((x) => x[0] === "ENTRYPOINT")![1]) as string[];
  const cmd = JSON.parse(stage.find((x) => x[0] === "CMD")![1]) as string[];
  const argv = [...entry, ...cmd].map((a) => a.replace(APP, REPO));
  const home = await Deno.makeTempDir({ prefix: "veilnet-docker-home-" });
  const denoDir = JSON.parse(
    new TextDecoder().decode(
      (await new Deno.Command(Deno.execPath(), { args: ["info", "--json"], stdout: "piped" })
        .output())
        .stdout,
    ),
  ).denoDir as string;
  const run = async (extra: Record<string, string>) => {
    const r = await new Deno.Command(Deno.execPath(), {
      args: argv.slice(1),
      clearEnv: true,
      env: {
        PATH: Deno.env.get("PATH") ?? "/usr/bin:/bin",
        HOME: home,
        DENO_DIR: denoDir,
        ...extra,
      },
      stdout: "piped",
      stderr: "piped",
      signal: AbortSignal.timeout(60_000),
    }).output();
    return { code: r.code, err: new TextDecoder().decode(r.stderr) };
  };
  try {
    // A Guardian URL where nobody listens: the node must try exactly that URL with the token
    // from the environment, fail before touching any network interface, and exit 1.
    const guardian = `http://127.0.0.1:${freePort()}`;
    const env = {
      ...parseEnvFile(SEED_ENV),
      VEILNET_GUARDIAN: guardian,
      VEILNET_CONFLUX_TOKEN: "vnc_docker_secret",
    };
    const r = await run(env);
    assert.equal(r.code, 1, r.err);
    assert.ok(r.err.includes(`logging in guardian="${guardian}"`), r.err);
    assert.match(r.err, /error: the node stopped: Guardian unreachable/);
    assert.ok(!r.err.includes("vnc_docker_secret"), "the token never reaches the log");
    const missing = await run({ VEILNET_GUARDIAN: guardian });
    assert.equal(missing.code, 2);
    assert.match(missing.err, /no conflux token/);
  } finally {
    await Deno.remove(home, { recursive: true });
  }
});
