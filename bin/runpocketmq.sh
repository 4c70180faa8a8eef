#!/usr/bin/env bash
# Shared launcher for the bin/ scripts: runs a pocketmq module from the project's own virtual
# environment, creating it on first use. Usage: runpocketmq.sh <python.module> [args...]
set -euo pipefail
BIN_DIR="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
ROOT_DIR="$(dirname "$BIN_DIR")"
VENV="${POCKETMQ_VENV:-$ROOT_DIR/.venv}"
if [ ! -x "$VENV/bin/python" ] || ! "$VENV/bin/python" -c 'import pocketmq' 2>/dev/null; then
    echo "PocketMQ: creating the virtual environment $VENV (first run only, about a minute)" >&2
    python3 -m venv "$VENV"
    "$VENV/bin/python" -m pip install -q --disable-pip-version-check -e "$ROOT_DIR" >&2
fi
module="$1"; shift
exec "$VENV/bin/python" -m "$module" "$@"
