export type { App, AppOptions } from "./app.js";
/** The decision point's HTTP routes, without a socket. */
export { createApp } from "./app.js";
export type {
  AuditProgress,
  DecisionLogsReport,
  LogReport,
  PdpLogReport,
} from "./decision-audit.js";
/** Every decision log verified, and the store held to what running decision points signed. */
export { verifyDecisionLogs } from "./decision-audit.js";
export type { Replay } from "./decision-replay.js";
/** A logged decision re-run on the exact bundle that made it, and whether its log proves it. */
export { replayDecision } from "./decision-replay.js";
export type { Heartbeat } from "./heartbeat.js";
/** Every signed heartbeat in the store. */
export { readHeartbeats } from "./heartbeat.js";
/** Whether a name has a decision point's name's form (`pdp-ENV-TAG`). */
export { isPdpName } from "./identity.js";
export type { LoadEvent } from "./loader.js";
/** Verifies and loads the environment's latest release; refuses anything that does not verify. */
export { Loader } from "./loader.js";
export type { Active, Health } from "./runtime.js";
/** The decision point's one mutable cell: the verified release being served. */
export { Runtime } from "./runtime.js";
export type { ServeOptions, Server } from "./serve.js";
/** Starts a decision point on 127.0.0.1 (unless told otherwise). */
export { startServer } from "./serve.js";
export type { PdpState, StateFile } from "./state.js";
/** A PDP state file outside the store: version floor, pinned key, last checkpoint. */
export { stateFile } from "./state.js";
/** A running decision point's JSON (its /v1/status), over HTTP within 3 s. */
export { fetchJson } from "./status-client.js";
/** What a reader takes from a decision point's `/v1/status`: untrusted, each field checked. */
export { readStatus } from "./wire.js";
