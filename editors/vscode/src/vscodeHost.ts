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

  folders(): string[] {
    return (vscode.workspace.workspaceFolders ?? [])
      .filter((f) => f.uri.scheme === "file")
      .map((f) => f.uri.fsPath);
  }

  settings(folder: string | null): Settings {
    // Resource-scoped settings: each folder of a multi-root workspace has its own.
    const config = vscode.workspace.getConfiguration(
      SECTION,
      folder === null ? undefined : vscode.Uri.file(folder),
    );
    const problems: string[] = [];
    const s = readSettings((k) => config.get(k), folder ?? undefined, problems);
    for (const p of problems) {
      const where = folder === null ? p : `${p} (in ${path.basename(folder)})`;
      if (!this.warned.has(where)) {
        this.warned.add(where);
        this.log.warn(`Setting ignored: ${where}`);
      }
    }
    return s;
  }

  folderOf(fsPath: string): string | null {
    const f = vscode.workspace.getWorkspaceFolder(vscode.Uri.file(fsPath));
    return f && f.uri.scheme === "file" ? f.uri.fsPath : null;
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
