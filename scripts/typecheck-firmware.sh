#!/usr/bin/env bash
# Type-checks the reader-node firmware against the MicroPython stubs for the Pico W.
# The stubs go into a folder of their own (.cache/mpy-stubs), never into the virtual
# environment's site-packages, where they would shadow the standard library's stubs.
set -euo pipefail
cd "$(dirname "$0")/.."
STUBS_VERSION=1.29.0.post1
DIR=.cache/mpy-stubs
PY=${PYTHON:-.venv/bin/python}
if [ ! -f "$DIR/.version-$STUBS_VERSION" ]; then
  rm -rf "$DIR"
  "$PY" -m pip install -q --disable-pip-version-check --target "$DIR" \
    "micropython-rp2-rpi-pico-w-stubs==$STUBS_VERSION"
  touch "$DIR/.version-$STUBS_VERSION"
fi
MYPYPATH="$DIR" .venv/bin/mypy --config-file firmware/mypy.ini
