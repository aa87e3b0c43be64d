"""The example agent configs of `hardware/examples/` for tests, with TLS files that exist.

The examples are production files: they name the plant's broker over TLS and the Pi's CA file,
certificate and key under `/etc/taktline/tls/`, which a test machine does not have. A test gets
a copy in its own folder (the examples' tag directory and manifests beside it, as the relative
paths expect) whose TLS paths point at files of a throwaway plant CA made there, so the config
loads and an agent can build its TLS context; or, for an agent run against a test broker, a
copy that speaks plain MQTT to that broker.
"""

from __future__ import annotations

import re
import shutil
from pathlib import Path

from cloud.identity import PlantCa

__all__ = ["EXAMPLES", "EXAMPLES_DIR", "example_copy"]

EXAMPLES_DIR = Path(__file__).resolve().parents[1] / "hardware" / "examples"
EXAMPLES = sorted(EXAMPLES_DIR.glob("agent-*.toml"))
_TLS_DIR = "/etc/taktline/tls/"


def _tls_files(folder: Path, agent: str) -> Path:
    """`ca.pem`, `AGENT.pem` and `AGENT.key` (0600) of a throwaway CA, in `folder`."""
    ca = PlantCa(folder / "ca")
    if not ca.key_path.exists():
        ca.init()
    cert, key = ca.issue(agent, role="station")
    assert key is not None
    shutil.copyfile(ca.cert_path, folder / "ca.pem")
    shutil.copyfile(cert, folder / f"{agent}.pem")
    shutil.copyfile(key, folder / f"{agent}.key")
    (folder / f"{agent}.key").chmod(0o600)
    return folder


def example_copy(name: str, folder: Path, *, broker_url: str | None = None) -> Path:
    """A copy of example `name` in `folder`, its TLS files made; plain MQTT with `broker_url`."""
    folder.mkdir(parents=True, exist_ok=True)
    for sibling in EXAMPLES_DIR.iterdir():
        if sibling.suffix in (".json", ".toml") and not sibling.name.startswith("agent-"):
            shutil.copyfile(sibling, folder / sibling.name)
    text = (EXAMPLES_DIR / name).read_text()
    assert _TLS_DIR in text, f"{name} names no TLS files under {_TLS_DIR}"
    if broker_url is None:
        agent = re.search(r'^agent = "([^"]+)"', text, re.MULTILINE)
        assert agent is not None, f"{name} names no agent"
        tls = _tls_files(folder / "tls", agent[1])
        text = text.replace(_TLS_DIR, f"{tls}/")
    else:
        text = re.sub(r"^broker = .*$", f'broker = "{broker_url}"', text, flags=re.MULTILINE)
        text = re.sub(r"^(ca_file|cert_file|key_file) = .*\n", "", text, flags=re.MULTILINE)
    path = folder / name
    path.write_text(text)
    return path
