---@mod reload_server.notify Short messages for the user, following the `notify` option.

local config = require("reload_server.config")

local M = {}

local levels = vim.log.levels

---@param msg string
---@param level integer vim.log.levels.*
function M.send(msg, level)
  local mode = config.options.notify
  if mode == "off" then
    return
  end
  if mode == "on_error" and level < levels.WARN then
    return
  end
  vim.notify("reload_server: " .. msg, level, { title = "reload_server" })
end

function M.info(msg)
  M.send(msg, levels.INFO)
end

function M.warn(msg)
  M.send(msg, levels.WARN)
end

function M.error(msg)
  M.send(msg, levels.ERROR)
end

---@param file string|nil
local function short(file)
  if type(file) ~= "string" then
    return nil
  end
  return vim.fn.fnamemodify(file, ":~:.")
end

---The first error note of an outcome, if any.
---@param outcome table ReloadOutcome
---@return table|nil
function M.first_error(outcome)
  for _, note in ipairs(outcome.notes or {}) do
    if note.severity == "error" then
      return note
    end
  end
  return nil
end

---One line saying what a reload did.
---@param outcome table ReloadOutcome (docs/protocol.md)
---@return string text, integer level
function M.summary(outcome)
  local status = outcome.status
  local message = type(outcome.message) == "string" and outcome.message or nil
  local modules = table.concat(outcome.modules or {}, ", ")
  if status == "reloaded" then
    return message or ("reloaded " .. modules), levels.INFO
  elseif status == "unchanged" then
    return message or "nothing to reload: unchanged since it was loaded", levels.INFO
  elseif status == "not_loaded" then
    return message or "not a module loaded in the app", levels.WARN
  end
  -- "reloading greeting failed at greeting.py:5:12: SyntaxError: invalid syntax;
  --  not applied, the old code is still running"
  local head = "reloading " .. (modules ~= "" and modules or "the module") .. " failed"
  local note = M.first_error(outcome)
  local where = note and short(note.file)
  if where and type(note.line) == "number" then
    where = where .. ":" .. note.line
    if type(note.column) == "number" then
      where = where .. ":" .. note.column
    end
  end
  if where and not (message or ""):find(where, 1, true) then
    head = head .. " at " .. where
  end
  local text = head
    .. ": "
    .. (message or (note and note.message) or ("phase " .. tostring(outcome.phase)))
  if not text:find("old code", 1, true) then
    if outcome.rolledBack then
      text = text .. "; rolled back, the old code is still running"
    else
      text = text .. "; not applied, the old code is still running"
    end
  end
  return text, levels.ERROR
end

---Notifies the summary of a reload.
---@param outcome table
function M.outcome(outcome)
  local text, level = M.summary(outcome)
  M.send(text, level)
end

return M
