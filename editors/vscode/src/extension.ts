// Entry point: only wires things up. The logic lives in controller.ts.
import * as vscode from "vscode";
import { Controller } from "./controller";
import { languageClientConnector } from "./languageClient";
import { SECTION } from "./settings";
import { VscodeHost } from "./vscodeHost";

let controller: Controller | undefined;

export function activate(context: vscode.ExtensionContext): void {
  const channel = vscode.window.createOutputChannel("Reload Server", { log: true });
  const host = new VscodeHost(channel);
  const ctl = new Controller(host, languageClientConnector(channel));
  controller = ctl;

  const watcher = vscode.workspace.createFileSystemWatcher("**/.reload_server/*.json");
  context.subscriptions.push(
    channel,
    host,
    watcher,
    watcher.onDidCreate(() => ctl.poke()),
    watcher.onDidChange(() => ctl.poke()),
    vscode.workspace.onDidChangeConfiguration((e) => {
      if (e.affectsConfiguration(SECTION)) ctl.settingsChanged();
    }),
    vscode.workspace.onDidChangeWorkspaceFolders(() => ctl.poke()),
    vscode.window.onDidChangeActiveTextEditor(() => ctl.poke()),
    vscode.commands.registerCommand("reloadServer.reloadCurrentFile", () => ctl.reloadCurrentFile()),
    vscode.commands.registerCommand("reloadServer.reloadStale", () => ctl.reloadStale()),
    vscode.commands.registerCommand("reloadServer.connect", () => ctl.connect()),
    vscode.commands.registerCommand("reloadServer.disconnect", () => ctl.disconnect()),
    vscode.commands.registerCommand("reloadServer.showLogs", () => ctl.showLogs()),
  );
  channel.info(`Reload Server ${context.extension.packageJSON.version} activated`);
  ctl.start();
}

export async function deactivate(): Promise<void> {
  await controller?.dispose();
  controller = undefined;
}
