---@mod reload_server.outcomes Reload outcomes: remembered, notified once whichever way they arrive.
---
--- The server reports a reload the client asked for twice: as the reply to the
--- request and as `lastReload` of the status notification that follows it; and
--- reloads someone else asked for (another editor, a save, a file watcher) only
--- in status notifications.  The user hears of each once.

local notify = require("reload_server.notify")
local sessions = require("reload_server.sessions")

local M = {}

---What makes two deliveries the same outcome.
---@param o table ReloadOutcome
---@return string
local function key(o)
  return table.concat({
    tostring(o.status),
    tostring(o.message),
    tostring(o.durationMs),
    table.concat(o.files or {}, ","),
  }, "|")
end

---Appends a key to a short memory (the last 16 keys), which does not grow with
---every reload: the two deliveries of one outcome follow each other closely.
---@param list string[]
---@param k string
local function remember(list, k)
  table.insert(list, k)
  if #list > 16 then
    table.remove(list, 1)
  end
end

---Records an outcome (a reply, or `lastReload` of a status notification) and
---notifies it.  The same outcome often arrives both ways: it is announced once.
---A reply (`asked`) is always answered, unless its status notification was
---already announced; outcomes this client did not ask for are announced only
---when they are news: a reload or a failure.
---@param s reload_server.Session
---@param outcome table ReloadOutcome
---@param asked boolean this client requested it
function M.record(s, outcome, asked)
  if type(outcome) ~= "table" then
    return
  end
  local k = key(outcome)
  if not vim.tbl_contains(s.recorded, k) then
    remember(s.recorded, k)
    s.last_reload = outcome
    vim.api.nvim_exec_autocmds(
      "User",
      { pattern = "ReloadServerReload", modeline = false, data = outcome }
    )
    sessions.redraw()
  end
  if asked then
    if not vim.tbl_contains(s.announced_status, k) then
      remember(s.notified, k)
      notify.outcome(outcome)
    end
  elseif outcome.status == "reloaded" or outcome.status == "failed" then
    if not vim.tbl_contains(s.notified, k) then
      remember(s.notified, k)
      remember(s.announced_status, k)
      notify.outcome(outcome)
    end
  end
end

---Takes note of an outcome without announcing it: the last reload the server
---reports when we connect happened before, it is context, not news.
---@param s reload_server.Session
---@param outcome table ReloadOutcome
function M.seen(s, outcome)
  local k = key(outcome)
  s.last_reload = outcome
  remember(s.recorded, k)
  remember(s.notified, k)
  remember(s.announced_status, k)
end

return M
