"""Copy voxels between views shard by shard, in parallel when given an executor."""

from __future__ import annotations

from concurrent.futures import Executor
from typing import TYPE_CHECKING

from ..errors import InvalidArgumentError
from ..parallel import run_tasks
from ._stored import StoredShards

if TYPE_CHECKING:
    from ..dataset.mag_view import MagView
    from ..dataset.view import View


def copy_view_into(source: View, target: MagView, executor: Executor | None = None) -> None:
    """Copy `source`'s voxels to the same mag-1 coordinates of `target` (same mag).

    Work units are the target's shards, so parallel workers never write the same file; shards
    where the source stores nothing are skipped. The target layer's bounding box is grown first.
    """
    if source.mag != target.mag:
        raise InvalidArgumentError(f"Cannot copy mag {source.mag} into mag {target.mag}.")
    if source.num_channels != target.num_channels or source.dtype != target.dtype:
        raise InvalidArgumentError(
            f"Cannot copy {source.num_channels}x{source.dtype} data into "
            f"{target.num_channels}x{target.dtype}."
        )
    box = source.bounding_box
    if box.is_empty():
        return
    layer = target.layer
    if not layer.bounding_box.align_with_mag(target.mag, ceil=True).contains_bbox(box):
        layer.bounding_box = layer.bounding_box.extended_by(box)
    stored = StoredShards(source)
    tasks = [
        (
            source.get_view(absolute_bounding_box=chunk, read_only=True),
            target._region_view(chunk),
        )
        for chunk in target.shard_aligned_boxes(box)
        if stored.touches(chunk)
    ]
    desc = f"Copying layer {layer.name} mag {target.mag.to_layer_name()}"
    run_tasks(_copy_chunk, tasks, executor, desc=desc)


def _copy_chunk(task: tuple[View, View]) -> None:
    """Copy one chunk; module-level so it pickles to worker processes."""
    source, target = task
    target.write(source.read(), absolute_offset=target.bounding_box.topleft)
