"""The andon board: the plant at a glance, and supervisors' acknowledgements of its alarms.

`board.build` makes the board (pure); `record.AndonRecorder` records acknowledgements as
`andon.ack` events and folds them back from the log. Served by `cloud/web/andon.py`.
"""

from cloud.andon.board import Ack, alarm_id, build
from cloud.andon.record import AckRefused, AndonRecorder

__all__ = ["Ack", "AckRefused", "AndonRecorder", "alarm_id", "build"]
