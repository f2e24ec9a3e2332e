// Helpers for the tests against the REAL reload server: start a Python app
// that embeds it (reload_server.serve), find it through its discovery file,
// and talk LSP to it over TCP with vscode-jsonrpc (the JSON-RPC layer that
// vscode-languageclient itself uses).
import { type ChildProcess, spawn } from "node:child_process";
import * as fs from "node:fs";
import * as net from "node:net";
import * as os from "node:os";
import * as path from "node:path";
import { pathToFileURL } from "node:url";
import {
  type MessageConnection,
  SocketMessageReader,
  SocketMessageWriter,
  createMessageConnection,
} from "vscode-jsonrpc/node";
import { liveEntries } from "../src/discovery";
import type { Connector } from "../src/host";
import { type DiscoveryEntry, Methods, type ServerStatus } from "../src/protocol";
import { waitFor } from "./helpers";

/** editors/vscode/dist/test → the repository root. */
export const REPO = path.resolve(__dirname, "..", "..", "..", "..");

export function python(): string {
  if (process.env.RELOAD_SERVER_PYTHON) return process.env.RELOAD_SERVER_PYTHON;
  const venv = path.join(REPO, ".venv", "bin", "python");
  return fs.existsSync(venv) ? venv : "python3";
}

/**
 * The test app: imports `greet`, serves, and writes `greet.message()` to
 * `out.txt` every 20 ms, so a test sees the app's behaviour change.
 */
export const APP_PY = `\
import os, pathlib, sys, time
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import reload_server
import greet

reload_server.serve(0, token=os.environ.get("APP_TOKEN") or None)
out = pathlib.Path(__file__).with_name("out.txt")
while True:
    try:
        text = greet.message()
    except Exception as exc:  # the test wants to see it, the app keeps going
        text = f"error: {exc!r}"
    tmp = out.with_suffix(".tmp")
    tmp.write_text(text)
    tmp.replace(out)
    time.sleep(0.02)
`;

export const GREET_PY = `\
def message():
    return "hello"
`;

export class App {
  readonly proc: ChildProcess;
  output = "";
  entry: DiscoveryEntry | null = null;
  discoveryFile: string | null = null;

  constructor(
    readonly dir: string,
    env: NodeJS.ProcessEnv = {},
  ) {
    this.proc = spawn(python(), ["-u", path.join(dir, "app.py")], {
      cwd: dir,
      env: {
        ...process.env,
        PYTHONDONTWRITEBYTECODE: "1",
        PYTHONPATH: [REPO, process.env.PYTHONPATH].filter(Boolean).join(path.delimiter),
        ...env,
      },
      stdio: ["ignore", "pipe", "pipe"],
    });
    this.proc.stdout!.on("data", (d) => (this.output += d));
    this.proc.stderr!.on("data", (d) => (this.output += d));
  }

  static workspace(): string {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), "rs-wire-"));
    fs.writeFileSync(path.join(dir, "app.py"), APP_PY);
    fs.writeFileSync(path.join(dir, "greet.py"), GREET_PY);
    return dir;
  }

  static async start(dir: string, env: NodeJS.ProcessEnv = {}): Promise<App> {
    const app = new App(dir, env);
    try {
      await waitFor(
        () => {
          if (app.proc.exitCode !== null) throw new Error(`app exited ${app.proc.exitCode}:\n${app.output}`);
          const found = liveEntries([path.join(dir, ".reload_server")]).find(
            (f) => f.entry.pid === app.proc.pid,
          );
          if (found) {
            app.entry = found.entry;
            app.discoveryFile = found.file;
          }
          return found !== undefined;
        },
        15000,
        "the app's discovery file",
      );
    } catch (err) {
      await app.stop();
      throw new Error(`${(err as Error).message}\napp output:\n${app.output}`);
    }
    return app;
  }

  get port(): number {
    return this.entry!.port;
  }

  readOut(): string {
    try {
      return fs.readFileSync(path.join(this.dir, "out.txt"), "utf8");
    } catch {
      return "";
    }
  }

  /**
   * What the app writes next: its output is removed and awaited anew, so the
   * value read was computed after this call (not during a reload that ended).
   */
  async nextOut(timeoutMs = 10000): Promise<string> {
    const file = path.join(this.dir, "out.txt");
    // Twice: the first write may carry a value computed before this call.
    for (let i = 0; i < 2; i++) {
      fs.rmSync(file, { force: true });
      await waitFor(() => fs.existsSync(file), timeoutMs, "the app's next output");
    }
    return this.readOut();
  }

  async stop(): Promise<void> {
    if (this.proc.exitCode !== null || this.proc.signalCode !== null) return;
    const exited = new Promise((r) => this.proc.once("exit", r));
    this.proc.kill("SIGTERM");
    const timer = setTimeout(() => this.proc.kill("SIGKILL"), 3000);
    await exited;
    clearTimeout(timer);
  }
}

export function connectSocket(port: number, host = "127.0.0.1"): Promise<net.Socket> {
  return new Promise((resolve, reject) => {
    const s = net.connect({ host, port });
    s.once("connect", () => resolve(s));
    s.once("error", reject);
  });
}

export interface Received {
  method: string;
  params: any;
}

/** A raw LSP client over TCP that records every notification it receives. */
export class Client {
  readonly received: Received[] = [];
  closed = false;

  private constructor(
    readonly socket: net.Socket,
    readonly conn: MessageConnection,
  ) {
    conn.onNotification((method: string, params: unknown) => {
      this.received.push({ method, params });
    });
    conn.onClose(() => {
      this.closed = true;
    });
    conn.listen();
  }

  static async connect(port: number): Promise<Client> {
    const socket = await connectSocket(port);
    return new Client(
      socket,
      createMessageConnection(new SocketMessageReader(socket), new SocketMessageWriter(socket)),
    );
  }

  initialize(initializationOptions: unknown, rootPath?: string): Promise<any> {
    return this.conn.sendRequest("initialize", {
      processId: process.pid,
      clientInfo: { name: "node-test" },
      rootUri: rootPath ? pathToFileURL(rootPath).href : null,
      capabilities: { textDocument: { publishDiagnostics: { relatedInformation: true } } },
      initializationOptions,
    });
  }

  async open(initializationOptions: unknown): Promise<any> {
    const result = await this.initialize(initializationOptions);
    await this.conn.sendNotification("initialized", {});
    return result;
  }

  didSave(file: string): Promise<void> {
    return this.conn.sendNotification("textDocument/didSave", {
      textDocument: { uri: pathToFileURL(file).href },
    });
  }

  request<T = any>(method: string, params: unknown): Promise<T> {
    return this.conn.sendRequest(method, params) as Promise<T>;
  }

  /** The first notification after index `from` that satisfies `pred`. */
  async next(
    method: string,
    pred: (params: any) => boolean = () => true,
    from = 0,
    timeoutMs = 10000,
  ): Promise<any> {
    let found: Received | undefined;
    await waitFor(
      () => {
        found = this.received.slice(from).find((r) => r.method === method && pred(r.params));
        return found !== undefined;
      },
      timeoutMs,
      `${method} notification (got: ${this.received.map((r) => r.method).join(", ")})`,
    );
    return found!.params;
  }

  async close(): Promise<void> {
    if (!this.closed) {
      try {
        await this.conn.sendRequest("shutdown");
        await this.conn.sendNotification("exit");
      } catch {
        // already gone
      }
    }
    this.conn.dispose();
    this.socket.destroy();
  }
}

/** The extension's Connector, with vscode-jsonrpc instead of vscode-languageclient. */
export const jsonrpcConnector: Connector = async (target, init, handlers) => {
  const socket = await connectSocket(target.port, target.host);
  const conn = createMessageConnection(new SocketMessageReader(socket), new SocketMessageWriter(socket));
  let stopping = false;
  conn.onNotification(Methods.status, (s: ServerStatus) => handlers.onStatus(s));
  conn.onNotification("window/logMessage", (m: { type: number; message: string }) =>
    handlers.onLog(m.type, m.message),
  );
  conn.onClose(() => {
    if (!stopping) handlers.onClosed("the app closed the connection");
  });
  conn.listen();
  let result: unknown;
  try {
    result = await conn.sendRequest("initialize", {
      processId: process.pid,
      clientInfo: { name: "node-test-controller" },
      rootUri: null,
      capabilities: {},
      initializationOptions: init,
    });
  } catch (err) {
    stopping = true;
    conn.dispose();
    socket.destroy();
    throw err;
  }
  await conn.sendNotification("initialized", {});
  return {
    initializeResult: result,
    request: <T>(method: string, params: unknown) => conn.sendRequest(method, params) as Promise<T>,
    stop: async () => {
      stopping = true;
      try {
        await conn.sendRequest("shutdown");
        await conn.sendNotification("exit");
      } finally {
        conn.dispose();
        socket.destroy();
      }
    },
  };
};
