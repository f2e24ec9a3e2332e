---@mod reload_server Hot reload for a running Python app, from Neovim.
---
--- Public API:
---   setup(opts)              merge options over the defaults, enable auto-connect
---   reload_module(opts)      :ReloadModule
---   reload_stale(opts)       :ReloadStale
---   connect(addr, opts)      :ReloadConnect [host:]port
---   disconnect(opts)         :ReloadDisconnect
---   info(opts)               :ReloadInfo
---   info_lines(buf)          the lines of :ReloadInfo
---   status(buf)              a short string for the statusline
---   options()                the options in effect
--- See :help reload_server.

local M = {}

M.version = "0.1.0"
-- The version the tests run (tests/editors/test_nvim.py): what we claim is what we test.
M.min_nvim = "0.11"

---The commands module, or nil (with a message) on a Neovim that is too old.
local function commands()
  local ok, msg = M.check_version()
  if not ok then
    vim.notify(msg, vim.log.levels.ERROR, { title = "reload_server" })
    return nil
  end
  return require("reload_server.commands")
end

---Whether this Neovim is new enough.
---@return boolean ok, string message
function M.check_version()
  -- "NVIM v0.11.4" from `:version`.  A Lua pattern: Vim's `\S` also matches the
  -- newline after it, which put the next line's "Build" into :checkhealth.
  local version = vim.fn.execute("version"):match("NVIM v%S+") or "an unknown Neovim version"
  if vim.fn.has("nvim-" .. M.min_nvim) == 1 then
    return true, version
  end
  return false, ("reload_server needs Neovim %s or newer; this is %s"):format(M.min_nvim, version)
end

M.did_setup = false

---Configures the plugin: `opts` merge over the defaults (see :help reload_server-options).
---Connects Python buffers of projects whose app runs (unless `auto_connect = false`).
---@param opts table|nil
---@return boolean ok
function M.setup(opts)
  local ok, msg = M.check_version()
  if not ok then
    vim.notify(msg, vim.log.levels.ERROR, { title = "reload_server" })
    return false
  end
  local config = require("reload_server.config")
  local _, problems = config.set(opts)
  if #problems > 0 then
    vim.notify(
      "reload_server: setup(): " .. table.concat(problems, "; "),
      vim.log.levels.ERROR,
      { title = "reload_server" }
    )
    return false
  end
  local connection = require("reload_server.connection")
  local group = vim.api.nvim_create_augroup("reload_server", { clear = true })
  vim.api.nvim_create_autocmd({ "FileType", "BufEnter" }, {
    group = group,
    desc = "reload_server: attach Python buffers to their running app",
    callback = function(ev)
      connection.on_buffer(ev.buf)
    end,
  })
  M.did_setup = true
  -- Buffers opened before setup() (lazy loading on `ft = "python"`).
  vim.schedule(function()
    for _, buf in ipairs(vim.api.nvim_list_bufs()) do
      if vim.api.nvim_buf_is_loaded(buf) then
        connection.on_buffer(buf)
      end
    end
  end)
  return true
end

---@return reload_server.Config
function M.options()
  return require("reload_server.config").options
end

function M.reload_module(opts)
  local c = commands()
  if c then
    c.reload_module(opts)
  end
end

function M.reload_stale(opts)
  local c = commands()
  if c then
    c.reload_stale(opts)
  end
end

---@param addr string|nil "[host:]port", or nil for the configured port / discovery file
function M.connect(addr, opts)
  local c = commands()
  if c then
    c.connect(addr, opts)
  end
end

function M.disconnect(opts)
  local c = commands()
  if c then
    c.disconnect(opts)
  end
end

function M.info(opts)
  local c = commands()
  if c then
    c.info(opts)
  end
end

---@return string[]
function M.info_lines(buf)
  return require("reload_server.status").info_lines(buf)
end

---A short string for the statusline ("" when the buffer's project has no connection).
---@return string
function M.status(buf)
  if not package.loaded["reload_server.connection"] then
    return ""
  end
  return require("reload_server.status").status(buf)
end

return M
