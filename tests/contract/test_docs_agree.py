"""The AsyncAPI document and its JSON Schemas in docs/ agree with the code's contract."""

from __future__ import annotations

import json
from datetime import datetime
from pathlib import Path
from typing import Any

import jsonschema
import pytest
import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from cloud.auth import ROLES
from contract import (
    EVENT_TYPES,
    NAMESPACE,
    AgentStatus,
    ContractError,
    Event,
    SentStamp,
    encode_batch,
    encode_settlement,
    parse_batch,
    parse_event,
)
from contract.andon import ALARM_KINDS
from contract.downlink import (
    GapReport,
    OperatorSchedule,
    PlanSnapshot,
    ScheduledJob,
    StackLightCommand,
    StationSchedule,
)
from contract.envelope import MAX_EVENTS_PER_MESSAGE
from contract.fields import BOOT_PATTERN, ID_PATTERN, INSTANCE_PATTERN, TIME_PATTERN
from contract.kanban import CARD_STATES
from contract.logistics import TRANSPORT_REASONS, TRANSPORT_STATES
from contract.payloads import (
    AGENT_ALARMS,
    CORRECTIONS,
    FIX_STATES,
    GATE_DIRECTIONS,
    JOB_ACTIONS,
    MACHINE_SIGNALS,
    PACKAGE_STAGES,
    STOP_REASONS,
    WEB_METHODS,
    WEB_ROLES,
    WEB_VIA,
)
from contract.tags import TAG_ID_PATTERN
from contract.topics import (
    AGENT_CHANNELS,
    PLAN_CHANNELS,
    AgentPath,
    gap_report_topic,
    operator_schedule_topic,
    plan_topic,
    station_schedule_topic,
)

DOCS = Path(__file__).resolve().parents[2] / "docs"
ASYNCAPI = yaml.safe_load((DOCS / "asyncapi.yaml").read_text())


def _schema(name: str) -> dict[str, Any]:
    return json.loads((DOCS / "schemas" / name).read_text())


EVENT_SCHEMA = _schema("event.schema.json")
EVENT_VALIDATOR = jsonschema.Draft202012Validator(EVENT_SCHEMA)


def test_every_schema_file_is_a_valid_json_schema() -> None:
    for path in sorted((DOCS / "schemas").glob("*.schema.json")):
        jsonschema.Draft202012Validator.check_schema(json.loads(path.read_text()))


def test_channels_match_the_code() -> None:
    channels = {
        k: v
        for k, v in ASYNCAPI["channels"].items()
        if not {"x-plan-kind", "x-sparkplug-kind", "x-logistics-kind"} & set(v)
    }
    assert set(channels) == set(AGENT_CHANNELS)
    sample = AgentPath("plant1", "harness", "pi-1")
    for name, (direction, retained, qos) in AGENT_CHANNELS.items():
        channel = channels[name]
        address = channel["address"].format(site="plant1", area="harness", agent="pi-1")
        assert address == sample.topic(name)
        assert channel["address"].startswith(NAMESPACE + "/")
        assert channel["bindings"]["mqtt"] == {"qos": qos, "retain": retained}
        actions = [
            op["action"]
            for op in ASYNCAPI["operations"].values()
            if op["channel"]["$ref"] == f"#/channels/{name}"
        ]
        assert actions == ["send" if direction == "publish" else "receive"]


def test_message_schemas_exist_for_every_channel() -> None:
    for channel in ASYNCAPI["channels"].values():
        for message in channel["messages"].values():
            name = message["$ref"].rsplit("/", 1)[1]
            payload = ASYNCAPI["components"]["messages"][name]["payload"]
            if "schemaFormat" in payload:  # Sparkplug B: a protobuf definition
                payload = payload["schema"]
            assert (DOCS / payload["$ref"]).is_file(), payload


def test_enums_and_patterns_match_the_code() -> None:
    props = EVENT_SCHEMA["properties"]
    defs = EVENT_SCHEMA["$defs"]
    assert tuple(props["type"]["enum"]) == EVENT_TYPES
    web = defs["webRequestPayload"]["properties"]
    assert tuple(web["role"]["oneOf"][0]["enum"]) == WEB_ROLES == ROLES
    assert (tuple(web["via"]["enum"]), tuple(web["method"]["enum"])) == (WEB_VIA, WEB_METHODS)
    assert tuple(defs["alarmPayload"]["properties"]["alarm"]["enum"]) == AGENT_ALARMS
    assert tuple(defs["stopReasonPayload"]["properties"]["reason"]["enum"]) == STOP_REASONS
    assert tuple(defs["jobTicketPayload"]["properties"]["action"]["enum"]) == JOB_ACTIONS
    assert tuple(defs["gatePayload"]["properties"]["direction"]["enum"]) == GATE_DIRECTIONS
    assert tuple(defs["correctionPayload"]["properties"]["correction"]["enum"]) == CORRECTIONS
    assert tuple(defs["fixPayload"]["properties"]["fix"]["enum"]) == FIX_STATES
    assert tuple(defs["packagePayload"]["properties"]["stage"]["enum"]) == PACKAGE_STAGES
    assert tuple(defs["kanbanCardPayload"]["properties"]["state"]["enum"]) == CARD_STATES
    transport = defs["transportStatePayload"]["properties"]["state"]["enum"]
    assert tuple(transport) == TRANSPORT_STATES
    reasons = defs["transportOrderPayload"]["properties"]["reason"]["enum"]
    assert tuple(reasons) == TRANSPORT_REASONS
    signals = defs["signalPayload"]["oneOf"]
    assert (
        signals[0]["properties"]["signal"]["const"],
        *signals[1]["properties"]["signal"]["enum"],
    ) == MACHINE_SIGNALS
    assert defs["id"]["pattern"] == ID_PATTERN
    assert props["instance"]["pattern"] == INSTANCE_PATTERN
    assert props["boot"]["pattern"] == BOOT_PATTERN
    assert defs["time"]["pattern"] == TIME_PATTERN
    assert defs["tagId"]["pattern"] == TAG_ID_PATTERN
    message = _schema("events-message.schema.json")
    assert message["properties"]["events"]["maxItems"] == MAX_EVENTS_PER_MESSAGE
    # Every event type has a payload rule in the schema.
    covered = set()
    for rule in EVENT_SCHEMA["allOf"]:
        kind = rule["if"]["properties"]["type"]
        covered |= set(kind.get("enum", [kind.get("const")]))
    assert covered == set(EVENT_TYPES)


# --- property tests: the two definitions accept and reject the same events ----------------------

ids = st.from_regex(r"\A[A-Za-z0-9][A-Za-z0-9._-]{0,20}\Z")
tags = st.one_of(st.from_regex(r"\A[0-7][0-9A-F]{7}\Z"), st.from_regex(r"\A[0-7][0-9A-F]{13}\Z"))
#: Free text keeps line feeds and tabs, never NUL or another control character.
_PRINTABLE = st.characters(exclude_categories=("Cc", "Cs"))


def free_text(max_size: int) -> st.SearchStrategy[str]:
    return st.text(_PRINTABLE | st.sampled_from("\n\t"), max_size=max_size)


times = st.datetimes(min_value=datetime(1970, 1, 1), max_value=datetime(2099, 12, 31)).map(
    lambda d: d.strftime("%Y-%m-%dT%H:%M:%S.%fZ")
)
counts = st.integers(1, 1_000_000)
quantities = st.floats(0, 1e9) | st.integers(0, 10**9)
names = st.text(st.characters(blacklist_categories=("Cc", "Cs")), min_size=1, max_size=30).filter(
    lambda t: "\x7f" not in t
)


def plain(size: int) -> st.SearchStrategy[str]:
    """Free text without control characters (the contract keeps none but \\n and \\t)."""
    return st.text(st.characters(blacklist_categories=("Cc", "Cs")), max_size=size)


weights = st.floats(0, 1e6, allow_nan=False)
plan_orders = st.fixed_dictionaries(
    {"id": names, "product": names, "quantity": st.integers(1, 10**9), "due": times},
    optional={
        "release": times,
        "priority": st.integers(-1000, 1000),
        "earliness_weight": weights,
        "tardiness_weight": weights,
        "steps": st.dictionaries(
            names,
            st.fixed_dictionaries(
                {"due": times},
                optional={"earliness_weight": weights, "tardiness_weight": weights},
            ),
            max_size=3,
        ),
    },
)
coords = st.floats(-90, 90) | st.integers(-90, 90)
manifest_lines = st.none() | st.fixed_dictionaries(
    {"material": ids, "order": ids, "quantity": st.integers(1, 10**6) | st.floats(0.001, 1e6)}
)
payloads: dict[str, st.SearchStrategy[dict[str, Any]]] = {
    "badge.read": st.fixed_dictionaries({"tag": tags}),
    "tool.read": st.fixed_dictionaries({"tag": tags}),
    "rest.read": st.fixed_dictionaries({"tag": tags}),
    "machine.signal": st.one_of(
        st.fixed_dictionaries({"signal": st.just("run"), "on": st.booleans()}),
        st.fixed_dictionaries(
            {"signal": st.sampled_from([s for s in MACHINE_SIGNALS if s != "run"]), "count": counts}
        ),
    ),
    "machine.stop_reason": st.fixed_dictionaries({"reason": st.sampled_from(STOP_REASONS)}),
    "job.ticket": st.fixed_dictionaries({"tag": tags, "action": st.sampled_from(JOB_ACTIONS)}),
    "tool.gate": st.one_of(
        st.fixed_dictionaries(
            {
                "tag": tags,
                "direction": st.just("unpaired"),
                "readers": st.lists(ids, min_size=1, max_size=1),
            }
        ),
        st.fixed_dictionaries(
            {
                "tag": tags,
                "direction": st.sampled_from(GATE_DIRECTIONS[:2]),
                "readers": st.lists(ids, min_size=2, max_size=2),
            }
        ),
    ),
    "gps.position": st.fixed_dictionaries(
        {
            "lat": coords,
            "lon": st.floats(-180, 180),
            "speed_mps": st.floats(0, 400),
            "heading_deg": st.none() | st.floats(0, 360),
            "fix": st.sampled_from(FIX_STATES[1:]),
            "gps_time": st.none() | times,
        }
    ),
    "gps.fix": st.fixed_dictionaries({"fix": st.sampled_from(FIX_STATES), "detail": free_text(50)}),
    "package.read": st.fixed_dictionaries(
        {
            "tag": tags,
            "stage": st.sampled_from(PACKAGE_STAGES),
            "delivery": st.none() | ids,
            "manifest": manifest_lines,
        }
    ),
    "correction": st.one_of(
        st.fixed_dictionaries(
            {
                "correction": st.just("void"),
                "value": st.none(),
                "voids": st.tuples(
                    st.from_regex(r"\A[0-9a-f]{32}\Z"), st.integers(1, 2**63 - 1)
                ).map(list),
            }
        ),
        st.fixed_dictionaries(
            {
                "correction": st.just("stop_reason"),
                "value": st.sampled_from(STOP_REASONS),
                "voids": st.none(),
            }
        ),
        st.fixed_dictionaries(
            {"correction": st.just("tool_location"), "value": ids, "voids": st.none()}
        ),
        st.fixed_dictionaries(
            {
                "correction": st.sampled_from(["cycles", "good", "scrap"]),
                "value": counts,
                "voids": st.none(),
            }
        ),
        st.fixed_dictionaries(
            {
                "correction": st.sampled_from(["badge_out", "tool_service"]),
                "value": st.none(),
                "voids": st.none(),
            }
        ),
    ).flatmap(
        lambda base: st.fixed_dictionaries(
            {
                "by": st.text(_PRINTABLE, min_size=1, max_size=20),
                "reason": free_text(30),
                "at": times,
                "station": st.none() | ids,
                "tag": st.none() | tags,
            }
        ).map(lambda rest: {**base, **rest})
    ),
    "agent.heartbeat": st.fixed_dictionaries(
        {
            "uptime_s": st.floats(0, 1e9),
            "outbox_depth": st.integers(0, 10**7),
            "outbox_oldest_age_s": st.none() | st.floats(0, 1e9),
            "dead_letters": st.integers(0, 10**6),
        }
    ),
    "agent.alarm": st.fixed_dictionaries(
        {"alarm": st.sampled_from(AGENT_ALARMS), "detail": free_text(50)}
    ),
    "plan.order": st.one_of(
        st.fixed_dictionaries(
            {
                "action": st.sampled_from(["created", "pending"]),
                "decision": st.none(),
                "submitted_by": st.none(),
            }
        ),
        st.fixed_dictionaries(
            {
                "action": st.just("changed"),
                "decision": st.sampled_from(["new", "adjust"]),
                "submitted_by": names,
            }
        ),
    ).flatmap(
        lambda base: st.fixed_dictionaries(
            {"order": plan_orders, "by": names, "source": names}
        ).map(lambda rest: {**base, **rest})
    ),
    "plan.cancel": st.fixed_dictionaries({"order": names, "by": names, "source": names}),
    "plan.pin": st.fixed_dictionaries(
        {
            "order": names,
            "step": names,
            "start": times,
            "resources": st.lists(ids, max_size=3),
            "by": names,
        }
    ),
    "plan.manual": st.fixed_dictionaries({"on": st.booleans(), "by": names}),
    "plan.maintenance": st.fixed_dictionaries(
        {
            "resource": ids,
            "start": times,
            "minutes": st.integers(min_value=1, max_value=20_160),
            "by": names,
        }
    ),
    "kanban.empty": st.fixed_dictionaries({"card": tags}),
    "kanban.card": st.fixed_dictionaries({"card": tags, "state": st.sampled_from(CARD_STATES)}),
    "bin.level": st.fixed_dictionaries(
        {
            "bin": ids,
            "quantity": quantities,
            "threshold": quantities,
            "below": st.booleans(),
            "rate_per_h": quantities,
        }
    ),
    "rule.fired": st.fixed_dictionaries(
        {
            "rule": ids,
            "trigger": names | st.just(""),
            "actions": st.lists(names, min_size=1, max_size=8),
        }
    ),
    "kanban.loop": st.one_of(
        st.fixed_dictionaries({"cards": st.integers(1, 10_000), "safety": st.none()}),
        st.fixed_dictionaries({"cards": st.none(), "safety": st.floats(0, 10)}),
        st.fixed_dictionaries({"cards": st.integers(1, 10_000), "safety": st.integers(0, 10)}),
    ).flatmap(
        lambda base: st.fixed_dictionaries(
            {"loop": ids, "by": names, "reason": names | st.just("")}
        ).map(lambda rest: {**base, **rest})
    ),
    "plan.import": st.fixed_dictionaries(
        {
            "file": names,
            "digest": st.from_regex(r"\A[0-9a-f]{64}\Z"),
            "orders": st.integers(0, 10**6),
            "by": names,
        }
    ),
    "plan.times": st.fixed_dictionaries(
        {
            "times": st.lists(
                st.fixed_dictionaries(
                    {
                        "product": names,
                        "step": names,
                        "station": ids,
                        "per_unit_s": st.none() | st.floats(0, 1e6) | st.integers(0, 10**6),
                    }
                ),
                min_size=1,
                max_size=3,
            ),
            "by": names,
        }
    ),
    "calloff.issued": st.fixed_dictionaries(
        {
            "supplier": ids,
            "version": st.integers(1, 2**31 - 1),
            "digest": st.from_regex(r"\A[0-9a-f]{64}\Z"),
            "ship_by": st.none() | times,
            "lines": st.lists(
                st.fixed_dictionaries(
                    {
                        "material": names,
                        "point_of_use": names,
                        "start": times,
                        "end": times,
                        "quantity": st.floats(0, 1e9) | st.integers(0, 10**9),
                        "ship_by": times,
                    }
                ),
                max_size=3,
            ),
            "sequence": st.lists(
                st.fixed_dictionaries(
                    {
                        "material": names,
                        "point_of_use": names,
                        "seq": st.integers(1, 1000),
                        "order": names,
                        "step": names,
                        "needed": times,
                        "quantity": st.floats(0, 1e9),
                    }
                ),
                max_size=3,
            ),
            "changes": st.lists(plain(200), max_size=3),
        }
    ),
    "transport.order": st.fixed_dictionaries(
        {
            "transport": ids,
            "manufacturer": ids,
            "serial": ids,
            "material": names,
            "pick": names,
            "drop": names,
            "quantity": st.floats(0, 1e9),
            "reason": st.sampled_from(TRANSPORT_REASONS),
            "order": st.none() | names,
            "step": st.none() | names,
            "due": times,
        }
    ),
    "transport.state": st.fixed_dictionaries(
        {"transport": ids, "state": st.sampled_from(TRANSPORT_STATES), "detail": plain(200)}
    ),
    "andon.ack": st.fixed_dictionaries(
        {
            "alarm": names,
            "kind": st.sampled_from(ALARM_KINDS),
            "by": names,
        }
    ),
    "web.request": st.fixed_dictionaries(
        {
            "actor": st.none() | plain(100),
            "role": st.none() | st.sampled_from(WEB_ROLES),
            "via": st.sampled_from(WEB_VIA),
            "token": st.none() | st.from_regex(r"\A[0-9a-f]{16}\Z"),
            "method": st.sampled_from(WEB_METHODS),
            "route": plain(200),
            "status": st.integers(100, 599),
            "address": st.none() | plain(100),
        }
    ),
}


@st.composite
def events(draw: st.DrawFn) -> dict[str, Any]:
    kind = draw(st.sampled_from(EVENT_TYPES))
    event = Event(
        type=kind,
        source=draw(ids),
        agent=draw(ids),
        station=draw(st.none() | ids),
        instance=draw(st.from_regex(r"\A[0-9a-f]{32}\Z")),
        seq=draw(st.integers(1, 2**63 - 1)),
        time=draw(times),
        mono_ns=draw(st.integers(0, 2**63 - 1)),
        boot=draw(st.from_regex(r"\A[0-9A-Za-z-]{1,64}\Z")),
        payload=draw(payloads[kind]),
    )
    return event.to_dict()


# JSON values a buggy or hostile publisher might put anywhere. Integral floats are left out: JSON
# Schema counts 1.0 as an integer, the contract (stricter, like our encoders) does not.
json_values = st.recursive(
    st.none()
    | st.booleans()
    | st.integers(-(2**64), 2**64)
    | st.floats(allow_nan=False, allow_infinity=False).filter(lambda f: not f.is_integer())
    | st.text(max_size=20)
    | tags
    | ids,
    lambda inner: (
        st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=5), inner, max_size=3)
    ),
    max_leaves=5,
)


def _contract_accepts(obj: Any) -> bool:
    try:
        parse_event(obj)
    except ContractError:
        return False
    return True


def _schema_accepts(obj: Any) -> bool:
    return EVENT_VALIDATOR.is_valid(obj)


@settings(max_examples=600, suppress_health_check=[HealthCheck.too_slow])
@given(events())
def test_every_valid_event_fits_the_schema(event: dict[str, Any]) -> None:
    assert _contract_accepts(event)
    assert _schema_accepts(event), list(EVENT_VALIDATOR.iter_errors(event))


@settings(max_examples=600, suppress_health_check=[HealthCheck.too_slow])
@given(events(), st.data())
def test_mutated_events_are_judged_alike(event: dict[str, Any], data: st.DataObject) -> None:
    target = event
    if data.draw(st.booleans(), "mutate the payload"):
        target = event["payload"]
    key = data.draw(st.sampled_from([*sorted(target), "surplus"]), "key")
    action = data.draw(st.sampled_from(["drop", "replace"]), "action")
    if action == "drop":
        target.pop(key, None)
    else:
        target[key] = data.draw(json_values, "value")
    assert _contract_accepts(event) == _schema_accepts(event), (
        event,
        [e.message for e in EVENT_VALIDATOR.iter_errors(event)],
    )


@pytest.mark.parametrize(
    ("schema", "raw"),
    [
        (
            "settled.schema.json",
            encode_settlement([("ab" * 16, 1), ("ab" * 16, 2), ("cd" * 16, 9)]),
        ),
        ("settled.schema.json", encode_settlement((), resend=True)),
        (
            "agent-status.schema.json",
            AgentStatus("pi-1", "online", "2026-11-23T08:00:00Z").encode(),
        ),
        (
            "events-message.schema.json",
            encode_batch(
                "pi-1",
                SentStamp("2026-11-23T08:00:00.5Z", 5, "boot1"),
                [json.dumps({"v": 1})],
            ),
        ),
    ],
)
def test_encoded_messages_fit_their_schemas(schema: str, raw: bytes) -> None:
    jsonschema.validate(json.loads(raw), _schema(schema), cls=jsonschema.Draft202012Validator)


@settings(max_examples=100)
@given(st.lists(events(), min_size=1, max_size=5))
def test_batches_round_trip(items: list[dict[str, Any]]) -> None:
    raw = encode_batch(
        "pi-1",
        SentStamp("2026-11-23T08:00:00Z", 10, "boot1"),
        [json.dumps(item) for item in items],
    )
    jsonschema.validate(json.loads(raw), _schema("events-message.schema.json"))
    batch = parse_batch(raw)
    assert [e.to_dict() for e in batch.events] == items


@pytest.mark.parametrize("bad_type", [[], {}, 1, None])
def test_unhashable_or_foreign_event_types_are_refused(bad_type: object) -> None:
    """Regression (found by the mutation test): a list as `type` crashed the lookup."""
    event = {
        "v": 1, "type": bad_type, "source": "a", "agent": "a", "instance": "0" * 32, "seq": 1,
        "time": "2026-11-23T08:00:00Z", "mono_ns": 0, "boot": "b", "payload": {},
    }  # fmt: skip
    assert not _contract_accepts(event)
    assert not _schema_accepts(event)


def test_plan_channels_match_the_code() -> None:
    plan = {v["x-plan-kind"]: v for v in ASYNCAPI["channels"].values() if "x-plan-kind" in v}
    assert set(plan) == set(PLAN_CHANNELS)
    station = plan["station"]
    assert station["address"].format(site="plant1", station="crimp-01") == station_schedule_topic(
        "plant1", "crimp-01"
    )
    operator = plan["operator"]
    assert operator["address"].format(site="plant1", operator="op-7") == operator_schedule_topic(
        "plant1", "op-7"
    )
    assert plan["plan"]["address"].format(site="plant1") == plan_topic("plant1")
    assert plan["gaps"]["address"].format(site="plant1") == gap_report_topic("plant1")
    for kind, (retained, qos) in PLAN_CHANNELS.items():
        assert plan[kind]["bindings"]["mqtt"] == {"qos": qos, "retain": retained}
    # Seven levels: no agent wildcard subscription (six levels) can match a plan topic.
    assert station_schedule_topic("s", "events").count("/") == 6
    assert operator_schedule_topic("s", "events").count("/") == 6
    assert plan_topic("s").count("/") == 6
    assert gap_report_topic("s").count("/") == 6


def test_plan_messages_fit_their_schemas() -> None:
    from referencing import Registry, Resource

    job = ScheduledJob("o-1", "crimp", "2026-11-23T08:10:00Z", "2026-11-23T08:40:00Z")
    operator = OperatorSchedule("plant1", "op-7", 2, "2026-11-23T08:00:00Z", (job,), ("o-1/crimp",))
    jsonschema.validate(json.loads(operator.encode()), _schema("operator-schedule.schema.json"))
    assert OperatorSchedule.decode(operator.encode()) == operator
    report = GapReport(
        "plant1", 1, "2026-11-23T08:00:00Z", "a" * 64,
        ({"group": "machines-01", "start": "2026-11-23T08:00:00Z", "end": "2026-11-23T09:00:00Z",
          "shortfall": 1, "orders": ["o-1"], "earliness_min": 0, "tardiness_min": 30},),
        ({"order": "o-1", "status": "late", "earliness_min": 0, "tardiness_min": 30},),
    )  # fmt: skip
    jsonschema.validate(json.loads(report.encode()), _schema("gap-report.schema.json"))
    assert GapReport.decode(report.encode()) == report
    schedule = _schema("schedule.schema.json")
    registry = Registry().with_resource(schedule["$id"], Resource.from_contents(schedule))
    counts = ("orders", "on_time", "early", "late", "unplanned", "not_planned")
    totals = ("earliness_min", "tardiness_min", "weighted_cost", "gaps")
    doc = {
        "site": "plant1",
        "origin": "2026-11-23T08:00:00Z",
        "slot_minutes": 1,
        "summary": dict.fromkeys(counts + totals, 0),
        "orders": [],
        "resources": {},
        "gaps": [],
        "blocked": [],
        "errors": [],
    }
    snapshot = PlanSnapshot("plant1", 1, "2026-11-23T08:00:00Z", doc)
    validator = jsonschema.Draft202012Validator(_schema("plan.schema.json"), registry=registry)
    validator.validate(json.loads(snapshot.encode()))
    assert PlanSnapshot.decode(snapshot.encode()) == snapshot


def test_downlink_messages_fit_their_schemas() -> None:
    command = StackLightCommand("c-1", "crimp-01", "red", True, "2026-11-23T08:00:00Z")
    jsonschema.validate(json.loads(command.encode()), _schema("command.schema.json"))
    assert StackLightCommand.decode(command.encode()) == command
    schedule = StationSchedule(
        site="plant1",
        station="crimp-01",
        version=3,
        generated="2026-11-23T08:00:00Z",
        jobs=(
            ScheduledJob("o-1", "crimp", "2026-11-23T08:10:00Z", "2026-11-23T08:40:00Z"),
            ScheduledJob(
                "o-2", "crimp", "2026-11-23T09:00:00Z", "2026-11-23T09:30:00Z", "P1", 200.0,
                ("op-7",), ("app-3",),
            ),
        ),
        changed=("o-2/crimp",),
    )  # fmt: skip
    jsonschema.validate(json.loads(schedule.encode()), _schema("station-schedule.schema.json"))
    assert StationSchedule.decode(schedule.encode()) == schedule
    assert [j.order for j in schedule.next_jobs("2026-11-23T08:45:00Z")] == ["o-2"]


@pytest.mark.parametrize(
    ("raw", "reason"),
    [
        (b"not json", "not JSON"),
        (b'{"v": 1, "id": "x", "station": "s", "command": "reboot"}', "reboot"),
        (
            b'{"v":1,"id":"x","station":"s","command":"stack_light","colour":"pink",'
            b'"blink":false,"time":"2026-11-23T08:00:00Z"}',
            "pink",
        ),
    ],
)
def test_bad_commands_are_refused_with_the_reason(raw: bytes, reason: str) -> None:
    with pytest.raises(ContractError, match=reason):
        StackLightCommand.decode(raw)


def test_a_resend_request_is_a_settlement_that_asks_for_everything_again() -> None:
    from contract import ContractError, asks_resend, parse_settlement

    ask = encode_settlement((), resend=True)
    assert parse_settlement(ask) == [] and asks_resend(ask)
    plain = encode_settlement([("ab" * 16, 1)])
    assert not asks_resend(plain)
    with pytest.raises(ContractError, match=r"settled\.resend"):
        parse_settlement(b'{"v":1,"settled":[],"resend":"yes"}')
