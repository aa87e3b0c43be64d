"""The fuzz targets: name -> how to set one up (in a scratch folder) and seed it.

`Target.make(folder)` returns `one_input(data: bytes) -> None`, which raises only on a bug. The
set-up (a store, a plant, a web server) happens once per process, outside the measured runs.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

__all__ = ["CORPUS", "OneInput", "Target", "all_targets", "corpus_of"]

OneInput = Callable[[bytes], None]
#: Seeds and regression inputs, one folder per target.
CORPUS = Path(__file__).resolve().parent / "corpus"


@dataclass(frozen=True)
class Target:
    """One fuzz target."""

    name: str
    #: what it reads, for the report
    about: str
    #: builds the target's state in `folder` and returns its one-input function
    make: Callable[[Path], OneInput]
    #: well-formed inputs the fuzzer starts from (besides fuzz/corpus/NAME/)
    seeds: Callable[[], list[bytes]]
    #: the share of `bench/fuzz.py --runs` this target gets (slow targets: a tenth)
    share: float = 1.0


def all_targets() -> dict[str, Target]:
    """Every target by name (imports what the targets read)."""
    from fuzz import files, logistics, rest, wire

    found = (*wire.TARGETS, *files.TARGETS, *rest.TARGETS, *logistics.TARGETS)
    return {target.name: target for target in found}


def corpus_of(name: str) -> list[tuple[str, bytes]]:
    """The stored inputs of target `name`: (file name, bytes), sorted by name."""
    folder = CORPUS / name
    if not folder.is_dir():
        return []
    return [(p.name, p.read_bytes()) for p in sorted(folder.iterdir()) if p.is_file()]
