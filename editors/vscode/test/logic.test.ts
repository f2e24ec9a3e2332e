// Fast tests of the extension's own logic: settings, globs, discovery,
// presentation and the controller's connection state machine (with a fake
// connector — the real server is in wire.test.ts).
import assert from "node:assert/strict";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { describe, test } from "node:test";
import { EXPECTED_CLOSE, clientLogLine, serverLogLevel } from "../src/clientLog";
import { Controller } from "../src/controller";
import { discoveryDirs, liveEntries, readEntry, resolveTarget } from "../src/discovery";
import { globToRegExp, matchesAny } from "../src/glob";
import type { Connector, SessionHandlers } from "../src/host";
import { notificationFor, statusView } from "../src/presentation";
import { type ReloadOutcome, initializationOptions, isReloadOutcome } from "../src/protocol";
import { DEFAULTS, type Settings, needsReconnect, readSettings } from "../src/settings";
import { FakeHost, waitFor } from "./helpers";

function tmpdir(): string {
  return fs.mkdtempSync(path.join(os.tmpdir(), "rs-vscode-"));
}

function outcome(over: Partial<ReloadOutcome> = {}): ReloadOutcome {
  return {
    status: "reloaded",
    modules: ["app.handlers"],
    files: ["/p/app/handlers.py"],
    durationMs: 3.1,
    message: "reloaded app.handlers in 3.1 ms",
    notes: [],
    ...over,
  };
}

const failed = outcome({
  status: "failed",
  phase: "compile",
  rolledBack: false,
  message: "failed to reload app.handlers: SyntaxError",
  notes: [
    {
      severity: "error",
      message: "SyntaxError: invalid syntax",
      module: "app.handlers",
      file: "/p/app/handlers.py",
      line: 2,
      column: 7,
      endLine: null,
      endColumn: null,
      kind: "syntax",
      frames: [],
    },
  ],
});

describe("settings", () => {
  test("defaults when nothing is set", () => {
    const problems: string[] = [];
    assert.deepEqual(readSettings(() => undefined, "/ws", problems), DEFAULTS);
    assert.deepEqual(problems, []);
  });

  test("values are normalised and ${workspaceFolder} expanded", () => {
    const values: Record<string, unknown> = {
      host: " 10.0.0.5 ",
      port: "8765",
      token: "s3cret",
      discoveryFile: ".reload_server",
      reloadOnSave: false,
      include: ["src/**/*.py", ""],
      pathMappings: [{ localRoot: "${workspaceFolder}/src", remoteRoot: "/app/src" }],
      notifications: "always",
    };
    const s = readSettings((k) => values[k], "/ws");
    assert.equal(s.host, "10.0.0.5");
    assert.equal(s.port, 8765);
    assert.equal(s.token, "s3cret");
    assert.equal(s.discoveryFile, path.resolve("/ws", ".reload_server"));
    assert.equal(s.reloadOnSave, false);
    assert.deepEqual(s.include, ["src/**/*.py"]);
    assert.deepEqual(s.pathMappings, [{ localRoot: "/ws/src", remoteRoot: "/app/src" }]);
    assert.equal(s.notifications, "always");
  });

  test("wrong types fall back to defaults and are reported", () => {
    const values: Record<string, unknown> = {
      port: 70000,
      reloadOnSave: "yes",
      include: "*.py",
      pathMappings: [{ localRoot: 1 }],
      notifications: "loud",
    };
    const problems: string[] = [];
    const s = readSettings((k) => values[k], "/ws", problems);
    assert.equal(s.port, null);
    assert.equal(s.reloadOnSave, true);
    assert.deepEqual(s.include, DEFAULTS.include);
    assert.deepEqual(s.pathMappings, []);
    assert.equal(s.notifications, "onError");
    assert.equal(problems.length, 5, problems.join("\n"));
  });

  test("only connection settings need a reconnect", () => {
    assert.equal(needsReconnect(DEFAULTS, { ...DEFAULTS, notifications: "off" }), false);
    assert.equal(needsReconnect(DEFAULTS, { ...DEFAULTS, include: ["a/*.py"] }), false);
    assert.equal(needsReconnect(DEFAULTS, { ...DEFAULTS, port: 1234 }), true);
    assert.equal(needsReconnect(DEFAULTS, { ...DEFAULTS, reloadOnSave: false }), true);
    assert.equal(
      needsReconnect(DEFAULTS, { ...DEFAULTS, pathMappings: [{ localRoot: "/a", remoteRoot: "/b" }] }),
      true,
    );
  });
});

describe("include globs", () => {
  test("** crosses folders, * does not", () => {
    assert.ok(matchesAny("app.py", ["**/*.py"]));
    assert.ok(matchesAny("src/pkg/mod.py", ["**/*.py"]));
    assert.ok(matchesAny("src/pkg/mod.py", ["src/**"]));
    assert.ok(!matchesAny("lib/pkg/mod.py", ["src/**"]));
    assert.ok(matchesAny("src/mod.py", ["src/*.py"]));
    assert.ok(!matchesAny("src/pkg/mod.py", ["src/*.py"]));
  });

  test("a pattern without a slash matches the file name anywhere", () => {
    assert.ok(matchesAny("deep/down/handlers.py", ["handlers.py"]));
    assert.ok(matchesAny("deep/down/test_x.py", ["test_*.py"]));
    assert.ok(!matchesAny("deep/down/x_test.py", ["test_*.py"]));
  });

  test("braces, classes, ? and escaping", () => {
    assert.ok(matchesAny("a/b.pyi", ["**/*.{py,pyi}"]));
    assert.ok(matchesAny("a/b.py", ["**/*.{py,pyi}"]));
    assert.ok(!matchesAny("a/b.pyc", ["**/*.{py,pyi}"]));
    assert.ok(matchesAny("m1.py", ["m[0-9].py"]));
    assert.ok(!matchesAny("mx.py", ["m[!a-z].py"]));
    assert.ok(matchesAny("ab.py", ["a?.py"]));
    assert.ok(!globToRegExp("a.py").test("axpy"), "a dot is literal");
    assert.ok(matchesAny("src\\win\\x.py", ["src/**/*.py"]), "backslashes are separators");
  });

  test("empty pattern list matches nothing", () => {
    assert.ok(!matchesAny("a.py", []));
  });
});

describe("discovery", () => {
  function writeEntry(dir: string, name: string, data: object): string {
    fs.mkdirSync(dir, { recursive: true });
    const f = path.join(dir, name);
    fs.writeFileSync(f, JSON.stringify(data));
    return f;
  }

  test("finds the newest live entry in a parent folder", () => {
    const root = tmpdir();
    const sub = path.join(root, "src", "pkg");
    fs.mkdirSync(sub, { recursive: true });
    const d = path.join(root, ".reload_server");
    writeEntry(d, "1.json", { version: 1, pid: process.pid, host: "127.0.0.1", port: 1111, token: null, started: 10 });
    writeEntry(d, "2.json", { version: 1, pid: process.pid, host: "0.0.0.0", port: 2222, token: "t", started: 20 });
    writeEntry(d, "3.json", { version: 1, pid: 999999999, host: "127.0.0.1", port: 3333, token: null, started: 30 });
    fs.writeFileSync(path.join(d, "junk.json"), "{not json");
    fs.writeFileSync(path.join(d, "notes.txt"), "ignored");

    assert.deepEqual(discoveryDirs([sub]), [d]);
    const live = liveEntries([d]);
    assert.deepEqual(
      live.map((f) => f.entry.port),
      [2222, 1111],
      "dead pid and junk left out, newest first",
    );
    const res = resolveTarget(DEFAULTS, [sub], {});
    assert.ok(res.target);
    assert.equal(res.target.port, 2222);
    assert.equal(res.target.host, "127.0.0.1", "0.0.0.0 is reached through loopback");
    assert.equal(res.target.token, "t");
    assert.equal(res.target.source, path.join(d, "2.json"));
  });

  test("the configured port wins over discovery", () => {
    const res = resolveTarget({ ...DEFAULTS, port: 4321, host: "localhost", token: "x" }, [], {});
    assert.deepEqual(res.target, { host: "localhost", port: 4321, token: "x", source: "settings" });
  });

  test("a configured discovery file or directory is used as is", () => {
    const root = tmpdir();
    const f = writeEntry(path.join(root, "elsewhere"), "7.json", {
      pid: process.pid,
      port: 7777,
      started: 1,
    });
    assert.equal(resolveTarget({ ...DEFAULTS, discoveryFile: f }, [], {}).target?.port, 7777);
    assert.equal(
      resolveTarget({ ...DEFAULTS, discoveryFile: path.dirname(f) }, [], {}).target?.port,
      7777,
    );
    assert.equal(readEntry(f)?.host, "127.0.0.1", "missing host defaults to loopback");
  });

  test("RELOAD_SERVER_DISCOVERY_DIR is searched too", () => {
    const d = path.join(tmpdir(), "disc");
    writeEntry(d, "1.json", { pid: process.pid, port: 5555, started: 1 });
    assert.equal(resolveTarget(DEFAULTS, [tmpdir()], { RELOAD_SERVER_DISCOVERY_DIR: d }).target?.port, 5555);
  });

  test("nothing found says where it looked", () => {
    const ws = tmpdir();
    const res = resolveTarget(DEFAULTS, [ws], {});
    assert.equal(res.target, null);
    assert.match(res.reason, /no running app found/);
    assert.ok(res.reason.includes(ws));
  });

  test("entries with a bad port are not entries", () => {
    const d = path.join(tmpdir(), ".reload_server");
    const f = writeEntry(d, "1.json", { pid: process.pid, port: "80" });
    assert.equal(readEntry(f), null);
  });
});

describe("presentation", () => {
  test("status bar for each state", () => {
    const target = { host: "127.0.0.1", port: 8765, token: null, source: "settings" };
    const app = { pid: 42, argv: ["/w/app.py", "--debug"], cwd: "/w" };
    assert.match(statusView({ kind: "disconnected", reason: "x", byUser: false }).text, /debug-disconnect/);
    assert.equal(statusView({ kind: "disconnected", reason: "x", byUser: false }).command, "reloadServer.connect");
    assert.match(statusView({ kind: "connecting", target }).text, /sync~spin/);
    const base = { kind: "connected", target, app, reloading: false, lastReload: null, clients: 1 } as const;
    const idle = statusView(base);
    assert.equal(idle.text, "$(zap) Reload Server");
    assert.match(idle.tooltip, /app\.py \(pid 42\) at 127\.0\.0\.1:8765/);
    assert.equal(statusView({ ...base, lastReload: outcome() }).text, "$(check) Reloaded app.handlers");
    const bad = statusView({ ...base, lastReload: failed });
    assert.equal(bad.text, "$(error) Reload failed: app.handlers");
    assert.equal(bad.background, "error");
    assert.match(bad.tooltip, /handlers\.py:2: SyntaxError: invalid syntax/);
    assert.match(statusView({ ...base, reloading: true }).text, /Reloading/);
  });

  test("notifications follow the policy", () => {
    assert.equal(notificationFor("off", failed), null);
    assert.equal(notificationFor("onError", outcome()), null);
    assert.deepEqual(notificationFor("onError", failed), {
      level: "error",
      message: "Reload failed: handlers.py:2: SyntaxError: invalid syntax.",
    });
    assert.deepEqual(notificationFor("always", outcome()), {
      level: "info",
      message: "reloaded app.handlers in 3.1 ms",
    });
    assert.equal(notificationFor("always", outcome({ status: "not_loaded" }))?.level, "warning");
    assert.match(
      notificationFor("onError", { ...failed, rolledBack: true })!.message,
      /old code is still running/,
    );
  });

  test("the tooltip shows the app's command line, and the folder when there are several", () => {
    const target = { host: "127.0.0.1", port: 8765, token: null, source: "settings" };
    const app = { pid: 42, argv: ["/w/app.py", "--name", "two words"], cwd: "/w" };
    const base = { kind: "connected", target, app, reloading: false, lastReload: null, clients: 1 } as const;
    const tip = statusView(base).tooltip;
    assert.ok(tip.includes('Command line: /w/app.py --name "two words"'), tip);
    assert.ok(!tip.includes("Workspace folder"), tip);
    assert.match(statusView(base, "api").tooltip, /Workspace folder: api/);
    assert.match(
      statusView({ kind: "disconnected", reason: "x", byUser: false }, "web").tooltip,
      /Workspace folder: web/,
    );
  });

  test("a rolled-back failure says once that the old code still runs", () => {
    const rolledBack = outcome({
      status: "failed",
      phase: "exec",
      rolledBack: true,
      message: "failed to reload app.handlers: ZeroDivisionError",
      notes: [
        {
          ...failed.notes[0],
          kind: "import",
          message: "ZeroDivisionError: division by zero (rolled back; the old code is still running)",
        },
      ],
    });
    const n = notificationFor("onError", rolledBack)!;
    assert.equal(
      n.message,
      "Reload failed: handlers.py:2: ZeroDivisionError: division by zero (rolled back; the old code is still running).",
    );
    assert.equal(n.message.match(/old code is still running/gi)?.length, 1, n.message);
  });

  test("the language client's lines keep their level; an app restart is no error", () => {
    assert.equal(clientLogLine(`[Error - 10:00:00 AM] ${EXPECTED_CLOSE}`), null);
    assert.deepEqual(
      clientLogLine("[Error - 10:00:00] Connection to server got closed. Server will not be restarted."),
      { level: "info", message: "Connection to server got closed. Server will not be restarted." },
    );
    assert.deepEqual(clientLogLine("[Error - 10:00:00] Request failed."), {
      level: "error",
      message: "Request failed.",
    });
    assert.deepEqual(clientLogLine("[Info  - 10:00:00] hello\n"), { level: "info", message: "hello" });
    assert.deepEqual(clientLogLine("Error: stack line"), { level: "info", message: "Error: stack line" });
    assert.equal(clientLogLine(""), null);
    assert.deepEqual([1, 2, 3, 4, 5].map(serverLogLevel), ["error", "warn", "info", "info", "debug"]);
  });

  test("initializationOptions carry the token only when there is one", () => {
    assert.deepEqual(initializationOptions({ token: null, reloadOnSave: true, pathMappings: [] }), {
      reloadOnSave: true,
      pathMappings: [],
      clientName: "vscode-reload-server",
      notify: "off",
    });
    assert.equal(initializationOptions({ token: "t", reloadOnSave: false, pathMappings: [] }).token, "t");
  });

  test("isReloadOutcome rejects other shapes", () => {
    assert.ok(isReloadOutcome(outcome()));
    assert.ok(!isReloadOutcome({ ...outcome(), status: "ok" }));
    assert.ok(!isReloadOutcome({ status: "reloaded" }));
    assert.ok(!isReloadOutcome(null));
  });
});

describe("controller (fake connector)", () => {
  function writeDiscovery(ws: string, port: number): void {
    fs.mkdirSync(path.join(ws, ".reload_server"), { recursive: true });
    fs.writeFileSync(
      path.join(ws, ".reload_server", `${process.pid}.json`),
      JSON.stringify({ version: 1, pid: process.pid, host: "127.0.0.1", port, token: null, started: 1 }),
    );
  }

  function discoveryWorkspace(port: number): string {
    const ws = tmpdir();
    writeDiscovery(ws, port);
    return ws;
  }

  function fakeConnector(plan: { fail?: Error & { code?: number } } = {}) {
    const calls: { port: number; handlers: SessionHandlers; stopped: boolean; reloadOnSave: boolean; requests: string[] }[] = [];
    const connector: Connector = async (target, init, handlers) => {
      if (plan.fail) throw plan.fail;
      const call = { port: target.port, handlers, stopped: false, reloadOnSave: init.reloadOnSave, requests: [] as string[] };
      calls.push(call);
      return {
        initializeResult: {
          capabilities: { experimental: { reloadServer: { protocolVersion: 1, app: { pid: 7, argv: ["app.py"], cwd: "/w" } } } },
        },
        request: async <T>(method: string) => {
          call.requests.push(method);
          return outcome({ status: "unchanged", message: "nothing to reload" }) as T;
        },
        stop: async () => {
          call.stopped = true;
        },
      };
    };
    return { connector, calls };
  }

  test("auto-connects through discovery and reconnects after the app goes away", async () => {
    const ws = discoveryWorkspace(4000);
    const host = new FakeHost([ws]);
    const { connector, calls } = fakeConnector();
    const ctl = new Controller(host, connector, { pollMs: 20 });
    try {
      ctl.start();
      await waitFor(() => ctl.connectionState.kind === "connected");
      assert.equal(calls.length, 1);
      assert.match(host.status!.tooltip, /app\.py \(pid 7\)/);

      // The app exits: its connection closes and its discovery file goes.
      fs.rmSync(path.join(ws, ".reload_server"), { recursive: true });
      calls[0].handlers.onClosed("socket closed");
      assert.equal(ctl.connectionState.kind, "disconnected");
      assert.match(host.status!.text, /debug-disconnect/);

      // It comes back on another port: found without any user action.
      writeDiscovery(ws, 4001);
      await waitFor(() => ctl.connectionState.kind === "connected");
      assert.equal(calls.length, 2);
      assert.equal(calls[1].port, 4001);
    } finally {
      await ctl.dispose();
    }
  });

  test("status notifications update the status bar and report each reload once", async () => {
    const ws = discoveryWorkspace(4100);
    const host = new FakeHost([ws]);
    host.settingsValue = { ...DEFAULTS, notifications: "always" };
    const { connector, calls } = fakeConnector();
    const ctl = new Controller(host, connector, { pollMs: 20 });
    try {
      ctl.start();
      await waitFor(() => calls.length === 1 && ctl.connectionState.kind === "connected");
      const app = { pid: 7, argv: ["app.py"], cwd: "/w" };
      // The first status after connecting shows the past, without a notification.
      calls[0].handlers.onStatus({ state: "idle", app, lastReload: outcome(), clients: 2 });
      assert.equal(host.notifications.length, 0);
      assert.equal(host.status!.text, "$(check) Reloaded app.handlers");
      assert.match(host.status!.tooltip, /2 editors connected/);
      calls[0].handlers.onStatus({ state: "reloading", app, lastReload: outcome(), clients: 2 });
      assert.match(host.status!.text, /Reloading/);
      calls[0].handlers.onStatus({ state: "idle", app, lastReload: failed, clients: 2 });
      calls[0].handlers.onStatus({ state: "idle", app, lastReload: failed, clients: 2 });
      assert.equal(host.notifications.length, 1, "one reload, one notification");
      assert.equal(host.notifications[0].level, "error");
      assert.match(host.status!.text, /Reload failed/);
      assert.ok(host.lines.some((l) => l.includes("SyntaxError: invalid syntax")), host.lines.join("\n"));
    } finally {
      await ctl.dispose();
    }
  });

  test("disconnect stops auto-reconnect until connect", async () => {
    const ws = discoveryWorkspace(4200);
    const host = new FakeHost([ws]);
    const { connector, calls } = fakeConnector();
    const ctl = new Controller(host, connector, { pollMs: 20 });
    try {
      ctl.start();
      await waitFor(() => ctl.connectionState.kind === "connected");
      await ctl.disconnect();
      assert.equal(calls[0].stopped, true);
      await new Promise((r) => setTimeout(r, 100));
      assert.equal(calls.length, 1, "no reconnect after a deliberate disconnect");
      assert.equal(await ctl.connect(), true);
      assert.equal(calls.length, 2);
    } finally {
      await ctl.dispose();
    }
  });

  test("a refused token is reported once and not retried", async () => {
    const ws = discoveryWorkspace(4300);
    const host = new FakeHost([ws]);
    const err = Object.assign(new Error("Unauthorized: wrong token"), { code: -32001 });
    const { connector } = fakeConnector({ fail: err });
    const ctl = new Controller(host, connector, { pollMs: 10 });
    try {
      ctl.start();
      await new Promise((r) => setTimeout(r, 150));
      assert.equal(host.notifications.filter((n) => n.level === "error").length, 1);
      assert.equal(ctl.connectionState.kind, "disconnected");
    } finally {
      await ctl.dispose();
    }
  });

  test("a server that accepts the socket but fails to start is not retried at once", async () => {
    const ws = discoveryWorkspace(4400);
    const host = new FakeHost([ws]);
    let attempts = 0;
    const connector: Connector = async () => {
      attempts++;
      throw Object.assign(new Error("couldn't create connection"), { afterConnect: true });
    };
    const ctl = new Controller(host, connector, { pollMs: 10 });
    try {
      ctl.start();
      await new Promise((r) => setTimeout(r, 200));
      assert.equal(attempts, 1, "one attempt, then a pause");
      assert.match(host.status!.tooltip, /retrying later/);
    } finally {
      await ctl.dispose();
    }
  });

  test("a refused connection is retried quietly until the app is there", async () => {
    const ws = discoveryWorkspace(4500);
    const host = new FakeHost([ws]);
    let attempts = 0;
    const ok = fakeConnector();
    const connector: Connector = async (target, init, handlers) => {
      attempts++;
      if (attempts < 4) throw Object.assign(new Error("connect ECONNREFUSED"), { code: "ECONNREFUSED" });
      return ok.connector(target, init, handlers);
    };
    const ctl = new Controller(host, connector, { pollMs: 10 });
    try {
      ctl.start();
      await waitFor(() => ctl.connectionState.kind === "connected", 5000, "connected");
      assert.equal(attempts, 4);
      assert.deepEqual(host.notifications, [], "no pop-up for retries");
      assert.equal(host.lines.filter((l) => l.includes("Connecting to")).length, 1, host.lines.join("\n"));
    } finally {
      await ctl.dispose();
    }
  });

  test("reload on save follows reloadOnSave and include", () => {
    const host = new FakeHost([]);
    host.settingsValue = { ...DEFAULTS, include: ["src/**/*.py"] };
    const ctl = new Controller(host, fakeConnector().connector);
    assert.equal(ctl.shouldReloadOnSave("/ws/src/a/b.py"), true);
    assert.equal(ctl.shouldReloadOnSave("/ws/tests/test_b.py"), false);
    assert.equal(ctl.shouldReloadOnSave("/ws/src/a/data.json"), false);
    host.settingsValue = { ...DEFAULTS, reloadOnSave: false };
    ctl.settingsChanged();
    assert.equal(ctl.shouldReloadOnSave("/ws/src/a/b.py"), false);
    void ctl.dispose();
  });

  test("commands without an app say so instead of failing silently", async () => {
    const host = new FakeHost([tmpdir()]);
    const ctl = new Controller(host, fakeConnector().connector, { pollMs: 10_000 });
    try {
      assert.equal(await ctl.reloadStale(), null);
      assert.equal(host.notifications.length, 1);
      assert.match(host.notifications[0].message, /no running app found/);
    } finally {
      await ctl.dispose();
    }
  });
  test("each reload is logged once: the server's line, then only what it leaves out", async () => {
    const ws = discoveryWorkspace(4600);
    const host = new FakeHost([ws]);
    const { connector, calls } = fakeConnector();
    const ctl = new Controller(host, connector, { pollMs: 20 });
    try {
      ctl.start();
      await waitFor(() => calls.length === 1 && ctl.connectionState.kind === "connected");
      const h = calls[0].handlers;
      const app = { pid: 7, argv: ["app.py"], cwd: "/w" };
      h.onStatus({ state: "idle", app, lastReload: null, clients: 1 });
      // The server logs each reload, then sends the status that carries it.
      h.onLog(3, "reload_server: reloaded app.handlers in 3.1 ms");
      h.onStatus({ state: "idle", app, lastReload: outcome(), clients: 1 });
      h.onLog(1, "reload_server: failed to reload app.handlers: SyntaxError [/p/app/handlers.py:2]");
      h.onStatus({ state: "idle", app, lastReload: failed, clients: 1 });
      const count = (text: string) => host.lines.filter((l) => l.includes(text)).length;
      assert.equal(count("reloaded app.handlers in 3.1 ms"), 1, host.lines.join("\n"));
      assert.equal(count("failed to reload app.handlers"), 1, host.lines.join("\n"));
      assert.equal(count("SyntaxError: invalid syntax"), 1, "the notes are still logged");
      assert.ok(host.lines.some((l) => l.startsWith("[error] reload_server: failed")), host.lines.join("\n"));

      // A request's result may come before the server's line about it.
      const forced = outcome({ message: "reloaded app.handlers in 1.2 ms" });
      h.onStatus({ state: "idle", app, lastReload: forced, clients: 1 });
      h.onLog(3, "reload_server: reloaded app.handlers in 1.2 ms");
      assert.equal(count("reloaded app.handlers in 1.2 ms"), 1, host.lines.join("\n"));
      h.onLog(4, "reload_server: app/other.py is not loaded");
      assert.equal(count("app/other.py is not loaded"), 1, "other server lines are logged");
    } finally {
      await ctl.dispose();
    }
  });

  test("an app that closes its connection is an expected reconnect, not an error", async () => {
    const ws = discoveryWorkspace(4700);
    const host = new FakeHost([ws]);
    const { connector, calls } = fakeConnector();
    const ctl = new Controller(host, connector, { pollMs: 20 });
    try {
      ctl.start();
      await waitFor(() => ctl.connectionState.kind === "connected");
      calls[0].handlers.onClosed("the app closed the connection");
      await waitFor(() => calls.length === 2 && ctl.connectionState.kind === "connected");
      assert.deepEqual(host.lines.filter((l) => l.startsWith("[error]") || l.startsWith("[warn]")), []);
      assert.ok(host.lines.some((l) => /^\[info\] Connection closed .*reconnecting/.test(l)), host.lines.join("\n"));
    } finally {
      await ctl.dispose();
    }
  });
});

describe("controller: one connection per workspace folder", () => {
  function folderWithApp(port: number): string {
    const ws = tmpdir();
    fs.mkdirSync(path.join(ws, ".reload_server"));
    fs.writeFileSync(
      path.join(ws, ".reload_server", `${process.pid}.json`),
      JSON.stringify({ version: 1, pid: process.pid, host: "127.0.0.1", port, token: null, started: 1 }),
    );
    return ws;
  }

  function recordingConnector() {
    const byPort = new Map<number, { handlers: SessionHandlers; requests: string[]; stopped: boolean; reloadOnSave: boolean }>();
    const connector: Connector = async (target, init, handlers) => {
      const rec = { handlers, requests: [] as string[], stopped: false, reloadOnSave: init.reloadOnSave };
      byPort.set(target.port, rec);
      return {
        initializeResult: {
          capabilities: { experimental: { reloadServer: { app: { pid: target.port, argv: [`app${target.port}.py`], cwd: "/" } } } },
        },
        request: async <T>(method: string) => {
          rec.requests.push(method);
          return outcome({ status: "unchanged", message: `nothing to reload (${target.port})` }) as T;
        },
        stop: async () => {
          rec.stopped = true;
        },
      };
    };
    return { connector, byPort };
  }

  function doc(fsPath: string) {
    return { fsPath, languageId: "python", isDirty: false, isUntitled: false, save: async () => true };
  }

  test("two folders, two apps: saves, diagnostics, commands and status go to the file's folder", async () => {
    const a = folderWithApp(5001);
    const b = folderWithApp(5002);
    const host = new FakeHost([a, b]);
    const bSettings: Settings = { ...DEFAULTS, include: ["src/**/*.py"], notifications: "off" };
    host.folderSettings.set(b, bSettings);
    const { connector, byPort } = recordingConnector();
    const ctl = new Controller(host, connector, { pollMs: 20 });
    try {
      ctl.start();
      await waitFor(() => byPort.size === 2, 5000, "a connection per folder");
      const ha = byPort.get(5001)!.handlers;
      const hb = byPort.get(5002)!.handlers;
      const inA = path.join(a, "shop", "pricing.py");
      const inB = path.join(b, "src", "pricing.py");
      const outside = path.join(tmpdir(), "lib.py");

      // Saves: each folder's connection sends its own, with its own settings.
      assert.equal(ha.shouldReloadOnSave(inA), true);
      assert.equal(hb.shouldReloadOnSave(inA), false, "B's app never hears of A's saves");
      assert.equal(hb.shouldReloadOnSave(inB), true);
      assert.equal(ha.shouldReloadOnSave(inB), false);
      assert.equal(hb.shouldReloadOnSave(path.join(b, "tests", "t.py")), false, "B's include");
      assert.equal(ha.shouldReloadOnSave(outside), true, "a file in no folder: the first folder's");
      assert.equal(hb.shouldReloadOnSave(outside), false);

      // Diagnostics: each connection shows its folder's (and files in no folder).
      assert.equal(ha.acceptsDiagnostics(inA), true);
      assert.equal(ha.acceptsDiagnostics(inB), false);
      assert.equal(hb.acceptsDiagnostics(inB), true);
      assert.equal(hb.acceptsDiagnostics(inA), false);
      assert.equal(hb.acceptsDiagnostics(outside), true);

      // The status bar and the commands follow the active file.
      host.document = doc(inB);
      ctl.poke();
      assert.match(host.status!.tooltip, /app5002\.py/);
      assert.match(host.status!.tooltip, new RegExp(`Workspace folder: ${path.basename(b)}`));
      await ctl.reloadStale();
      assert.deepEqual(byPort.get(5002)!.requests, ["reloadStale"]);
      assert.deepEqual(byPort.get(5001)!.requests, []);
      host.document = doc(inA);
      ctl.poke();
      assert.match(host.status!.tooltip, /app5001\.py/);
      await ctl.reloadCurrentFile();
      assert.deepEqual(byPort.get(5001)!.requests, ["reloadPath"]);

      // A failure in B follows B's notifications setting; A's app is untouched.
      const app = { pid: 5002, argv: ["app5002.py"], cwd: "/" };
      hb.onStatus({ state: "idle", app, lastReload: null, clients: 1 });
      hb.onStatus({ state: "idle", app, lastReload: failed, clients: 1 });
      assert.deepEqual(host.notifications, [], "B's notifications are off");
      assert.equal(ctl.connectionState.kind, "connected");
      assert.ok(host.lines.some((l) => l.includes(`[${path.basename(b)}]`)), "log lines name the folder");

      // Disconnect acts on the active file's folder only.
      await ctl.disconnect();
      assert.equal(byPort.get(5001)!.stopped, true);
      assert.equal(byPort.get(5002)!.stopped, false);

      // A folder removed from the workspace: its connection goes.
      host.workspaceFolders = [a];
      ctl.poke();
      await waitFor(() => byPort.get(5002)!.stopped, 2000, "B's connection to stop");
    } finally {
      await ctl.dispose();
    }
  });

  test("per-folder settings go into each folder's connection", async () => {
    const a = folderWithApp(5011);
    const b = folderWithApp(5012);
    const host = new FakeHost([a, b]);
    host.folderSettings.set(b, { ...DEFAULTS, reloadOnSave: false });
    const { connector, byPort } = recordingConnector();
    const ctl = new Controller(host, connector, { pollMs: 20 });
    try {
      ctl.start();
      await waitFor(() => byPort.size === 2, 5000, "a connection per folder");
      assert.equal(byPort.get(5011)!.reloadOnSave, true);
      assert.equal(byPort.get(5012)!.reloadOnSave, false);
      assert.equal(ctl.shouldReloadOnSave(path.join(b, "x.py")), false);
      assert.equal(ctl.shouldReloadOnSave(path.join(a, "x.py")), true);
    } finally {
      await ctl.dispose();
    }
  });
});
