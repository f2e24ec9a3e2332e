---@mod reload_server.connect Connecting to apps, reconnecting, disconnecting.
---
--- Where to connect (an address given, the `port` option, or the discovery
--- file), a TCP probe with retries, then Neovim's own LSP client
--- (`vim.lsp.start` over `vim.lsp.rpc.connect`) on the open port, and its
--- callbacks.  Published diagnostics land in `vim.diagnostic` through
--- Neovim's default handler.  After the app went away, a timer looks for it
--- again.

local attach = require("reload_server.attach")
local config = require("reload_server.config")
local discovery = require("reload_server.discovery")
local notify = require("reload_server.notify")
local outcomes = require("reload_server.outcomes")
local sessions = require("reload_server.sessions")

local uv = vim.uv or vim.loop
local address = sessions.address
local describe_app = sessions.describe_app
local redraw = sessions.redraw

local M = {}

--- How long the server has to answer `initialize` once the socket is open.
M.init_timeout_ms = 5000

--- Addresses we already warned about in quiet (automatic) attempts.
---@type table<string, true>
local warned = {}

local function flush_waiting(s, err)
  local waiting = s.waiting
  s.waiting = {}
  for _, cb in ipairs(waiting) do
    cb(err == nil and s or nil, err)
  end
end

local function stop_reconnect(s)
  local timer = s.reconnect_timer
  s.reconnect_timer = nil
  if timer and not timer:is_closing() then
    timer:stop()
    timer:close()
  end
end

---Forgets a client without reporting its exit, and stops it.
local function drop_client(s)
  local id = s.client_id
  s.client_id = nil
  if id then
    sessions.by_client[id] = nil
    vim.lsp.stop_client(id, true)
  end
end

--------------------------------------------------------------------------------
-- LSP client callbacks
--------------------------------------------------------------------------------

local function on_status(_, result, ctx)
  local s = sessions.by_client[ctx.client_id]
  if not s or type(result) ~= "table" then
    return
  end
  local first = s.status == nil
  s.status = result
  local last = result.lastReload
  if type(last) == "table" then
    if first then
      -- What happened before we connected is context, not news.
      outcomes.seen(s, last)
    else
      outcomes.record(s, last, false)
    end
  end
  redraw()
end

local function on_init(client, result)
  local s = sessions.by_client[client.id]
  if not s then
    return
  end
  s.state = "connected"
  s.last_error = nil
  s.server_info = result and result.serverInfo or nil
  s.app = vim.tbl_get(result or {}, "capabilities", "experimental", "reloadServer", "app")
  warned[address(s)] = nil
  stop_reconnect(s)
  attach.attach_all()
  if s.lost then
    s.lost = false
    notify.info("reconnected to " .. describe_app(s))
  else
    notify.info("connected to " .. describe_app(s))
  end
  redraw()
  flush_waiting(s, nil)
end

local start_reconnect

local function on_exit(client_id, code, signal)
  local s = sessions.by_client[client_id]
  sessions.by_client[client_id] = nil
  if not s or s.client_id ~= client_id then
    return
  end
  s.client_id = nil
  local was = s.state
  s.state = "disconnected"
  s.status = nil
  if s.stopping then
    s.stopping = false
    notify.info("disconnected from " .. describe_app(s))
  elseif was == "connecting" then
    if s.init_error then
      s.last_error = ("%s refused the connection: %s"):format(address(s), s.init_error)
      if s.init_error:lower():find("token", 1, true) and s.source ~= "discovery" then
        s.last_error = s.last_error .. " (the `token` option of setup())"
      end
    else
      s.last_error = ("%s closed the connection before initializing (code %s, signal %s)"):format(
        address(s),
        code,
        signal
      )
    end
    s.init_error = nil
    if not s.quiet or not warned[address(s)] then
      warned[address(s)] = true
      notify.error(s.last_error)
    end
    flush_waiting(s, s.last_error)
  else
    s.lost = true
    local how = config.options.reconnect.enabled and "reconnecting when it is back"
      or ":ReloadConnect to reconnect"
    s.last_error = "lost the connection to " .. describe_app(s)
    notify.warn(s.last_error .. "; " .. how)
    -- That was the news: failing attempts on this address stay quiet from now on.
    warned[address(s)] = true
    start_reconnect(s)
  end
  redraw()
end

--------------------------------------------------------------------------------
-- Connecting
--------------------------------------------------------------------------------

---The address to connect to for a host name: IPv4 first, as the server binds
---127.0.0.1 unless told otherwise.
---@param host string
---@return string
local function resolve_ip(host)
  local info = uv.getaddrinfo(host, nil, { family = "inet", socktype = "stream" })
    or uv.getaddrinfo(host, nil, { socktype = "stream" })
  return info and info[1] and info[1].addr or host
end

---Tries a TCP connection, `attempts` times, `interval_ms` apart.
---@param ip string
---@param port integer
---@param attempts integer
---@param interval_ms integer
---@param cb fun(ok: boolean, err: string|nil, tried: integer)
local function probe(ip, port, attempts, interval_ms, cb)
  local tried = 0
  local try
  local function after(ok, err)
    if ok or tried >= attempts then
      vim.schedule(function()
        cb(ok, err, tried)
      end)
      return
    end
    local timer = uv.new_timer()
    timer:start(interval_ms, 0, function()
      timer:close()
      try()
    end)
  end
  try = function()
    tried = tried + 1
    local tcp = uv.new_tcp()
    local ok, err = pcall(tcp.connect, tcp, ip, port, function(err)
      tcp:close()
      after(err == nil, err)
    end)
    if not ok then
      tcp:close()
      after(false, tostring(err))
    end
  end
  try()
end

---Starts Neovim's LSP client on an open port.
---@param s reload_server.Session
---@return boolean started, string|nil err
local function start_client(s, ip)
  local opts = config.options
  local id
  -- The plugin shows outcomes itself (one short line): no window/showMessage.
  local init_options = { reloadOnSave = opts.reload_on_save, clientName = "Neovim", notify = "off" }
  if s.token then
    init_options.token = s.token
  end
  if #opts.path_mappings > 0 then
    init_options.pathMappings = opts.path_mappings
  end
  local client_config = {
    name = "reload_server",
    cmd = function(dispatchers)
      local rpc = vim.lsp.rpc.connect(ip, s.port)(dispatchers)
      -- A refused `initialize` (say, a wrong token) would end in an assertion
      -- inside Neovim's client: keep the server's reason, close the connection,
      -- and let on_exit report it.
      local request = rpc.request
      rpc.request = function(method, params, callback, ...)
        if method == "initialize" then
          local inner = callback
          callback = function(err, result)
            if err then
              s.init_error = type(err) == "table" and err.message or tostring(err)
              rpc.terminate()
              return
            end
            return inner(err, result)
          end
        end
        return request(method, params, callback, ...)
      end
      return rpc
    end,
    root_dir = s.root,
    init_options = init_options,
    handlers = { ["reloadServer/status"] = on_status },
    on_init = on_init,
    on_exit = function(code, signal, client_id)
      vim.schedule(function()
        on_exit(client_id, code, signal)
      end)
    end,
  }
  -- A reset connection (the app was killed) reaches the client as a read
  -- error, not as an end of stream, and Neovim keeps the dead client around:
  -- end it, so that on_exit reports the app as gone.
  client_config.on_error = function(code)
    if code == vim.lsp.rpc.client_errors.READ_ERROR then
      vim.schedule(function()
        if id and sessions.by_client[id] == s then
          vim.lsp.stop_client(id, true)
        end
      end)
    end
  end
  id = vim.lsp.start(client_config, {
    attach = false,
    silent = true,
    reuse_client = function()
      return false
    end,
  })
  if not id then
    return false, "Neovim could not start an LSP client for " .. address(s)
  end
  s.client_id = id
  sessions.by_client[id] = s
  local timer = uv.new_timer()
  timer:start(
    M.init_timeout_ms,
    0,
    vim.schedule_wrap(function()
      timer:close()
      if s.client_id == id and s.state == "connecting" then
        drop_client(s)
        s.state = "disconnected"
        s.last_error = ("%s accepted the connection but did not answer `initialize` within %d ms"):format(
          address(s),
          M.init_timeout_ms
        )
        notify.error(s.last_error)
        flush_waiting(s, s.last_error)
        redraw()
      end
    end)
  )
  return true
end

---@class reload_server.Target
---@field host string
---@field port integer
---@field token string|nil
---@field source "discovery"|"port"|"command"
---@field file string|nil
---@field entry reload_server.Entry|nil
---@field root string

---Works out where to connect for a buffer.
---@param buf integer
---@param host string|nil explicit host (from :ReloadConnect)
---@param port integer|nil explicit port (from :ReloadConnect)
---@return reload_server.Target|nil target, string|nil why_not, boolean|nil found_nothing
function M.resolve(buf, host, port)
  local opts = config.options
  local start = sessions.start_dir(buf)
  local function root_for_port()
    local existing = sessions.for_buf(buf)
    if existing then
      return existing.root
    end
    local root = discovery.project_root(start, opts.discovery.dirname)
      or vim.fs.root(start, { ".git", "pyproject.toml", "setup.py", "setup.cfg" })
      or vim.fn.getcwd()
    return sessions.realpath(root)
  end
  if port then
    return {
      host = host or opts.host,
      port = port,
      token = opts.token,
      source = "command",
      root = root_for_port(),
    }
  end
  if opts.port then
    return {
      host = opts.host,
      port = opts.port,
      token = opts.token,
      source = "port",
      root = root_for_port(),
    }
  end
  if not opts.discovery.enabled then
    return nil, "discovery is off and no `port` is configured; use :ReloadConnect [host:]port", true
  end
  local entry, notes = discovery.find(start, opts.discovery)
  if not entry then
    return nil,
      "no running app found: "
        .. table.concat(notes, "; ")
        .. ". Start it with `python -m reload_server --listen 0 app.py` in the project, or :ReloadConnect [host:]port",
      true
  end
  return {
    host = entry.host,
    port = entry.port,
    token = entry.token or opts.token,
    source = "discovery",
    file = entry.file,
    entry = entry,
    root = sessions.realpath(entry.local_root),
  }
end

---Connects a session to a target: probe (with retries), start the client, wait for `initialize`.
---@param target reload_server.Target
---@param quiet boolean report failures only once per address
---@param attempts integer
---@param cb fun(s: reload_server.Session|nil, err: string|nil)|nil
local function open(target, quiet, attempts, cb)
  local s = sessions.get(target.root)
  if s.state == "connecting" then
    if cb then
      table.insert(s.waiting, cb)
    end
    return
  end
  if s.state == "connected" and sessions.client(s) then
    if s.host == target.host and s.port == target.port then
      if cb then
        cb(s, nil)
      end
      return
    end
    drop_client(s)
  end
  s.host, s.port, s.token = target.host, target.port, target.token
  s.source, s.file, s.entry = target.source, target.file, target.entry
  s.state, s.off, s.status, s.app, s.quiet = "connecting", false, nil, nil, quiet
  if cb then
    table.insert(s.waiting, cb)
  end
  redraw()
  local retry = config.options.retry
  local ip = resolve_ip(s.host)
  probe(ip, s.port, attempts, retry.interval_ms, function(ok, err, tried)
    if s.state ~= "connecting" or s.client_id then
      return -- superseded by a disconnect or another connection meanwhile
    end
    if ok then
      local started, start_err = start_client(s, ip)
      if started then
        return
      end
      err = start_err
    end
    s.state = "disconnected"
    local msg = ("could not connect to %s (%s after %d attempt%s)"):format(
      address(s),
      err or "error",
      tried,
      tried == 1 and "" or "s"
    )
    if s.file then
      msg = msg .. "; address from " .. s.file
    end
    s.last_error = msg
    if not quiet or not warned[address(s)] then
      warned[address(s)] = true
      notify.error(msg)
    end
    flush_waiting(s, msg)
    redraw()
  end)
end

---Connects the project of `buf` (explicit address, configured port, or discovery file).
---@param opts {buf: integer|nil, host: string|nil, port: integer|nil, quiet: boolean|nil}
---@param cb fun(s: reload_server.Session|nil, err: string|nil)|nil
function M.connect(opts, cb)
  local buf = (opts.buf == nil or opts.buf == 0) and vim.api.nvim_get_current_buf() or opts.buf
  local target, err, nothing = M.resolve(buf, opts.host, opts.port)
  if not target then
    if not (opts.quiet and nothing) then
      notify.error(err)
    end
    if cb then
      cb(nil, err)
    end
    return
  end
  open(target, opts.quiet == true, config.options.retry.attempts, cb)
end

---Runs `fn(session)` once the buffer's project is connected, connecting first if needed.
---@param buf integer
---@param fn fun(s: reload_server.Session)
function M.with_session(buf, fn)
  local s = sessions.for_buf(buf)
  if s and s.state == "connected" and sessions.client(s) then
    fn(s)
    return
  end
  M.connect({ buf = buf }, function(session)
    if session then
      fn(session)
    end
  end)
end

--------------------------------------------------------------------------------
-- Reconnecting and disconnecting
--------------------------------------------------------------------------------

---Looks for a lost app every `reconnect.interval_ms` until `reconnect.timeout_ms`:
---through the discovery file when it was found that way (a restarted app has a
---new one), else at the same address.  One quiet attempt at a time.
---@param s reload_server.Session
start_reconnect = function(s)
  local r = config.options.reconnect
  stop_reconnect(s)
  if not r.enabled then
    return
  end
  local deadline = uv.now() + r.timeout_ms
  local timer = uv.new_timer()
  s.reconnect_timer = timer
  local busy = false
  timer:start(
    r.interval_ms,
    r.interval_ms,
    vim.schedule_wrap(function()
      if s.reconnect_timer ~= timer or busy then
        return
      end
      if s.off or s.state ~= "disconnected" then
        stop_reconnect(s)
        return
      end
      if uv.now() > deadline then
        stop_reconnect(s)
        notify.info(
          ("the app at %s did not come back within %d s; :ReloadConnect to try again"):format(
            s.root,
            math.floor(r.timeout_ms / 1000)
          )
        )
        return
      end
      local target
      if s.source == "discovery" then
        local entry = discovery.find(s.root, config.options.discovery)
        if not entry then
          return
        end
        target = {
          host = entry.host,
          port = entry.port,
          token = entry.token or config.options.token,
          source = "discovery",
          file = entry.file,
          entry = entry,
          root = s.root,
        }
      else
        target = { host = s.host, port = s.port, token = s.token, source = s.source, root = s.root }
      end
      busy = true
      open(target, true, 1, function()
        busy = false
      end)
    end)
  )
end

---Disconnects a session on purpose (no reconnection until asked).
---@param s reload_server.Session
function M.disconnect(s)
  stop_reconnect(s)
  s.off = true
  if s.client_id and s.state == "connected" then
    s.stopping = true
    vim.lsp.stop_client(s.client_id)
  else
    drop_client(s)
    s.state = "disconnected"
    flush_waiting(s, "disconnected")
    notify.info("disconnected from " .. s.root)
  end
  redraw()
end

return M
