---@mod reload_server.commands What the user commands do.

local connection = require("reload_server.connection")
local notify = require("reload_server.notify")
local status = require("reload_server.status")

local M = {}

local function current(buf)
  return (buf == nil or buf == 0) and vim.api.nvim_get_current_buf() or buf
end

local function reply_handler(s, what)
  return function(err, result)
    if err then
      notify.error(("%s failed: %s"):format(what, err.message or vim.inspect(err)))
      return
    end
    connection.record_outcome(s, result, true)
  end
end

---Reloads the module of a buffer's file in the app (:ReloadModule).
---@param opts {buf: integer|nil, force: boolean|nil}|nil
function M.reload_module(opts)
  opts = opts or {}
  local buf = current(opts.buf)
  local name = vim.api.nvim_buf_get_name(buf)
  if not connection.buf_path(buf) then
    notify.error("this buffer has no file to reload")
    return
  end
  local file = vim.fn.fnamemodify(name, ":p")
  if vim.bo[buf].modified then
    notify.warn("the buffer has unsaved changes; reloading the file as it is on disk")
  end
  connection.with_session(buf, function(s)
    local params = { uri = vim.uri_from_fname(file) }
    if opts.force then
      params.force = true
    end
    connection.request(
      s,
      "reloadPath",
      params,
      reply_handler(s, "reloading " .. vim.fn.fnamemodify(file, ":~:."))
    )
  end)
end

---Reloads every stale module of the app (:ReloadStale).
---@param opts {buf: integer|nil}|nil
function M.reload_stale(opts)
  opts = opts or {}
  local buf = current(opts.buf)
  connection.with_session(buf, function(s)
    connection.request(
      s,
      "reloadStale",
      vim.empty_dict(),
      reply_handler(s, "reloading stale modules")
    )
  end)
end

---Parses "[host:]port".
---@param arg string
---@return string|nil host, integer|nil port
function M.parse_address(arg)
  arg = vim.trim(arg or "")
  local host, port = arg:match("^%[?([^%]]*)%]?:(%d+)$")
  if not port then
    port = arg:match("^(%d+)$")
  end
  port = tonumber(port)
  if not port or port < 1 or port > 65535 then
    return nil, nil
  end
  if host == "" then
    host = nil
  end
  return host, port
end

---Connects the buffer's project: to `[host:]port` when given, else as configured (:ReloadConnect).
---@param arg string|nil
---@param opts {buf: integer|nil}|nil
function M.connect(arg, opts)
  opts = opts or {}
  local buf = current(opts.buf)
  local host, port
  if arg and vim.trim(arg) ~= "" then
    host, port = M.parse_address(arg)
    if not port then
      notify.error(("not an address: %q (expected [host:]port)"):format(arg))
      return
    end
  end
  local s = connection.session_for(buf)
  if s then
    s.off = false
  end
  connection.connect({ buf = buf, host = host, port = port })
end

---Disconnects the buffer's project, or every project (:ReloadDisconnect[!]).
---@param opts {buf: integer|nil, all: boolean|nil}|nil
function M.disconnect(opts)
  opts = opts or {}
  if opts.all then
    for _, s in pairs(connection.sessions) do
      if s.state ~= "disconnected" or s.reconnect_timer then
        connection.disconnect(s)
      end
    end
    return
  end
  local s = connection.session_for(current(opts.buf))
  if not s or (s.state == "disconnected" and not s.reconnect_timer) then
    notify.info("not connected")
    return
  end
  connection.disconnect(s)
end

---Shows the connection, the app and the last reload (:ReloadInfo).
---@param opts {buf: integer|nil}|nil
function M.info(opts)
  opts = opts or {}
  local chunks = {}
  for _, line in ipairs(status.info_lines(current(opts.buf))) do
    chunks[#chunks + 1] = { line .. "\n" }
  end
  vim.api.nvim_echo(chunks, true, {})
end

return M
