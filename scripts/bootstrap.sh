#!/usr/bin/env bash
# Creates .venv and installs Taktline with its development tools. Off a Raspberry Pi, mfrc522 is
# installed without its declared dependencies (RPi.GPIO, spidev: no wheels, they need a compiler);
# hardware/ provides emulated versions of both.
set -euo pipefail
PYTHON=${PYTHON:-python3}
if ! "$PYTHON" -c 'import sys; assert sys.version_info >= (3, 11)' 2>/dev/null; then
  echo "taktline needs Python >= 3.11 (found: $("$PYTHON" --version 2>&1))." >&2
  exit 1
fi
if ! "$PYTHON" -m venv --help >/dev/null 2>&1 || ! "$PYTHON" -c 'import ensurepip' 2>/dev/null; then
  if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
    echo "Installing Debian's python3-venv ..."
    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq python3-venv
  else
    echo "Python's venv module is missing: install Debian's python3-venv package (as root)." >&2
    exit 1
  fi
fi
[ -x .venv/bin/python ] || "$PYTHON" -m venv .venv
.venv/bin/python -m pip install -q --upgrade pip
.venv/bin/python -m pip install -q -e '.[dev]'
if [ -e /proc/device-tree/model ] && grep -qi 'raspberry pi' /proc/device-tree/model; then
  .venv/bin/python -m pip install -q -e '.[pi]'
else
  .venv/bin/python -m pip install -q --no-deps 'mfrc522==0.0.7'
fi
