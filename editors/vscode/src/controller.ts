// The extension's logic: one Connection (connection.ts) per workspace folder,
// each with that folder's settings and discovery, as a multi-root workspace
// may hold several apps. Saves, diagnostics and commands go to the connection
// of the file's folder; the status bar shows the active file's. Talks to VS
// Code only through Host and Connector (host.ts).
import * as path from "node:path";
import { Connection, type ConnectionOptions } from "./connection";
import type { Connector, Host, Log } from "./host";
import { type ConnectionState, statusView } from "./presentation";
import type { ReloadOutcome } from "./protocol";

export { appFromInitializeResult } from "./connection";

export type ControllerOptions = ConnectionOptions;

/** The key of the connection for files outside every workspace folder. */
const NO_FOLDER = "";

export class Controller {
  /** By folder (fsPath), in the order of the workspace folders. */
  private readonly connections = new Map<string, Connection>();
  private disposed = false;

  constructor(
    private readonly host: Host,
    private readonly connector: Connector,
    private readonly options: ControllerOptions = {},
  ) {
    this.syncFolders();
    this.render();
  }

  /** The state of the active file's connection. */
  get connectionState(): ConnectionState {
    return this.active().connectionState;
  }

  /** Begin: each folder connects when its app is found (autoConnect), and keeps looking. */
  start(): void {
    this.syncFolders();
    for (const c of this.connections.values()) c.start();
  }

  /**
   * Something changed (a discovery file appeared, a file opened, the folders
   * changed): follow the folders, look now, redraw the status bar.
   */
  poke(): void {
    if (this.disposed) return;
    for (const c of this.syncFolders()) c.start();
    for (const c of this.connections.values()) c.poke();
    this.render();
  }

  async dispose(): Promise<void> {
    this.disposed = true;
    const all = [...this.connections.values()];
    this.connections.clear();
    await Promise.all(all.map((c) => c.dispose()));
  }

  // --- commands: the active file's folder ----------------------------------

  connect(): Promise<boolean> {
    return this.active().connect();
  }

  disconnect(): Promise<void> {
    return this.active().disconnect();
  }

  async reloadCurrentFile(): Promise<ReloadOutcome | null> {
    const doc = this.host.activeDocument();
    if (!doc || doc.isUntitled) {
      this.host.notify({ level: "warning", message: "Reload Server: no saved file is active." });
      return null;
    }
    return this.ownerOf(doc.fsPath).reloadCurrentFile(doc);
  }

  reloadStale(): Promise<ReloadOutcome | null> {
    return this.active().reloadStale();
  }

  showLogs(): void {
    this.host.log.show();
  }

  /** Settings changed: each folder re-reads its own. */
  settingsChanged(): void {
    for (const c of this.connections.values()) c.settingsChanged();
  }

  /** For the reload-on-save gate: the setting of the file's folder. */
  shouldReloadOnSave(fsPath: string): boolean {
    return this.ownerOf(fsPath).shouldReloadOnSave(fsPath);
  }

  // --- routing ---------------------------------------------------------------

  /** The connection a file belongs to: its folder's, else the first folder's. */
  ownerOf(fsPath: string): Connection {
    const folder = this.host.folderOf(fsPath);
    return (folder !== null && this.connections.get(folder)) || this.primary();
  }

  /** The connection of the active file, else the first folder's. */
  private active(): Connection {
    const doc = this.host.activeDocument();
    return doc ? this.ownerOf(doc.fsPath) : this.primary();
  }

  private primary(): Connection {
    const first = this.connections.values().next();
    if (!first.done) return first.value;
    // Only after dispose: a connection that never connects keeps callers simple.
    return this.add(NO_FOLDER);
  }

  /** Make the connections match the workspace folders; return the new ones. */
  private syncFolders(): Connection[] {
    if (this.disposed) return [];
    const folders = this.host.folders();
    const want = folders.length > 0 ? folders : [NO_FOLDER];
    for (const [key, c] of this.connections) {
      if (!want.includes(key)) {
        this.connections.delete(key);
        void c.dispose();
      }
    }
    const added: Connection[] = [];
    const before = new Map(this.connections);
    this.connections.clear();
    for (const key of want) {
      const c = before.get(key) ?? this.add(key);
      if (!before.has(key)) added.push(c);
      this.connections.set(key, c);
    }
    return added;
  }

  private add(key: string): Connection {
    const folder = key === NO_FOLDER ? null : key;
    const conn: Connection = new Connection(
      this.host,
      this.connector,
      folder,
      {
        log: this.folderLog(folder),
        searchStarts: () => this.searchStarts(folder),
        owns: (p) => this.ownerOf(p) === conn,
        acceptsDiagnostics: (p) => {
          const other = this.host.folderOf(p);
          return other === null || other === folder || !this.connections.has(other);
        },
        changed: () => this.render(),
      },
      this.options,
    );
    return conn;
  }

  /** The folder and, for its owner, the active file's folder (it may be outside all folders). */
  private searchStarts(folder: string | null): string[] {
    const starts = folder === null ? [] : [folder];
    const doc = this.host.activeDocument();
    if (doc && !doc.isUntitled) {
      const owner = this.host.folderOf(doc.fsPath);
      const mine = owner === folder || (owner === null && this.isPrimary(folder));
      if (mine) starts.push(path.dirname(doc.fsPath));
    }
    return [...new Set(starts)];
  }

  private isPrimary(folder: string | null): boolean {
    const first = this.connections.keys().next();
    return !first.done && first.value === (folder ?? NO_FOLDER);
  }

  /** With several folders, each line says whose it is. */
  private folderLog(folder: string | null): Log {
    const log = this.host.log;
    const tag = (m: string): string =>
      this.connections.size > 1 && folder !== null ? `[${path.basename(folder)}] ${m}` : m;
    return {
      debug: (m) => log.debug(tag(m)),
      info: (m) => log.info(tag(m)),
      warn: (m) => log.warn(tag(m)),
      error: (m) => log.error(tag(m)),
      show: () => log.show(),
    };
  }

  private render(): void {
    if (this.disposed || this.connections.size === 0) return;
    const conn = this.active();
    const folder = this.connections.size > 1 && conn.folder ? path.basename(conn.folder) : null;
    this.host.setStatus(statusView(conn.connectionState, folder));
  }
}
