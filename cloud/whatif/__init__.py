"""What-if: scenarios planned beside the live plan, from now or from a past moment of the log.

`changes` (what a scenario changes, as a wire type and as replan triggers), `kpis` (the figures
scenarios are compared by), `run` (a scenario planned on a copy of the engine). The CLI is
`taktline whatif` (`cloud/whatif/cli.py`); docs/whatif.md.
"""

from cloud.whatif.changes import Change, ScenarioInvalid
from cloud.whatif.kpis import kpis
from cloud.whatif.run import Scenario, ScenarioResult, engine_at, plan_digest, run_scenarios

__all__ = [
    "Change",
    "Scenario",
    "ScenarioInvalid",
    "ScenarioResult",
    "engine_at",
    "kpis",
    "plan_digest",
    "run_scenarios",
]
