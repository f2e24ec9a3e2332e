// The one place where the extension's settings (`reloadServer.*`) are read and
// normalised. The vscode configuration object is passed in as a getter so the
// rules below can be tested without VS Code.
import * as path from "node:path";
import type { PathMapping } from "./protocol";

export const SECTION = "reloadServer";

export type NotificationPolicy = "off" | "onError" | "always";

export interface Settings {
  host: string;
  /** null: find the server through its discovery file. */
  port: number | null;
  token: string | null;
  /** Absolute discovery file or directory, or null to search the workspace. */
  discoveryFile: string | null;
  autoConnect: boolean;
  reloadOnSave: boolean;
  include: string[];
  pathMappings: PathMapping[];
  notifications: NotificationPolicy;
}

/** Settings whose change needs a new connection (they go into `initialize`). */
export const CONNECTION_KEYS: readonly string[] = [
  "host",
  "port",
  "token",
  "discoveryFile",
  "reloadOnSave",
  "pathMappings",
];

export const DEFAULTS: Settings = {
  host: "127.0.0.1",
  port: null,
  token: null,
  discoveryFile: null,
  autoConnect: true,
  reloadOnSave: true,
  include: ["**/*.py"],
  pathMappings: [],
  notifications: "onError",
};

export type Getter = (key: string) => unknown;

/**
 * Read all settings through `get` (e.g. `vscode.workspace.getConfiguration("reloadServer").get`).
 * `workspaceFolder` expands `${workspaceFolder}` and anchors relative paths.
 * Values of the wrong type fall back to the defaults; `problems` lists them.
 */
export function readSettings(
  get: Getter,
  workspaceFolder: string | undefined,
  problems: string[] = [],
): Settings {
  const expand = (s: string): string => {
    let out = s.replace(/\$\{workspaceFolder\}/g, workspaceFolder ?? "");
    if (out.startsWith("~/") && process.env.HOME) out = path.join(process.env.HOME, out.slice(2));
    return out;
  };
  const anchored = (s: string): string =>
    path.isAbsolute(s) || !workspaceFolder ? s : path.resolve(workspaceFolder, s);

  const str = (key: keyof Settings, fallback: string): string => {
    const v = get(key);
    if (v === undefined || v === null) return fallback;
    if (typeof v === "string") return v;
    problems.push(`reloadServer.${key} must be a string`);
    return fallback;
  };
  const bool = (key: keyof Settings, fallback: boolean): boolean => {
    const v = get(key);
    if (v === undefined || v === null) return fallback;
    if (typeof v === "boolean") return v;
    problems.push(`reloadServer.${key} must be true or false`);
    return fallback;
  };

  const host = str("host", DEFAULTS.host).trim() || DEFAULTS.host;

  let port: number | null = null;
  const rawPort = get("port");
  if (rawPort !== undefined && rawPort !== null && rawPort !== "" && rawPort !== 0) {
    const n = typeof rawPort === "string" ? Number(rawPort) : rawPort;
    if (typeof n === "number" && Number.isInteger(n) && n > 0 && n < 65536) port = n;
    else problems.push("reloadServer.port must be a port number (1-65535) or null");
  }

  const token = str("token", "") || null;
  const discovery = str("discoveryFile", "").trim();
  const discoveryFile = discovery ? anchored(expand(discovery)) : null;

  let include = DEFAULTS.include;
  const rawInclude = get("include");
  if (Array.isArray(rawInclude) && rawInclude.every((p) => typeof p === "string")) {
    include = (rawInclude as string[]).filter((p) => p.trim() !== "");
  } else if (rawInclude !== undefined && rawInclude !== null) {
    problems.push("reloadServer.include must be a list of glob patterns");
  }

  const pathMappings: PathMapping[] = [];
  const rawMappings = get("pathMappings");
  if (Array.isArray(rawMappings)) {
    for (const m of rawMappings) {
      if (
        m &&
        typeof m === "object" &&
        typeof (m as PathMapping).localRoot === "string" &&
        typeof (m as PathMapping).remoteRoot === "string"
      ) {
        pathMappings.push({
          localRoot: anchored(expand((m as PathMapping).localRoot)),
          remoteRoot: (m as PathMapping).remoteRoot,
        });
      } else {
        problems.push("reloadServer.pathMappings entries need localRoot and remoteRoot strings");
      }
    }
  } else if (rawMappings !== undefined && rawMappings !== null) {
    problems.push("reloadServer.pathMappings must be a list");
  }

  let notifications = DEFAULTS.notifications;
  const rawNotif = get("notifications");
  if (rawNotif === "off" || rawNotif === "onError" || rawNotif === "always") {
    notifications = rawNotif;
  } else if (rawNotif !== undefined && rawNotif !== null) {
    problems.push('reloadServer.notifications must be "off", "onError" or "always"');
  }

  return {
    host,
    port,
    token,
    discoveryFile,
    autoConnect: bool("autoConnect", DEFAULTS.autoConnect),
    reloadOnSave: bool("reloadOnSave", DEFAULTS.reloadOnSave),
    include,
    pathMappings,
    notifications,
  };
}

/** True when a change between two settings values needs a reconnect. */
export function needsReconnect(a: Settings, b: Settings): boolean {
  return CONNECTION_KEYS.some(
    (k) =>
      JSON.stringify(a[k as keyof Settings]) !== JSON.stringify(b[k as keyof Settings]),
  );
}
