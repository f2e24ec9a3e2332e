// Test doubles and helpers shared by the Node tests.
import * as path from "node:path";
import type { ActiveDocument, Host } from "../src/host";
import type { Notification, StatusView } from "../src/presentation";
import { DEFAULTS, type Settings } from "../src/settings";

/** A Host that records what the extension would show. */
export class FakeHost implements Host {
  /** The settings of every folder, unless `folderSettings` has its own. */
  settingsValue: Settings = { ...DEFAULTS };
  folderSettings = new Map<string, Settings>();
  status: StatusView | null = null;
  notifications: Notification[] = [];
  lines: string[] = [];
  shown = 0;
  document: ActiveDocument | null = null;

  /** `workspaceFolders`: the workspace's folders; `root` anchors relative paths outside them. */
  constructor(
    public workspaceFolders: string[],
    private readonly root = "/ws",
  ) {}

  readonly log = {
    debug: (m: string) => this.lines.push(`[debug] ${m}`),
    info: (m: string) => this.lines.push(`[info] ${m}`),
    warn: (m: string) => this.lines.push(`[warn] ${m}`),
    error: (m: string) => this.lines.push(`[error] ${m}`),
    show: () => {
      this.shown++;
    },
  };

  folders(): string[] {
    return this.workspaceFolders;
  }
  settings(folder: string | null): Settings {
    return (folder !== null && this.folderSettings.get(folder)) || this.settingsValue;
  }
  folderOf(fsPath: string): string | null {
    const inside = this.workspaceFolders.filter((f) => {
      const rel = path.relative(f, fsPath);
      return rel === "" || (!rel.startsWith("..") && !path.isAbsolute(rel));
    });
    // The innermost, as VS Code's getWorkspaceFolder.
    return inside.sort((a, b) => b.length - a.length)[0] ?? null;
  }
  relativePath(fsPath: string): string {
    const rel = path.relative(this.folderOf(fsPath) ?? this.root, fsPath);
    return rel.startsWith("..") ? fsPath : rel.split(path.sep).join("/");
  }
  activeDocument(): ActiveDocument | null {
    return this.document;
  }
  setStatus(view: StatusView): void {
    this.status = view;
  }
  notify(n: Notification): void {
    this.notifications.push(n);
  }
}

/** Poll `cond` until true, or fail after `timeoutMs`. */
export async function waitFor(
  cond: () => boolean,
  timeoutMs = 5000,
  what = "condition",
): Promise<void> {
  const end = Date.now() + timeoutMs;
  while (!cond()) {
    if (Date.now() > end) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 10));
  }
}
