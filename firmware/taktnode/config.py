"""Node settings. Override any of them in a `nodeconf.py` copied next to `main.py`.

Pins are GPIO numbers of a Pico W: MFRC522 on SPI0 (SCK 18, MOSI 19, MISO 16, CS 17, RST 20),
run signal on 14, cycle pulse on 15, stack light red/amber/green on 10/11/12, maintenance
jumper on 22.
"""

NODE_ID = None  # None: "node-" + the board's unique id in hex
READER = "badge"  # or "tool": what the tags read at this node are
SPI_ID = 0
PIN_SCK = 18
PIN_MOSI = 19
PIN_MISO = 16
PIN_CS = 17
PIN_RST = 20
PIN_RUN = 14
PIN_CYCLE = 15
PIN_LIGHTS = (10, 11, 12)
PIN_MAINTENANCE = 22  # held low at boot: main.py returns to the REPL instead of starting
READ_PERIOD_MS = 50
LOOP_SLEEP_MS = 2
WATCHDOG_MS = 4000
