// Test doubles and helpers shared by the Node tests.
import * as path from "node:path";
import type { ActiveDocument, Host } from "../src/host";
import type { Notification, StatusView } from "../src/presentation";
import { DEFAULTS, type Settings } from "../src/settings";

/** A Host that records what the extension would show. */
export class FakeHost implements Host {
  settingsValue: Settings = { ...DEFAULTS };
  status: StatusView | null = null;
  notifications: Notification[] = [];
  lines: string[] = [];
  shown = 0;
  document: ActiveDocument | null = null;

  constructor(
    private readonly starts: string[],
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

  settings(): Settings {
    return this.settingsValue;
  }
  searchStarts(): string[] {
    return this.starts;
  }
  relativePath(fsPath: string): string {
    const rel = path.relative(this.root, fsPath);
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
