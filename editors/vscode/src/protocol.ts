// The reload_server wire protocol (docs/protocol.md, version 1): method names,
// the shapes of what the server sends, and the initializationOptions we send.
// No vscode import here: this module is shared by the extension and the tests.

export const PROTOCOL_VERSION = 1;

export const Methods = {
  reloadPath: "reloadPath",
  reloadStale: "reloadStale",
  status: "reloadServer/status",
} as const;

export const Commands = {
  reloadPath: "reload_server.reloadPath",
  reloadStale: "reload_server.reloadStale",
} as const;

/** JSON-RPC error codes of the server (docs/protocol.md, "Errors"). */
export const ErrorCodes = {
  Unauthorized: -32001,
  ServerNotInitialized: -32002,
  PathNotAllowed: -32003,
} as const;

export type ReloadStatus = "reloaded" | "failed" | "unchanged" | "not_loaded";

export interface Frame {
  file: string;
  line: number;
  name: string;
}

export interface Note {
  severity: "error" | "warning" | "info";
  message: string;
  module: string | null;
  file: string | null;
  line: number | null;
  column: number | null;
  endLine: number | null;
  endColumn: number | null;
  kind: string;
  frames: Frame[];
}

export interface ReloadOutcome {
  status: ReloadStatus;
  modules: string[];
  files: string[];
  durationMs: number;
  message: string;
  phase?: string;
  rolledBack?: boolean;
  notes: Note[];
}

export interface AppInfo {
  pid: number;
  argv: string[];
  cwd: string;
  python?: string;
}

export interface ServerStatus {
  state: "idle" | "reloading";
  app: AppInfo;
  lastReload: ReloadOutcome | null;
  clients: number;
}

export interface PathMapping {
  localRoot: string;
  remoteRoot: string;
}

export interface InitializationOptions {
  token?: string;
  reloadOnSave: boolean;
  pathMappings: PathMapping[];
  clientName: string;
  /** The extension shows outcomes itself: no window/showMessage from the server. */
  notify: "off";
}

export interface DiscoveryEntry {
  version: number;
  pid: number;
  host: string;
  port: number;
  token: string | null;
  root: string;
  cwd: string;
  argv: string[];
  python: string;
  started: number;
}

/** Where to connect and with which token. */
export interface Target {
  host: string;
  port: number;
  token: string | null;
  /** How it was found: "settings" or the discovery file's path. */
  source: string;
  /** The discovery entry, when found by discovery. */
  entry?: DiscoveryEntry;
}

export function targetKey(t: Target): string {
  return `${t.host}:${t.port}:${t.entry?.pid ?? ""}:${t.entry?.started ?? ""}`;
}

export function initializationOptions(
  opts: { token: string | null; reloadOnSave: boolean; pathMappings: PathMapping[] },
  clientName = "vscode-reload-server",
): InitializationOptions {
  const init: InitializationOptions = {
    reloadOnSave: opts.reloadOnSave,
    pathMappings: opts.pathMappings,
    clientName,
    notify: "off",
  };
  if (opts.token) init.token = opts.token;
  return init;
}

/** True when `value` has the shape of a ReloadOutcome. */
export function isReloadOutcome(value: unknown): value is ReloadOutcome {
  if (typeof value !== "object" || value === null) return false;
  const v = value as Record<string, unknown>;
  return (
    typeof v.status === "string" &&
    ["reloaded", "failed", "unchanged", "not_loaded"].includes(v.status) &&
    Array.isArray(v.modules) &&
    Array.isArray(v.files) &&
    typeof v.durationMs === "number" &&
    typeof v.message === "string" &&
    Array.isArray(v.notes)
  );
}

/** Connect to loopback when the server says it listens on every address. */
export function connectHost(host: string): string {
  if (host === "" || host === "0.0.0.0") return "127.0.0.1";
  if (host === "::" || host === "[::]") return "::1";
  return host;
}
