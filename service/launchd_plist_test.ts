import assert from "node:assert/strict";
import { describeService } from "./description.ts";
import { renderLaunchdPlist } from "./launchd_plist.ts";

type PlistValue = string | number | boolean | PlistValue[] | { [key: string]: PlistValue };

/**
 * A strict parser for the XML property-list subset launchd reads (dict, array, key, string,
 * integer, true, false): throws on anything malformed, unbalanced or out of place.
 */
function parsePlist(xml: string): PlistValue {
  let i = 0;
  const skipSpace = () => {
    while (/\s/.test(xml[i] ?? "")) i++;
  };
  const decode = (s: string) => {
    if (/&(?!(amp|lt|gt|quot|apos);)/.test(s)) throw new Error("bad entity");
    if (/[<>]/.test(s)) throw new Error("raw markup in text");
    return s.replaceAll("&lt;", "<").replaceAll("&gt;", ">").replaceAll("&quot;", '"')
      .replaceAll("&apos;", "'").replaceAll("&amp;", "&");
  };
  const tag = (): { name: string; close: boolean; empty: boolean } => {
    skipSpace();
    const m = /^<(\/?)([a-z]+)\s*(\/?)>/.exec(xml.slice(i));
    if (!m) throw new Error(`expected a tag at ${i}: ${xml.slice(i, i + 30)}`);
    i += m[0].length;
    return { name: m[2], close: m[1] === "/", empty: m[3] === "/" };
  };
  const text = (name: string): string => {
    const end = xml.indexOf(`</${name}>`, i);
    if (end < 0) throw new Error(`unclosed <${name}>`);
    const t = decode(xml.slice(i, end));
    i = end + name.length + 3;
    return t;
  };
  const value = (t = tag()): PlistValue => {
    if (t.close) throw new Error(`unexpected </${t.name}>`);
    switch (t.name) {
      case "string":
        return t.empty ? "" : text("string");
      case "integer": {
        const n = text("integer");
        if (!/^-?\d+$/.test(n)) throw new Error("bad integer");
        return Number(n);
      }
      case "true":
      case "false":
        if (!t.empty) throw new Error(`<${t.name}/> must be empty`);
        return t.name === "true";
      case "array": {
        const out: PlistValue[] = [];
        for (;;) {
          const n = tag();
          if (n.close && n.name === "array") return out;
          out.push(value(n));
        }
      }
      case "dict": {
        const out: Record<string, PlistValue> = {};
        for (;;) {
          const k = tag();
          if (k.close && k.name === "dict") return out;
          if (k.name !== "key" || k.close) throw new Error("dict entries must start with <key>");
          const key = text("key");
          if (key in out) throw new Error(`duplicate key ${key}`);
          out[key] = value();
        }
      }
      default:
        throw new Error(`unknown element <${t.name}>`);
    }
  };
  const header =
    /^<\?xml version="1\.0" encoding="UTF-8"\?>\s*<!DOCTYPE plist PUBLIC "-\/\/Apple\/\/DTD PLIST 1\.0\/\/EN" "http:\/\/www\.apple\.com\/DTDs\/PropertyList-1\.0\.dtd">\s*<plist version="1\.0">/
      .exec(xml);
  if (!header) throw new Error("missing XML declaration, DOCTYPE or <plist>");
  i = header[0].length;
  const root = value();
  const end = tag();
  if (!end.close || end.name !== "plist") throw new Error("expected </plist>");
  skipSpace();
  if (i !== xml.length) throw new Error("trailing content");
  return root;
}

Deno.test("launchd plist parses as a property list with the service's arguments", async () => {
  const service = describeService({
    command: ["/usr/local/bin/veilnet-conflux"],
    configDir: "/var/root/Library/Application Support/conflux",
    profile: "up",
    environment: { DENO_DIR: "/var/root/<cache> & co" },
  });
  const xml = renderLaunchdPlist(service);
  const plist = parsePlist(xml) as Record<string, PlistValue>;
  assert.equal(plist.Label, "org.veilnet.conflux");
  assert.deepEqual(plist.ProgramArguments, service.argv);
  assert.deepEqual(plist.EnvironmentVariables, { DENO_DIR: "/var/root/<cache> & co" });
  assert.equal(plist.RunAtLoad, true);
  assert.deepEqual(plist.KeepAlive, { SuccessfulExit: false });
  assert.equal(plist.WorkingDirectory, service.workingDirectory);
  assert.equal(plist.StandardErrorPath, "/var/log/veilnet-conflux.log");
  // plutil, where present (macOS), must agree.
  let plutil = false;
  try {
    await new Deno.Command("plutil", { args: ["-help"], stdout: "null", stderr: "null" }).output();
    plutil = true;
  } catch {
    // Not macOS: the parser above is the check.
  }
  if (plutil) {
    const path = await Deno.makeTempFile({ suffix: ".plist" });
    try {
      await Deno.writeTextFile(path, xml);
      const r = await new Deno.Command("plutil", { args: ["-lint", path] }).output();
      assert.equal(r.code, 0);
    } finally {
      await Deno.remove(path);
    }
  }
});

Deno.test("the plist checker rejects broken property lists", () => {
  const good = renderLaunchdPlist(describeService({
    command: ["/x"],
    configDir: "/c",
    profile: "register",
  }));
  parsePlist(good);
  assert.throws(() => parsePlist(good.replace("<key>Label</key>", "")));
  assert.throws(() => parsePlist(good.replace("</array>", "")));
  assert.throws(() => parsePlist(good.replace("<true/>", "<true>")));
  assert.throws(() => parsePlist(good.replace("/c</string>", "/c & d</string>")));
  assert.throws(() =>
    renderLaunchdPlist(describeService({
      command: ["/x\u0001"],
      configDir: "/c",
      profile: "register",
    }))
  );
});
