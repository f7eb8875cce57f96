"""The main job on the built-in sample data: WKW dataset, pyramid, precomputed copy, checks, summary."""

from __future__ import annotations

import shlex
import shutil
import time
from concurrent.futures import Executor
from pathlib import Path

import numpy as np

from .dataset import COLOR_CATEGORY, SEGMENTATION_CATEGORY, Dataset
from .errors import DatasetExistsError
from .geometry import Vec3Int
from .notebook.html import format_bytes, layer_disk_size
from .sample_data import DEFAULT_SHAPE, make_sample

VOXEL_SIZE = (11.24, 11.24, 25.0)
OFFSET = Vec3Int(64, 32, 0)
PRECOMPUTED = "neuroglancerPrecomputed"


def _prepare(folder: Path) -> None:
    """Remove a previous demo output (only if it is one of ours) so the demo can run again."""
    if not folder.exists():
        return
    ours = (folder / "wkw" / "datasource-properties.json").exists() or (
        folder / "datasource-properties.json"
    ).exists()
    if ours:
        shutil.rmtree(folder)
    elif any(folder.iterdir()):
        raise DatasetExistsError(
            f"{folder} exists and is not a demo output; choose another folder."
        )


def _write_thumbnails(dataset: Dataset, folder: Path) -> list[Path]:
    """One PNG of the middle z slice per layer and mag."""
    folder.mkdir(parents=True, exist_ok=True)
    written = []
    for layer in dataset.layers.values():
        for mag, view in layer.mags.items():
            path = folder / f"{layer.name}_{mag.to_layer_name()}.png"
            view.to_png(path)
            written.append(path)
    return written


def run_demo(
    folder: str | Path = "demo_output",
    shape: tuple[int, int, int] = DEFAULT_SHAPE,
    executor: Executor | None = None,
) -> Dataset:
    """Build the sample dataset in `folder`/wkw, its pyramid, a precomputed copy in `folder`/precomputed,
    verify both, write thumbnails to `folder`/thumbnails and print a summary table."""
    target = Path(folder)
    _prepare(target)
    timings: dict[str, float] = {}
    started = time.perf_counter()
    image, segmentation = make_sample(shape)
    timings["sample data"] = time.perf_counter() - started

    step = time.perf_counter()
    dataset = Dataset(target / "wkw", voxel_size=VOXEL_SIZE, name="sample_dataset")
    color = dataset.add_layer("color", COLOR_CATEGORY, dtype="uint8")
    color.add_mag(1, compress=True).write(image, absolute_offset=OFFSET)
    labels = dataset.add_layer("segmentation", SEGMENTATION_CATEGORY, dtype="uint32")
    labels.add_mag(1, compress=True).write(segmentation, absolute_offset=OFFSET)
    timings["write WKW"] = time.perf_counter() - step

    step = time.perf_counter()
    dataset.downsample(executor=executor)  # anisotropic pyramid: average for color, mode for labels
    timings["pyramid"] = time.perf_counter() - step

    step = time.perf_counter()
    converted = dataset.copy_dataset(
        target / "precomputed", data_format=PRECOMPUTED, executor=executor
    )
    timings["to precomputed"] = time.perf_counter() - step

    step = time.perf_counter()
    wkw = Dataset.open(target / "wkw", read_only=True)
    pre = Dataset.open(target / "precomputed", read_only=True)
    if not np.array_equal(wkw.get_layer("color").get_mag(1).read()[0], image) or not np.array_equal(
        pre.get_layer("segmentation").get_mag(1).read()[0], segmentation
    ):
        raise RuntimeError("The sample data did not read back identically.")
    for layer in wkw.layers.values():
        for mag, view in layer.mags.items():
            if not view.content_is_equal(pre.get_layer(layer.name).get_mag(mag), executor=executor):
                raise RuntimeError(
                    f"WKW and precomputed differ in {layer.name} mag {mag.to_layer_name()}."
                )
    timings["read + verify"] = time.perf_counter() - step

    step = time.perf_counter()
    thumbnails = _write_thumbnails(wkw, target / "thumbnails")
    timings["thumbnails"] = time.perf_counter() - step

    print(
        f"Sample dataset at {target.resolve()}  (voxel size {dataset.voxel_size_with_unit.factor} {dataset.voxel_size_unit})"
    )
    header = (
        f"  {'layer':<14}{'format':<26}{'dtype':<8}{'mags':<18}{'bounding box':<36}{'on disk':>10}"
    )
    print(header)
    for source in (wkw, pre):
        for layer in source.layers.values():
            box = layer.bounding_box
            mags = ",".join(m.to_layer_name() for m in layer.mags)
            stored = format_bytes(layer_disk_size(layer) or 0)
            print(
                f"  {layer.name:<14}{layer.data_format:<26}{layer.dtype!s:<8}{mags:<18}"
                f"{f'{box.topleft.to_tuple()}+{box.size.to_tuple()}':<36}{stored:>10}"
            )
    largest = pre.get_segmentation_layer("segmentation").largest_segment_id
    print(f"  segments: {len(np.unique(segmentation))} labels, largest id {largest}")
    print("  " + ", ".join(f"{name} {seconds:.2f} s" for name, seconds in timings.items()))
    print(f"  thumbnails: {len(thumbnails)} PNGs in {(target / 'thumbnails').resolve()}")
    print("  WKW and precomputed read back identical: yes")
    print(_next_steps(target))
    return converted


def _next_steps(folder: Path) -> str:
    """The commands to try next on the demo output, with its real (quoted) paths."""
    wkw = shlex.quote(str((folder / "wkw").resolve()))
    pre = shlex.quote(str((folder / "precomputed").resolve()))
    zarr = shlex.quote(str((folder / "zarr3").resolve()))
    return "\n".join(
        [
            "Next, try:",
            f"  wkl info {wkw}",
            f"  wkl view {wkw}",
            f"  wkl check {wkw} {pre}",
            f"  wkl convert {wkw} {zarr} --format zarr3",
        ]
    )
