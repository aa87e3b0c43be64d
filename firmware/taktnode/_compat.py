"""`const()` under MicroPython, an identity function under CPython (tests, the emulated node)."""

try:
    from micropython import const
except ImportError:  # CPython

    def const(expr):  # type: ignore[misc, no-redef]
        return expr


__all__ = ["const"]
