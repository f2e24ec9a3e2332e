// The seams between the extension's logic (controller.ts) and the outside
// world. vscodeHost.ts implements Host with the vscode API and
// languageClient.ts implements Connector with vscode-languageclient; the
// tests implement both with plain Node.
import type { InitializationOptions, ServerStatus, Target } from "./protocol";
import type { Notification, StatusView } from "./presentation";
import type { Settings } from "./settings";

export interface Log {
  debug(message: string): void;
  info(message: string): void;
  warn(message: string): void;
  error(message: string): void;
  show(): void;
}

export interface ActiveDocument {
  fsPath: string;
  languageId: string;
  isDirty: boolean;
  isUntitled: boolean;
  save(): Promise<boolean>;
}

export interface Host {
  readonly log: Log;
  /** The workspace folders on disk (their fsPaths), in order; empty for a lone file. */
  folders(): string[];
  /** The settings of a workspace folder (read through settings.ts); the window's for null. */
  settings(folder: string | null): Settings;
  /** The innermost workspace folder holding `fsPath`, or null when none does. */
  folderOf(fsPath: string): string | null;
  /** `fsPath` relative to its workspace folder ('/'-separated), or itself when outside any. */
  relativePath(fsPath: string): string;
  activeDocument(): ActiveDocument | null;
  setStatus(view: StatusView): void;
  notify(n: Notification): void;
}

export interface SessionHandlers {
  /** The connection's log (its lines name the folder when there are several). */
  readonly log: Log;
  /** `reloadServer/status` from the server. */
  onStatus(status: ServerStatus): void;
  /** `window/logMessage` from the server (`type` 1 error … 4 log). */
  onLog(type: number, message: string): void;
  /** The connection ended (app exited, network, or the server closed it). */
  onClosed(reason: string): void;
  /** Whether a save of this file should go to the server (reload on save). */
  shouldReloadOnSave(fsPath: string): boolean;
  /** Whether diagnostics of this file belong in this connection (not another folder's). */
  acceptsDiagnostics(fsPath: string): boolean;
}

export interface Session {
  /** The server's `initialize` result. */
  readonly initializeResult: unknown;
  request<T>(method: string, params: unknown): Promise<T>;
  /** shutdown + exit, then close the socket. */
  stop(): Promise<void>;
}

export type Connector = (
  target: Target,
  init: InitializationOptions,
  handlers: SessionHandlers,
) => Promise<Session>;
