"""Agent configs and secrets: every bad value a config error naming the key (issue 15).

`--check` passed a broker port of 99999 that the run then refused (the systemd unit restarted
it every 5 s); `outbox = 5`, a non-UTF-8 file or a NUL in a path surfaced as TypeError,
UnicodeDecodeError or ValueError; the agent logged its broker URL with the password at INFO;
the outbox was created 0644.
"""

from __future__ import annotations

import argparse
import logging
import stat
from pathlib import Path

import pytest

from agent import cli
from agent.config import load_config
from agent.errors import ConfigError
from agent.outbox import Outbox
from cloud.store import EventLog

GOOD = """agent = "pi-crimp-01"
site = "plant1"
area = "harness"
hardware = "emulated"
broker = "mqtt://pi-crimp-01:s3cret-pw@127.0.0.1:1883"
outbox = "outbox.db"

[[station]]
id = "crimp-01"
"""


def write(tmp_path: Path, text: str | bytes) -> Path:
    path = tmp_path / "agent.toml"
    path.write_bytes(text.encode() if isinstance(text, str) else text)
    return path


@pytest.mark.parametrize(
    ("replace", "key"),
    [
        (('outbox = "outbox.db"', "outbox = 5"), "outbox"),
        (('outbox = "outbox.db"', 'outbox = "out\\u0000box.db"'), "outbox"),
        (("1883", "99999"), "broker"),
        (("1883", "0"), "broker"),
        (('hardware = "emulated"', 'hardware = "emulated"\nheartbeat_s = nan'), "heartbeat_s"),
        (('hardware = "emulated"', 'hardware = "emulated"\nheartbeat_s = inf'), "heartbeat_s"),
        (('hardware = "emulated"', 'hardware = "emulated"\nmax_events = 99e99'), "max_events"),
        (('agent = "pi-crimp-01"', 'agent = "pi-crimp-01\\n"'), "agent"),
        (('hardware = "emulated"', "hardware = [1]"), "hardware"),
        (('hardware = "emulated"', 'hardware = "emulated"\nbroker_password_file = 7'), "password"),
    ],
    ids=[
        "outbox-int",
        "outbox-nul",
        "port-99999",
        "port-0",
        "nan",
        "inf",
        "huge",
        "newline-id",
        "hardware-list",
        "password-file-int",
    ],
)
def test_every_bad_value_is_a_config_error_naming_the_key(
    tmp_path: Path, replace: tuple[str, str], key: str
) -> None:
    path = write(tmp_path, GOOD.replace(*replace))
    with pytest.raises(ConfigError, match=key):
        load_config(path)
    assert cli.run(argparse.Namespace(config=str(path), check=True, verbose=False)) == 2


def test_unreadable_files_are_config_errors(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="UTF-8"):
        load_config(write(tmp_path, GOOD.encode() + b"# \xff\xfe\n"))
    with pytest.raises(ConfigError, match="NUL"):
        load_config(str(tmp_path / "a\x00b.toml"))
    with pytest.raises(ConfigError, match="TOML"):
        load_config(write(tmp_path, "a = " + "[" * 50_000))


def test_check_reads_the_password_file_the_run_reads(tmp_path: Path) -> None:
    text = GOOD.replace('outbox = "outbox.db"', 'outbox = "outbox.db"\nbroker_password_file = "pw"')
    path = write(tmp_path, text)
    assert cli.run(argparse.Namespace(config=str(path), check=True, verbose=False)) == 2
    (tmp_path / "pw").write_text("from-file\n")
    assert cli.run(argparse.Namespace(config=str(path), check=True, verbose=False)) == 0
    assert load_config(path).broker_settings().password == "from-file"


def test_the_password_never_reaches_the_log_or_a_message(
    tmp_path: Path, caplog: pytest.LogCaptureFixture, monkeypatch: pytest.MonkeyPatch
) -> None:
    config = load_config(write(tmp_path, GOOD))
    assert "s3cret-pw" not in config.broker_url and "***" in config.broker_url
    assert "s3cret-pw" not in repr(config.broker_settings())
    monkeypatch.setenv("TAKTLINE_BROKER_PASSWORD", "env-pw")
    assert config.broker_settings().password == "env-pw"
    with pytest.raises(ConfigError) as error:
        load_config(write(tmp_path, GOOD.replace("1883", "99999")))
    assert "s3cret-pw" not in str(error.value)
    with caplog.at_level(logging.DEBUG):
        logging.getLogger("agent").info("broker %s", config.broker_url)
    assert "s3cret-pw" not in caplog.text


def test_databases_are_created_owner_only(tmp_path: Path) -> None:
    outbox = Outbox(tmp_path / "outbox.db", agent="pi-crimp-01")
    outbox.append("badge.read", {"tag": "04A1B2C3"}, source="pi-crimp-01")
    outbox.close()
    EventLog(tmp_path / "cloud.db").close()
    for name in ("outbox.db", "cloud.db"):
        assert stat.S_IMODE((tmp_path / name).stat().st_mode) == 0o600, name
