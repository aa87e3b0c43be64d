"""Sparkplug B payloads and the documents: the definition is the specification's, docs agree.

The golden payloads below were encoded with the Sparkplug B message classes that pysparkplug
0.6.1 ships (protoc output of the Eclipse Tahu `sparkplug_b.proto`), not with ours: decoding them
here checks our definition's field numbers and types against an independent copy.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest
import yaml

from cloud.cli import settings_from
from cloud.errors import ConfigError
from cloud.sparkplug import REBIRTH, DataType, Metric, decode, encode, parse_node, value_of
from cloud.sparkplug.bridge import CHANNELS, DEVICE_METRICS
from cloud.sparkplug.payload import topic
from taktline.cli import build_parser

ROOT = Path(__file__).resolve().parents[2]
ASYNCAPI = yaml.safe_load((ROOT / "docs" / "asyncapi.yaml").read_text())
GUIDE = (ROOT / "docs" / "sparkplug.md").read_text()

#: An NBIRTH: timestamp 1764936000000, seq 0, bdSeq = 3 (Int64), Node Control/Rebirth = false.
GOLDEN_NBIRTH = bytes.fromhex(
    "0880c488f3ae3312120a0562645365711880c488f3ae332004580312210a144e6f646520436f6e74726f6c2f"
    "526562697274681880c488f3ae33200b70001800"
)
#: An NCMD: timestamp 1764936001000, Node Control/Rebirth = true (Boolean), no metric timestamp.
GOLDEN_NCMD = bytes.fromhex(
    "08e8cb88f3ae33121a0a144e6f646520436f6e74726f6c2f52656269727468200b7001"
)


def test_golden_payloads_of_the_reference_definition_decode() -> None:
    birth = decode(GOLDEN_NBIRTH)
    assert birth.timestamp == 1764936000000 and birth.seq == 0
    assert [(m.name, m.datatype, value_of(m)) for m in birth.metrics] == [
        ("bdSeq", DataType.Int64, 3),
        (REBIRTH, DataType.Boolean, False),
    ]
    command = decode(GOLDEN_NCMD)
    assert [(m.name, value_of(m)) for m in command.metrics] == [(REBIRTH, True)]


def test_our_encoding_is_the_reference_encoding() -> None:
    metrics = [Metric("bdSeq", DataType.Int64, 3), Metric(REBIRTH, DataType.Boolean, False)]
    assert encode(1764936000000, metrics, seq=0) == GOLDEN_NBIRTH


@pytest.mark.parametrize(
    ("datatype", "value"),
    [
        (DataType.Int32, -5),
        (DataType.Int64, -(2**62)),
        (DataType.UInt64, 2**63 + 1),
        (DataType.Double, 2.5),
        (DataType.String, "STOPPED"),
        (DataType.Boolean, True),
        (DataType.String, None),
    ],
)
def test_values_round_trip(datatype: DataType, value: object) -> None:
    payload = decode(encode(1, [Metric("m", datatype, value)], seq=7))  # type: ignore[arg-type]
    assert payload.seq == 7
    assert value_of(payload.metrics[0]) == value
    assert payload.metrics[0].datatype == datatype


def test_an_ndeath_has_no_seq() -> None:
    assert not decode(encode(1, [Metric("bdSeq", DataType.Int64, 0)])).HasField("seq")


def test_the_asyncapi_channels_are_the_bridges() -> None:
    documented = {
        v["x-sparkplug-kind"]: v for v in ASYNCAPI["channels"].values() if "x-sparkplug-kind" in v
    }
    assert set(documented) == set(CHANNELS)
    for kind, (action, qos, retain) in CHANNELS.items():
        channel = documented[kind]
        device = "{station}" in channel["address"]
        address = channel["address"].format(group="g", node="n", station="press-1")
        assert address == topic("g", kind, "n", "press-1" if device else None)
        assert channel["bindings"]["mqtt"] == {"qos": qos, "retain": retain}
        name = next(k for k, v in ASYNCAPI["channels"].items() if v is channel)
        actions = [
            op["action"]
            for op in ASYNCAPI["operations"].values()
            if op["channel"]["$ref"] == f"#/channels/{name}"
        ]
        assert actions == [action]
        row = re.search(rf"^\| {kind} \| `([^`]+)` \| (\d)", GUIDE, re.M)
        assert row is not None, f"{kind} is not in docs/sparkplug.md's topics"
        assert row.group(1) == channel["address"].replace("{group}", "GROUP").replace(
            "{node}", "NODE"
        ).replace("{station}", "STATION")
        assert int(row.group(2)) == qos


def test_the_guide_lists_every_metric_with_its_type() -> None:
    rows = dict(re.findall(r"^\| `([^`]+)` \| (\w+) \|", GUIDE, re.M))
    expected = {name: kind.name for name, (_, kind) in DEVICE_METRICS.items()}
    expected |= {"bdSeq": "Int64", REBIRTH: "Boolean"}
    assert rows == expected


def test_the_cli_option_parses_group_and_node() -> None:
    parser = build_parser()
    args = parser.parse_args(["cloud", "--sparkplug", "plant1/taktline-cloud", "--web", "off"])
    assert settings_from(args).sparkplug == ("plant1", "taktline-cloud")
    for bad in ("plant1", "plant1/", "a/b/c", "a+/b", "#/b"):
        with pytest.raises(ConfigError, match="GROUP/NODE"):
            settings_from(parser.parse_args(["cloud", "--sparkplug", bad]))
    assert parse_node("g/n") == ("g", "n")
