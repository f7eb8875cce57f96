"""Whole-dataset checks: every stored file reads back, or where two datasets hold other voxels."""

from __future__ import annotations

from collections.abc import Sequence
from concurrent.futures import Executor
from typing import TYPE_CHECKING

import attrs

from ..errors import CorruptChunkError
from ..geometry import BoundingBox, Vec3Int
from ..parallel import run_tasks
from ._stored import StoredShards

if TYPE_CHECKING:
    from ..dataset.dataset import Dataset
    from ..dataset.layer import Layer
    from ..dataset.mag_view import MagView
    from ..dataset.view import View


@attrs.frozen
class Problem:
    """Something stored that cannot be read: one file, or a whole mag or layer."""

    layer: str
    #: The mag (`2-2-1`), None when the layer itself cannot be opened.
    mag: str | None
    #: The file or key, when the format names it.
    file: str | None
    #: The mag-1 box the file stores, None for a whole mag or layer.
    box: BoundingBox | None
    error: str

    def __str__(self) -> str:
        where = f"layer {self.layer!r}" + (f" mag {self.mag}" if self.mag else "")
        if self.box is not None:
            where += f" box {self.box.topleft.to_tuple()}+{self.box.size.to_tuple()}"
        return f"{self.file or where}: {self.error}" + (f" ({where})" if self.file else "")


@attrs.frozen
class CheckReport:
    """What `find_unreadable` read: how many stored regions, and every problem found."""

    regions: int
    problems: list[Problem]

    @property
    def ok(self) -> bool:
        """Whether everything read without error."""
        return not self.problems


def _describe(exc: BaseException) -> str:
    """One line for an error: its message, or its type when it has none."""
    text = " ".join(str(exc).split())
    return text or type(exc).__name__


def _try_read(view: View) -> str | None:
    """Read one stored region; the error as text, None if it read. Module-level so it pickles."""
    try:
        view.read()
    # A checker reports whatever decoding raises (native libraries, codecs), not only our errors.
    except Exception as exc:
        return _describe(exc)
    return None


def _mag_tasks(layer: Layer, problems: list[Problem]) -> list[tuple[str, str, View, str | None]]:
    """One read task per stored file of every mag of `layer`; a mag that cannot even list its
    files becomes a problem itself."""
    tasks: list[tuple[str, str, View, str | None]] = []
    try:
        mags = list(layer.mags.items())
    except Exception as exc:  # reported, see _try_read
        problems.append(Problem(layer.name, None, None, None, _describe(exc)))
        return tasks
    for mag, view in mags:
        name = mag.to_layer_name()
        try:
            stored = list(view.get_stored_files())
        except Exception as exc:  # reported, see _try_read
            problems.append(Problem(layer.name, name, str(view.path), None, _describe(exc)))
            continue
        for box, file in stored:
            tasks.append(
                (layer.name, name, view.get_view(absolute_bounding_box=box, read_only=True), file)
            )
    return tasks


def find_unreadable(
    dataset: Dataset, executor: Executor | None = None, layers: Sequence[str] | None = None
) -> CheckReport:
    """Read every stored file of every layer (or of `layers`) and mag and list each one that
    fails (instead of stopping at the first), with the file, the box it stores and the error."""
    problems: list[Problem] = []
    chosen = [layer for layer in dataset.layers.values() if layers is None or layer.name in layers]
    tasks = [task for layer in chosen for task in _mag_tasks(layer, problems)]
    by_mag: dict[tuple[str, str], list[tuple[str, str, View, str | None]]] = {}
    for task in tasks:
        by_mag.setdefault((task[0], task[1]), []).append(task)
    for (layer, mag), group in by_mag.items():  # one progress bar per mag, named after it
        views = [view for _, _, view, _ in group]
        errors = run_tasks(_try_read, views, executor, desc=f"Checking {layer} mag {mag}")
        for (_, _, view, file), error in zip(group, errors, strict=True):
            if error is not None:
                problems.append(Problem(layer, mag, file, view.bounding_box, error))
    return CheckReport(regions=len(tasks), problems=problems)


def check_dataset_readable(dataset: Dataset, executor: Executor | None = None) -> int:
    """Read every stored region of every mag; returns how many regions were read.

    Raises `CorruptChunkError` naming the first problem and how many there are in all.
    """
    report = find_unreadable(dataset, executor)
    if report.problems:
        more = len(report.problems) - 1
        raise CorruptChunkError(
            str(report.problems[0]) + (f" (and {more} more problem(s))" if more else "")
        )
    return report.regions


@attrs.frozen
class Difference:
    """One way two datasets differ: metadata of a layer, or the voxels of one chunk box."""

    layer: str
    #: The mag (`2-2-1`), None for a difference in the layer's metadata.
    mag: str | None = None
    #: The chunk box (mag-1 voxels) whose voxels differ.
    box: BoundingBox | None = None
    #: How many voxels of `box` differ (in any channel).
    voxels: int = 0
    #: What differs, for metadata differences.
    note: str = ""

    def __str__(self) -> str:
        where = f"layer {self.layer!r}" + (f" mag {self.mag}" if self.mag else "")
        if self.box is None:
            return f"{where}: {self.note}"
        return (
            f"{where} box {self.box.topleft.to_tuple()}+{self.box.size.to_tuple()}: "
            f"{self.voxels} voxel(s) differ"
        )


def _grid_boxes(region: BoundingBox, step: Vec3Int) -> list[BoundingBox]:
    """The cells of the grid of `step` (anchored at 0) that overlap `region`, clipped to it."""
    low, high = region.topleft // step, region.bottomright.ceildiv(step)
    return [
        BoundingBox(Vec3Int(x, y, z) * step, step).intersected_with(region)
        for x in range(low.x, high.x)
        for y in range(low.y, high.y)
        for z in range(low.z, high.z)
    ]


def _diff_region(task: tuple[View, View, Vec3Int]) -> list[tuple[BoundingBox, int]]:
    """Compare one shard-sized region of two views chunk by chunk: the chunk boxes (mag-1)
    that differ with their count of differing voxels. Module-level so it pickles."""
    first, second, chunk = task
    a, b = first.read(), second.read()
    differs = (a != b).any(axis=0)
    if not differs.any():
        return []
    region = first.bounding_box
    mag = first.mag.as_vec3_int
    found = []
    for box in _grid_boxes(region, chunk):
        local = box.offset(-region.topleft)
        index = tuple(
            slice(lo // m, -(-hi // m))
            for lo, hi, m in zip(local.topleft, local.bottomright, mag, strict=True)
        )
        count = int(differs[index].sum())
        if count:
            found.append((box, count))
    return found


def _diff_mag(layer: str, a: MagView, b: MagView, executor: Executor | None) -> list[Difference]:
    """The chunk boxes (on `a`'s grid) where two views of the same mag hold other voxels;
    only regions where either side stores data are read."""
    mag = a.mag.as_vec3_int
    region = a.layer.bounding_box.extended_by(b.layer.bounding_box).align_with_mag(a.mag, ceil=True)
    if region.is_empty():
        return []
    stored_a, stored_b = StoredShards(a), StoredShards(b)
    chunk = a.info.chunk_shape * mag
    tasks = [
        (
            a.get_view(absolute_bounding_box=box, read_only=True),
            b.get_view(absolute_bounding_box=box, read_only=True),
            chunk,
        )
        for box in _grid_boxes(region, a.shard_shape_mag1)
        if stored_a.touches(box) or stored_b.touches(box)
    ]
    name = a.mag.to_layer_name()
    return [
        Difference(layer, name, box, count)
        for found in run_tasks(_diff_region, tasks, executor, desc=f"Comparing {layer} {name}")
        for box, count in found
    ]


def diff_datasets(
    first: Dataset,
    second: Dataset,
    executor: Executor | None = None,
    layers: Sequence[str] | None = None,
) -> list[Difference]:
    """Every difference in layers (all, or `layers`), metadata, mags and voxels (empty when
    equal); voxel differences name the layer, mag and chunk box and count the differing voxels."""
    differences: list[Difference] = []
    names = set(first.layers) | set(second.layers)
    for name in sorted(names if layers is None else names & set(layers)):
        if name not in first.layers or name not in second.layers:
            differences.append(Difference(name, note="exists in only one dataset"))
            continue
        a, b = first.layers[name], second.layers[name]
        for label, left, right in (
            ("category", a.category, b.category),
            ("dtype", a.dtype, b.dtype),
            ("num_channels", a.num_channels, b.num_channels),
            ("bounding box", a.bounding_box, b.bounding_box),
            ("mags", list(a.mags), list(b.mags)),
        ):
            if left != right:
                differences.append(Difference(name, note=f"{label} {left} != {right}"))
        if (a.dtype, a.num_channels) != (b.dtype, b.num_channels):
            continue
        for mag in sorted(set(a.mags) & set(b.mags)):
            differences.extend(_diff_mag(name, a.mags[mag], b.mags[mag], executor))
    return differences


def compare_datasets(
    first: Dataset, second: Dataset, executor: Executor | None = None
) -> list[str]:
    """Human-readable differences in layers, metadata, mags and voxels (empty when equal)."""
    return [str(difference) for difference in diff_datasets(first, second, executor)]
