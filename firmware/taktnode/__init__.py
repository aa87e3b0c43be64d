"""Taktline reader node: MicroPython firmware for a Pico-class board with an MFRC522 reader.

Only `taktnode.hw` touches `machine`; every other module takes its hardware objects in its
constructor, so the same code runs on the board, under CPython tests and under the WebAssembly
port of MicroPython.
"""

VERSION = "0.1.0"
