"""The live resource status: a projection folded from the event log, in log order.

`ResourceStatus` is the public face (`apply`, `rebuild`, `set_online`, `snapshot`); the rules
live in one module per resource: `machines`, `labour`, `tooling`, `deliveries`, `jobs` (cycle
times too), `master` (the plant model's look-ups), `view` (the state as shown). docs/status.md
states every rule.
"""

from cloud.status.deliveries import ArrivalAdjuster, Logistics, distance_m
from cloud.status.machines import IDLE, OEE_LOSS, RUNNING, STOPPED, UNEXPLAINED
from cloud.status.master import StatusMaster
from cloud.status.model import AgentState, FoldFailed, ResourceStatus

__all__ = [
    "IDLE",
    "OEE_LOSS",
    "RUNNING",
    "STOPPED",
    "UNEXPLAINED",
    "AgentState",
    "ArrivalAdjuster",
    "FoldFailed",
    "Logistics",
    "ResourceStatus",
    "StatusMaster",
    "distance_m",
]
