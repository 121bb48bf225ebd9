/**
 * Engine selection: "auto" prefers libdatachannel when node-datachannel loads, else werift.
 *
 * @module
 */

import type { RawPeerFactory } from "./engine.ts";
import { loadLibdatachannel } from "./engine_libdatachannel.ts";
import { loadWerift } from "./engine_werift.ts";
import { TetherError } from "./errors.ts";
import type { RtcEngineChoice, RtcEngineName } from "./tether.ts";

/** A loaded engine. */
export interface LoadedEngine {
  name: RtcEngineName;
  create: RawPeerFactory;
}

const cache = new Map<RtcEngineName, Promise<LoadedEngine>>();

function load(name: RtcEngineName): Promise<LoadedEngine> {
  let p = cache.get(name);
  if (!p) {
    const loader = name === "libdatachannel" ? loadLibdatachannel : loadWerift;
    p = loader().then((create) => ({ name, create }));
    // A failed load may be retried later (e.g. after the package is installed).
    p.catch(() => cache.delete(name));
    cache.set(name, p);
  }
  return p;
}

/**
 * Loads the engine for `choice`. "auto" falls back to werift when libdatachannel fails to load;
 * a forced engine that fails throws TetherError "engine-unavailable".
 */
export async function selectEngine(choice: RtcEngineChoice): Promise<LoadedEngine> {
  if (choice === "werift" || choice === "libdatachannel") return await load(choice);
  if (choice !== "auto") throw new TetherError("engine-unavailable", `unknown engine ${choice}`);
  try {
    return await load("libdatachannel");
  } catch {
    return await load("werift");
  }
}

/** Parses a user-supplied engine name ("auto", "werift", "libdatachannel", "node-datachannel"). */
export function parseEngineChoice(value: string): RtcEngineChoice {
  const v = value.trim().toLowerCase();
  if (v === "auto" || v === "werift" || v === "libdatachannel") return v;
  if (v === "node-datachannel") return "libdatachannel";
  throw new TetherError(
    "engine-unavailable",
    `unknown WebRTC engine "${value}" (expected auto, werift or libdatachannel)`,
  );
}
