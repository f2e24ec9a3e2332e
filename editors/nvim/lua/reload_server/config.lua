---@mod reload_server.config Options, their defaults and their validation.

---@alias reload_server.NotifyLevel "always"|"on_error"|"off"

---@class reload_server.PathMapping
---@field localRoot string  directory on the editor's side
---@field remoteRoot string directory on the app's side

---@class reload_server.Config
---@field host string                 host to connect to when `port` is set (or given to :ReloadConnect)
---@field port integer|nil            connect to this port instead of using the discovery file
---@field reload_on_save boolean      reload a Python file's module in the app when it is written
---@field token string|nil            access token for servers started with one (discovery files carry their own)
---@field auto_connect boolean        connect when a Python buffer of a project with a running app is opened
---@field filetypes string[]          buffers of these filetypes are attached
---@field discovery reload_server.DiscoveryConfig
---@field retry reload_server.RetryConfig
---@field reconnect reload_server.ReconnectConfig
---@field notify reload_server.NotifyLevel
---@field path_mappings reload_server.PathMapping[]

---@class reload_server.DiscoveryConfig
---@field enabled boolean   look for discovery files at all
---@field dirname string    name of the directory the server writes them to
---@field dir string|nil    look only in this directory (like RELOAD_SERVER_DISCOVERY_DIR on the app's side)

---@class reload_server.RetryConfig
---@field attempts integer     connection attempts before giving up
---@field interval_ms integer  pause between attempts

---@class reload_server.ReconnectConfig
---@field enabled boolean      after losing the app, look for it again for a while
---@field interval_ms integer  how often to look
---@field timeout_ms integer   for how long

local M = {}

---@type reload_server.Config
M.defaults = {
  host = "127.0.0.1",
  port = nil,
  -- On, as in the VS Code extension: saving is how the README says reloads happen.
  reload_on_save = true,
  token = nil,
  auto_connect = true,
  filetypes = { "python" },
  discovery = { enabled = true, dirname = ".reload_server", dir = nil },
  retry = { attempts = 5, interval_ms = 200 },
  reconnect = { enabled = true, interval_ms = 500, timeout_ms = 30000 },
  notify = "always",
  path_mappings = {},
}

---@type reload_server.Config
M.options = vim.deepcopy(M.defaults)

local function is_nonneg_int(n)
  return type(n) == "number" and n >= 0 and math.floor(n) == n
end

---Checks merged options; returns a list of problems (empty when fine).
---@param o reload_server.Config
---@return string[]
function M.problems(o)
  local p = {}
  local function want(cond, msg)
    if not cond then
      p[#p + 1] = msg
    end
  end
  want(type(o.host) == "string" and o.host ~= "", "`host` must be a non-empty string")
  want(
    o.port == nil or (is_nonneg_int(o.port) and o.port > 0 and o.port < 65536),
    "`port` must be nil or a port number (1-65535)"
  )
  want(type(o.reload_on_save) == "boolean", "`reload_on_save` must be a boolean")
  want(o.token == nil or type(o.token) == "string", "`token` must be nil or a string")
  want(type(o.auto_connect) == "boolean", "`auto_connect` must be a boolean")
  want(type(o.filetypes) == "table", "`filetypes` must be a list of filetypes")
  want(type(o.discovery) == "table", "`discovery` must be a table")
  if type(o.discovery) == "table" then
    want(type(o.discovery.enabled) == "boolean", "`discovery.enabled` must be a boolean")
    want(type(o.discovery.dirname) == "string", "`discovery.dirname` must be a string")
    want(
      o.discovery.dir == nil or type(o.discovery.dir) == "string",
      "`discovery.dir` must be nil or a string"
    )
  end
  want(type(o.retry) == "table", "`retry` must be a table")
  if type(o.retry) == "table" then
    want(
      is_nonneg_int(o.retry.attempts) and o.retry.attempts >= 1,
      "`retry.attempts` must be an integer >= 1"
    )
    want(is_nonneg_int(o.retry.interval_ms), "`retry.interval_ms` must be an integer >= 0")
  end
  want(type(o.reconnect) == "table", "`reconnect` must be a table")
  if type(o.reconnect) == "table" then
    want(type(o.reconnect.enabled) == "boolean", "`reconnect.enabled` must be a boolean")
    want(
      is_nonneg_int(o.reconnect.interval_ms) and o.reconnect.interval_ms > 0,
      "`reconnect.interval_ms` must be an integer > 0"
    )
    want(is_nonneg_int(o.reconnect.timeout_ms), "`reconnect.timeout_ms` must be an integer >= 0")
  end
  want(
    o.notify == "always" or o.notify == "on_error" or o.notify == "off",
    '`notify` must be "always", "on_error" or "off"'
  )
  want(
    type(o.path_mappings) == "table",
    "`path_mappings` must be a list of {localRoot=, remoteRoot=}"
  )
  if type(o.path_mappings) == "table" then
    for i, m in ipairs(o.path_mappings) do
      want(
        type(m) == "table" and type(m.localRoot) == "string" and type(m.remoteRoot) == "string",
        ("`path_mappings[%d]` must be {localRoot = string, remoteRoot = string}"):format(i)
      )
    end
  end
  return p
end

---Merges `opts` over the defaults and makes the result current.
---@param opts table|nil
---@return reload_server.Config merged, string[] problems
function M.set(opts)
  local merged = vim.tbl_deep_extend("force", vim.deepcopy(M.defaults), opts or {})
  -- Lists replace, they do not merge element by element.
  if opts and opts.filetypes then
    merged.filetypes = vim.deepcopy(opts.filetypes)
  end
  if opts and opts.path_mappings then
    merged.path_mappings = vim.deepcopy(opts.path_mappings)
  end
  local problems = M.problems(merged)
  if #problems == 0 then
    M.options = merged
  end
  return merged, problems
end

return M
