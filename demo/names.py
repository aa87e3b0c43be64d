"""What the demo prints things as: master-data names, not the tags the readers see.

The cloud's one-line changes (`ResourceStatus.apply`) name badges, tools and job tickets by their
tags, which is what the log holds; a person watching the demo knows "Anna Berger", "crimp
applicator 2" and "H-101/crimp". `Names` looks each tag up in the plant model the status holds
(`StatusMaster`: the badge's operator, the tool, the ticket's order and step) and writes the
name instead; a tag the plant model does not know (a kanban card, whose tag is the card) stays.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable
from typing import Final

from cloud.status import StatusMaster

__all__ = ["Names"]

#: What a tag looks like in a line (the contract's 4- or 7-byte UIDs, upper-case hex).
_TAG: Final = re.compile(r"\b(?:[0-9A-F]{14}|[0-9A-F]{8})\b")


class Names:
    """Tags to names, over the plant model the status holds now (it may be replaced)."""

    def __init__(self, master: Callable[[], StatusMaster]) -> None:
        self._master = master

    def of(self, tag: str) -> str:
        """The name of what `tag` stands for (the tag itself when the plant does not know it)."""
        master = self._master()
        operator = master.operator_of(tag)
        if operator is not None:
            return operator.name or operator.id
        tool = master.tool_of(tag)
        if tool is not None:
            return tool.name or tool.id
        ticket = master.ticket(tag)
        if ticket is not None and ticket.ref:
            return f"{ticket.ref}/{ticket.step}" if ticket.step else ticket.ref
        return tag

    def all(self, tags: Iterable[str]) -> str:
        """Several tags by name, comma-separated ("-" for none)."""
        return ", ".join(self.of(tag) for tag in tags) or "-"

    def line(self, text: str) -> str:
        """`text` with every tag the plant knows written as its name."""
        return _TAG.sub(lambda found: self.of(found.group()), text)
