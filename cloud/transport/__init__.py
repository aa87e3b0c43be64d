"""AMR/AGV line feeding over VDA 5050 v2, and the cloud's logistics session on the broker.

Public surface: `Transports` (kanban signals and planned needs -> VDA 5050 orders; AGV states ->
transport states and replan triggers) and `LogisticsLink` (the MQTT session that carries
call-offs, orders and states). See docs/calloffs.md.
"""

from cloud.transport.dispatch import MAX_ATTEMPTS, Request, Transports
from cloud.transport.link import LogisticsLink

__all__ = ["MAX_ATTEMPTS", "LogisticsLink", "Request", "Transports"]
