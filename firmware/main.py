"""Boots the Taktline reader node (see docs/serial-link.md for flashing)."""

from taktnode import app

app.main()
