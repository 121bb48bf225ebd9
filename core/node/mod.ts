/**
 * The node runtime: what `veilnet-conflux run` executes. `runNode` (run.ts) starts a conflux and
 * runs it until its signal aborts; node.ts is the runtime itself, driven through the ports of
 * ports.ts.
 *
 * @module
 */
export type { NodeOptions, RtcEngineChoice } from "./options.ts";
export { DEFAULT_IDLE_TIMEOUT_MS, DEFAULT_TUN_NAME, NODE_V8_FLAGS } from "./options.ts";
export { fetchStatus, type NodeInfo, STATUS_SOCKET_NAME } from "./status_server.ts";
export { PORTAL_RESCAN_MS, runNode, TUN_MTU } from "./run.ts";
