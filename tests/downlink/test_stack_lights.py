"""The stack-light rule and its commands: one per change, all again when an agent comes back."""

from __future__ import annotations

import pytest

from cloud.stack_lights import StackLights, light_for
from contract import AgentPath, StackLightCommand

PATHS = {
    "crimp-01": AgentPath("plant1", "harness", "pi-crimp"),
    "cut-01": AgentPath("plant1", "harness", "pi-cut"),
}


@pytest.mark.parametrize(
    ("state", "reason", "light"),
    [
        ("RUNNING", None, ("green", False)),
        ("STOPPED", None, ("red", True)),
        ("STOPPED", "unexplained", ("red", True)),
        ("STOPPED", "breakdown", ("red", False)),
        ("STOPPED", "material_shortage", ("red", False)),
        ("STOPPED", "changeover", ("amber", False)),
        ("STOPPED", "other", ("amber", False)),
        ("IDLE", None, ("off", False)),
    ],
)
def test_the_light_rule(state: str, reason: str | None, light: tuple[str, bool]) -> None:
    assert light_for(state, reason) == light


def test_commands_go_to_the_serving_agent_once_per_change() -> None:
    sent: list[tuple[str, StackLightCommand]] = []
    lights = StackLights(lambda t, p: sent.append((t, StackLightCommand.decode(p))), PATHS.get)
    assert lights.update("crimp-01", "RUNNING", None)
    assert not lights.update("crimp-01", "RUNNING", None)  # no change, no command
    assert lights.update("crimp-01", "STOPPED", "unexplained")
    assert lights.update("crimp-01", "STOPPED", "breakdown")
    assert lights.update("cut-01", "IDLE", None)
    assert [(t.rsplit("/", 2)[-2], c.station, c.colour, c.blink) for t, c in sent] == [
        ("pi-crimp", "crimp-01", "green", False),
        ("pi-crimp", "crimp-01", "red", True),
        ("pi-crimp", "crimp-01", "red", False),
        ("pi-cut", "cut-01", "off", False),
    ]
    assert all(t.endswith("/command") for t, _ in sent)
    sent.clear()
    assert lights.agent_online("pi-crimp") == 1
    assert [(c.station, c.colour) for _, c in sent] == [("crimp-01", "red")]


def test_a_station_without_an_agent_is_logged_not_sent(caplog: pytest.LogCaptureFixture) -> None:
    sent: list[str] = []
    lights = StackLights(lambda t, p: sent.append(t), PATHS.get)
    assert not lights.update("weld-09", "RUNNING", None)
    assert sent == [] and "weld-09" in caplog.text
