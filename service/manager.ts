/**
 * What every service driver (systemd, launchd, Windows SCM, none) offers the CLI.
 *
 * @module
 */
import type { ServiceDescription } from "./description.ts";

/** Coarse state of the service, the same words on every OS. */
export type ServiceState = "running" | "starting" | "stopped" | "failed" | "not-installed";

/** What `veilnet-conflux status` prints. */
export interface ServiceStatus {
  /** Coarse state. */
  state: ServiceState;
  /** PID of the running node, when known. */
  pid?: number;
  /** The OS tool's own words, e.g. `active (running)`. */
  detail: string;
}

/** The installed service as it was before a command changed it, to put it back on failure. */
export interface ServiceSnapshot {
  /** Text of the unit/plist, or the Windows command line; null when nothing was installed. */
  definition: string | null;
  /** Whether it was running. */
  running: boolean;
}

/** A driver for one OS service manager. */
export interface ServiceManager {
  /** Which manager this drives. */
  readonly kind: "systemd" | "launchd" | "windows" | "none";
  /** Where the definition lives (unit file, plist) or the service name on Windows. */
  readonly location: string;
  /** Throws a ServiceError saying what to do when services cannot be managed here. */
  check(): Promise<void>;
  /** Writes the definition and enables it at boot (does not start it). */
  install(service: ServiceDescription): Promise<void>;
  /** Starts the installed service. */
  start(): Promise<void>;
  /** Stops the service (no error when it is not running). */
  stop(): Promise<void>;
  /** Current state. */
  status(): Promise<ServiceStatus>;
  /** Stops, disables and deletes the service; nothing to do is not an error. */
  remove(): Promise<void>;
  /** Records the current definition and state. */
  snapshot(): Promise<ServiceSnapshot>;
  /** Puts back what {@link snapshot} recorded (removes the service if there was none). */
  restore(snapshot: ServiceSnapshot): Promise<void>;
}
