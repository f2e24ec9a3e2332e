// Connector (host.ts) built on vscode-languageclient: one LanguageClient per
// connection, over a TCP socket to the server already running in the app.
// Published diagnostics land in the Problems panel through the client itself.
import * as net from "node:net";
import type * as vscode from "vscode";
import {
  CloseAction,
  ErrorAction,
  LanguageClient,
  type LanguageClientOptions,
  RevealOutputChannelOn,
  State,
  type StreamInfo,
} from "vscode-languageclient/node";
import type { Connector, Session } from "./host";
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
      outputChannel: channel,
      revealOutputChannelOn: RevealOutputChannelOn.Never,
      initializationOptions: init,
      initializationFailedHandler: () => false,
      connectionOptions: { maxRestartCount: 0 },
      errorHandler: {
        error: () => ({ action: ErrorAction.Shutdown, handled: true }),
        closed: () => ({ action: CloseAction.DoNotRestart, handled: true }),
      },
      middleware: {
        didSave: (document, next) => {
          if (!handlers.shouldReloadOnSave(document.uri.fsPath)) return Promise.resolve();
          channel.info(`→ didSave ${document.uri.fsPath} (reload on save)`);
          return next(document);
        },
      },
    };
    const client = new LanguageClient("reloadServer", "Reload Server", serverOptions, clientOptions);
    client.onNotification(Methods.status, (status: ServerStatus) => handlers.onStatus(status));
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
