"""e-kanban in the cloud: the planners' actions on loops.

The state (cards, bins, signals, lost cards, sizing) is folded by `cloud.status.kanban`; this
package records what planners decide (`KanbanRecorder`: `kanban.loop` events); the routes that
serve both are `cloud/web/kanban.py`. See docs/kanban.md.
"""

from cloud.kanban.record import KanbanRecorder, LoopRefused, UnknownLoop

__all__ = ["KanbanRecorder", "LoopRefused", "UnknownLoop"]
