"""Benchmark harness of webknossos_like: `python -m benchmarks [--quick] [--repeat N] [--output FILE]`.

Modules:
- `harness`: the workload registry (`Group`, `Workload`, `Impl`, `Library`), the child-process
  runner that times each run and measures its peak RSS, and the statistics.
- `data`: the deterministic, cached benchmark volumes.
- `report`: the markdown report (header with machine facts, one table per group).
- `wkw_bench`: the WKW workloads (ours vs bare `wkw` vs `webknossos`).
- `child`: the entry point of the per-measurement child process.

Adding workloads: write a module (e.g. `benchmarks/precomputed_bench.py`) that calls
`register_group(Group(...))` and `register(Workload(name, group, title, ours=Impl(...),
peers=[Impl(...), ...]))` at import, importing the libraries it measures only inside the Impl
callables, and append its dotted name to `harness.WORKLOAD_MODULES`. A peer whose package is not
installed is skipped with a note in its table row; register a new peer package with
`harness.register_library(Library(key, modules, distribution))` unless it is already listed in
`harness.LIBRARIES`.
"""
