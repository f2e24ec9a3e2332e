// What the user sees, computed from plain values: the status bar item, the
// notifications and the log lines. No vscode import: the host draws these.
import type { AppInfo, ReloadOutcome, Target } from "./protocol";
import type { NotificationPolicy } from "./settings";

export type ConnectionState =
  | { kind: "disconnected"; reason: string; byUser: boolean }
  | { kind: "connecting"; target: Target }
  | {
      kind: "connected";
      target: Target;
      app: AppInfo | null;
      reloading: boolean;
      lastReload: ReloadOutcome | null;
      clients: number;
    };

export interface StatusView {
  text: string;
  tooltip: string;
  /** Command run on click. */
  command: string;
  /** "error" / "warning" background, or none. */
  background: "error" | "warning" | null;
}

export function appLabel(app: AppInfo | null | undefined): string {
  if (!app) return "app";
  const script = app.argv.find((a) => a && !a.startsWith("-")) ?? app.argv[0] ?? "app";
  const name = script.split(/[\\/]/).pop() || script;
  return `${name} (pid ${app.pid})`;
}

/** The app's command line as the docs promise in the tooltip: its argv, joined. */
export function commandLine(app: AppInfo): string {
  return app.argv.map((a) => (a === "" || /[\s"'\\$]/.test(a) ? JSON.stringify(a) : a)).join(" ");
}

export function shortModules(outcome: ReloadOutcome): string {
  if (outcome.modules.length === 0) {
    const f = outcome.files[0];
    return f ? f.split(/[\\/]/).pop() ?? f : "";
  }
  if (outcome.modules.length === 1) return outcome.modules[0];
  return `${outcome.modules[0]} +${outcome.modules.length - 1}`;
}

/** The first error note, as `file:line` and message, or null. */
export function firstError(outcome: ReloadOutcome): string | null {
  const note = outcome.notes.find((n) => n.severity === "error") ?? outcome.notes[0];
  if (!note) return null;
  const where = note.file
    ? `${note.file.split(/[\\/]/).pop()}${note.line ? `:${note.line}` : ""}: `
    : "";
  return `${where}${note.message}`;
}

/**
 * The status bar item for a connection's state; `folder` names its workspace
 * folder when the workspace has several.
 */
export function statusView(state: ConnectionState, folder: string | null = null): StatusView {
  const inFolder = folder ? `\nWorkspace folder: ${folder}` : "";
  switch (state.kind) {
    case "disconnected":
      return {
        text: "$(debug-disconnect) Reload Server",
        tooltip: `Reload Server: disconnected — ${state.reason}${inFolder}\nClick to connect.`,
        command: "reloadServer.connect",
        background: null,
      };
    case "connecting":
      return {
        text: "$(sync~spin) Reload Server",
        tooltip: `Reload Server: connecting to ${state.target.host}:${state.target.port}${inFolder}`,
        command: "reloadServer.showLogs",
        background: null,
      };
    case "connected": {
      const where = `${appLabel(state.app)} at ${state.target.host}:${state.target.port}`;
      const lines = [`Reload Server: connected to ${where}`];
      if (state.app) lines.push(`Command line: ${commandLine(state.app)}`);
      if (folder) lines.push(`Workspace folder: ${folder}`);
      if (state.clients > 1) lines.push(`${state.clients} editors connected`);
      let text = "$(zap) Reload Server";
      let background: StatusView["background"] = null;
      const last = state.lastReload;
      if (state.reloading) {
        text = "$(sync~spin) Reloading…";
      } else if (last) {
        lines.push(`Last reload: ${last.message}`);
        const err = last.status === "failed" ? firstError(last) : null;
        if (err) lines.push(err);
        const mods = shortModules(last);
        if (last.status === "reloaded") text = `$(check) Reloaded ${mods}`;
        else if (last.status === "failed") {
          text = `$(error) Reload failed: ${mods}`;
          background = "error";
        } else if (last.status === "unchanged") text = "$(check) Reload Server: unchanged";
        else text = "$(info) Reload Server: not loaded";
      }
      lines.push("Click to show the log.");
      return { text, tooltip: lines.join("\n"), command: "reloadServer.showLogs", background };
    }
  }
}

export interface Notification {
  level: "info" | "warning" | "error";
  message: string;
}

/** The notification to show for a reload outcome under a policy, or null. */
export function notificationFor(
  policy: NotificationPolicy,
  outcome: ReloadOutcome,
): Notification | null {
  if (policy === "off") return null;
  if (outcome.status === "failed") {
    const err = firstError(outcome) ?? outcome.message;
    // A rolled-back note already ends "(rolled back; the old code is still running)".
    const said = /old code is still running/i.test(err);
    const rolled = outcome.rolledBack && !said ? " The old code is still running." : "";
    return {
      level: "error",
      message: `Reload failed: ${err}.${rolled}`.replace(/\.\.(\s|$)/, ".$1"),
    };
  }
  if (policy !== "always") return null;
  return { level: outcome.status === "not_loaded" ? "warning" : "info", message: outcome.message };
}

/** One log line for an outcome; notes follow on their own lines. */
export function outcomeLogLines(outcome: ReloadOutcome): string[] {
  const lines = [`${outcome.status}: ${outcome.message}`];
  for (const n of outcome.notes) {
    const loc = n.file ? `${n.file}${n.line ? `:${n.line}` : ""}${n.column ? `:${n.column}` : ""}: ` : "";
    lines.push(`  ${n.severity} [${n.kind}] ${loc}${n.message}`);
  }
  return lines;
}
