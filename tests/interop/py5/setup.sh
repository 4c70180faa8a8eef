#!/usr/bin/env bash
# The official RocketMQ 5 Python client (PyPI rocketmq-python-client, gRPC) in a virtual environment
# of its own: its import name `rocketmq` clashes with the 4.x C++ client (`rocketmq` 0.4.4) in the
# project's .venv. Creates tests/interop/py5/.venv; idempotent (a second run takes a moment).
# Called by tests/interop/setup.sh (so `make interop-deps` / `make test`).
set -euo pipefail
HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
VENV="$HERE/.venv"
VERSION="5.1.2"
if [ -x "$VENV/bin/python" ] && "$VENV/bin/python" -c "
import importlib.metadata as m, sys
sys.exit(m.version('rocketmq-python-client') != '$VERSION')" 2>/dev/null; then
    exit 0
fi
echo "py5-setup: installing rocketmq-python-client==$VERSION into $VENV" >&2
python3 -m venv "$VENV"
"$VENV/bin/python" -m pip install -q --disable-pip-version-check "rocketmq-python-client==$VERSION"
