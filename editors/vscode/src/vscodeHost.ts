// Host (host.ts) on the vscode API: the thin wrapper the controller sees.
import * as path from "node:path";
import * as vscode from "vscode";
import type { ActiveDocument, Host, Log } from "./host";
import type { Notification, StatusView } from "./presentation";
import { SECTION, type Settings, readSettings } from "./settings";

export class VscodeHost implements Host, vscode.Disposable {
  readonly log: Log;
  private readonly item: vscode.StatusBarItem;
  private warned = new Set<string>();

  constructor(readonly channel: vscode.LogOutputChannel) {
    this.log = {
      debug: (m) => channel.debug(m),
      info: (m) => channel.info(m),
      warn: (m) => channel.warn(m),
      error: (m) => channel.error(m),
      show: () => channel.show(true),
    };
    this.item = vscode.window.createStatusBarItem("reloadServer.status", vscode.StatusBarAlignment.Left, 50);
    this.item.name = "Reload Server";
    this.item.show();
  }

  settings(): Settings {
    const folder = vscode.workspace.workspaceFolders?.[0]?.uri.fsPath;
    const config = vscode.workspace.getConfiguration(SECTION);
    const problems: string[] = [];
    const s = readSettings((k) => config.get(k), folder, problems);
    for (const p of problems) {
      if (!this.warned.has(p)) {
        this.warned.add(p);
        this.log.warn(`Setting ignored: ${p}`);
      }
    }
    return s;
  }

  searchStarts(): string[] {
    const starts = (vscode.workspace.workspaceFolders ?? [])
      .filter((f) => f.uri.scheme === "file")
      .map((f) => f.uri.fsPath);
    const doc = vscode.window.activeTextEditor?.document;
    if (doc && doc.uri.scheme === "file") starts.push(path.dirname(doc.uri.fsPath));
    return [...new Set(starts)];
  }

  relativePath(fsPath: string): string {
    return vscode.workspace.asRelativePath(vscode.Uri.file(fsPath), false);
  }

  activeDocument(): ActiveDocument | null {
    const doc = vscode.window.activeTextEditor?.document;
    if (!doc || doc.uri.scheme !== "file") return null;
    return {
      fsPath: doc.uri.fsPath,
      languageId: doc.languageId,
      isDirty: doc.isDirty,
      isUntitled: doc.isUntitled,
      save: () => Promise.resolve(doc.save()),
    };
  }

  setStatus(view: StatusView): void {
    this.item.text = view.text;
    this.item.tooltip = view.tooltip;
    this.item.command = view.command;
    this.item.backgroundColor =
      view.background === null
        ? undefined
        : new vscode.ThemeColor(`statusBarItem.${view.background}Background`);
  }

  notify(n: Notification): void {
    const show =
      n.level === "error"
        ? vscode.window.showErrorMessage
        : n.level === "warning"
          ? vscode.window.showWarningMessage
          : vscode.window.showInformationMessage;
    void show(n.message, "Show Logs").then((choice) => {
      if (choice === "Show Logs") this.log.show();
    });
  }

  dispose(): void {
    this.item.dispose();
  }
}
