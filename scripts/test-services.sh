#!/usr/bin/env bash
# Makes sure the programs the tests start for themselves are installed: Mosquitto (broker and
# clients), Node.js with npm (the firmware tests run MicroPython's WebAssembly port under it),
# PostgreSQL (the store's tests run on SQLite and on a private PostgreSQL server). Installs them from Debian's packages when missing and running as root; otherwise says
# which package to install. The tests start their own private instances on free ports.
set -uo pipefail
missing=()
command -v mosquitto >/dev/null 2>&1 || [ -x /usr/sbin/mosquitto ] || missing+=(mosquitto)
command -v mosquitto_sub >/dev/null 2>&1 || missing+=(mosquitto-clients)
command -v node >/dev/null 2>&1 || missing+=(nodejs)
command -v gpsd >/dev/null 2>&1 || [ -x /usr/sbin/gpsd ] || missing+=(gpsd)
command -v gpsfake >/dev/null 2>&1 || missing+=(gpsd-clients)
command -v npm >/dev/null 2>&1 || missing+=(npm)
command -v openssl >/dev/null 2>&1 || missing+=(openssl)
command -v socat >/dev/null 2>&1 || missing+=(socat)  # the Modbus RTU tests' pty pair
command -v chromium >/dev/null 2>&1 || missing+=(chromium)
command -v initdb >/dev/null 2>&1 || ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1 || missing+=(postgresql)
if [ ${#missing[@]} -eq 0 ]; then exit 0; fi
if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
  echo "Installing Debian packages for the tests: ${missing[*]}"
  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}" \
    || { echo "Could not install ${missing[*]}; tests that need them will fail." >&2; exit 0; }
else
  echo "The tests need Debian packages: ${missing[*]} (run: sudo apt-get install ${missing[*]})." >&2
  echo "Without them the tests that need a real broker fail (under CI) or skip (locally)." >&2
fi
