#!/usr/bin/env bash
# Creates (or updates) the development environment .venv: torch, the build tools, and
# centernet_fast built in place with its test extras. Safe to run again; rebuilds incrementally.
#   VENV=path  environment location (default .venv)   TORCH_SPEC=...  torch requirement
set -euo pipefail
cd "$(dirname "$0")/.."
VENV=${VENV:-.venv}
TORCH_SPEC=${TORCH_SPEC:-torch==2.13.0}

[ -x "$VENV/bin/python" ] || python3 -m venv "$VENV"
"$VENV/bin/python" -m pip install -q --upgrade pip
"$VENV/bin/python" -m pip install -q "$TORCH_SPEC" setuptools wheel ninja numpy
"$VENV/bin/python" -m pip install -q --no-build-isolation -e ".[test]"
