import json
from pathlib import Path

import jsonschema
import pytest

ROOT = Path(__file__).resolve().parents[2]
EXAMPLES = ROOT / "docs" / "examples"
SCHEMAS = ROOT / "docs" / "schemas"


def run_plan(*args: str) -> int:
    import argparse

    from cloud.scheduler import cli

    parser = argparse.ArgumentParser()
    cli.configure(parser)
    return cli.run(parser.parse_args(list(args)))


def test_plan_example(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "schedule.json"
    svg = tmp_path / "plan.svg"
    code = run_plan(
        "--plant",
        str(EXAMPLES / "harness_plant.json"),
        "--orders",
        str(EXAMPLES / "harness_orders.json"),
        "--now",
        "2026-03-23T05:00:00Z",
        "--out",
        str(out),
        "--gantt",
        str(svg),
        "--improve-s",
        "0.2",
        "--improve-iters",
        "20",
    )
    assert code == 0  # the docs' example plans every order
    text = capsys.readouterr().out
    assert "7 orders planned" in text and "0 could not be planned" in text
    assert "not planned" not in text
    gap_lines = [line for line in text.splitlines() if line.startswith("  gap ")]
    units = (" machine", " operator", " tool", " resource")
    assert gap_lines and all(any(u in line.split(" from ")[0] for u in units) for line in gap_lines)
    gaps = int(text.split(" gap(s) in the resource check")[0].rsplit("\n", 1)[-1])
    shown = text.count("\n  gap ")
    if gaps > shown:  # a cut list says how many it left out
        assert f"... and {gaps - shown} more gap(s)" in text
    else:
        assert "more gap(s)" not in text
    doc = json.loads(out.read_text())
    assert doc["summary"]["orders"] == 7
    assert doc["errors"] == []
    _assert_readable_gantt(svg.read_text(), doc)
    schema = json.loads((SCHEMAS / "schedule.schema.json").read_text())
    jsonschema.validate(doc, schema)


def _assert_readable_gantt(text: str, doc: dict[str, object]) -> None:
    from xml.etree import ElementTree

    ns = {"svg": "http://www.w3.org/2000/svg"}
    root = ElementTree.fromstring(text)

    def of(cls: str, tag: str = "*") -> list[ElementTree.Element]:
        return [e for e in root.iterfind(f"svg:{tag}", ns) if e.get("class") == cls]

    ticks = [e.text or "" for e in of("tick-label", "text")]
    assert len(ticks) >= 3 and any("Mar" in t for t in ticks)  # the axis says the day
    labels = [e.text or "" for e in of("bar-label", "text")]
    assert any(label.startswith("SO-10") for label in labels)  # bars carry order / step
    tips = [e.findtext("svg:title", "", ns) for e in of("bar", "rect")]
    assert all(" / " in tip for tip in tips) and tips
    planned = {o["order"] for o in doc["orders"]}  # type: ignore[attr-defined]
    dues = [e.findtext("svg:title", "", ns) for e in of("due", "line")]
    assert {d.split(" due ")[0] for d in dues} == planned  # a due marker per planned order
    assert "times in Europe/Berlin" in text  # the plant's zone, not UTC
    assert len(of("legend", "rect")) == len(planned)


def test_example_inputs_match_their_schemas() -> None:
    for name, schema in (("harness_plant", "plant"), ("harness_orders", "orders")):
        doc = json.loads((EXAMPLES / f"{name}.json").read_text())
        jsonschema.validate(doc, json.loads((SCHEMAS / f"{schema}.schema.json").read_text()))


def test_an_order_whose_product_has_no_routing_is_named_and_exits_1(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    doc = json.loads((EXAMPLES / "harness_orders.json").read_text())
    mirror = {"id": "SO-1008", "product": "HARNESS-MIRROR", "quantity": 10,
              "due": "2026-03-26T09:00:00Z"}  # fmt: skip
    orders = tmp_path / "orders.json"
    orders.write_text(json.dumps({**doc, "orders": [*doc["orders"], mirror]}))
    plant = str(EXAMPLES / "harness_plant.json")
    code = run_plan("--plant", plant, "--orders", str(orders), "--now", "2026-03-23T05:00:00Z",
                    "--improve-iters", "0")  # fmt: skip
    assert code == 1  # the rest is planned; the one order is named on one line
    text = capsys.readouterr().out
    assert "7 orders planned" in text and "1 could not be planned" in text
    assert "  not planned: SO-1008: product 'HARNESS-MIRROR' has no routing\n" in text


def test_invalid_input_exit_code(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    bad = tmp_path / "orders.json"
    bad.write_text(json.dumps({"orders": [{"id": "x", "product": "HARNESS-DOOR"}]}))
    code = run_plan("--plant", str(EXAMPLES / "harness_plant.json"), "--orders", str(bad))
    assert code == 2
    assert "orders[0] ('x').quantity: is required" in capsys.readouterr().err


@pytest.mark.parametrize("now", ["yesterday", "2026-13-01T00:00:00Z", "0001-01-01T00:00+05:00"])
def test_a_bad_now_is_one_line_and_exit_2(now: str, capsys: pytest.CaptureFixture[str]) -> None:
    plant, orders = str(EXAMPLES / "harness_plant.json"), str(EXAMPLES / "harness_orders.json")
    code = run_plan("--plant", plant, "--orders", orders, "--now", now)
    assert code == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and err.startswith("taktline plan: --now: ")
    assert repr(now) in err and "Traceback" not in err


def test_plan_subcommand_is_registered() -> None:
    from taktline.cli import SUBCOMMANDS

    assert SUBCOMMANDS["plan"][0] == "cloud.scheduler.cli"
