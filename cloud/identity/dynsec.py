"""Mosquitto's dynamic-security plugin: its initial JSON config and the commands we send it.

The one module that knows the plugin's JSON. `initial_config()` is the file the broker starts
with (`plugin_opt_config_file`): every access denied unless a role allows it, a client
`taktline-admin` whose role may drive `$CONTROL/dynamic-security/#`, and a client
`taktline-cloud` whose role reads and writes what the cloud does (as the ACL file grants it).
A device is a client named after its certificate's CN (the broker runs with
`use_identity_as_username`) holding one role, `device-NAME`: publish under its own path, read
its own downlink and its site's station schedules. `DynsecAdmin` sends commands on
`$CONTROL/dynamic-security/v1` as `taktline-admin` and waits for the answers on `.../response`.
The plugin writes its config file back itself on every change, so after `dynsec-init` the
broker's copy is the one that counts.

Clients carry no password: with `use_identity_as_username` the broker never asks the plugin
for one (the certificate is the proof), and on a listener without certificates a client with
no password cannot log in.
"""

from __future__ import annotations

import json
import secrets
import time
from collections.abc import Callable
from typing import Any, Final

from cloud.errors import CloudError
from taktline.mqtt import BrokerSettings, Session

__all__ = [
    "ADMIN",
    "CLOUD",
    "CONTROL_TOPIC",
    "RESPONSE_TOPIC",
    "DynsecAdmin",
    "DynsecError",
    "device_acls",
    "device_role",
    "initial_config",
]

CONTROL_TOPIC: Final = "$CONTROL/dynamic-security/v1"
RESPONSE_TOPIC: Final = f"{CONTROL_TOPIC}/response"
#: The client (certificate CN) the cloud's CLI uses to change the broker's access rules.
ADMIN: Final = "taktline-admin"
#: The cloud's client (certificate CN) and role.
CLOUD: Final = "taktline-cloud"
#: What the cloud reads (receives and subscribes to), as docs/deployment/mosquitto-acl.conf
#: grants `taktline-cloud`: every agent's uplink, the plan, call-offs, the AGVs' reports, and
#: Sparkplug B (its bridge's commands).
CLOUD_READS: Final = (
    "taktline/v1/+/+/+/events",
    "taktline/v1/+/+/+/status",
    "taktline/v1/+/plan/#",
    "taktline/v1/+/logistics/supplier/+/calloff",
    "uagv/v2/+/+/state",
    "uagv/v2/+/+/connection",
    "spBv1.0/#",
)
#: What the cloud publishes: the agents' downlink, the plan, call-offs, AGV orders, Sparkplug.
CLOUD_WRITES: Final = (
    "taktline/v1/+/+/+/settled",
    "taktline/v1/+/+/+/command",
    "taktline/v1/+/plan/#",
    "taktline/v1/+/logistics/supplier/+/calloff",
    "uagv/v2/+/+/order",
    "spBv1.0/#",
)

#: How long a command waits for the broker (connection, subscription, each answer).
TIMEOUT_S = 5.0

#: Answers the plugin gives when the state is already as asked; provisioning twice is fine.
_ALREADY: Final = ("already exists", "not found", "already has role")


class DynsecError(CloudError):
    """The broker refused a dynamic-security command, or did not answer (named in the message)."""


def _allow(*pairs: tuple[str, str]) -> list[dict[str, Any]]:
    return [{"acltype": kind, "topic": topic, "allow": True} for kind, topic in pairs]


def _read_write(topic: str) -> list[dict[str, Any]]:
    return _allow(
        ("publishClientSend", topic),
        ("publishClientReceive", topic),
        ("subscribePattern", topic),
    )


def device_role(name: str) -> str:
    """The role a device holds alone: `device-NAME`."""
    return f"device-{name}"


def device_acls(name: str, site: str, area: str) -> list[dict[str, Any]]:
    """What device `name` at `site`/`area` may do (see docs/mqtt.md for the channels).

    Publish only under `taktline/v1/SITE/AREA/NAME/#` (events, status and its will); read its
    own downlink there (settled, command) and the site's retained station schedules.
    """
    from contract.topics import NAMESPACE, AgentPath

    root = AgentPath(site, area, name).root  # checks the three segments
    schedules = f"{NAMESPACE}/{site}/plan/station/+/schedule"
    return _allow(
        ("publishClientSend", f"{root}/#"),
        ("subscribePattern", f"{root}/#"),
        ("publishClientReceive", f"{root}/#"),
        ("subscribePattern", schedules),
        ("publishClientReceive", schedules),
    )


def initial_config() -> dict[str, Any]:
    """The plugin's config file before any device: default deny, the admin and the cloud."""
    control = "$CONTROL/dynamic-security/#"
    return {
        "defaultACLAccess": {
            "publishClientSend": False,
            "publishClientReceive": False,
            "subscribe": False,
            "unsubscribe": True,
        },
        "clients": [
            {
                "username": ADMIN,
                "textname": "taktline cloud devices",
                "roles": [{"rolename": ADMIN}],
            },
            {"username": CLOUD, "textname": "taktline cloud", "roles": [{"rolename": CLOUD}]},
        ],
        "groups": [],
        "roles": [
            {"rolename": ADMIN, "acls": _read_write(control)},
            {
                "rolename": CLOUD,
                "acls": [
                    *_allow(*(("subscribePattern", topic) for topic in CLOUD_READS)),
                    *_allow(*(("publishClientReceive", topic) for topic in CLOUD_READS)),
                    *_allow(*(("publishClientSend", topic) for topic in CLOUD_WRITES)),
                ],
            },
        ],
    }


def config_text() -> str:
    """`initial_config()` as the file `devices dynsec-init` writes."""
    return json.dumps(initial_config(), indent=2) + "\n"


class DynsecAdmin:
    """A session as `taktline-admin` that sends commands and waits for their answers."""

    def __init__(self, settings: BrokerSettings, *, timeout_s: float | None = None) -> None:
        self.timeout_s = TIMEOUT_S if timeout_s is None else timeout_s
        self._answers: dict[str, dict[str, Any]] = {}
        self._subscribed = False
        self._session = Session(settings, f"{ADMIN}-{secrets.token_hex(4)}")
        self._session.client.on_message = self._on_message
        self._session.client.on_subscribe = self._on_subscribe

    def __enter__(self) -> DynsecAdmin:
        deadline = time.monotonic() + self.timeout_s
        where = f"{self._session.settings.host}:{self._session.settings.port}"
        try:
            self._session.connect(lambda: time.monotonic() > deadline)
        except OSError as exc:
            raise DynsecError(f"cannot reach the broker at {where}: {exc}") from exc
        self._wait(lambda: self._session.is_connected, deadline, f"no connection to {where}")
        self._session.client.subscribe(RESPONSE_TOPIC, qos=1)
        self._wait(lambda: self._subscribed, deadline, f"{where} did not let {ADMIN} subscribe")
        return self

    def __exit__(self, *exc_info: object) -> None:
        self._session.disconnect()

    def _on_message(self, client: object, userdata: object, message: Any) -> None:
        try:
            body = json.loads(message.payload)
        except ValueError:
            return
        for answer in body.get("responses", []):
            if isinstance(answer, dict) and isinstance(answer.get("correlationData"), str):
                self._answers[answer["correlationData"]] = answer

    def _on_subscribe(
        self, client: object, userdata: object, mid: int, codes: Any, props: Any
    ) -> None:
        self._subscribed = all(not code.is_failure for code in codes)
        if not self._subscribed:
            self._session.last_error = f"subscription refused: {codes}"

    def _wait(self, done: Callable[[], bool], deadline: float, problem: str) -> None:
        while not done():
            if time.monotonic() > deadline or not self._session.run_once(0.05):
                detail = self._session.last_error
                raise DynsecError(problem + (f" ({detail})" if detail else ""))

    def run(self, *commands: dict[str, Any], tolerate: bool = False) -> list[dict[str, Any]]:
        """Sends `commands` in one message; returns the answers in order.

        Raises `DynsecError` for a refused command, except (with `tolerate`) the answers that
        say the state is already as asked ("already exists", "not found", ...).
        """
        tagged = [{**command, "correlationData": secrets.token_hex(8)} for command in commands]
        self._session.client.publish(CONTROL_TOPIC, json.dumps({"commands": tagged}), qos=1)
        keys = [command["correlationData"] for command in tagged]
        deadline = time.monotonic() + self.timeout_s
        self._wait(
            lambda: all(key in self._answers for key in keys),
            deadline,
            f"the broker did not answer on {RESPONSE_TOPIC} (is the dynamic-security plugin "
            f"loaded, and does {ADMIN} hold its role?)",
        )
        answers = [self._answers.pop(key) for key in keys]
        for answer in answers:
            error = answer.get("error")
            if error and not (tolerate and any(word in error for word in _ALREADY)):
                raise DynsecError(f"the broker refused {answer.get('command')}: {error}")
        return answers

    def add_device(self, name: str, site: str, area: str) -> None:
        """Creates (or renews) the device's client and role; enables it again if disabled."""
        role = device_role(name)
        self.run({"command": "deleteRole", "rolename": role}, tolerate=True)
        self.run(
            {"command": "createRole", "rolename": role, "acls": device_acls(name, site, area)},
            {"command": "createClient", "username": name, "textname": f"device {site}/{area}"},
            tolerate=True,
        )
        self.run(
            {"command": "addClientRole", "username": name, "rolename": role},
            {"command": "enableClient", "username": name},
        )

    def disable_device(self, name: str) -> bool:
        """Disconnects the device now and takes its role away, so a reconnect may do nothing.

        Returns False when the broker had no client `name` (nothing to disable).
        """
        answer = self.run({"command": "disableClient", "username": name}, tolerate=True)[0]
        self.run({"command": "deleteRole", "rolename": device_role(name)}, tolerate=True)
        return not answer.get("error")

    def client(self, name: str) -> dict[str, Any]:
        """The plugin's record of client `name` (`getClient`)."""
        answer = self.run({"command": "getClient", "username": name})[0]
        data = answer.get("data", {}).get("client", {})
        return data if isinstance(data, dict) else {}
