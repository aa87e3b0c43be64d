"""The backward JIT scheduler: plant model to arrays, numpy kernel, improvement, resource check.

The kernel (`backward`, `improve`) works on plain numpy arrays and does no I/O; `arrays` maps the
plant model of `cloud.plant` onto them and back, `check` builds the resource requirement by time
and the gap list, `gantt` draws a plan and `cli` is the `taktline plan` subcommand.
"""
