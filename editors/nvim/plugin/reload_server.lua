-- reload_server: commands and <Plug> mappings only; the plugin loads on first use.
if vim.g.loaded_reload_server then
  return
end
vim.g.loaded_reload_server = true

local function rs()
  return require("reload_server")
end

local command = vim.api.nvim_create_user_command

command("ReloadModule", function(o)
  rs().reload_module({ force = o.bang })
end, {
  bang = true,
  desc = "reload_server: reload this buffer's module in the app (! = even if unchanged)",
})

command("ReloadStale", function()
  rs().reload_stale()
end, { desc = "reload_server: reload every module changed on disk" })

command(
  "ReloadConnect",
  function(o)
    rs().connect(o.args)
  end,
  { nargs = "?", desc = "reload_server: connect to the app ([host:]port, or the discovery file)" }
)

command("ReloadDisconnect", function(o)
  rs().disconnect({ all = o.bang })
end, { bang = true, desc = "reload_server: disconnect from the app (! = from every app)" })

command("ReloadInfo", function()
  rs().info()
end, { desc = "reload_server: show the connection, the app and the last reload" })

local map = vim.keymap.set
map("n", "<Plug>(ReloadModule)", function()
  rs().reload_module()
end, { desc = "reload_server: reload this buffer's module" })
map("n", "<Plug>(ReloadStale)", function()
  rs().reload_stale()
end, { desc = "reload_server: reload stale modules" })
map("n", "<Plug>(ReloadConnect)", function()
  rs().connect()
end, { desc = "reload_server: connect to the app" })
map("n", "<Plug>(ReloadDisconnect)", function()
  rs().disconnect()
end, { desc = "reload_server: disconnect from the app" })
map("n", "<Plug>(ReloadInfo)", function()
  rs().info()
end, { desc = "reload_server: show connection info" })
