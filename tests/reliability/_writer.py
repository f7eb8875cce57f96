"""Child process of the crash tests: writes a seeded sequence of regions and reports each one.

Protocol (one trial per process): print `ready` once imported; read one JSON line
`{"path", "format", "seed"}` from stdin; open the dataset, print `start`; then for each region
write it and print `done <index>` (flushed, after `write` returned); finally print `finished`.
The test kills the process with SIGKILL at a random moment.

Run as `python -m tests.reliability._writer` from the repository root.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path


def run(command: dict[str, object]) -> None:
    """Write the regions of `command` into the dataset, reporting each completed write."""
    from webknossos_like import Dataset

    from ._plan import FORMATS, LAYER, region_data, regions

    fmt = FORMATS[str(command["format"])]
    seed = int(command["seed"])  # type: ignore[call-overload]
    mag = Dataset.open(Path(str(command["path"]))).get_layer(LAYER).get_mag(1)
    out = sys.stdout
    out.write("start\n")
    out.flush()
    for region in regions(seed):
        mag.write(region_data(seed, region, fmt), absolute_offset=region.offset)
        out.write(f"done {region.index}\n")
        out.flush()
    out.write("finished\n")
    out.flush()


def main() -> None:
    import numpy  # noqa: F401  (import the heavy modules before reporting ready)

    import webknossos_like  # noqa: F401
    from webknossos_like.storage import formats

    from . import _plan

    for name in {fmt.data_format for fmt in _plan.FORMATS.values()}:
        formats.get_format(name)  # and what the format loads on first use (tensorstore)
    import tensorstore  # noqa: F401

    sys.stdout.write("ready\n")
    sys.stdout.flush()
    line = sys.stdin.readline()
    if not line:
        return
    run(json.loads(line))


if __name__ == "__main__":
    main()
