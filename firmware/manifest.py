# Freezes the Taktline reader node into a MicroPython build:
#   make -C ports/rp2 BOARD=RPI_PICO_W FROZEN_MANIFEST=/path/to/firmware/manifest.py
# (or copy the files with mpremote: docs/serial-link.md).
include("$(PORT_DIR)/boards/manifest.py")
package("taktnode")
module("main.py")
