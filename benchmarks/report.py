"""Markdown rendering: a header describing the machine and method, then one table per group."""

from __future__ import annotations

import datetime as _dt
import os
import platform
from pathlib import Path
from typing import Any

from .harness import GROUPS, LIBRARIES, OURS, Config, Measurement, Workload, library_version

COLUMNS = (
    "workload",
    "peer",
    "ours (median s, [min-max])",
    "peer (median s, [min-max])",
    "ours/peer (< 1: we are faster)",
    "peak RSS of our run, MiB (+growth during run)",
)


def cpu_model() -> str:
    try:
        with open("/proc/cpuinfo") as handle:
            for line in handle:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown"


def memory_gib() -> str:
    try:
        with open("/proc/meminfo") as handle:
            for line in handle:
                if line.startswith("MemTotal:"):
                    return f"{int(line.split()[1]) / 2**20:.1f} GiB"
    except OSError:
        pass
    return "unknown"


def load_average() -> str:
    try:
        return " / ".join(f"{v:.2f}" for v in os.getloadavg())
    except OSError:
        return "unknown"


def seconds(value: float) -> str:
    if value >= 100:
        return f"{value:.0f}"
    if value >= 10:
        return f"{value:.1f}"
    if value >= 1:
        return f"{value:.2f}"
    return f"{value:.3f}"


def ratio_text(value: float) -> str:
    """Two decimals, but never rounded down to 0.00 (tiny volumes give ratios like 0.004)."""
    return f"{value:.2f}" if value >= 0.1 else f"{value:.2g}"


def timing_cell(measurement: Measurement) -> str:
    low, high = measurement.spread
    return f"{seconds(measurement.median)} [{seconds(low)}-{seconds(high)}]"


def failure_cell(measurement: Measurement | None) -> str:
    if measurement is None:
        return "not run"
    if measurement.skipped:
        return measurement.skipped
    return f"error: {measurement.error}"


def header(config: Config, facts: dict[str, Any]) -> str:
    versions = []
    for key in LIBRARIES:
        version = library_version(key)
        if version is not None:
            versions.append(f"{LIBRARIES[key].distribution} {version}")
    try:
        from importlib.metadata import version as _version

        versions.append(f"numpy {_version('numpy')}")
    except Exception:
        pass
    shape = "x".join(str(n) for n in config.shape)
    lines = [
        "# Benchmarks: webknossos_like vs wkw and webknossos",
        "",
        f"Generated {facts['date']} by `{facts['command']}` (total {facts['total_s']:.0f} s).",
        "",
        f"- CPU: {cpu_model()}, {os.cpu_count()} cores ({len(os.sched_getaffinity(0))} usable); "
        f"memory {memory_gib()}; {platform.system()} {platform.release()}",
        f"- Python {platform.python_version()} ({platform.python_implementation()}); "
        + ", ".join(versions),
        f"- Volume {shape} voxels (image uint8 and segmentation uint32, `benchmarks/data.py`, "
        f"fingerprints {facts['fingerprints']}); {config.random_reads} random reads; "
        f"{config.repeat} timed repetitions (median, [min-max])",
        f"- Load average (1/5/15 min) at start {facts['load_start']}, at end {facts['load_end']}; "
        f"{facts['background']}",
        "",
        "Method: every (workload, library) pair runs in its own fresh child process "
        "(`python -m benchmarks.child`), all on the same cached volumes and the same chunk 32^3 / "
        "shard 128^3 unless a peer's label says otherwise. Only the operation itself is timed "
        "(`time.perf_counter`); creating empty datasets, writing the fixtures that reads use and "
        "checking results against the source are untimed. Files are on the local disk with a warm "
        "page cache; dirty pages are flushed (`os.sync()`, untimed) before every timed call, but "
        "no cache is dropped, so these are CPU/memory-bound numbers. "
        "Peak RSS: the kernel's high-water mark `VmHWM` of the child, reset just before the timed "
        "call (`/proc/self/clear_refs`), so it is the peak *during* the call; it includes what was "
        "already resident (interpreter, libraries, the input volume for writes), and the growth "
        "above the RSS right before the call is shown in parentheses. The largest value over the "
        "repetitions is shown. The machine may be shared: a child during which the rest of the "
        f"machine kept more than {config.max_background} cores busy (`/proc/stat` minus our own "
        f"process tree) is re-run after waiting for quiet, up to {config.retries} times and "
        f"{config.retry_budget_s:.0f} s per run in total, and the least disturbed attempt is kept.",
    ]
    if facts.get("merged"):
        lines += ["", facts["merged"]]
    if facts.get("batch"):
        lines += [
            "",
            "**Batch mode (smoke test):** one child process per library ran all of its workloads, "
            "so caches, heap and imports leak between workloads; do not quote these numbers.",
        ]
    if not facts.get("hwm_reset", True):
        lines += [
            "",
            "**Note:** the peak-RSS reset was refused on this machine for some runs; those peaks "
            "are process-lifetime `ru_maxrss` values (they include setup).",
        ]
    return "\n".join(lines) + "\n"


def group_table(
    title: str,
    notes: list[str],
    workloads: list[Workload],
    results: dict[tuple[str, str], Measurement],
) -> str:
    lines = [f"## {title}", "", "| " + " | ".join(COLUMNS) + " |", "|" + "---|" * len(COLUMNS)]
    extra: list[str] = []
    for workload in workloads:
        ours = results.get((workload.name, OURS))
        ours_cell = timing_cell(ours) if ours is not None and ours.ok else failure_cell(ours)
        rss_cell = (
            f"{ours.peak_mib:.0f} (+{ours.growth_mib:.0f})"
            if ours is not None and ours.ok
            else "n/a"
        )
        # Peers left out with --peers have no measurement and get no row.
        measured = [impl for impl in workload.peers if (workload.name, impl.key) in results]
        peers: list[Any] = measured or [None]
        for impl in peers:
            if impl is None:
                peer_name, peer_cell, ratio = "-", "-", "n/a"
            else:
                peer = results.get((workload.name, impl.key))
                peer_name = impl.key
                if peer is not None and peer.ok:
                    peer_cell = timing_cell(peer)
                    ratio = (
                        ratio_text(ours.median / peer.median)
                        if ours is not None and ours.ok
                        else "n/a"
                    )
                else:
                    peer_cell, ratio = failure_cell(peer), "n/a"
            lines.append(
                f"| {workload.title} | {peer_name} | {ours_cell} | {peer_cell} | {ratio} | {rss_cell} |"
            )
        disk = []
        for impl in workload.impls():
            measurement = results.get((workload.name, impl.key))
            if measurement is not None and "disk_mib" in measurement.info:
                disk.append(f"{impl.key} {measurement.info['disk_mib']} MiB")
        if disk:
            extra.append(f"Bytes on disk after *{workload.title}*: " + ", ".join(disk) + ".")
    body = "\n".join(lines) + "\n"
    all_notes = notes + extra
    if all_notes:
        body += "\n" + "\n".join(f"- {note}" for note in all_notes) + "\n"
    return body


def background_summary(measurements: list[Measurement]) -> str:
    """How much CPU the rest of the machine used while our children ran (contention check)."""
    pairs = [
        (m.background_cpu_s, m.wall_s, m)
        for m in measurements
        if m.background_cpu_s is not None and m.wall_s
    ]
    if not pairs:
        return "background CPU not measured"
    total = sum(p[0] for p in pairs)
    wall = sum(p[1] for p in pairs)
    worst_cpu, worst_wall, worst = max(pairs, key=lambda p: p[0] / p[1])
    reruns = sum(1 for m in measurements if m.attempts > 1)
    return (
        f"CPU used by everything else (other processes, kernel threads incl. our writeback) "
        f"while our children ran: {total:.0f} s over {wall:.0f} s wall "
        f"({100 * total / wall:.0f}% of one core; worst child {worst.workload} | {worst.impl}: "
        f"{100 * worst_cpu / worst_wall:.0f}%); {reruns} measurement(s) re-run because the "
        "machine was busy"
    )


def disturbed_note(measurements: list[Measurement], max_cores: float) -> str:
    disturbed = [m for m in measurements if m.ok and m.background_cores > max_cores]
    if not disturbed:
        return ""
    items = ", ".join(
        f"{m.workload} | {m.impl} ({m.background_cores:.2f} cores)" for m in disturbed
    )
    return (
        f"\n**Disturbed:** other work kept more than {max_cores} cores busy during these "
        f"measurements even after {max(m.attempts for m in disturbed)} attempt(s); treat them "
        f"with care: {items}.\n"
    )


def render(
    config: Config,
    workloads: list[Workload],
    measurements: list[Measurement],
    facts: dict[str, Any],
) -> str:
    results = {(m.workload, m.impl): m for m in measurements}
    facts = dict(
        facts,
        hwm_reset=all(m.hwm_reset for m in measurements if m.ok),
        background=background_summary(measurements),
    )
    parts = [header(config, facts) + disturbed_note(measurements, config.max_background)]
    for key, group in GROUPS.items():
        members = [w for w in workloads if w.group == key]
        if members:
            parts.append(group_table(group.title, group.notes, members, results))
    return "\n".join(parts)


def now() -> str:
    return _dt.datetime.now(_dt.timezone.utc).strftime("%Y-%m-%d %H:%M UTC")


def write(path: Path, text: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)
