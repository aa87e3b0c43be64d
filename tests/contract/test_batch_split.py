"""The one-pass message decoder that keeps each event's text: it must equal `json.loads`."""

from __future__ import annotations

import json
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from contract import ContractError, SentStamp, encode_batch, parse_batch
from contract.envelope import _split_message

values = st.recursive(
    st.none()
    | st.booleans()
    | st.integers()
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(max_size=8),
    lambda inner: (
        st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=6), inner, max_size=3)
    ),
    max_leaves=8,
)
messages = st.dictionaries(
    st.sampled_from(["v", "agent", "sent", "events", "x"]) | st.text(max_size=5),
    values,
    max_size=5,
).flatmap(lambda base: st.lists(values, max_size=4).map(lambda events: {**base, "events": events}))
spacing = st.sampled_from([(",", ":"), (", ", ": "), (" ,\n", " :\t")])


@settings(max_examples=400)
@given(messages, spacing, st.booleans())
def test_split_equals_json_loads(message: dict[str, Any], seps: tuple[str, str], pad: bool) -> None:
    text = json.dumps(message, separators=seps)
    if pad:
        text = f" \n{text}\r\n "
    split = _split_message(text.encode())
    assert split is not None
    obj, spans = split
    assert obj == json.loads(text)
    assert [json.loads(span) for span in spans] == message["events"]


@pytest.mark.parametrize(
    "raw",
    [
        b'{"events": [1, 2], "events": [3]}',  # a repeated key: json.loads keeps the last
        b'{"events": {"a": 1}}',  # not an array
        b'{"events": [1, 2,]}',  # trailing comma
        b'{"events": [1] } x',  # trailing garbage
        b"\xff\xfe{}",  # not UTF-8
        b"[1, 2]",  # not an object
        b'{"a" 1}',
    ],
)
def test_odd_messages_fall_back_to_json_loads(raw: bytes) -> None:
    assert _split_message(raw) is None


def test_bodies_are_the_texts_the_agent_sent() -> None:
    event = {
        "v": 1, "type": "machine.signal", "source": "pi-1", "agent": "pi-1",
        "instance": "ab" * 16, "seq": 7, "time": "2026-11-23T08:00:00.5Z", "mono_ns": 5,
        "boot": "b1", "payload": {"signal": "cycle", "count": 2},
    }  # fmt: skip
    text = json.dumps(event, separators=(", ", ": "))  # not the canonical spacing
    raw = encode_batch("pi-1", SentStamp("2026-11-23T08:00:01Z", 9, "b1"), [text, text])
    batch = parse_batch(raw)
    assert batch.bodies == [text, text]
    assert batch.items == [event, event]
    # A message that only json.loads can judge still parses, with canonical bodies.
    odd = raw.replace(b'{"v":1,', b'{"v":0,"v":1,', 1)
    assert _split_message(odd) is None
    assert parse_batch(odd).bodies == [json.dumps(event, separators=(",", ":"), sort_keys=True)] * 2
    with pytest.raises(ContractError):
        parse_batch(b'{"v": 1, "events": ')
