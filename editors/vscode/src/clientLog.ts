// What vscode-languageclient writes into the output channel, turned into log
// lines at their real level. The client formats its own lines as
// `[Error - 10:00:00] message` and writes them as plain text, so a normal app
// restart would read as an error; the connection logs the reconnect itself.
import type { Log } from "./host";

export type LogLevel = "debug" | "info" | "warn" | "error";

export interface LogLine {
  level: LogLevel;
  message: string;
}

/** The message our close handler gives the client: the app went away, we reconnect. */
export const EXPECTED_CLOSE = "The app closed the connection; Reload Server reconnects when it is back.";

const LEVELS: Record<string, LogLevel> = {
  Trace: "debug",
  Debug: "debug",
  Info: "info",
  Warn: "warn",
  Error: "error",
};

/** One line written by the client, or null when the connection reports it itself. */
export function clientLogLine(text: string): LogLine | null {
  const line = text.replace(/\r?\n$/, "");
  const m = /^\[(Trace|Debug|Info|Warn|Error)\s*- [^\]]*\] ([\s\S]*)$/.exec(line);
  if (!m) return line.trim() === "" ? null : { level: "info", message: line };
  const message = m[2];
  if (message === EXPECTED_CLOSE) return null;
  if (message.startsWith("Connection to server got closed")) return { level: "info", message };
  return { level: LEVELS[m[1]], message };
}

/** `window/logMessage` type (1 error … 4 log, 5 debug) to a log level. */
export function serverLogLevel(type: number): LogLevel {
  switch (type) {
    case 1:
      return "error";
    case 2:
      return "warn";
    case 3:
    case 4:
      return "info";
    default:
      return "debug";
  }
}

export function write(log: Log, line: LogLine): void {
  log[line.level](line.message);
}
