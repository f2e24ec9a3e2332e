---@mod reload_server.status What to show: the statusline string and :ReloadInfo.

local config = require("reload_server.config")
local connection = require("reload_server.connection")
local notify = require("reload_server.notify")

local M = {}

---A short string for the statusline, about the current buffer's project:
---"" when it has no connection, else "reload: <state>" where state is one of
---connecting, ok, reloading, failed, off.
---@param buf integer|nil
---@return string
function M.status(buf)
  local s = connection.session_for(buf)
  if not s then
    return ""
  end
  if s.state == "connecting" then
    return "reload: connecting"
  elseif s.state == "disconnected" then
    return "reload: off"
  end
  if s.status and s.status.state == "reloading" then
    return "reload: reloading"
  end
  if s.last_reload and s.last_reload.status == "failed" then
    return "reload: failed"
  end
  return "reload: ok"
end

local function join(list)
  if type(list) ~= "table" or #list == 0 then
    return "-"
  end
  return table.concat(list, " ")
end

---The lines :ReloadInfo shows, for the current buffer's project.
---@param buf integer|nil
---@return string[]
function M.info_lines(buf)
  buf = (buf == nil or buf == 0) and vim.api.nvim_get_current_buf() or buf
  local o = config.options
  local lines = { "reload_server" }
  local function add(label, value)
    lines[#lines + 1] = ("  %-15s %s"):format(label .. ":", value)
  end
  local s = connection.session_for(buf)
  if not s then
    add("connection", "none for this buffer")
    local target, why = connection.resolve(buf)
    if target then
      add(
        "would connect",
        ("%s:%s (%s)"):format(target.host, target.port, target.file or target.source)
      )
    else
      add("would connect", why)
    end
  else
    local state = s.state
    if s.state == "connected" then
      state = ("connected to %s:%s (LSP client %d)"):format(s.host, s.port, s.client_id or -1)
    elseif s.reconnect_timer then
      state = "disconnected, waiting for the app to come back"
    end
    add("connection", state)
    add("found via", s.file or (s.source == "command" and ":ReloadConnect" or "the `port` option"))
    add("project root", s.root)
    local app = s.app or s.entry
    if app then
      add("app", ("pid %s, %s"):format(tostring(app.pid), join(app.argv)))
      add("app cwd", tostring(app.cwd))
      if app.python then
        add("app python", tostring(app.python))
      end
    end
    if s.server_info then
      add(
        "server",
        ("%s %s"):format(tostring(s.server_info.name), tostring(s.server_info.version or ""))
      )
    end
    if s.status and s.status.clients then
      add("clients", tostring(s.status.clients))
    end
    if s.last_error and s.state ~= "connected" then
      add("last error", s.last_error)
    end
    local client = connection.client(s)
    if client then
      local names = {}
      for b in pairs(client.attached_buffers or {}) do
        names[#names + 1] = vim.fn.fnamemodify(vim.api.nvim_buf_get_name(b), ":~:.")
      end
      table.sort(names)
      add("buffers", #names > 0 and table.concat(names, ", ") or "none attached")
    end
    if s.last_reload then
      add("last reload", (notify.summary(s.last_reload):gsub("\n", "; ")))
    else
      add("last reload", "none yet")
    end
  end
  add("reload on save", o.reload_on_save and "on" or "off")
  return lines
end

return M
