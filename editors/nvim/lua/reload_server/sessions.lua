---@mod reload_server.sessions The sessions, one per project root, and finding them.
---
--- A session is the plugin's view of one app: where it was found, the LSP
--- client talking to it, what the server last said.  This module only keeps
--- them and answers "which session is this buffer's"; connect.lua fills them
--- in, attach.lua and outcomes.lua use them.

local uv = vim.uv or vim.loop

local M = {}

---@class reload_server.Session
---@field root string                 project root on our side (real path)
---@field host string|nil
---@field port integer|nil
---@field token string|nil
---@field source "discovery"|"port"|"command"|nil how host and port were found
---@field file string|nil             discovery file used
---@field entry reload_server.Entry|nil
---@field client_id integer|nil
---@field state "connecting"|"connected"|"disconnected"
---@field app table|nil               experimental.reloadServer.app from `initialize`
---@field server_info table|nil
---@field status table|nil            last reloadServer/status params
---@field last_reload table|nil       last ReloadOutcome seen (reply or status)
---@field last_error string|nil       why the last connection attempt failed
---@field init_error string|nil       the server's answer to a refused `initialize`
---@field waiting fun(s: reload_server.Session|nil, err: string|nil)[]
---@field stopping boolean            a disconnect we asked for is under way
---@field off boolean                 the user disconnected: no automatic connection
---@field quiet boolean               the current attempt is automatic: report a failing address once
---@field lost boolean                the app went away; the next connection is a reconnection
---@field reconnect_timer userdata|nil
---@field recorded string[]           keys of outcomes already recorded (most recent last)
---@field notified string[]           keys of outcomes already notified (most recent last)
---@field announced_status string[]   keys of those notified from a status notification

---@type table<string, reload_server.Session>
M.by_root = {}

---@type table<integer, reload_server.Session>
M.by_client = {}

---@param path string
---@return string
function M.realpath(path)
  return uv.fs_realpath(path) or vim.fs.normalize(path)
end

---The absolute path of a buffer's file, or nil for unnamed and non-file buffers.
---@param buf integer
---@return string|nil
function M.buf_path(buf)
  if not vim.api.nvim_buf_is_valid(buf) then
    return nil
  end
  local name = vim.api.nvim_buf_get_name(buf)
  if name == "" or name:match("^%a[%w+.-]*://") then
    return nil
  end
  local abs = vim.fn.fnamemodify(name, ":p")
  local dir = M.realpath(vim.fs.dirname(abs))
  return dir .. "/" .. vim.fs.basename(abs)
end

---Directory to start looking from for a buffer.
---@param buf integer
---@return string
function M.start_dir(buf)
  local path = M.buf_path(buf)
  return path and vim.fs.dirname(path) or M.realpath(vim.fn.getcwd())
end

local function under(path, root)
  return root == "/" or path == root or path:sub(1, #root + 1) == root .. "/"
end

---The session whose root holds `path` (the deepest one).
---@param path string
---@return reload_server.Session|nil
function M.for_path(path)
  local best
  for root, s in pairs(M.by_root) do
    if under(path, root) and (not best or #root > #best.root) then
      best = s
    end
  end
  return best
end

---The session of a buffer (by its file, or the working directory).
---@param buf integer|nil
---@return reload_server.Session|nil
function M.for_buf(buf)
  buf = (buf == nil or buf == 0) and vim.api.nvim_get_current_buf() or buf
  local path = M.buf_path(buf) or M.realpath(vim.fn.getcwd())
  return M.for_path(path)
end

---The session of a project root, made (disconnected) if there is none yet.
---@param root string
---@return reload_server.Session
function M.get(root)
  local s = M.by_root[root]
  if not s then
    s = {
      root = root,
      state = "disconnected",
      waiting = {},
      stopping = false,
      off = false,
      lost = false,
      quiet = false,
      recorded = {},
      notified = {},
      announced_status = {},
    }
    M.by_root[root] = s
  end
  return s
end

---@param s reload_server.Session
---@return table|nil vim.lsp.Client
function M.client(s)
  if not s or not s.client_id then
    return nil
  end
  return vim.lsp.get_client_by_id(s.client_id)
end

---@param s reload_server.Session
---@return string "host:port"
function M.address(s)
  return ("%s:%s"):format(s.host, s.port)
end

---"app (pid 123, python app.py) at 127.0.0.1:8765", from what we know of it.
---@param s reload_server.Session
---@return string
function M.describe_app(s)
  local app = s.app or s.entry or {}
  local bits = {}
  if app.pid then
    bits[#bits + 1] = "pid " .. app.pid
  end
  if type(app.argv) == "table" and #app.argv > 0 then
    bits[#bits + 1] = table.concat(app.argv, " ")
  end
  local what = #bits > 0 and ("app (" .. table.concat(bits, ", ") .. ")") or "app"
  return what .. " at " .. M.address(s)
end

---Tells statuslines (and `User ReloadServerStatus` listeners) that something changed.
function M.redraw()
  vim.api.nvim_exec_autocmds("User", { pattern = "ReloadServerStatus", modeline = false })
  pcall(vim.cmd, "redrawstatus!")
end

return M
