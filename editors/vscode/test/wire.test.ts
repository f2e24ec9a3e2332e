// The wire format, against the REAL reload server embedded in a real Python
// app (docs/protocol.md): what the extension sends and what it relies on.
import assert from "node:assert/strict";
import * as fs from "node:fs";
import * as path from "node:path";
import { pathToFileURL } from "node:url";
import { after, before, describe, test } from "node:test";
import { Controller, appFromInitializeResult } from "../src/controller";
import { resolveTarget } from "../src/discovery";
import {
  Commands,
  ErrorCodes,
  Methods,
  type ReloadOutcome,
  initializationOptions,
  isReloadOutcome,
} from "../src/protocol";
import { DEFAULTS } from "../src/settings";
import { FakeHost, waitFor } from "./helpers";
import { App, Client, jsonrpcConnector } from "./realServer";

const GOOD = 'def message():\n    return "hello"\n';
/** Line 3 (1-based) holds the syntax error, at column 13. */
const SYNTAX_ERROR = 'def message():\n    x = 1\n    return "hi" +\n';
/** Line 4 raises while the new module runs: rolled back. */
const RAISES = 'def message():\n    return "new"\n\nraise RuntimeError("boom at import")\n';

function uriOf(file: string): string {
  return pathToFileURL(file).href;
}

/** Diagnostics published for `file` (their uri may be file:// or a path-like uri). */
function forFile(file: string) {
  const want = fs.realpathSync(file);
  return (p: { uri: string }) => {
    try {
      return fs.realpathSync(new URL(p.uri)) === want;
    } catch {
      return false;
    }
  };
}

/** Bump the mtime so the server sees a change even within one second. */
function write(file: string, text: string): void {
  fs.writeFileSync(file, text);
  const t = new Date(Date.now() + 2000 + Math.floor(Math.random() * 1000));
  fs.utimesSync(file, t, t);
}

describe("wire format against the real server", () => {
  let dir: string;
  let app: App;
  let greet: string;

  before(async () => {
    dir = App.workspace();
    greet = path.join(dir, "greet.py");
    app = await App.start(dir);
    await waitFor(() => app.readOut() === "hello", 10000, "the app to run");
  });

  after(async () => {
    await app?.stop();
  });

  test("the discovery file says where the server is, privately", async () => {
    assert.ok(app.discoveryFile);
    assert.equal(path.dirname(app.discoveryFile), path.join(dir, ".reload_server"));
    assert.equal(path.basename(app.discoveryFile), `${app.proc.pid}.json`);
    assert.equal(fs.statSync(app.discoveryFile).mode & 0o777, 0o600);
    assert.equal(fs.statSync(path.dirname(app.discoveryFile)).mode & 0o777, 0o700);
    const e = app.entry!;
    assert.equal(e.version, 1);
    assert.equal(e.host, "127.0.0.1");
    assert.equal(e.token, null);
    assert.equal(fs.realpathSync(e.root), fs.realpathSync(dir));
    // The extension finds it from a subfolder of the workspace.
    fs.mkdirSync(path.join(dir, "sub"), { recursive: true });
    const res = resolveTarget(DEFAULTS, [path.join(dir, "sub")], {});
    assert.equal(res.target?.port, e.port);
    assert.equal(res.target?.entry?.pid, app.proc.pid);
  });

  test("initialize: the capabilities the extension relies on", async () => {
    const c = await Client.connect(app.port);
    try {
      const result = await c.initialize(
        initializationOptions({ token: null, reloadOnSave: true, pathMappings: [] }),
      );
      const caps = result.capabilities;
      assert.equal(caps.textDocumentSync.change, 0, "no edits streamed");
      assert.ok(caps.textDocumentSync.save, "saves are wanted");
      assert.deepEqual(
        [...caps.executeCommandProvider.commands].sort(),
        [Commands.reloadPath, Commands.reloadStale].sort(),
      );
      assert.equal(caps.experimental.reloadServer.protocolVersion, 1);
      const appInfo = appFromInitializeResult(result);
      assert.equal(appInfo?.pid, app.proc.pid);
      assert.ok(Array.isArray(appInfo?.argv));
      assert.equal(result.serverInfo.name, "reload_server");

      await c.conn.sendNotification("initialized", {});
      const status = await c.next(Methods.status);
      assert.equal(status.state, "idle");
      assert.equal(status.app.pid, app.proc.pid);
      assert.ok(status.clients >= 1);
    } finally {
      await c.close();
    }
  });

  test("requests before initialize are refused with ServerNotInitialized", async () => {
    const c = await Client.connect(app.port);
    try {
      await assert.rejects(c.request(Methods.reloadStale, {}), (err: { code?: number }) => {
        assert.equal(err.code, ErrorCodes.ServerNotInitialized);
        return true;
      });
    } finally {
      await c.close();
    }
  });

  test("reloadPath: unchanged, forced, not loaded", async () => {
    const c = await Client.connect(app.port);
    try {
      await c.open(initializationOptions({ token: null, reloadOnSave: false, pathMappings: [] }));
      const same: ReloadOutcome = await c.request(Methods.reloadPath, { path: greet });
      assert.ok(isReloadOutcome(same), JSON.stringify(same));
      assert.equal(same.status, "unchanged", same.message);

      const forced: ReloadOutcome = await c.request(Methods.reloadPath, { uri: uriOf(greet), force: true });
      assert.ok(isReloadOutcome(forced), JSON.stringify(forced));
      assert.equal(forced.status, "reloaded", forced.message);
      assert.deepEqual(forced.modules, ["greet"]);
      assert.deepEqual(forced.files.map((f) => fs.realpathSync(f)), [fs.realpathSync(greet)]);

      const other = path.join(dir, "not_imported.py");
      fs.writeFileSync(other, "X = 1\n");
      const nl: ReloadOutcome = await c.request(Methods.reloadPath, { path: other });
      assert.equal(nl.status, "not_loaded", nl.message);

      await assert.rejects(c.request(Methods.reloadPath, { path: 42 }), (err: { code?: number }) => {
        assert.equal(err.code, -32602);
        return true;
      });
    } finally {
      await c.close();
    }
  });

  test("save of a broken file: diagnostic at the line, old code runs; fixing clears it", async () => {
    const c = await Client.connect(app.port);
    try {
      await c.open(initializationOptions({ token: null, reloadOnSave: true, pathMappings: [] }));
      await c.next(Methods.status);

      let mark = c.received.length;
      write(greet, SYNTAX_ERROR);
      await c.didSave(greet);
      const diags = await c.next(
        "textDocument/publishDiagnostics",
        (p) => forFile(greet)(p) && p.diagnostics.length > 0,
        mark,
      );
      const d = diags.diagnostics[0];
      assert.equal(d.source, "reload_server");
      assert.equal(d.severity, 1, "error");
      assert.equal(d.range.start.line, 2, "0-based line of `return \"hi\" +`");
      assert.match(d.message, /SyntaxError/);
      const status = await c.next(
        Methods.status,
        (s) => s.state === "idle" && s.lastReload?.status === "failed",
        mark,
      );
      assert.equal(status.lastReload.phase, "compile");
      const note = status.lastReload.notes.find((n: { kind: string }) => n.kind === "syntax");
      assert.ok(note, JSON.stringify(status.lastReload.notes));
      assert.equal(note.line, 3, "notes are 1-based");
      const log = await c.next("window/logMessage", (p) => p.type === 1, mark);
      assert.match(log.message, /greet/);
      assert.equal(app.readOut(), "hello", "the old code keeps running");

      mark = c.received.length;
      write(greet, 'def message():\n    return "hello again"\n');
      await c.didSave(greet);
      const cleared = await c.next(
        "textDocument/publishDiagnostics",
        (p) => forFile(greet)(p) && p.diagnostics.length === 0,
        mark,
      );
      assert.deepEqual(cleared.diagnostics, []);
      const ok = await c.next(Methods.status, (s) => s.lastReload?.status === "reloaded", mark);
      assert.deepEqual(ok.lastReload.modules, ["greet"]);
      await waitFor(() => app.readOut() === "hello again", 5000, "the new code to run");
    } finally {
      write(greet, GOOD);
      await c.close();
    }
  });

  test("an exception while the new code runs is rolled back and points at its line", async () => {
    const c = await Client.connect(app.port);
    try {
      await c.open(initializationOptions({ token: null, reloadOnSave: false, pathMappings: [] }));
      const mark = c.received.length;
      write(greet, RAISES);
      const out: ReloadOutcome = await c.request(Methods.reloadPath, { path: greet });
      assert.equal(out.status, "failed", out.message);
      assert.equal(out.rolledBack, true);
      assert.equal(out.phase, "import");
      const diags = await c.next(
        "textDocument/publishDiagnostics",
        (p) => forFile(greet)(p) && p.diagnostics.length > 0,
        mark,
      );
      const d = diags.diagnostics[0];
      assert.equal(d.range.start.line, 3, "0-based line of the raise");
      assert.match(d.message, /RuntimeError: boom at import \(rolled back; the old code is still running\)/);
      assert.ok(Array.isArray(d.relatedInformation) && d.relatedInformation.length >= 1);
      // While the new body ran, the app may have seen its names (docs/reimport.md,
      // "Threads"); what counts is what it runs once the reload has ended.
      assert.notEqual(await app.nextOut(), "new", "rolled back");

      write(greet, GOOD);
      const fixed: ReloadOutcome = await c.request("workspace/executeCommand", {
        command: Commands.reloadStale,
        arguments: [],
      });
      assert.equal(fixed.status, "reloaded", fixed.message);
      await c.next(
        "textDocument/publishDiagnostics",
        (p) => forFile(greet)(p) && p.diagnostics.length === 0,
        mark,
      );
    } finally {
      write(greet, GOOD);
      await c.close();
    }
  });

  test("diagnostics go to every client, whoever saved", async () => {
    const saver = await Client.connect(app.port);
    const watcher = await Client.connect(app.port);
    try {
      await saver.open(initializationOptions({ token: null, reloadOnSave: true, pathMappings: [] }));
      await watcher.open(initializationOptions({ token: null, reloadOnSave: false, pathMappings: [] }));
      const mark = watcher.received.length;
      write(greet, SYNTAX_ERROR);
      await saver.didSave(greet);
      await watcher.next(
        "textDocument/publishDiagnostics",
        (p) => forFile(greet)(p) && p.diagnostics.length > 0,
        mark,
      );
      // The watcher asked for no reload on save: its own save is ignored.
      write(greet, GOOD);
      const before = watcher.received.length;
      await watcher.didSave(greet);
      await new Promise((r) => setTimeout(r, 300));
      assert.ok(
        !watcher.received.slice(before).some((r) => r.method === Methods.status),
        "no reload for a client without reloadOnSave",
      );
      await saver.didSave(greet);
      await watcher.next(
        "textDocument/publishDiagnostics",
        (p) => forFile(greet)(p) && p.diagnostics.length === 0,
        before,
      );
    } finally {
      write(greet, GOOD);
      await saver.close();
      await watcher.close();
    }
  });

  test("pathMappings: the client's paths in, the client's paths out", async () => {
    const local = path.join(path.dirname(dir), "local-copy-of-" + path.basename(dir));
    const c = await Client.connect(app.port);
    try {
      await c.open(
        initializationOptions({
          token: null,
          reloadOnSave: true,
          pathMappings: [{ localRoot: local, remoteRoot: dir }],
        }),
      );
      const mark = c.received.length;
      write(greet, SYNTAX_ERROR);
      await c.didSave(path.join(local, "greet.py"));
      const diags = await c.next(
        "textDocument/publishDiagnostics",
        (p) => p.diagnostics.length > 0,
        mark,
      );
      assert.equal(diags.uri, uriOf(path.join(local, "greet.py")));
      const status = await c.next(Methods.status, (s) => s.lastReload?.status === "failed", mark);
      assert.deepEqual(status.lastReload.files, [path.join(local, "greet.py")], "status paths mapped");

      write(greet, GOOD);
      const out: ReloadOutcome = await c.request(Methods.reloadPath, {
        path: path.join(local, "greet.py"),
      });
      assert.equal(out.status, "reloaded", out.message);
      assert.deepEqual(out.files, [path.join(local, "greet.py")], "result paths mapped");
    } finally {
      write(greet, GOOD);
      await c.request(Methods.reloadStale, {}).catch(() => undefined);
      await c.close();
    }
  });
});

describe("the controller against the real server", () => {
  test("connects through discovery, and reconnects when the app restarts", async () => {
    const dir = App.workspace();
    let app = await App.start(dir);
    const host = new FakeHost([dir], dir);
    const ctl = new Controller(host, jsonrpcConnector, { pollMs: 100 });
    try {
      ctl.start();
      await waitFor(() => ctl.connectionState.kind === "connected", 10000, "connected");
      const first = ctl.connectionState;
      assert.ok(first.kind === "connected" && first.app?.pid === app.proc.pid);

      await app.stop();
      await waitFor(() => ctl.connectionState.kind === "disconnected", 10000, "disconnected");
      assert.match(host.status!.text, /debug-disconnect/);

      app = await App.start(dir);
      await waitFor(
        () => {
          const s = ctl.connectionState;
          return s.kind === "connected" && s.app?.pid === app.proc.pid;
        },
        10000,
        "reconnected to the new app",
      );

      host.document = {
        fsPath: path.join(dir, "greet.py"),
        languageId: "python",
        isDirty: false,
        isUntitled: false,
        save: async () => true,
      };
      const out = await ctl.reloadCurrentFile();
      assert.equal(out?.status, "reloaded", JSON.stringify(out));
      assert.match(host.status!.text, /Reloaded greet/);
      assert.ok(host.lines.some((l) => l.includes("→ reloadPath")), host.lines.join("\n"));
      // The server's window/logMessage and our result are one reload: logged once.
      await new Promise((r) => setTimeout(r, 300));
      const said = host.lines.filter((l) => l.includes(out!.message));
      assert.equal(said.length, 1, host.lines.join("\n"));
    } finally {
      await ctl.dispose();
      await app.stop();
    }
  });

  test("a token from the discovery file is sent; a wrong one is refused", async () => {
    const dir = App.workspace();
    const app = await App.start(dir, { APP_TOKEN: "s3cret-token" });
    try {
      assert.equal(app.entry?.token, "s3cret-token");
      const bad = await Client.connect(app.port);
      await assert.rejects(
        bad.initialize(initializationOptions({ token: "wrong", reloadOnSave: false, pathMappings: [] })),
        (err: { code?: number }) => {
          assert.equal(err.code, ErrorCodes.Unauthorized);
          return true;
        },
      );
      await waitFor(() => bad.closed, 5000, "the server to close a refused connection");
      await bad.close();

      const host = new FakeHost([dir], dir);
      const ctl = new Controller(host, jsonrpcConnector, { pollMs: 100 });
      try {
        ctl.start();
        await waitFor(() => ctl.connectionState.kind === "connected", 10000, "connected with the token");
      } finally {
        await ctl.dispose();
      }
    } finally {
      await app.stop();
    }
  });
});
