---@mod reload_server.health :checkhealth reload_server

local M = {}

function M.check()
  local health = vim.health
  local rs = require("reload_server")
  local config = require("reload_server.config")

  health.start("reload_server: Neovim and setup")
  local ok, msg = rs.check_version()
  if ok then
    health.ok(("%s (reload_server needs %s or newer)"):format(msg, rs.min_nvim))
  else
    health.error(msg)
  end
  if rs.did_setup then
    health.ok("setup() was called")
  else
    health.info(
      "setup() was not called: commands work with the default options, buffers are not attached automatically"
    )
  end
  local problems = config.problems(config.options)
  if #problems == 0 then
    health.ok("options are valid")
  else
    for _, p in ipairs(problems) do
      health.error(p)
    end
  end
  local o = config.options
  health.info(
    ("reload on save: %s; notify: %s; port: %s"):format(
      o.reload_on_save and "on" or "off",
      o.notify,
      o.port and tostring(o.port) or "from the discovery file"
    )
  )

  health.start("reload_server: finding the app")
  local connection = require("reload_server.connection")
  local buf = vim.api.nvim_get_current_buf()
  local target, why = connection.resolve(buf)
  if target then
    health.ok(("app at %s:%s (%s)"):format(target.host, target.port, target.file or target.source))
  else
    health.warn(why or "no app found")
  end

  health.start("reload_server: connections")
  local any = false
  for _, s in pairs(connection.sessions) do
    any = true
    local line = ("%s: %s"):format(s.root, s.state)
    if s.state == "connected" then
      health.ok(line .. " to " .. connection.describe_app(s))
    elseif s.last_error then
      health.warn(line .. " (" .. s.last_error .. ")")
    else
      health.info(line)
    end
  end
  if not any then
    health.info("no connection yet")
  end
end

return M
