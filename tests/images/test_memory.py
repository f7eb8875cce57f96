"""Bounded memory: a stack larger than the address-space budget imports in a child process
whose `RLIMIT_AS` is set to what it uses after a warm-up import plus that budget."""

from __future__ import annotations

import subprocess
import sys
import textwrap
from pathlib import Path

import numpy as np
import pytest
import tifffile

EDGE = 512
DEPTH = 768  # 192 MiB of uint8 voxels
BUDGET_MIB = 128  # a handful of 8 MiB slabs (shard depth 32), write buffers, allocator slack
SHARD = 32

CHILD = textwrap.dedent(
    """
    import json, resource, sys
    import numpy as np
    from webknossos_like import Dataset

    def vm_kib(field):
        with open("/proc/self/status") as handle:
            for line in handle:
                if line.startswith(field + ":"):
                    return int(line.split()[1])

    stack, small, out, budget_mib, shard = sys.argv[1:6]
    # Warm-up: every module and code path the big import uses is loaded before the limit.
    Dataset.from_images(small, out + "-warm", voxel_size=(1, 1, 1), chunk_shape=32, shard_shape=int(shard))
    baseline = vm_kib("VmSize")
    limit = (baseline + int(budget_mib) * 1024) * 1024
    resource.setrlimit(resource.RLIMIT_AS, (limit, limit))
    try:
        np.ones((512, 512, 768), dtype=np.uint8)  # the whole stack at once must not fit
        whole_stack_fits = True
    except MemoryError:
        whole_stack_fits = False
    ds = Dataset.from_images(stack, out, voxel_size=(1, 1, 1), chunk_shape=32, shard_shape=int(shard))
    layer = ds.get_layer("color")
    print(json.dumps({
        "baseline_mib": baseline / 1024,
        "peak_mib": vm_kib("VmPeak") / 1024,
        "whole_stack_fits": whole_stack_fits,
        "size": layer.bounding_box.size.to_list(),
        "corner": int(layer.get_mag(1).read(absolute_offset=(0, 0, 700), size=(1, 1, 1))[0, 0, 0, 0]),
    }))
    """
)


def _slice(z: int) -> np.ndarray:
    """A compressible slice (the files stay small on disk) whose corner value is z mod 251."""
    image = np.full((EDGE, EDGE), z % 251, dtype=np.uint8)
    image[:, : EDGE // 2] = (np.arange(EDGE // 2, dtype=np.uint32) % 256).astype(np.uint8)
    image[0, 0] = z % 251
    return image


@pytest.mark.slow
def test_import_of_a_stack_larger_than_the_memory_limit(tmp_path: Path) -> None:
    stack = tmp_path / "stack"
    small = tmp_path / "small"
    stack.mkdir()
    small.mkdir()
    for z in range(DEPTH):
        tifffile.imwrite(stack / f"z{z}.tif", _slice(z), compression="zlib")
    for z in range(SHARD + 3):
        tifffile.imwrite(small / f"z{z}.tif", _slice(z), compression="zlib")
    proc = subprocess.run(
        [
            sys.executable,
            "-c",
            CHILD,
            str(stack),
            str(small),
            str(tmp_path / "out"),
            str(BUDGET_MIB),
            str(SHARD),
        ],
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    import json

    result = json.loads(proc.stdout.strip().splitlines()[-1])
    assert result["whole_stack_fits"] is False  # the limit is real
    assert result["size"] == [EDGE, EDGE, DEPTH]
    assert result["corner"] == 700 % 251
    assert result["peak_mib"] - result["baseline_mib"] <= BUDGET_MIB
