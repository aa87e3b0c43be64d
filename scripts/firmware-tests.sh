#!/usr/bin/env bash
# Runs the reader-node firmware's unittest modules under real MicroPython: the WebAssembly port
# from the npm registry, under the machine's Node.js. Installs the port into firmware/node_modules
# (from firmware/package-lock.json) when it is missing. The same modules run under CPython with
# `pytest firmware/tests`. Arguments: optional test module names (e.g. test_fw_link).
set -euo pipefail
cd "$(dirname "$0")/../firmware"
if ! command -v node >/dev/null; then
  echo "firmware-tests: Node.js is needed to run MicroPython's WebAssembly port." >&2
  exit 1
fi
if [ ! -f node_modules/@micropython/micropython-webassembly-pyscript/micropython.mjs ]; then
  npm ci --no-audit --no-fund --loglevel=error
fi
node tests/run_wasm.mjs "$@"
