"""Per-device identity: the plant CA (`ca.py`) and `taktline cloud devices` (`cli.py`)."""

from cloud.identity.ca import CaError, Issued, PlantCa, Revoked, make_csr

__all__ = ["CaError", "Issued", "PlantCa", "Revoked", "make_csr"]
