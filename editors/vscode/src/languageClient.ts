// Connector (host.ts) built on vscode-languageclient: one LanguageClient per
// connection, over a TCP socket to the server already running in the app.
// Published diagnostics land in the Problems panel through the client itself.
import * as net from "node:net";
import type * as vscode from "vscode";
import {
  CloseAction,
  type DynamicFeature,
  ErrorAction,
  ExecuteCommandRequest,
  LanguageClient,
  type LanguageClientOptions,
  LogMessageNotification,
  RevealOutputChannelOn,
  type StaticFeature,
  State,
  type StreamInfo,
} from "vscode-languageclient/node";
import { EXPECTED_CLOSE, clientLogLine, write } from "./clientLog";
import type { Connector, Log, Session } from "./host";
import { Methods, type ServerStatus } from "./protocol";

const CONNECT_TIMEOUT_MS = 3000;

/** Open a TCP socket, failing after a timeout instead of hanging. */
export function openSocket(host: string, port: number, timeoutMs = CONNECT_TIMEOUT_MS): Promise<net.Socket> {
  return new Promise((resolve, reject) => {
    const socket = net.connect({ host, port });
    const timer = setTimeout(() => {
      socket.destroy();
      reject(new Error(`timed out after ${timeoutMs} ms`));
    }, timeoutMs);
    socket.once("connect", () => {
      clearTimeout(timer);
      socket.setNoDelay(true);
      resolve(socket);
    });
    socket.once("error", (err) => {
      clearTimeout(timer);
      reject(err);
    });
  });
}

/**
 * A LanguageClient without the executeCommand feature: it would register the
 * server's commands (`reload_server.reloadPath`, …) as VS Code commands, and
 * the second client of a multi-root workspace would then fail to start with
 * "command already exists". The extension sends its requests directly.
 */
class ReloadLanguageClient extends LanguageClient {
  override registerFeature(feature: StaticFeature | DynamicFeature<unknown>): void {
    const method = (feature as Partial<DynamicFeature<unknown>>).registrationType?.method;
    if (method === ExecuteCommandRequest.method) return;
    super.registerFeature(feature);
  }
}

/**
 * The output channel the client writes to: its `[Level - time]` lines go to
 * `log` at their level (a normal app restart is not an error, see clientLog.ts).
 */
function clientChannel(channel: vscode.LogOutputChannel, log: Log): vscode.OutputChannel {
  const line = (text: string): void => {
    const l = clientLogLine(text);
    if (l) write(log, l);
  };
  return {
    name: channel.name,
    append: line,
    appendLine: line,
    replace: line,
    clear: () => undefined,
    show: () => channel.show(true),
    hide: () => channel.hide(),
    // The channel is the extension's, shared by every connection.
    dispose: () => undefined,
  };
}

export function languageClientConnector(channel: vscode.LogOutputChannel): Connector {
  return async (target, init, handlers) => {
    let closedReason = "the app closed the connection";
    // Open the socket first: a refused connection (no app yet) is an ordinary,
    // quiet outcome here, while a LanguageClient that fails to start pops up an error.
    const socket = await openSocket(target.host, target.port);
    socket.on("error", (err) => {
      closedReason = err.message;
    });
    let handedOut = false;
    const serverOptions = async (): Promise<StreamInfo> => {
      // The client asks once; a second ask would be a restart, which we never do.
      if (handedOut) throw new Error("Reload Server reconnects with a new client");
      handedOut = true;
      return { reader: socket, writer: socket };
    };
    const clientOptions: LanguageClientOptions = {
      documentSelector: [{ scheme: "file", language: "python" }],
      diagnosticCollectionName: "reload_server",
      outputChannel: clientChannel(channel, handlers.log),
      revealOutputChannelOn: RevealOutputChannelOn.Never,
      initializationOptions: init,
      initializationFailedHandler: () => false,
      connectionOptions: { maxRestartCount: 0 },
      errorHandler: {
        error: () => ({ action: ErrorAction.Shutdown, handled: true }),
        closed: () => ({ action: CloseAction.DoNotRestart, handled: true, message: EXPECTED_CLOSE }),
      },
      middleware: {
        // Every connection's client sees every Python document; each one only
        // sends the saves of its own folder, and shows only its folder's problems.
        didSave: (document, next) => {
          if (!handlers.shouldReloadOnSave(document.uri.fsPath)) return Promise.resolve();
          handlers.log.info(`→ didSave ${document.uri.fsPath} (reload on save)`);
          return next(document);
        },
        handleDiagnostics: (uri, diagnostics, next) => {
          if (uri.scheme === "file" && !handlers.acceptsDiagnostics(uri.fsPath)) return;
          next(uri, diagnostics);
        },
      },
    };
    const client = new ReloadLanguageClient("reloadServer", "Reload Server", serverOptions, clientOptions);
    client.onNotification(Methods.status, (status: ServerStatus) => handlers.onStatus(status));
    // Replaces the client's own handler (registered before ours), so that a
    // reload's summary is logged once: see Connection.report.
    client.onNotification(LogMessageNotification.type, (m) => handlers.onLog(m.type, m.message));
    let started = false;
    client.onDidChangeState((e) => {
      if (started && e.newState === State.Stopped) handlers.onClosed(closedReason);
    });
    try {
      await client.start();
    } catch (err) {
      socket.destroy();
      await client.dispose().catch(() => undefined);
      // The client has shown its own error: the controller must not retry at once.
      throw Object.assign(err instanceof Error ? err : new Error(String(err)), { afterConnect: true });
    }
    started = true;
    const session: Session = {
      initializeResult: client.initializeResult,
      request: <T>(method: string, params: unknown) => client.sendRequest<T>(method, params),
      stop: async () => {
        started = false;
        try {
          if (client.isRunning()) await client.stop(2000);
        } finally {
          await client.dispose().catch(() => undefined);
          socket.destroy();
        }
      },
    };
    return session;
  };
}
