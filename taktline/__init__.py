"""Taktline: IoT-driven Just-in-Time manufacturing.

This base package holds what every layer shares and owns nothing else: the version, the one
injectable clock (`taktline.clock`) and the console script (`taktline.cli`).
"""

__version__ = "0.1.0"
__all__ = ["__version__"]
