"""The cloud's passwords: never from argv, never in logs; no plain-text SMTP login (issue 15).

The cloud's MQTT password could only be given on the command line (visible in `ps`), and
`smtp://` with a password logged in over plain text without a warning.
"""

from __future__ import annotations

import argparse
from pathlib import Path

import pytest

from cloud.cli import configure, settings_from, smtp_settings
from cloud.errors import ConfigError
from cloud.service import _broker


def parse(*argv: str) -> argparse.Namespace:
    parser = argparse.ArgumentParser()
    configure(parser)
    return parser.parse_args(list(argv))


def test_a_broker_password_on_the_command_line_is_refused() -> None:
    with pytest.raises(ConfigError, match="--broker-password-file") as error:
        settings_from(parse("--broker", "mqtt://taktline-cloud:s3cret@127.0.0.1:1883"))
    assert "s3cret" not in str(error.value)


def test_the_broker_password_comes_from_a_file_or_the_environment(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    secret = tmp_path / "broker.password"
    secret.write_text("from-file\n")
    url = "mqtt://taktline-cloud@127.0.0.1:1883"
    settings = settings_from(parse("--broker", url, "--broker-password-file", str(secret)))
    assert _broker(settings).password == "from-file"
    assert "from-file" not in repr(settings) and "from-file" not in repr(_broker(settings))
    monkeypatch.setenv("TAKTLINE_BROKER_PASSWORD", "from-env")
    assert _broker(settings_from(parse("--broker", url))).password == "from-env"
    with pytest.raises(ConfigError, match="password file"):
        settings_from(parse("--broker", url, "--broker-password-file", str(tmp_path / "none")))


def test_a_bad_broker_port_is_a_config_error() -> None:
    with pytest.raises(ConfigError, match="--broker"):
        settings_from(parse("--broker", "mqtt://127.0.0.1:99999"))


def test_a_plain_text_smtp_login_is_refused_unless_allowed(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setenv("TAKTLINE_SMTP_PASSWORD", "pw")
    with pytest.raises(ConfigError, match="clear text"):
        smtp_settings("smtp://mia@mail.example")
    allowed = smtp_settings("smtp://mia@mail.example?plain_login=allow")
    assert (allowed.security, allowed.password) == ("plain", "pw")
    assert smtp_settings("smtp://mail.example").username is None  # no login: nothing to leak
    secret = tmp_path / "smtp.password"
    secret.write_text("from-file")
    tls = smtp_settings("smtp://mia@mail.example?security=starttls", str(secret))
    assert tls.password == "from-file"
    with pytest.raises(ConfigError, match="visible to every user"):
        settings_from(
            parse("--plant", "p", "--orders", "o", "--smtp", "smtp://mia:pw@mail.example")
        )
