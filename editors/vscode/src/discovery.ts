// Finding a running app's reload server through its discovery file
// (`<root>/.reload_server/<pid>.json`, docs/protocol.md). Plain Node: no vscode.
import * as fs from "node:fs";
import * as path from "node:path";
import { connectHost, type DiscoveryEntry, type Target } from "./protocol";
import type { Settings } from "./settings";

export const DISCOVERY_DIRNAME = ".reload_server";

/** Parse one discovery file; null when it is unreadable or not one. */
export function readEntry(file: string): DiscoveryEntry | null {
  let data: unknown;
  try {
    data = JSON.parse(fs.readFileSync(file, "utf8"));
  } catch {
    return null;
  }
  if (typeof data !== "object" || data === null) return null;
  const d = data as Record<string, unknown>;
  if (
    typeof d.pid !== "number" ||
    typeof d.port !== "number" ||
    !Number.isInteger(d.port) ||
    d.port <= 0 ||
    d.port > 65535
  ) {
    return null;
  }
  return {
    version: typeof d.version === "number" ? d.version : 1,
    pid: d.pid,
    host: typeof d.host === "string" ? d.host : "127.0.0.1",
    port: d.port,
    token: typeof d.token === "string" && d.token !== "" ? d.token : null,
    root: typeof d.root === "string" ? d.root : path.dirname(path.dirname(file)),
    cwd: typeof d.cwd === "string" ? d.cwd : "",
    argv: Array.isArray(d.argv) ? d.argv.map(String) : [],
    python: typeof d.python === "string" ? d.python : "",
    started: typeof d.started === "number" ? d.started : 0,
  };
}

/** Whether a process with this pid exists (on this machine). */
export function pidAlive(pid: number): boolean {
  if (!Number.isInteger(pid) || pid <= 0) return false;
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    // EPERM: it exists but belongs to someone else.
    return (err as NodeJS.ErrnoException).code === "EPERM";
  }
}

/** The `.json` files of one discovery directory. */
function listDir(dir: string): string[] {
  try {
    return fs
      .readdirSync(dir)
      .filter((n) => n.endsWith(".json"))
      .map((n) => path.join(dir, n));
  } catch {
    return [];
  }
}

/** Every `.reload_server/` directory in `start` and its parents. */
export function discoveryDirs(starts: readonly string[]): string[] {
  const seen = new Set<string>();
  const out: string[] = [];
  for (const start of starts) {
    let dir = path.resolve(start);
    for (;;) {
      const candidate = path.join(dir, DISCOVERY_DIRNAME);
      if (!seen.has(candidate)) {
        seen.add(candidate);
        try {
          if (fs.statSync(candidate).isDirectory()) out.push(candidate);
        } catch {
          // not there
        }
      }
      const parent = path.dirname(dir);
      if (parent === dir) break;
      dir = parent;
    }
  }
  return out;
}

export interface Found {
  file: string;
  entry: DiscoveryEntry;
}

/**
 * The live entries under the given discovery files or directories, newest
 * (`started`) first. Entries whose pid is not alive are left out.
 */
export function liveEntries(
  paths: readonly string[],
  alive: (pid: number) => boolean = pidAlive,
): Found[] {
  const found: Found[] = [];
  const files = new Set<string>();
  for (const p of paths) {
    let isDir = false;
    try {
      isDir = fs.statSync(p).isDirectory();
    } catch {
      continue;
    }
    for (const f of isDir ? listDir(p) : [p]) files.add(f);
  }
  for (const file of files) {
    const entry = readEntry(file);
    if (entry && alive(entry.pid)) found.push({ file, entry });
  }
  found.sort((a, b) => b.entry.started - a.entry.started);
  return found;
}

export interface Resolution {
  target: Target | null;
  /** Why there is no target, or where it came from. */
  reason: string;
}

/**
 * Decide where to connect: the configured port when set, else the configured
 * discovery file/directory, else the newest live discovery entry found in
 * `searchStarts` (workspace folders, the active file's folder) and their parents,
 * or in `$RELOAD_SERVER_DISCOVERY_DIR`.
 */
export function resolveTarget(
  settings: Settings,
  searchStarts: readonly string[],
  env: NodeJS.ProcessEnv = process.env,
  alive: (pid: number) => boolean = pidAlive,
): Resolution {
  if (settings.port !== null) {
    return {
      target: {
        host: connectHost(settings.host),
        port: settings.port,
        token: settings.token,
        source: "settings",
      },
      reason: `reloadServer.port = ${settings.port}`,
    };
  }
  let paths: string[];
  if (settings.discoveryFile) {
    paths = [settings.discoveryFile];
  } else {
    paths = discoveryDirs(searchStarts);
    if (env.RELOAD_SERVER_DISCOVERY_DIR) paths.push(env.RELOAD_SERVER_DISCOVERY_DIR);
  }
  const found = liveEntries(paths, alive);
  if (found.length === 0) {
    const where = settings.discoveryFile
      ? settings.discoveryFile
      : `${DISCOVERY_DIRNAME}/ in ${searchStarts.join(", ") || "(no folder)"} or their parents`;
    return { target: null, reason: `no running app found (${where})` };
  }
  const { file, entry } = found[0];
  return {
    target: {
      host: connectHost(entry.host),
      port: entry.port,
      token: entry.token ?? settings.token,
      source: file,
      entry,
    },
    reason: file,
  };
}
