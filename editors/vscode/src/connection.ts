// One workspace folder's connection to its app: find the app, connect,
// reconnect when it restarts, run the commands, and turn what the server says
// into state, log lines and notifications. Talks to VS Code only through Host
// and Connector (host.ts); the Controller (controller.ts) holds one per folder.
import { serverLogLevel } from "./clientLog";
import { resolveTarget } from "./discovery";
import { matchesAny } from "./glob";
import type { ActiveDocument, Connector, Host, Log, Session } from "./host";
import {
  type AppInfo,
  ErrorCodes,
  Methods,
  type ReloadOutcome,
  type ServerStatus,
  type Target,
  initializationOptions,
  isReloadOutcome,
  targetKey,
} from "./protocol";
import { type ConnectionState, notificationFor, outcomeLogLines } from "./presentation";
import { type Settings, needsReconnect } from "./settings";

/** How long to wait before retrying a server that accepted the socket but failed to start. */
const RETRY_AFTER_FAILED_START_MS = 30_000;

export interface ConnectionOptions {
  /** How often to look for the app while disconnected (ms). */
  pollMs?: number;
}

/** What a connection needs from the Controller that holds it. */
export interface ConnectionContext {
  /** The log; its lines name the folder when there are several. */
  readonly log: Log;
  /** Folders to look for `.reload_server/` in (the folder, the active file's folder). */
  searchStarts(): string[];
  /** Whether saves of this file are this connection's (its folder's, or the fallback's). */
  owns(fsPath: string): boolean;
  /** Whether diagnostics of this file belong here (it is in no other connected folder). */
  acceptsDiagnostics(fsPath: string): boolean;
  /** The state changed: the status bar may need redrawing. */
  changed(): void;
}

function errorMessage(err: unknown): string {
  if (err instanceof Error) return err.message;
  return String(err);
}

function errorCode(err: unknown): number | undefined {
  const code = (err as { code?: unknown } | null)?.code;
  return typeof code === "number" ? code : undefined;
}

/** The app info the server puts into its initialize result. */
export function appFromInitializeResult(result: unknown): AppInfo | null {
  const app = (result as { capabilities?: { experimental?: { reloadServer?: { app?: AppInfo } } } })
    ?.capabilities?.experimental?.reloadServer?.app;
  return app && typeof app.pid === "number" ? app : null;
}

export class Connection {
  private state: ConnectionState = { kind: "disconnected", reason: "not connected yet", byUser: false };
  private session: Session | null = null;
  /** Bumped on every connect/disconnect; callbacks of older sessions are ignored. */
  private generation = 0;
  private timer: ReturnType<typeof setTimeout> | null = null;
  private byUser = false;
  private disposed = false;
  private settingsNow: Settings;
  private lastReason = "";
  /**
   * Targets not to try again before a time: refused our token (never, until
   * they change or the user connects), or failed after the socket opened.
   */
  private refused = new Map<string, number>();
  /** The last outcome reported, so one reload is reported once. */
  private lastOutcomeKey: string | null = null;
  private readonly pollMs: number;
  private connecting: Promise<void> | null = null;
  /** The server's last `window/logMessage`: a reload's summary line comes first from it. */
  private lastServerLine: string | null = null;
  /** The summary of the last outcome logged before the server's line about it. */
  private reportedSummary: string | null = null;
  private readonly log: Log;

  constructor(
    private readonly host: Host,
    private readonly connector: Connector,
    /** The workspace folder (fsPath), or null for files outside any folder. */
    readonly folder: string | null,
    private readonly context: ConnectionContext,
    options: ConnectionOptions = {},
  ) {
    this.pollMs = options.pollMs ?? 1000;
    this.log = context.log;
    this.settingsNow = host.settings(folder);
  }

  get settings(): Settings {
    return this.settingsNow;
  }

  get connectionState(): ConnectionState {
    return this.state;
  }

  /** Begin: connect when an app is found (autoConnect), and keep looking. */
  start(): void {
    void this.tick();
  }

  /** Something changed (a discovery file appeared, a Python file opened): look now. */
  poke(): void {
    if (this.state.kind === "disconnected") void this.tick();
  }

  dispose(): Promise<void> {
    this.disposed = true;
    this.clearTimer();
    return this.dropSession();
  }

  // --- commands --------------------------------------------------------------

  /** Connect (or reconnect) now, whatever autoConnect says. */
  async connect(): Promise<boolean> {
    this.byUser = false;
    this.refused.clear();
    await this.dropSession();
    const res = resolveTarget(this.settingsNow, this.context.searchStarts());
    if (!res.target) {
      this.setDisconnected(res.reason);
      this.log.warn(`Connect: ${res.reason}`);
      this.host.notify({
        level: "warning",
        message: `Reload Server: ${res.reason}. Start the app with reload_server.serve() or set reloadServer.port.`,
      });
      this.schedule();
      return false;
    }
    await this.tryConnect(res.target, false);
    this.schedule();
    return this.state.kind === "connected";
  }

  async disconnect(): Promise<void> {
    this.byUser = true;
    this.clearTimer();
    await this.dropSession();
    this.log.info("Disconnected (Reload Server: Connect to connect again)");
    this.state = { kind: "disconnected", reason: "disconnected by the user", byUser: true };
    this.render();
  }

  async reloadCurrentFile(doc: ActiveDocument): Promise<ReloadOutcome | null> {
    const session = await this.requireSession();
    if (!session) return null;
    if (doc.isDirty) {
      const autoReloads = this.shouldReloadOnSave(doc.fsPath);
      if (!(await doc.save())) return null;
      // The save itself reloaded the module (reloadOnSave); the status notification reports it.
      if (autoReloads) return null;
    }
    return this.request(session, Methods.reloadPath, { path: doc.fsPath, force: true });
  }

  async reloadStale(): Promise<ReloadOutcome | null> {
    const session = await this.requireSession();
    if (!session) return null;
    return this.request(session, Methods.reloadStale, {});
  }

  /** Settings changed: re-read them, reconnect when the connection depends on them. */
  settingsChanged(): void {
    const before = this.settingsNow;
    this.settingsNow = this.host.settings(this.folder);
    if (needsReconnect(before, this.settingsNow)) {
      this.log.info("Settings changed: reconnecting");
      this.refused.clear();
      void this.dropSession().then(() => {
        this.setDisconnected("settings changed");
        void this.tick();
      });
    } else if (this.settingsNow.autoConnect && !before.autoConnect) {
      void this.tick();
    }
  }

  /** For the reload-on-save gate (languageClient.ts middleware). */
  shouldReloadOnSave(fsPath: string): boolean {
    return (
      this.settingsNow.reloadOnSave &&
      fsPath.endsWith(".py") &&
      this.context.owns(fsPath) &&
      matchesAny(this.host.relativePath(fsPath), this.settingsNow.include)
    );
  }

  // --- connection ----------------------------------------------------------

  private async tick(): Promise<void> {
    this.clearTimer();
    if (this.disposed || this.byUser || this.state.kind !== "disconnected") return;
    if (!this.settingsNow.autoConnect) {
      this.setDisconnected("autoConnect is off: use Reload Server: Connect");
      return;
    }
    const res = resolveTarget(this.settingsNow, this.context.searchStarts());
    const until = res.target ? (this.refused.get(targetKey(res.target)) ?? 0) : 0;
    if (res.target && until <= Date.now()) {
      await this.tryConnect(res.target, true);
    } else if (res.target) {
      this.setDisconnected(
        until === Infinity ? "the server refused our token" : "the last attempt failed; retrying later",
      );
    } else {
      this.setDisconnected(res.reason);
    }
    this.schedule();
  }

  private schedule(): void {
    this.clearTimer();
    if (this.disposed || this.byUser || !this.settingsNow.autoConnect) return;
    if (this.state.kind !== "disconnected") return;
    this.timer = setTimeout(() => void this.tick(), this.pollMs);
  }

  private clearTimer(): void {
    if (this.timer) clearTimeout(this.timer);
    this.timer = null;
  }

  private async tryConnect(target: Target, quiet: boolean): Promise<void> {
    if (this.connecting) await this.connecting.catch(() => undefined);
    if (this.state.kind === "connected") return;
    let done!: () => void;
    this.connecting = new Promise((r) => (done = r));
    const gen = ++this.generation;
    this.state = { kind: "connecting", target };
    this.render();
    const init = initializationOptions({
      token: target.token,
      reloadOnSave: this.settingsNow.reloadOnSave,
      pathMappings: this.settingsNow.pathMappings,
    });
    if (!quiet || this.lastReason !== `try ${targetKey(target)}`) {
      this.log.info(`Connecting to ${target.host}:${target.port} (${target.source})`);
    }
    try {
      const session = await this.connector(target, init, {
        log: this.log,
        onStatus: (s) => this.onStatus(gen, s),
        onLog: (type, message) => this.onLog(gen, type, message),
        onClosed: (reason) => this.onClosed(gen, reason),
        shouldReloadOnSave: (p) => this.shouldReloadOnSave(p),
        acceptsDiagnostics: (p) => this.context.acceptsDiagnostics(p),
      });
      if (gen !== this.generation || this.disposed) {
        await session.stop().catch(() => undefined);
        return;
      }
      this.session = session;
      const app = appFromInitializeResult(session.initializeResult);
      this.state = {
        kind: "connected",
        target,
        app,
        reloading: false,
        lastReload: null,
        clients: 1,
      };
      this.lastOutcomeKey = null;
      this.lastReason = "";
      this.log.info(
        `Connected to ${target.host}:${target.port}` +
          (app ? ` — app pid ${app.pid}: ${app.argv.join(" ")} (cwd ${app.cwd})` : "") +
          `; reload on save ${init.reloadOnSave ? "on" : "off"}`,
      );
      this.render();
    } catch (err) {
      if (gen !== this.generation) return;
      const msg = errorMessage(err);
      if (errorCode(err) === ErrorCodes.Unauthorized) {
        this.refused.set(targetKey(target), Infinity);
        this.log.error(`The server at ${target.host}:${target.port} refused us: ${msg}`);
        this.host.notify({
          level: "error",
          message: `Reload Server: ${msg}. Set reloadServer.token to the app's token.`,
        });
        this.setDisconnected(`unauthorized: ${msg}`);
      } else {
        if ((err as { afterConnect?: boolean }).afterConnect) {
          this.refused.set(targetKey(target), Date.now() + RETRY_AFTER_FAILED_START_MS);
        }
        const reason = `cannot connect to ${target.host}:${target.port}: ${msg}`;
        if (!quiet) {
          this.host.notify({ level: "error", message: `Reload Server: ${reason}` });
        }
        this.setDisconnected(reason);
        this.lastReason = `try ${targetKey(target)}`;
      }
    } finally {
      done();
      this.connecting = null;
    }
  }

  private async dropSession(): Promise<void> {
    this.generation++;
    const session = this.session;
    this.session = null;
    if (session) {
      await session.stop().catch((err) => this.log.debug(`stop: ${errorMessage(err)}`));
    }
  }

  private onClosed(gen: number, reason: string): void {
    if (gen !== this.generation) return;
    this.generation++;
    this.session = null;
    // An app that restarts closes its connection: expected, so not an error.
    this.log.info(`Connection closed (${reason}); reconnecting when the app is back`);
    this.setDisconnected(`connection closed (${reason})`);
    this.schedule();
  }

  private onLog(gen: number, type: number, message: string): void {
    if (gen !== this.generation) return;
    const reported = this.reportedSummary;
    this.reportedSummary = null;
    // A request's result may overtake the server's line about the same reload.
    if (reported !== null && message.startsWith(reported)) return;
    this.lastServerLine = message;
    this.log[serverLogLevel(type)](message);
  }

  private onStatus(gen: number, status: ServerStatus): void {
    if (gen !== this.generation || this.state.kind !== "connected") return;
    const first = this.lastOutcomeKey === null;
    this.state = {
      ...this.state,
      app: status.app ?? this.state.app,
      reloading: status.state === "reloading",
      lastReload: isReloadOutcome(status.lastReload) ? status.lastReload : this.state.lastReload,
      clients: typeof status.clients === "number" ? status.clients : this.state.clients,
    };
    this.render();
    if (isReloadOutcome(status.lastReload)) {
      if (first) {
        // The state on connect: shown in the status bar, not reported again.
        this.lastOutcomeKey = JSON.stringify(status.lastReload);
      } else {
        this.report(status.lastReload);
      }
    } else if (first) {
      this.lastOutcomeKey = "";
    }
  }

  private async requireSession(): Promise<Session | null> {
    if (this.session) return this.session;
    if (await this.connect()) return this.session;
    return null;
  }

  private async request(
    session: Session,
    method: string,
    params: Record<string, unknown>,
  ): Promise<ReloadOutcome | null> {
    this.log.info(`→ ${method} ${JSON.stringify(params)}`);
    try {
      const result = await session.request<unknown>(method, params);
      if (!isReloadOutcome(result)) {
        this.log.error(`← ${method}: unexpected result ${JSON.stringify(result)}`);
        return null;
      }
      if (this.state.kind === "connected") {
        this.state = { ...this.state, lastReload: result };
        this.render();
      }
      this.report(result);
      return result;
    } catch (err) {
      const msg = errorMessage(err);
      this.log.error(`← ${method} failed: ${msg}`);
      this.host.notify({ level: "error", message: `Reload Server: ${method} failed: ${msg}` });
      return null;
    }
  }

  /** Log an outcome and notify per `reloadServer.notifications`, once per reload. */
  private report(outcome: ReloadOutcome): void {
    const key = JSON.stringify(outcome);
    if (key === this.lastOutcomeKey) return;
    this.lastOutcomeKey = key;
    const lines = outcomeLogLines(outcome);
    // The server has just logged this reload's summary line (docs/protocol.md:
    // its window/logMessage precedes the status): add only what it leaves out.
    const summary = `reload_server: ${outcome.message}`;
    const echoed = this.lastServerLine?.startsWith(summary) ?? false;
    this.lastServerLine = null;
    this.reportedSummary = echoed ? null : summary;
    const rest = echoed ? lines.slice(1) : lines;
    if (rest.length > 0) {
      const log = outcome.status === "failed" ? this.log.error : this.log.info;
      log.call(this.log, echoed ? rest.join("\n") : `← ${rest.join("\n")}`);
    }
    const n = notificationFor(this.settingsNow.notifications, outcome);
    if (n) this.host.notify(n);
  }

  private setDisconnected(reason: string): void {
    const changed =
      this.state.kind !== "disconnected" || this.state.reason !== reason || this.state.byUser;
    this.state = { kind: "disconnected", reason, byUser: this.byUser };
    if (changed) {
      if (reason !== this.lastReason) this.log.debug(`Not connected: ${reason}`);
      this.render();
    }
  }

  private render(): void {
    this.context.changed();
  }
}
