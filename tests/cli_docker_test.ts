/**
 * Dockerfile, docker-compose.yml, .env.example and container/veilnet-conflux without building
 * anything (tests/container_test.ts builds and runs the image with podman): the compose file
 * matches the seed (privileged, host network, env file), the Dockerfile's shape (one base image,
 * the pinned Deno, `run` in the foreground under tini, HEALTHCHECK, labels, no compiler in the
 * final stage, every copied path exists and passes .dockerignore), and the image's command,
 * configured only by the seed's `.env`, runs the node with those settings.
 */
import assert from "node:assert/strict";
import { NODE_V8_FLAGS } from "../core/node/options.ts";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { main } from "../cli/mod.ts";
import type { NodeOptions } from "../core/node/mod.ts";
import { freePort } from "./helpers/nats_server.ts";
import { VERSION } from "../cli/version.ts";

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

/** A Dockerfile's instructions (continuation lines joined, comments dropped). */
function instructions(text: string): Array<[string, string]> {
  const joined = text.replace(/\\\n/g, " ").split("\n").filter((l) =>
    l.trim() && !l.trim().startsWith("#")
  );
  return joined.map((l): [string, string] => {
    const m = /^(\w+)\s+(.*)$/.exec(l.trim())!;
    return [m[1].toUpperCase(), m[2]];
  });
}

/** The final stage's instructions of a Dockerfile. */
function finalStage(text: string): Array<[string, string]> {
  const ins = instructions(text);
  const from = ins.map((x) => x[0]).lastIndexOf("FROM");
  return ins.slice(from);
}

/** The value of `ARG name=value` in `stage`. */
function argDefault(stage: Array<[string, string]>, name: string): string | undefined {
  for (const [op, rest] of stage) {
    const m = new RegExp(`^${name}=(\\S+)$`).exec(rest);
    if (op === "ARG" && m) return m[1];
  }
  return undefined;
}

/**
 * The command of container/veilnet-conflux (the image's `veilnet-conflux`): the words of its
 * `exec` line, continuation lines joined; `"$@"` stays as the last word.
 */
async function wrapperCommand(): Promise<string[]> {
  const text = await Deno.readTextFile(join(REPO, "container/veilnet-conflux"));
  const line = text.replace(/\\\n\s*/g, " ").split("\n").find((l) => l.startsWith("exec "));
  assert.ok(line, "container/veilnet-conflux has no exec line");
  return line.slice(5).trim().split(/\s+/);
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

Deno.test("docker-compose.yml matches the seed; .env.example has the seed's variables", async () => {
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
  const example = parseEnvFile(await Deno.readTextFile(join(REPO, ".env.example")));
  assert.deepEqual(example, parseEnvFile(SEED_ENV));
});

Deno.test("Dockerfile: debian:bookworm-slim only, pinned Deno, run in the foreground", async () => {
  const text = await Deno.readTextFile(join(REPO, "Dockerfile"));
  const all = instructions(text);
  const froms = all.filter((x) => x[0] === "FROM").map((x) => x[1].split(/\s+/)[0]);
  assert.ok(froms.length >= 2, "multi-stage");
  assert.deepEqual([...new Set(froms)], ["debian:bookworm-slim"]);
  // The Deno of the README and toolchain/package.json.
  const pkg = JSON.parse(await Deno.readTextFile(join(REPO, "toolchain/package.json")));
  assert.equal(argDefault(all, "DENO_VERSION"), pkg.devDependencies.deno);
  assert.ok(all.some((x) => x[0] === "RUN" && x[1].includes('npx --yes "deno@${DENO_VERSION}"')));

  const stage = finalStage(text);
  const entry = JSON.parse(stage.find((x) => x[0] === "ENTRYPOINT")![1]) as string[];
  const cmd = JSON.parse(stage.find((x) => x[0] === "CMD")![1]) as string[];
  assert.deepEqual(entry, ["/usr/bin/tini", "--", "veilnet-conflux"]);
  assert.deepEqual(cmd, ["run"]);
  assert.equal(stage.find((x) => x[0] === "STOPSIGNAL")?.[1], "SIGTERM");
  assert.match(stage.find((x) => x[0] === "HEALTHCHECK")![1], /CMD veilnet-conflux info\b/);
  assert.equal(argDefault(stage, "VERSION"), VERSION);
  const labels = stage.filter((x) => x[0] === "LABEL").map((x) => x[1]).join(" ");
  for (const l of ["title", "description", "version", "revision"]) {
    assert.ok(labels.includes(`org.opencontainers.image.${l}=`), l);
  }
  // No compiler or headers in the image: only the build stage installs them.
  const installed = stage.filter((x) => x[0] === "RUN").flatMap((x) =>
    [...x[1].matchAll(/apt-get install ([^&;]*)/g)].flatMap((m) =>
      m[1].split(/\s+/).filter((w) => w && !w.startsWith("-"))
    )
  );
  assert.ok(installed.includes("iproute2") && installed.includes("nftables"), `${installed}`);
  for (const p of ["gcc", "cc", "clang", "libc6-dev", "libssl-dev", "npm", "nodejs"]) {
    assert.ok(!installed.includes(p), `the final stage installs ${p}`);
  }

  const env = stage.filter((x) => x[0] === "ENV").map((x) => x[1]).join(" ");
  assert.match(env, /DENO_DIR=\/opt\/veilnet-conflux\/\.deno/);
  assert.match(env, /VEILNET_CACHE_DIR=\/opt\/veilnet-conflux\/lib/);
  // The node in the container runs with the same V8 flags as the release binary.
  assert.ok(env.includes(`DENO_V8_FLAGS=${NODE_V8_FLAGS}`), env);

  // Sources copied from the build context exist and .dockerignore lets them in.
  const allowed = (await Deno.readTextFile(join(REPO, ".dockerignore"))).split("\n")
    .filter((l) => l.startsWith("!")).map((l) => l.slice(1).replace(/\/$/, ""));
  for (const [op, rest] of all) {
    const args = rest.split(/\s+/);
    if (op !== "COPY" || args[0].startsWith("--from")) continue;
    for (const src of args.slice(0, -1)) {
      await Deno.stat(join(REPO, src));
      assert.ok(allowed.includes(src.replace(/\/$/, "")), `.dockerignore keeps out ${src}`);
    }
  }
  // The wrapper runs main.ts with the cached modules only.
  assert.deepEqual(await wrapperCommand(), [
    "/usr/local/bin/deno",
    "run",
    "-A",
    "--cached-only",
    "--config",
    `${APP}/deno.json`,
    `${APP}/main.ts`,
    '"$@"',
  ]);
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

Deno.test("the image's veilnet-conflux run as a program: env only; a missing token exits 2", async () => {
  // container/veilnet-conflux's command with this checkout and this Deno in place of the image's.
  const argv = (await wrapperCommand()).filter((a) => a !== '"$@"').map((a) =>
    a === "/usr/local/bin/deno" ? Deno.execPath() : a.replace(APP, REPO)
  );
  const home = await Deno.makeTempDir({ prefix: "veilnet-docker-home-" });
  const denoDir = JSON.parse(
    new TextDecoder().decode(
      (await new Deno.Command(Deno.execPath(), { args: ["info", "--json"], stdout: "piped" })
        .output())
        .stdout,
    ),
  ).denoDir as string;
  const run = async (extra: Record<string, string>) => {
    const r = await new Deno.Command(argv[0], {
      args: [...argv.slice(1), "run"],
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
