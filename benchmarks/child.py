"""Child entry point: `python -m benchmarks.child RESULT.json < spec.json` (started by the harness)."""

from __future__ import annotations

import json
import sys
import warnings

from .harness import child_main


def main() -> None:
    warnings.simplefilter("ignore")  # peers' import-time notices would only clutter stderr
    spec = json.load(sys.stdin)
    results = child_main(spec)
    with open(sys.argv[1], "w") as handle:
        json.dump(results, handle)


if __name__ == "__main__":
    main()
