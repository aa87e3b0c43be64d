"""The rest zone role: every badge read at a rest-zone reader marks its operator at rest.

`[rest]` names the zone (`id`) and its readers (`[[rest.reader]]`, one per door or table). The
events carry no station (a rest zone is not a machine): the reader, their source, names the zone.
With a tag directory (`tags`), only tags listed as badges count and any other tag gives an
`unknown_tag` alarm; without one, every tag is taken as a badge.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Final

from agent.config import check_keys, identifier
from agent.errors import ConfigError
from agent.recorder import EventRecorder
from agent.roles.base import PollingRole
from agent.roles.readers import (
    ReaderConfig,
    TagDirectory,
    WatchedReader,
    check_wiring,
    load_directory,
    parse_reader,
)

if TYPE_CHECKING:
    from agent.runtime import Agent
    from hardware.factory import Hardware

__all__ = ["RestConfig", "RestRole", "parse_rest", "start_rest"]

log = logging.getLogger(__name__)

_KEYS: Final = frozenset({"id", "reader", "tags"})


@dataclass(frozen=True, slots=True)
class RestConfig:
    """A rest zone: its id and readers, and optionally the tag directory."""

    id: str
    readers: tuple[ReaderConfig, ...]
    tags: Path | None = None
    poll_s: float = 0.05


def parse_rest(section: dict[str, Any], where: str, base: Path) -> RestConfig:
    """Checks the `[rest]` section."""
    at = f"{where}: [rest]"
    if not section:
        raise ConfigError(f'{at} is missing; add [rest] with id = "rest-01" and a [[rest.reader]]')
    check_keys(section, _KEYS, at)
    zone = identifier(section, "id", at)
    raw = section.get("reader", [])
    if not isinstance(raw, list) or not raw:
        raise ConfigError(
            f"{at}: reader must list at least one reader ([[rest.reader]] with device and "
            "reset_pin)"
        )
    readers = tuple(
        parse_reader(item, f"{at}.reader[{i}]", default_name=f"{zone}-badge{i + 1}")
        for i, item in enumerate(raw)
    )
    check_wiring(readers, [], at)
    tags = load_directory(section["tags"], at, base) if "tags" in section else None
    return RestConfig(id=zone, readers=readers, tags=tags)


class RestRole(PollingRole):
    """Polls the rest zone's readers; each badge entering a field is one `rest.read`."""

    def __init__(self, agent: Agent, config: RestConfig, hardware: Hardware) -> None:
        super().__init__(f"rest-{config.id}", config.poll_s)
        self.config = config
        self.directory = TagDirectory(config.tags) if config.tags is not None else None
        self.readers: list[tuple[WatchedReader, EventRecorder]] = []
        try:
            for reader in config.readers:
                recorder = agent.recorder(reader.name)
                watched = self.devices.enter_context(WatchedReader(hardware, reader, recorder))
                self.readers.append((watched, recorder))
        except BaseException:
            self.devices.close()
            raise

    def poll(self) -> None:
        """Every reader once."""
        for reader, recorder in self.readers:
            tag = reader.poll()
            if tag is None:
                continue
            kind = self.directory.kind_of(tag) if self.directory is not None else "badge"
            if kind == "badge":
                recorder.rest_read(tag)
                continue
            problem = (
                f"tag {tag} at rest-zone reader {reader.name} is "
                + (f"a {kind}" if kind else "not in the tag directory")
                + "; only badges count here"
            )
            log.warning("%s: unknown tag: %s", self.config.id, problem)
            recorder.alarm("unknown_tag", problem)


def start_rest(agent: Agent, config: RestConfig, hardware: Hardware) -> RestRole:
    """Opens the rest zone's readers and starts polling them."""
    role = RestRole(agent, config, hardware)
    role.start()
    return role
