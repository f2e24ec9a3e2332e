---@mod reload_server.discovery Finding a running app through its discovery file.
---
--- The server writes `<root>/.reload_server/<pid>.json` (see docs/protocol.md).
--- We look in the buffer's directory and its parents, ignore entries whose
--- process is gone, and take the newest (`started`) one.

local uv = vim.uv or vim.loop

local M = {}

---@class reload_server.Entry
---@field version integer
---@field pid integer
---@field host string
---@field port integer
---@field token string|nil
---@field root string       the app's project root, as the app sees it
---@field cwd string
---@field argv string[]
---@field python string
---@field started number
---@field file string       the discovery file we read
---@field local_root string the directory holding the discovery directory, on our side

---Whether a process with this pid exists (on this machine).
---@param pid any
---@return boolean
function M.pid_alive(pid)
  if type(pid) ~= "number" or pid <= 0 then
    return false
  end
  local ok, _, name = uv.kill(pid, 0)
  if ok == 0 then
    return true
  end
  -- EPERM: it exists, it is just not ours to signal.
  return name == "EPERM"
end

---Reads and checks one discovery file.
---@param file string
---@return reload_server.Entry|nil entry, string|nil why_not
function M.read_entry(file)
  local ok, lines = pcall(vim.fn.readfile, file)
  if not ok then
    return nil, "unreadable"
  end
  local decoded_ok, data = pcall(vim.json.decode, table.concat(lines, "\n"))
  if not decoded_ok or type(data) ~= "table" then
    return nil, "not JSON"
  end
  if type(data.port) ~= "number" or type(data.pid) ~= "number" then
    return nil, "no pid/port in it"
  end
  if not M.pid_alive(data.pid) then
    return nil, ("pid %d is not running"):format(data.pid)
  end
  if data.token == vim.NIL then
    data.token = nil
  end
  if type(data.host) ~= "string" or data.host == "" then
    data.host = "127.0.0.1"
  end
  data.file = file
  return data, nil
end

---The best (newest live) entry of one discovery directory.
---@param dir string
---@param notes string[] what was looked at is appended here
---@return reload_server.Entry|nil
function M.best_in(dir, notes)
  local files = vim.fn.glob(dir .. "/*.json", true, true)
  if #files == 0 then
    notes[#notes + 1] = ("%s: no *.json files"):format(dir)
    return nil
  end
  local best
  for _, file in ipairs(files) do
    local entry, why = M.read_entry(file)
    if entry then
      if not best or (tonumber(entry.started) or 0) > (tonumber(best.started) or 0) then
        best = entry
      end
    else
      notes[#notes + 1] = ("%s: ignored (%s)"):format(file, why)
    end
  end
  return best
end

---Looks for a live app from `start` upward.
---@param start string a directory
---@param opts reload_server.DiscoveryConfig
---@return reload_server.Entry|nil entry, string[] notes what was tried, for messages
function M.find(start, opts)
  local notes = {}
  if opts.dir then
    local dir = vim.fs.normalize(opts.dir)
    if vim.fn.isdirectory(dir) == 0 then
      notes[#notes + 1] = ("%s: no such directory (discovery.dir)"):format(dir)
      return nil, notes
    end
    local entry = M.best_in(dir, notes)
    if entry then
      local root = type(entry.root) == "string" and entry.root or ""
      entry.local_root = vim.fn.isdirectory(root) == 1 and root or vim.fs.dirname(dir)
    end
    return entry, notes
  end
  start = vim.fs.normalize(start)
  local dirs = { start }
  for parent in vim.fs.parents(start) do
    dirs[#dirs + 1] = parent
  end
  local found_any = false
  for _, dir in ipairs(dirs) do
    local ddir = dir .. "/" .. opts.dirname
    if dir == "/" then
      ddir = "/" .. opts.dirname
    end
    if vim.fn.isdirectory(ddir) == 1 then
      found_any = true
      local entry = M.best_in(ddir, notes)
      if entry then
        entry.local_root = dir
        return entry, notes
      end
    end
  end
  if not found_any then
    notes[#notes + 1] = ("no %s/ directory in %s or any parent"):format(opts.dirname, start)
  end
  return nil, notes
end

---The nearest directory at or above `start` that holds a discovery directory.
---@param start string
---@param dirname string
---@return string|nil
function M.project_root(start, dirname)
  local found =
    vim.fs.find(dirname, { upward = true, path = start, type = "directory", limit = 1 })[1]
  return found and vim.fs.dirname(found) or nil
end

return M
