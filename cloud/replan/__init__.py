"""Dynamic scheduling: triggers -> incremental replan -> schedules over MQTT, gap reports by mail.

Public surface: `Replanner` (the loop; `submit(trigger)` is its input), `Engine` (the plan and the
rules for changing it), the trigger classes, `PlanPublisher`, `GapMailer` / `SmtpSettings`, the
learned standard times (`StandardTimes`), and the ERP intake (`OrderDesk`, `parse_order_file`,
`submit_orders`, `OrderFolderWatcher`). See docs/replan.md.
"""

from cloud.replan.engine import Engine, Outcome
from cloud.replan.errors import ManualModeActive, OrderFileRejected, ReplanError, UnknownOrder
from cloud.replan.intake import (
    OrderDesk,
    OrderFolderWatcher,
    parse_order_file,
    submit_orders,
)
from cloud.replan.mailer import GapMailer, SmtpSettings, gap_digest
from cloud.replan.publish import PlanPublisher
from cloud.replan.replanner import AuditEntry, Replanner
from cloud.replan.times import NothingToAccept, StandardTimes
from cloud.replan.triggers import (
    DeliveryLate,
    MaterialLate,
    OperatorsPresent,
    OrderCancelled,
    OrderChanged,
    OrderCreated,
    ResourceBack,
    ResourceLost,
    StepEnded,
    StepLate,
    StepStarted,
    TimesChanged,
    Trigger,
)

__all__ = [
    "AuditEntry",
    "DeliveryLate",
    "Engine",
    "GapMailer",
    "ManualModeActive",
    "MaterialLate",
    "NothingToAccept",
    "OperatorsPresent",
    "OrderCancelled",
    "OrderChanged",
    "OrderCreated",
    "OrderDesk",
    "OrderFileRejected",
    "OrderFolderWatcher",
    "Outcome",
    "PlanPublisher",
    "ReplanError",
    "Replanner",
    "ResourceBack",
    "ResourceLost",
    "SmtpSettings",
    "StandardTimes",
    "StepEnded",
    "StepLate",
    "StepStarted",
    "TimesChanged",
    "Trigger",
    "UnknownOrder",
    "gap_digest",
    "parse_order_file",
    "submit_orders",
]
