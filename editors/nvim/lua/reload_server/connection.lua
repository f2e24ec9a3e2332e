---@mod reload_server.connection Connections to running apps, one per project root.
---
--- What the rest of the plugin uses, put together from the modules that do
--- the work:
---   sessions.lua  the sessions, and which one a buffer or path belongs to
---   connect.lua   connecting (address, port or discovery file; retries),
---                 reconnecting when the app comes back, disconnecting
---   attach.lua    attaching buffers to a connected session, sending requests
---   outcomes.lua  reload outcomes, announced once whichever way they arrive

local attach = require("reload_server.attach")
local config = require("reload_server.config")
local connect = require("reload_server.connect")
local outcomes = require("reload_server.outcomes")
local sessions = require("reload_server.sessions")

local M = {}

---@type table<string, reload_server.Session>
M.sessions = sessions.by_root

M.buf_path = sessions.buf_path
M.start_dir = sessions.start_dir
M.session_for_path = sessions.for_path
M.session_for = sessions.for_buf
M.client = sessions.client
M.describe_app = sessions.describe_app

M.resolve = connect.resolve
M.connect = connect.connect
M.with_session = connect.with_session
M.disconnect = connect.disconnect

M.attach_buffer = attach.attach_buffer
M.request = attach.request

M.record_outcome = outcomes.record

---For autocommands: attach the buffer, or connect quietly when its project runs an app.
---@param buf integer
function M.on_buffer(buf)
  if
    not vim.tbl_contains(config.options.filetypes, vim.bo[buf].filetype)
    or not sessions.buf_path(buf)
  then
    return
  end
  if attach.attach_buffer(buf) then
    return
  end
  local s = sessions.for_buf(buf)
  if s and (s.off or s.state == "connecting" or s.reconnect_timer) then
    return
  end
  if config.options.auto_connect then
    connect.connect({ buf = buf, quiet = true })
  end
end

return M
