"""Fuzz targets for every reader of outside bytes (issue 15), run by atheris (libFuzzer).

Each target turns one input (bytes) into a call of a reader — the envelope and batch parser,
ingest into a real SQLite store, the Pi's and the firmware's serial frame decoders side by side,
the agent config, order files (JSON, CSV), the plant model, the REST API over HTTP — and catches
exactly the errors that reader documents for bad input. Anything else escaping is a crash: a bug.

`python -m fuzz.run TARGET [libFuzzer options]` runs one target (`fuzz/corpus/TARGET/` holds its
seeds and every input that once crashed it, kept as regression tests by tests/fuzz/);
`bench/fuzz.py --runs N` runs them all and reports runs, crashes and hangs.
"""
