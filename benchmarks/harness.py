"""Timing harness: workload registry, one fresh child process per (workload, library), statistics.

How a measurement is taken
--------------------------
For every workload and every library ("implementation") the parent starts a fresh
`python -m benchmarks.child` process. The child runs, untimed, `setup(ctx)` once, then for every
repetition `prepare(state)` (untimed, e.g. an empty dataset for a write), flushes dirty pages
(`os.sync()`, untimed: 512 MiB of writeback from the previous repetition otherwise lands in the
next one - we saw single repetitions take 4x the median without it), resets the kernel's
peak-RSS high-water mark (`echo 5 > /proc/self/clear_refs`), times `run(state)` with
`time.perf_counter()`, and reads the high-water mark `VmHWM` from `/proc/self/status`. So the
peak RSS of a run is that of the whole child process *during* `run` - it includes what was
already resident (interpreter, libraries, the input volume), and the growth above the RSS right
before `run` is reported beside it. Where the kernel refuses the reset, the process-lifetime
`ru_maxrss` is used and the report says so. Threads count; worker *processes* would not, so our
implementations use threads. After the first timed repetition `check(state, result)` verifies
the result (untimed); it may return extra facts (e.g. bytes on disk) for the notes.

Registering workloads
---------------------
A module listed in `WORKLOAD_MODULES` calls `register_group(Group(...))` and
`register(Workload(...))` at import time. Library packages must be imported inside the
callables (never at module level), so that a child only imports the library it measures.
"""

from __future__ import annotations

import gc
import importlib
import importlib.metadata
import importlib.util
import json
import os
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
import traceback
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from . import data as bench_data

# Modules that register workloads; add new ones here (e.g. "benchmarks.precomputed_bench").
WORKLOAD_MODULES: list[str] = [
    "benchmarks.wkw_bench",
    "benchmarks.precomputed_bench",
    "benchmarks.pyramid_bench",
    "benchmarks.zarr3_bench",
    "benchmarks.images_bench",
    "benchmarks.s3_bench",
]

OURS = "ours"
REPO_ROOT = Path(__file__).resolve().parent.parent
CHILD_TIMEOUT_S = 900


# -- libraries ------------------------------------------------------------------------------------
@dataclass(frozen=True)
class Library:
    """A package a workload can run through; `modules` must all be importable for it to run."""

    key: str
    modules: tuple[str, ...]
    distribution: str


LIBRARIES: dict[str, Library] = {
    lib.key: lib
    for lib in (
        Library(OURS, ("webknossos_like", "wkw"), "webknossos_like"),
        Library("wkw", ("wkw",), "wkw"),
        Library("webknossos", ("webknossos", "cluster_tools"), "webknossos"),
        # Peers for future workload modules (precomputed, pyramids):
        Library("tensorstore", ("tensorstore",), "tensorstore"),
        Library("cloud-volume", ("cloudvolume",), "cloud-volume"),
        Library("neuroglancer-scripts", ("neuroglancer_scripts",), "neuroglancer-scripts"),
    )
}


def register_library(library: Library) -> None:
    """Make another peer package known (a workload module may call this at import)."""
    LIBRARIES[library.key] = library


def library_missing(key: str) -> str | None:
    """None if the library can run here, else a short reason for the report."""
    library = LIBRARIES.get(key)
    if library is None:
        return f"unknown library {key!r}"
    for module in library.modules:
        try:
            found = importlib.util.find_spec(module) is not None
        except (ImportError, ValueError):
            found = False
        if not found:
            return f"skipped: `{module}` is not installed"
    return None


def library_version(key: str) -> str | None:
    """The installed distribution version of a library, or None."""
    library = LIBRARIES.get(key)
    if library is None:
        return None
    try:
        return importlib.metadata.version(library.distribution)
    except importlib.metadata.PackageNotFoundError:
        return None


# -- workload model -------------------------------------------------------------------------------
@dataclass
class Impl:
    """One library's way of doing a workload.

    `setup(ctx) -> state` (untimed, once per child), `prepare(state)` (untimed, before every
    repetition), `run(state) -> result` (timed), `check(state, result) -> dict | None` (untimed,
    after the first timed repetition; raise to fail), `teardown(state)` (untimed, at the end).
    """

    library: str
    run: Callable[[Any], Any]
    setup: Callable[[Context], Any] | None = None
    prepare: Callable[[Any], None] | None = None
    check: Callable[[Any, Any], dict[str, Any] | None] | None = None
    teardown: Callable[[Any], None] | None = None
    label: str | None = None

    @property
    def key(self) -> str:
        """Unique within a workload: the label shown in the peer column."""
        return self.label or self.library


@dataclass
class Workload:
    """One measured operation: our implementation and the peers it is compared with."""

    name: str  # unique, dotted, e.g. "wkw.write.raw.image"
    group: str  # the `Group.key` whose table shows it
    title: str  # the row label
    ours: Impl
    peers: list[Impl] = field(default_factory=list)
    warmup: int = 0  # untimed repetitions before the timed ones
    min_repeat: int = 0  # floor for the repetitions (ignored with --repeat 1)

    def impls(self) -> list[Impl]:
        return [self.ours, *self.peers]

    def impl(self, key: str) -> Impl:
        for impl in self.impls():
            if impl.key == key:
                return impl
        raise KeyError(f"workload {self.name} has no implementation {key!r}")


@dataclass
class Group:
    """A table of the report: a heading, its workloads in registration order, and notes."""

    key: str
    title: str
    notes: list[str] = field(default_factory=list)


GROUPS: dict[str, Group] = {}
WORKLOADS: dict[str, Workload] = {}


def register_group(group: Group) -> Group:
    GROUPS[group.key] = group
    return group


def register(workload: Workload) -> Workload:
    if workload.name in WORKLOADS:
        raise ValueError(f"workload {workload.name!r} registered twice")
    if workload.group not in GROUPS:
        raise ValueError(f"workload {workload.name!r} names unknown group {workload.group!r}")
    if workload.ours.library != OURS:
        raise ValueError(f"workload {workload.name!r}: `ours` must use library {OURS!r}")
    keys = [impl.key for impl in workload.impls()]
    if len(set(keys)) != len(keys):
        raise ValueError(f"workload {workload.name!r}: duplicate implementation labels {keys}")
    WORKLOADS[workload.name] = workload
    return workload


def load_workload_modules(modules: list[str] | None = None) -> None:
    for module in WORKLOAD_MODULES if modules is None else modules:
        importlib.import_module(module)


# -- context handed to the callables (lives in the child) -----------------------------------------
@dataclass
class Context:
    """What a workload needs to know: the volume shape, the data, folders, fixtures."""

    shape: tuple[int, int, int]
    random_reads: int
    quick: bool
    run_dir: Path  # shared by all children of one harness run (fixtures live here)
    cache_dir: Path  # the `.npy` volume cache
    scratch: Path  # private to this child, deleted when it exits
    _volumes: dict[str, np.ndarray] = field(default_factory=dict, repr=False)
    _counter: int = 0

    def volume_path(self, name: str) -> Path:
        return bench_data.volume_path(name, self.shape, self.cache_dir)

    def volume(self, name: str) -> np.ndarray:
        """The volume, loaded once per child and kept (it then counts in the RSS baseline)."""
        if name not in self._volumes:
            self._volumes[name] = bench_data.load_volume(self.volume_path(name))
        return self._volumes[name]

    def fresh_dir(self, prefix: str) -> Path:
        """A new, not yet existing path inside the child's scratch folder."""
        self._counter += 1
        return self.scratch / f"{prefix}-{self._counter}"

    def fixture(self, key: str, build: Callable[[Path], None]) -> Path:
        """A folder built once per harness run by `build(path)` (untimed) and then reused."""
        path = self.run_dir / "fixtures" / key
        if not path.exists():
            path.parent.mkdir(parents=True, exist_ok=True)
            staging = path.parent / f".{key}.building-{os.getpid()}"
            shutil.rmtree(staging, ignore_errors=True)
            build(staging)
            os.replace(staging, path)
        return path


@dataclass
class RunOverride:
    """A `run` may return this when it measured something itself (e.g. a subprocess)."""

    peak_rss_kib: int | None = None
    rss_before_kib: int | None = None


# -- memory probes ----------------------------------------------------------------------------------
def _status_kib(field_name: str) -> int | None:
    try:
        with open("/proc/self/status") as handle:
            for line in handle:
                if line.startswith(field_name + ":"):
                    return int(line.split()[1])
    except OSError:
        return None
    return None


def _reset_peak_rss() -> bool:
    try:
        with open("/proc/self/clear_refs", "w") as handle:
            handle.write("5")
        return True
    except OSError:
        return False


def _peak_rss_kib(reset_worked: bool) -> int:
    if reset_worked:
        value = _status_kib("VmHWM")
        if value is not None:
            return value
    return int(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss)


# -- the child side -------------------------------------------------------------------------------
def child_main(spec: dict[str, Any]) -> list[dict[str, Any]]:
    """Run the jobs of `spec` (normally one: an implementation of a workload) one after another."""
    load_workload_modules(spec["modules"])
    return [_run_job(spec, job) for job in spec["jobs"]]


def _run_job(spec: dict[str, Any], job: dict[str, Any]) -> dict[str, Any]:
    """Run one implementation of one workload `repeat` times; returns the raw measurements."""
    workload = WORKLOADS[job["workload"]]
    impl = workload.impl(job["impl"])
    scratch = Path(tempfile.mkdtemp(prefix="child-", dir=spec["run_dir"]))
    ctx = Context(
        shape=tuple(spec["shape"]),  # type: ignore[arg-type]
        random_reads=spec["random_reads"],
        quick=spec["quick"],
        run_dir=Path(spec["run_dir"]),
        cache_dir=Path(spec["cache_dir"]),
        scratch=scratch,
    )
    result: dict[str, Any] = {"times": [], "peak_rss_kib": [], "rss_before_kib": [], "info": {}}
    state: Any = None
    try:
        state = impl.setup(ctx) if impl.setup is not None else ctx
        total = job["warmup"] + job["repeat"]
        for index in range(total):
            timed = index >= job["warmup"]
            if impl.prepare is not None:
                impl.prepare(state)
            # Flush dirty pages of earlier writes (previous repetition, fixtures) so that their
            # writeback does not throttle or compete with the timed call; untimed.
            os.sync()
            gc.collect()
            reset = _reset_peak_rss()
            before = _status_kib("VmRSS") or 0
            start = time.perf_counter()
            output = impl.run(state)
            elapsed = time.perf_counter() - start
            peak = _peak_rss_kib(reset)
            if isinstance(output, RunOverride):
                peak = output.peak_rss_kib if output.peak_rss_kib is not None else peak
                before = output.rss_before_kib if output.rss_before_kib is not None else before
            if not timed:
                output = None
                continue
            result["times"].append(elapsed)
            result["peak_rss_kib"].append(peak)
            result["rss_before_kib"].append(before)
            result["hwm_reset"] = reset
            if index == job["warmup"] and impl.check is not None:
                info = impl.check(state, output)
                if info:
                    result["info"].update(info)
            output = None
    except Exception as exc:  # report every failure to the parent, which keeps going
        result["error"] = f"{type(exc).__name__}: {exc}"
        result["traceback"] = traceback.format_exc()
    finally:
        try:
            if impl.teardown is not None and state is not None:
                impl.teardown(state)
        finally:
            state = None
            shutil.rmtree(scratch, ignore_errors=True)
    return result


# -- the parent side ------------------------------------------------------------------------------
def _busy_cpu_seconds() -> float | None:
    """Machine-wide non-idle CPU time so far (all cores), from `/proc/stat`."""
    try:
        with open("/proc/stat") as handle:
            fields = handle.readline().split()
    except OSError:
        return None
    user, nice, system, _idle, _iowait, irq, softirq, steal = (int(v) for v in fields[1:9])
    return (user + nice + system + irq + softirq + steal) / os.sysconf("SC_CLK_TCK")


def _own_cpu_seconds() -> float:
    """CPU time of this process and its waited-for descendants (the children, their workers)."""
    times = os.times()
    return times.user + times.system + times.children_user + times.children_system


@dataclass
class Config:
    shape: tuple[int, int, int]
    repeat: int
    random_reads: int
    quick: bool
    cache_dir: Path
    run_dir: Path
    modules: list[str]
    only: list[str] = field(default_factory=list)
    peers: list[str] | None = None  # library keys to compare with; None = all
    batch: bool = False  # one child per library (smoke tests only; state leaks between jobs)
    # A child during which the rest of the machine used more than this many cores is re-run
    # (after waiting for quiet) up to `retries` times; the least disturbed attempt is kept.
    max_background: float = 0.3
    retries: int = 2
    quiet_wait_s: float = 60.0
    retry_budget_s: float = 150.0  # total time a run may spend waiting and re-running
    pairs: set[tuple[str, str]] | None = None  # only these (workload, impl) pairs; None = all


@dataclass
class Measurement:
    """The outcome of one (workload, implementation) child."""

    workload: str
    impl: str
    library: str
    times: list[float] = field(default_factory=list)
    peak_rss_kib: list[int] = field(default_factory=list)
    rss_before_kib: list[int] = field(default_factory=list)
    hwm_reset: bool = True
    info: dict[str, Any] = field(default_factory=dict)
    skipped: str | None = None
    error: str | None = None
    # CPU seconds the rest of the machine used while this child ran (other users' processes and
    # kernel threads, including the writeback of our own files): a contention indicator.
    background_cpu_s: float | None = None
    wall_s: float | None = None
    attempts: int = 1

    @property
    def background_cores(self) -> float:
        """Average number of cores the rest of the machine kept busy while this child ran."""
        if self.background_cpu_s is None or not self.wall_s:
            return 0.0
        return self.background_cpu_s / self.wall_s

    @property
    def ok(self) -> bool:
        return self.skipped is None and self.error is None and bool(self.times)

    @property
    def median(self) -> float:
        return statistics.median(self.times)

    @property
    def spread(self) -> tuple[float, float]:
        return min(self.times), max(self.times)

    @property
    def peak_mib(self) -> float:
        return max(self.peak_rss_kib) / 1024

    @property
    def growth_mib(self) -> float:
        return (
            max(p - b for p, b in zip(self.peak_rss_kib, self.rss_before_kib, strict=True)) / 1024
        )


def repetitions(workload: Workload, repeat: int) -> int:
    """`--repeat 1` runs everything once (smoke/debug); otherwise the workload's floor applies."""
    return repeat if repeat <= 1 else max(repeat, workload.min_repeat)


def selected_workloads(config: Config) -> list[Workload]:
    chosen = list(WORKLOADS.values())
    if config.only:
        chosen = [w for w in chosen if any(part in w.name for part in config.only)]
    return chosen


def _job(config: Config, workload: Workload, impl: Impl) -> dict[str, Any]:
    reps = repetitions(workload, config.repeat)
    return {
        "workload": workload.name,
        "impl": impl.key,
        "repeat": reps,
        "warmup": workload.warmup if reps > 1 else 0,
    }


def run_child(config: Config, jobs: list[tuple[Workload, Impl]]) -> list[Measurement]:
    """Start one child for `jobs` (one, except in batch mode) and collect its measurements."""
    measurements = [Measurement(w.name, impl.key, impl.library) for w, impl in jobs]
    spec = {
        "jobs": [_job(config, w, impl) for w, impl in jobs],
        "shape": list(config.shape),
        "random_reads": config.random_reads,
        "quick": config.quick,
        "run_dir": str(config.run_dir),
        "cache_dir": str(config.cache_dir),
        "modules": config.modules,
    }
    fd, out_name = tempfile.mkstemp(prefix="result-", suffix=".json", dir=config.run_dir)
    os.close(fd)
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(REPO_ROOT), env.get("PYTHONPATH")]))
    timeout = CHILD_TIMEOUT_S * len(jobs)
    try:
        proc = subprocess.run(
            [sys.executable, "-m", "benchmarks.child", out_name],
            input=json.dumps(spec),
            text=True,
            capture_output=True,
            cwd=REPO_ROOT,
            env=env,
            timeout=timeout,
            check=False,
        )
        raw = Path(out_name).read_text() if os.path.getsize(out_name) else ""
    except subprocess.TimeoutExpired:
        for measurement in measurements:
            measurement.error = f"timed out after {timeout} s"
        return measurements
    finally:
        if os.path.exists(out_name):
            os.unlink(out_name)
    if not raw:
        tail = (proc.stderr or "").strip().splitlines()[-5:]
        for measurement in measurements:
            measurement.error = (
                f"child exited {proc.returncode} without a result: {' | '.join(tail)}"
            )
        return measurements
    for measurement, data in zip(measurements, json.loads(raw), strict=True):
        measurement.times = data["times"]
        measurement.peak_rss_kib = data["peak_rss_kib"]
        measurement.rss_before_kib = data["rss_before_kib"]
        measurement.hwm_reset = data.get("hwm_reset", True)
        measurement.info = data.get("info", {})
        if "error" in data:
            measurement.error = data["error"]
            sys.stderr.write(data.get("traceback", "") + "\n")
    return measurements


def _run_watched(config: Config, batch: list[tuple[Workload, Impl]]) -> list[Measurement]:
    """`run_child`, recording how much CPU everything else used meanwhile."""
    start = time.perf_counter()
    busy_before, own_before = _busy_cpu_seconds(), _own_cpu_seconds()
    results = run_child(config, batch)
    busy_after, own_after = _busy_cpu_seconds(), _own_cpu_seconds()
    wall = time.perf_counter() - start
    for measurement in results:
        if busy_before is not None and busy_after is not None:
            background = (busy_after - busy_before) - (own_after - own_before)
            measurement.background_cpu_s = round(max(0.0, background), 2)
        measurement.wall_s = round(wall, 2)
    return results


def _disturbance(results: list[Measurement]) -> float:
    return max((m.background_cores for m in results), default=0.0)


def wait_for_quiet(max_cores: float, timeout_s: float, window_s: float = 2.0) -> bool:
    """Wait until three consecutive windows show less than `max_cores` busy (we are idle)."""
    deadline = time.monotonic() + timeout_s
    quiet = 0
    while time.monotonic() < deadline:
        before = _busy_cpu_seconds()
        time.sleep(window_s)
        after = _busy_cpu_seconds()
        if before is None or after is None:
            return False
        quiet = quiet + 1 if (after - before) / window_s < max_cores else 0
        if quiet >= 3:
            return True
    return False


def run_all(config: Config, progress: Callable[[str], None] | None = None) -> list[Measurement]:
    """Run every selected workload through ours and every available peer, in order.

    Normally each (workload, implementation) gets its own fresh child process. With
    `config.batch` (smoke tests) one child per library runs all of that library's jobs.
    """
    plan = [
        (workload, impl)
        for workload in selected_workloads(config)
        for impl in workload.impls()
        if impl.library == OURS or config.peers is None or impl.library in config.peers
        if config.pairs is None or (workload.name, impl.key) in config.pairs
    ]
    skipped: dict[tuple[str, str], Measurement] = {}
    runnable: list[tuple[Workload, Impl]] = []
    for workload, impl in plan:
        missing = library_missing(impl.library)
        if missing:
            measurement = Measurement(workload.name, impl.key, impl.library, skipped=missing)
            skipped[(workload.name, impl.key)] = measurement
        else:
            runnable.append((workload, impl))
    if config.batch:
        by_library: dict[str, list[tuple[Workload, Impl]]] = {}
        for job in runnable:
            by_library.setdefault(job[1].library, []).append(job)
        batches = list(by_library.values())
    else:
        batches = [[job] for job in runnable]
    done: dict[tuple[str, str], Measurement] = dict(skipped)
    retries = 0 if config.batch else config.retries
    retry_spent = 0.0
    for number, batch in enumerate(batches, start=1):
        start = time.perf_counter()
        best: list[Measurement] | None = None
        for attempt in range(1, retries + 2):
            attempt_start = time.perf_counter()
            batch_results = _run_watched(config, batch)
            if attempt > 1:
                retry_spent += time.perf_counter() - attempt_start
            for measurement in batch_results:
                measurement.attempts = attempt
            if best is None or _disturbance(batch_results) < _disturbance(best):
                best = batch_results
            if _disturbance(best) <= config.max_background or attempt > retries:
                break
            if retry_spent >= config.retry_budget_s:
                if progress is not None:
                    progress(f"[{number}/{len(batches)}] busy machine, retry budget used up")
                break
            if progress is not None:
                progress(
                    f"[{number}/{len(batches)}] the rest of the machine used "
                    f"{_disturbance(batch_results):.2f} cores; waiting for quiet and re-running"
                )
            wait_start = time.perf_counter()
            wait_for_quiet(
                config.max_background,
                min(config.quiet_wait_s, max(0.0, config.retry_budget_s - retry_spent)),
            )
            retry_spent += time.perf_counter() - wait_start
        assert best is not None
        for measurement in best:
            done[(measurement.workload, measurement.impl)] = measurement
            if progress is not None:
                if measurement.ok:
                    outcome = f"median {measurement.median:.3f} s"
                else:
                    outcome = measurement.skipped or f"ERROR {measurement.error}"
                progress(
                    f"[{number}/{len(batches)}] {measurement.workload} | {measurement.impl}: "
                    f"{outcome} ({time.perf_counter() - start:.1f} s wall so far)"
                )
    return [done[(workload.name, impl.key)] for workload, impl in plan]


def measurements_to_json(
    config: Config, results: list[Measurement], facts: dict[str, Any] | None = None
) -> dict[str, Any]:
    return {
        "facts": facts or {},
        "shape": list(config.shape),
        "repeat": config.repeat,
        "random_reads": config.random_reads,
        "measurements": [asdict(m) for m in results],
    }


def measurements_from_json(data: dict[str, Any]) -> list[Measurement]:
    return [Measurement(**entry) for entry in data["measurements"]]


def needs_rerun(measurement: Measurement, max_background: float) -> bool:
    """Failed, or disturbed by other work on the machine."""
    if measurement.skipped is not None:
        return False
    return measurement.error is not None or measurement.background_cores > max_background


def merge_reruns(previous: list[Measurement], fresh: list[Measurement]) -> list[Measurement]:
    """`previous` with each re-run measurement replaced when the new one is better."""
    by_key = {(m.workload, m.impl): m for m in fresh}
    merged = []
    for old in previous:
        new = by_key.get((old.workload, old.impl))
        better = new is not None and (
            (new.ok and not old.ok) or (new.ok and new.background_cores < old.background_cores)
        )
        merged.append(new if better and new is not None else old)
    return merged
