---@mod reload_server.attach Using a connected session: attaching buffers, sending requests.
---
--- Attached buffers are what Neovim's LSP client reports saves of (reload on
--- save) and shows the server's diagnostics in.  Nothing here connects: see
--- connect.lua.

local config = require("reload_server.config")
local sessions = require("reload_server.sessions")

local M = {}

---Attaches a buffer to the connected session of its project, if it is one of ours.
---@param buf integer
---@return boolean attached
function M.attach_buffer(buf)
  if not vim.api.nvim_buf_is_loaded(buf) then
    return false
  end
  if not vim.tbl_contains(config.options.filetypes, vim.bo[buf].filetype) then
    return false
  end
  local path = sessions.buf_path(buf)
  if not path then
    return false
  end
  local s = sessions.for_path(path)
  if not (s and s.state == "connected" and s.client_id) then
    return false
  end
  if not vim.lsp.buf_is_attached(buf, s.client_id) then
    vim.lsp.buf_attach_client(buf, s.client_id)
  end
  return true
end

---Attaches every buffer that belongs to a connected session (after connecting).
function M.attach_all()
  for _, buf in ipairs(vim.api.nvim_list_bufs()) do
    M.attach_buffer(buf)
  end
end

---Sends a request to the app; `cb(err, result)`.
---@param s reload_server.Session
---@param method string
---@param params table
---@param cb fun(err: table|nil, result: any)
function M.request(s, method, params, cb)
  local client = sessions.client(s)
  if not client then
    cb({ message = "not connected" }, nil)
    return
  end
  if not client:request(method, params, cb) then
    cb({ message = "the connection is closed" }, nil)
  end
end

return M
