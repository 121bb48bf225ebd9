/**
 * The service manager of a platform where none is supported: every call explains what to do.
 *
 * @module
 */
import { ServiceError } from "./errors.ts";
import type { ServiceManager, ServiceSnapshot } from "./manager.ts";

/** A manager whose every operation fails with `reason` plus how to run the node anyway. */
export function unsupportedManager(reason: string): ServiceManager {
  const fail = () =>
    Promise.reject(
      new ServiceError(
        "unsupported",
        `${reason}: use --debug to run in the foreground, or start \`veilnet-conflux run\` ` +
          "from your init system",
      ),
    );
  return {
    kind: "none",
    location: "",
    check: fail,
    install: fail,
    start: fail,
    stop: fail,
    status: fail,
    remove: fail,
    snapshot: (): Promise<ServiceSnapshot> => Promise.resolve({ definition: null, running: false }),
    restore: () => Promise.resolve(),
  };
}
