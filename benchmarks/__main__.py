"""`python -m benchmarks [--quick] [--repeat N] [--output FILE]`: run the workloads, print tables.

A full run (no --quick, no --only, no --shape) also writes `docs/benchmarks.md` unless --output
names another file or --no-write is given.
"""

from __future__ import annotations

import argparse
import json
import shlex
import shutil
import sys
import tempfile
import time
from pathlib import Path

from . import data as bench_data
from . import harness, report

FULL_SHAPE = 512
QUICK_SHAPE = 128
FULL_RANDOM_READS = 1000
QUICK_RANDOM_READS = 200
DEFAULT_OUTPUT = harness.REPO_ROOT / "docs" / "benchmarks.md"


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m benchmarks", description=__doc__)
    parser.add_argument(
        "--quick",
        action="store_true",
        help=f"{QUICK_SHAPE}^3 volumes, {QUICK_RANDOM_READS} random reads",
    )
    parser.add_argument(
        "--repeat", type=int, default=3, help="timed repetitions per library (default 3)"
    )
    parser.add_argument("--output", type=Path, help="also write the markdown report to FILE")
    parser.add_argument("--no-write", action="store_true", help="never write a file, only print")
    parser.add_argument("--json", type=Path, help="also write the raw measurements as JSON")
    parser.add_argument(
        "--only",
        action="append",
        default=[],
        metavar="SUBSTRING",
        help="run workloads whose name contains SUBSTRING (repeatable)",
    )
    parser.add_argument(
        "--peers", help="comma-separated peer libraries to compare with (default: all)"
    )
    parser.add_argument("--list", action="store_true", help="list the workloads and exit")
    parser.add_argument(
        "--retries",
        type=int,
        default=2,
        help="re-run a measurement up to N times when other work kept the machine busy (default 2)",
    )
    parser.add_argument(
        "--rerun-disturbed",
        type=Path,
        metavar="JSON",
        help="re-run only the failed or disturbed measurements of an earlier --json result "
        "(same shape and --repeat) and report the merged result",
    )
    parser.add_argument("--keep-workdir", action="store_true", help="keep the temporary datasets")
    parser.add_argument(
        "--cache-dir", type=Path, default=None, help="where the generated volumes are cached"
    )
    # Hidden: a tiny cubic volume edge for smoke tests.
    parser.add_argument("--shape", type=int, default=None, help=argparse.SUPPRESS)
    # Hidden: one child per library instead of per (workload, library); for smoke tests only.
    parser.add_argument("--batch", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.repeat < 1:
        parser.error("--repeat must be at least 1")
    if args.shape is not None and args.shape < 1:
        parser.error("--shape must be positive")
    return args


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    harness.load_workload_modules()
    edge = args.shape or (QUICK_SHAPE if args.quick else FULL_SHAPE)
    shape = (edge, edge, edge)
    cache_dir = args.cache_dir or bench_data.default_cache_dir()
    if args.list:
        for workload in harness.WORKLOADS.values():
            peers = ", ".join(impl.key for impl in workload.peers)
            print(f"{workload.name:40s} {workload.title}  [peers: {peers}]")
        return 0

    def progress(message: str) -> None:
        print(message, file=sys.stderr, flush=True)

    started = time.perf_counter()
    load_start = report.load_average()
    fingerprints = []
    for name in bench_data.VOLUMES:
        path = bench_data.volume_path(name, shape, cache_dir)
        if not path.exists():
            progress(f"generating {name} {edge}^3 into {cache_dir} (cached for later runs) ...")
        path = bench_data.ensure_volume(name, shape, cache_dir)
        fingerprints.append(f"{name} {bench_data.fingerprint(path)}")
    run_dir = Path(tempfile.mkdtemp(prefix="wkl-bench-"))
    config = harness.Config(
        shape=shape,
        repeat=args.repeat,
        random_reads=QUICK_RANDOM_READS if args.quick or args.shape else FULL_RANDOM_READS,
        quick=args.quick,
        cache_dir=cache_dir,
        run_dir=run_dir,
        modules=list(harness.WORKLOAD_MODULES),
        only=args.only,
        peers=None
        if args.peers is None
        else [p.strip() for p in args.peers.split(",") if p.strip()],
        batch=args.batch,
        retries=max(0, args.retries),
    )
    previous: list[harness.Measurement] | None = None
    if args.rerun_disturbed is not None:
        saved = json.loads(args.rerun_disturbed.read_text())
        if tuple(saved["shape"]) != shape or saved["repeat"] != args.repeat:
            progress(f"{args.rerun_disturbed} has shape {saved['shape']}, repeat {saved['repeat']}")
            return 2
        previous = harness.measurements_from_json(saved)
        first_run = saved.get("facts", {})
        config.pairs = {
            (m.workload, m.impl) for m in previous if harness.needs_rerun(m, config.max_background)
        }
        progress(f"re-running {len(config.pairs)} failed or disturbed measurement(s)")
    try:
        measurements = harness.run_all(config, progress)
        if previous is not None:
            measurements = harness.merge_reruns(previous, measurements)
    finally:
        if args.keep_workdir:
            progress(f"datasets kept in {run_dir}")
        else:
            shutil.rmtree(run_dir, ignore_errors=True)
    facts = {
        "date": report.now(),
        "command": "python -m benchmarks " + shlex.join(argv if argv is not None else sys.argv[1:]),
        "total_s": time.perf_counter() - started,
        "fingerprints": ", ".join(fingerprints),
        "load_start": load_start,
        "load_end": report.load_average(),
        "batch": args.batch,
    }
    if previous is not None:
        rerun = (
            f"{len(config.pairs or ())} failed or disturbed measurement(s) re-run by "
            f"`{facts['command']}` ({facts['total_s']:.0f} s, {facts['date']})."
        )
        earlier = first_run.get("merged") or (
            f"Merged report: the run of {first_run.get('date', '?')} "
            f"(`{first_run.get('command', '?')}`, {first_run.get('total_s', 0):.0f} s);"
        )
        if config.pairs:
            facts["merged"] = f"{earlier.rstrip('.;')}; then {rerun}"
        else:
            facts["merged"] = f"{earlier} Nothing needed a re-run in `{facts['command']}`."
    if previous is not None:
        config.pairs = None  # render every row of the merged result
    text = report.render(config, harness.selected_workloads(config), measurements, facts)
    print(text)
    output = args.output
    partial = args.quick or args.only or args.shape or args.peers or args.batch
    if output is None and not partial:
        output = DEFAULT_OUTPUT
    if output is not None and not args.no_write:
        report.write(output, text)
        progress(f"report written to {output}")
    if args.json is not None:
        args.json.write_text(
            json.dumps(harness.measurements_to_json(config, measurements, facts), indent=1)
        )
    failed = [m for m in measurements if m.error is not None]
    for measurement in failed:
        progress(f"FAILED {measurement.workload} | {measurement.impl}: {measurement.error}")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
