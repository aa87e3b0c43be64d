"""`taktline plan` as a person runs it: the docs' example as written, and bad arguments.

The example command in docs/scheduler.md is run through the console script's entry point (its
optional `[...]` flags left out, its output files put in a temporary folder): it must end with
exit 0, no traceback and a readable SVG (time axis ticks, bar labels). Every bad argument is one
line on stderr and exit 2, never a traceback or a usage block.
"""

from __future__ import annotations

import json
import re
import shlex
import subprocess
import sys
from pathlib import Path

import pytest

from taktline.cli import main
from tests.scheduler.test_cli import _assert_readable_gantt

ROOT = Path(__file__).resolve().parents[2]
EXAMPLES = "docs/examples"


def _docs_example() -> list[str]:
    """The `taktline plan` command of docs/scheduler.md's first code block, as arguments."""
    text = (ROOT / "docs" / "scheduler.md").read_text()
    block = re.search(r"```\n(taktline plan .*?)\n```", text, re.S)
    assert block is not None, "docs/scheduler.md has no taktline plan example"
    command = re.sub(r"\[[^\]]*\]", "", block.group(1).replace("\\\n", " "))
    return shlex.split(command)[1:]


def test_the_docs_example_runs_cleanly_as_written(tmp_path: Path) -> None:
    args = _docs_example()
    assert args[0] == "plan" and "--gantt" in args and "--out" in args
    for option in ("--out", "--gantt"):  # written into the temporary folder, not the checkout
        at = args.index(option) + 1
        args[at] = str(tmp_path / args[at])
    done = subprocess.run(
        [sys.executable, "-c", "import sys; from taktline.cli import main; sys.exit(main())",
         *args],
        cwd=ROOT, capture_output=True, text=True, timeout=120, check=False,
    )  # fmt: skip
    assert done.returncode == 0, done.stdout + done.stderr
    assert "Traceback" not in done.stderr
    assert "could not be planned" in done.stdout and "not planned:" not in done.stdout
    doc = json.loads((tmp_path / "schedule.json").read_text())
    _assert_readable_gantt((tmp_path / "plan.svg").read_text(), doc)


@pytest.mark.parametrize(
    ("extra", "said"),
    [
        (["--now", "yesterday"], "taktline plan: --now: 'yesterday' is not an ISO 8601 time"),
        (["--improve-s", "-1"], "argument --improve-s: '-1' is not a number of seconds"),
        (["--improve-iters", "many"], "argument --improve-iters: 'many' is not a whole number"),
        (["--gantt", "/nonexistent/folder/plan.svg"], "there is no folder '/nonexistent/folder'"),
        (["--out", "docs"], "--out: 'docs' is a folder; name a file"),
        (["--colour", "red"], "unrecognized arguments: --colour red"),
    ],
)
def test_a_bad_argument_is_one_line_and_exit_2(
    extra: list[str], said: str, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(ROOT)
    plant, orders = f"{EXAMPLES}/harness_plant.json", f"{EXAMPLES}/harness_orders.json"
    try:
        code = main(["plan", "--plant", plant, "--orders", orders, *extra])
    except SystemExit as exc:  # argparse's own refusals
        code = exc.code  # type: ignore[assignment]
    assert code == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and said in err, err
    assert "Traceback" not in err and "usage:" not in err
