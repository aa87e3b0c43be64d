"""`python -m fuzz.run TARGET`: one target under atheris (libFuzzer), or hypothesis without it.

The target's seeds and its stored corpus (`fuzz/corpus/TARGET/`) are copied into a scratch
corpus, so a run never writes into the repository; a crashing input is written to the scratch
folder's `crash-*` file, whose path the run prints. Options after `--` go to libFuzzer as they
are (e.g. `-- -dict=...`).

Exit status: 0 when every run passed, 1 on a crash or a hang (libFuzzer's), 2 on bad options.
"""

from __future__ import annotations

import argparse
import json
import logging
import shutil
import sys
import tempfile
from pathlib import Path

__all__ = ["main"]

#: What atheris instruments for coverage: our packages and the firmware, not the libraries.
INSTRUMENTED = ["contract", "cloud", "agent", "taktline", "taktnode", "fuzz", "hardware"]


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m fuzz.run", description=__doc__)
    parser.add_argument("target", nargs="?", help="the target's name (see fuzz/targets.py)")
    parser.add_argument(
        "--list", action="store_true", help="print the targets as JSON {name: {about, share}}"
    )
    parser.add_argument("--runs", type=int, default=10_000, help="inputs to run")
    parser.add_argument("--seed", type=int, default=1, help="the fuzzer's random seed")
    parser.add_argument("--max-time", type=int, default=0, help="stop after this many seconds")
    parser.add_argument("--timeout", type=int, default=1, help="an input slower is a hang (s)")
    parser.add_argument("--max-len", type=int, default=4096, help="largest input, in bytes")
    parser.add_argument(
        "--engine", choices=("atheris", "hypothesis"), default=None, help="default: atheris"
    )
    parser.add_argument("libfuzzer", nargs="*", help="more libFuzzer options (after --)")
    return parser


def _atheris_available() -> bool:
    try:
        import atheris  # noqa: F401
    except ImportError:
        return False
    return True


def main(argv: list[str] | None = None) -> int:
    """Runs one target; see the module's docstring."""
    args = _parser().parse_args(argv)
    if args.list:
        from fuzz.targets import all_targets

        listed = {t.name: {"about": t.about, "share": t.share} for t in all_targets().values()}
        print(json.dumps(listed))
        return 0
    if not args.target:
        _parser().error("name a target (or --list)")
    engine = args.engine or ("atheris" if _atheris_available() else "hypothesis")
    logging.disable(logging.CRITICAL)  # readers log bad input by design: not millions of lines
    sys.setrecursionlimit(max(sys.getrecursionlimit(), 3000))
    scratch = Path(tempfile.mkdtemp(prefix=f"taktline-fuzz-{args.target}-"))
    print(f"fuzz: target {args.target}, engine {engine}, scratch {scratch}", flush=True)
    if engine == "atheris":
        return _run_atheris(args, scratch)
    try:
        return _run_hypothesis(args, scratch)
    finally:
        shutil.rmtree(scratch, ignore_errors=True)


def _load(name: str, scratch: Path) -> tuple[object, object]:
    from fuzz.targets import all_targets

    targets = all_targets()
    if name not in targets:
        raise SystemExit(f"no fuzz target {name!r}; one of {', '.join(sorted(targets))}")
    target = targets[name]
    state = scratch / "state"
    state.mkdir()
    return target, target.make(state)


def _seed_corpus(target: object, scratch: Path) -> Path:
    from fuzz.targets import Target, corpus_of

    assert isinstance(target, Target)
    corpus = scratch / "corpus"
    corpus.mkdir()
    for index, seed in enumerate(target.seeds()):
        (corpus / f"seed-{index:03d}").write_bytes(seed)
    for name, data in corpus_of(target.name):
        (corpus / f"stored-{name}").write_bytes(data)
    return corpus


def _run_atheris(args: argparse.Namespace, scratch: Path) -> int:
    import atheris

    with atheris.instrument_imports(include=INSTRUMENTED):
        target, one_input = _load(args.target, scratch)
    corpus = _seed_corpus(target, scratch)
    options = [
        sys.argv[0],
        str(corpus),
        f"-runs={args.runs}",
        f"-seed={args.seed}",
        f"-timeout={args.timeout}",
        f"-max_len={args.max_len}",
        f"-artifact_prefix={scratch}/",
        "-print_final_stats=1",
        *([f"-max_total_time={args.max_time}"] if args.max_time else []),
        *args.libfuzzer,
    ]
    atheris.Setup(options, one_input)
    atheris.Fuzz()  # libFuzzer exits the process: 0 when done, non-zero on a crash or hang
    return 0


def _run_hypothesis(args: argparse.Namespace, scratch: Path) -> int:
    """The same target with hypothesis: random and mutated bytes, the seeds as examples."""
    import time

    from hypothesis import HealthCheck, given, seed, settings
    from hypothesis import strategies as st

    from fuzz.targets import Target, corpus_of

    target, one_input = _load(args.target, scratch)
    assert isinstance(target, Target)
    stored = [*target.seeds(), *(data for _, data in corpus_of(target.name))]
    runs = 0
    started = time.monotonic()
    slow: list[float] = []

    @seed(args.seed)
    @settings(
        max_examples=args.runs,
        deadline=None,
        database=None,
        suppress_health_check=list(HealthCheck),
    )
    @given(st.sampled_from(stored) | st.binary(max_size=args.max_len), st.binary(max_size=16))
    def run(base: bytes, noise: bytes) -> None:
        nonlocal runs
        data = base
        if noise:  # a simple mutation: overwrite bytes at a position the noise picks
            at = noise[0] * 257 % (len(base) + 1)
            data = base[:at] + noise[1:] + base[at + len(noise) - 1 :]
        began = time.monotonic()
        one_input(data)  # type: ignore[operator]
        runs += 1
        if time.monotonic() - began > args.timeout:
            slow.append(time.monotonic() - began)

    run()
    elapsed = time.monotonic() - started
    print(f"Done {runs} runs in {max(1, round(elapsed))} second(s)", flush=True)
    if slow:
        print(f"==ERROR: hangs: {len(slow)} inputs over {args.timeout} s", flush=True)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
