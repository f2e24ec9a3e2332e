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

--- A notification is one short line: a longer one wraps, and in an 80-column
--- terminal Neovim then stops at "Press ENTER" after every failed save.  The
--- details are in the diagnostic and :ReloadInfo (`summary()`).
M.max_width = 70 -- the whole message, "reload_server: " included

---`text` cut to `width` characters, its end replaced by "…".
local function fit(text, width)
  if vim.fn.strchars(text) <= width then
    return text
  end
  return vim.fn.strcharpart(text, 0, width - 1) .. "…"
end

---`name` cut to `width` characters at its start: the end of a dotted module
---name or of a path is the part that tells which one.
local function fit_left(name, width)
  local n = vim.fn.strchars(name)
  if n <= width then
    return name
  end
  return "…" .. vim.fn.strcharpart(name, n - (width - 1))
end

---"greeting", "greeting and 2 more", within `width` characters if it can be:
---the first name is kept (its end, at least 16 characters), "and N more" only
---when there is room.
---@param list string[]
---@param width integer
---@return string|nil
local function names(list, width)
  if type(list) ~= "table" or #list == 0 then
    return nil
  end
  local more = #list > 1 and (" and %d more"):format(#list - 1) or ""
  if vim.fn.strchars(list[1]) + #more > width then
    more = ""
  end
  return fit_left(list[1], math.max(width - #more, 16)) .. more
end

---"(SyntaxError, line 13)": the error's type and where, from the first error note.
---@param outcome table ReloadOutcome
---@return string
local function why(outcome)
  local note = M.first_error(outcome)
  if not note then
    return "(" .. tostring(outcome.phase or "error") .. ")"
  end
  local what = type(note.message) == "string" and note.message:match("^([%w_.]+):") or nil
  what = what and what:match("([%w_]+)$") or note.kind or outcome.phase or "error"
  if type(note.line) ~= "number" then
    return "(" .. what .. ")"
  end
  local files = outcome.files or {}
  local where = "line " .. note.line
  if type(note.file) == "string" and not (#files == 1 and files[1] == note.file) then
    -- Not the one file reloaded: say which file the line is in.
    where = fit_left(vim.fs.basename(note.file), 20) .. ":" .. note.line
  end
  return ("(%s, %s)"):format(what, where)
end

---One short line saying what a reload did, for a notification.
---@param outcome table ReloadOutcome (docs/protocol.md)
---@return string text, integer level
function M.headline(outcome)
  local width = M.max_width - #"reload_server: "
  local status = outcome.status
  local file = (outcome.files or {})[1]
  file = type(file) == "string" and vim.fs.basename(file) or nil
  if status == "failed" then
    local tail = (outcome.rolledBack and " rolled back " or " not reloaded ") .. why(outcome)
    local room = width - vim.fn.strchars(tail)
    local what = names(outcome.modules, room) or (file and fit_left(file, room)) or "the module"
    return fit(what .. tail, width), levels.ERROR
  end
  local text, level = M.summary(outcome)
  text = text:gsub("%s*\n.*", "") -- the first line
  if vim.fn.strchars(text) <= width then
    return text, level
  end
  local what
  if status == "reloaded" then
    what = names(outcome.modules, width - #"reloaded ")
    text = what and ("reloaded " .. what) or text
  elseif status == "unchanged" then
    what = names(outcome.modules, width - #" unchanged; nothing reloaded")
    text = what and (what .. " unchanged; nothing reloaded") or text
  elseif status == "not_loaded" and file then
    local suffix = " is not a module loaded in the app"
    text = fit_left(file, width - #suffix) .. suffix
  end
  return fit(text, width), level
end

---Notifies a reload in one short line.
---@param outcome table
function M.outcome(outcome)
  local text, level = M.headline(outcome)
  M.send(text, level)
end

return M
