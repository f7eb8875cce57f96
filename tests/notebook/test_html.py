"""HTML tables for notebooks: the right facts, escaped, and never an exception for a broken mag."""

from __future__ import annotations

import http.server
import os
import re
import shutil
import threading
from collections.abc import Iterator
from functools import partial
from pathlib import Path

import numpy as np
import pytest

from webknossos_like import BoundingBox, Dataset, Mag
from webknossos_like.notebook import (
    bbox_html,
    dataset_html,
    format_bytes,
    layer_disk_size,
    layer_html,
    mag_html,
    view_html,
)

PRECOMPUTED = "neuroglancerPrecomputed"
VOXEL = (11.24, 11.24, 25.0)
HOSTILE = '<script>alert("pwned")</script> & <b>'


def text_of(fragment: str) -> str:
    """The visible text of an HTML fragment: tags dropped, the entities we use decoded."""
    text = re.sub(r"<[^>]+>", " ", fragment)
    for entity, char in (("&times;", "x"), ("&lt;", "<"), ("&gt;", ">"), ("&quot;", '"')):
        text = text.replace(entity, char)
    return re.sub(r"\s+", " ", text.replace("&amp;", "&"))


def files_total(folder: Path) -> int:
    """Sum of the sizes of the visible regular files below `folder`, computed independently."""
    total = 0
    for root, dirs, files in os.walk(folder):
        dirs[:] = [d for d in dirs if not d.startswith(".")]
        total += sum(
            (Path(root) / f).stat().st_size
            for f in files
            if not f.startswith(".") and not (Path(root) / f).is_symlink()
        )
    return total


def test_dataset_table_lists_layers_dtypes_mags_and_boxes(sample_dataset: Dataset) -> None:
    fragment = sample_dataset._repr_html_()  # type: ignore[attr-defined]
    assert fragment == dataset_html(sample_dataset)
    text = text_of(fragment)
    assert "Dataset sample" in text
    assert "11.24 x 11.24 x 25 nm" in text
    for expected in (
        "color",
        "segmentation",
        "uint8",
        "uint32",
        "wkw",
        "1, 2-2-1",
        "(32, 16, 8) + (64, 48, 16)",
    ):
        assert expected in text, expected
    largest = sample_dataset.get_segmentation_layer("segmentation").largest_segment_id
    assert f" {largest} " in text
    for layer in sample_dataset.layers.values():
        size = layer_disk_size(layer)
        assert size == files_total(layer.path) > 0
        assert format_bytes(size) in text
    total = sum(files_total(layer.path) for layer in sample_dataset.layers.values())
    assert f"on disk {format_bytes(total)}" in text


def test_hostile_dataset_name_and_path_are_escaped(tmp_path: Path) -> None:
    dataset = Dataset(tmp_path / "<img src=x onerror=alert(1)>", voxel_size=(1, 1, 1))
    dataset.name = HOSTILE
    dataset.add_layer("color", "color").add_mag(1).write(np.ones((4, 4, 4), dtype=np.uint8))
    for fragment in (
        dataset_html(dataset),
        layer_html(dataset.get_layer("color")),
        view_html(dataset.get_layer("color").get_mag(1)),
    ):
        assert "<script" not in fragment and "<img" not in fragment
    fragment = dataset_html(dataset)
    assert "&lt;script&gt;alert(&quot;pwned&quot;)&lt;/script&gt; &amp; &lt;b&gt;" in fragment
    assert "&lt;img src=x onerror=alert(1)&gt;" in fragment
    assert HOSTILE in text_of(fragment)


def test_layer_table_has_one_row_per_mag(sample_dataset: Dataset) -> None:
    layer = sample_dataset.get_layer("segmentation")
    fragment = layer._repr_html_()  # type: ignore[attr-defined]
    assert fragment == layer_html(layer)
    text = text_of(fragment)
    assert "SegmentationLayer segmentation" in text
    assert f"largest segment id {layer.largest_segment_id}" in text  # type: ignore[attr-defined]
    assert "(32, 16, 8) + (64, 48, 16)" in text  # mag 1 and the layer box
    assert "(16, 8, 8) + (32, 24, 16)" in text  # mag 2-2-1 in its own voxel grid
    assert "(32, 32, 32)" in text and "(128, 128, 128)" in text  # chunk, shard
    assert fragment.count("<tr>") >= 2 + 2  # header rows + one per mag
    color = text_of(layer_html(sample_dataset.get_layer("color")))
    assert "Layer color" in color and "largest segment id" not in color


def test_multi_channel_dtype(tmp_path: Path) -> None:
    dataset = Dataset(tmp_path / "rgb", voxel_size=(1, 1, 1))
    dataset.add_layer("rgb", "color", dtype="uint16", num_channels=3)
    text = text_of(dataset_html(dataset))
    assert "3 x uint16" in text
    assert "No mags yet" in text_of(layer_html(dataset.get_layer("rgb")))


def test_empty_dataset(tmp_path: Path) -> None:
    text = text_of(dataset_html(Dataset(tmp_path / "empty", voxel_size=(4, 4, 40))))
    assert "No layers yet" in text and "4 x 4 x 40 nm" in text


def test_view_tables(sample_dataset: Dataset) -> None:
    mag = sample_dataset.get_layer("color").get_mag("2-2-1")
    fragment = mag._repr_html_()  # type: ignore[attr-defined]
    assert fragment == view_html(mag)
    text = text_of(fragment)
    assert "MagView color / 2-2-1" in text and "layer color" in text and "mag 2-2-1" in text
    assert "bounding box (mag 1) (32, 16, 8) + (64, 48, 16)" in text
    assert "bounding box (mag voxels) (16, 8, 8) + (32, 24, 16)" in text
    assert "uint8" in text and "wkw" in text and "read-only no" in text
    sub = (
        sample_dataset.get_layer("color")
        .get_mag(1)
        .get_view(absolute_offset=(40, 20, 10), size=(8, 8, 4), read_only=True)
    )
    text = text_of(sub._repr_html_())  # type: ignore[attr-defined]
    assert text.startswith(" View ") and "(40, 20, 10) + (8, 8, 4)" in text
    assert "read-only yes" in text


def test_broken_mag_is_reported_not_raised(sample_dataset: Dataset) -> None:
    layer = sample_dataset.get_layer("color")
    shutil.rmtree(layer.path / "2-2-1")
    reopened = Dataset.open(sample_dataset.path).get_layer("color")
    assert "unavailable" in layer_html(reopened)
    assert "unavailable" in view_html(reopened.get_mag("2-2-1"))
    assert "color" in text_of(dataset_html(reopened.dataset))


def test_bbox_and_mag_tables() -> None:
    box = BoundingBox((1, 2, 3), (10, 20, 30))
    assert box._repr_html_() == bbox_html(box)  # type: ignore[attr-defined]
    text = text_of(bbox_html(box))
    assert "topleft (1, 2, 3)" in text and "size (10, 20, 30)" in text
    assert "bottomright (11, 22, 33)" in text and "6,000 voxels" in text
    mag = Mag("2-2-1")
    assert mag._repr_html_() == mag_html(mag)  # type: ignore[attr-defined]
    text = text_of(mag_html(mag))
    assert "Mag 2-2-1" in text and "(2, 2, 1)" in text and "4 mag-1 voxels" in text


def test_format_bytes() -> None:
    assert format_bytes(0) == "0 B"
    assert format_bytes(1023) == "1023 B"
    assert format_bytes(1536) == "1.5 KiB"
    assert format_bytes(5 * 2**20) == "5.0 MiB"
    assert format_bytes(3 * 2**40) == "3.0 TiB"


def test_precomputed_and_bare_folders(sample_dataset: Dataset, tmp_path: Path) -> None:
    converted = Dataset(tmp_path / "converted", voxel_size=VOXEL)
    layer = converted.add_layer_as_copy(
        sample_dataset.get_layer("segmentation"), data_format=PRECOMPUTED
    )
    text = text_of(dataset_html(converted))
    assert PRECOMPUTED in text and "1, 2-2-1" in text
    assert layer_disk_size(layer) == files_total(layer.path) > 0
    bare = Dataset.open(layer.path)  # the layer folder alone: an `info` and the scales
    (bare_layer,) = bare.layers.values()
    assert layer_disk_size(bare_layer) == files_total(layer.path)
    assert format_bytes(files_total(layer.path)) in text_of(dataset_html(bare))


@pytest.fixture
def served_folder(tmp_path: Path) -> Iterator[tuple[Path, str]]:
    """A folder served over HTTP on the loopback interface: (folder, base URL)."""
    root = tmp_path / "www"
    root.mkdir()

    class Quiet(http.server.SimpleHTTPRequestHandler):
        def log_message(self, format: str, *args: object) -> None:
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), partial(Quiet, directory=root))
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield root, f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)


def test_url_dataset_has_no_disk_size(
    sample_dataset: Dataset, served_folder: tuple[Path, str], monkeypatch: pytest.MonkeyPatch
) -> None:
    for variable in ("http_proxy", "HTTP_PROXY", "all_proxy", "ALL_PROXY"):
        monkeypatch.delenv(variable, raising=False)
    root, url = served_folder
    converted = Dataset(root / "converted", voxel_size=VOXEL)
    converted.add_layer_as_copy(sample_dataset.get_layer("color"), data_format=PRECOMPUTED)
    remote = Dataset.open(f"{url}/converted/color")
    (layer,) = remote.layers.values()
    assert layer_disk_size(layer) is None
    text = text_of(dataset_html(remote))
    assert url in text and "uint8" in text and "1, 2-2-1" in text
    assert "on disk — " in text
    assert re.search(r"\d (B|KiB|MiB|GiB)\b", text) is None
    assert "path" not in text_of(view_html(layer.get_mag(1)))


def test_counting_stops_on_huge_layers(
    sample_dataset: Dataset, monkeypatch: pytest.MonkeyPatch
) -> None:
    import webknossos_like.notebook.html as html_module

    monkeypatch.setattr(html_module, "MAX_FILES_COUNTED", 1)
    text = text_of(dataset_html(sample_dataset))
    assert "stopped counting at 1 files" in text and "on disk > " in text
    assert layer_disk_size(sample_dataset.get_layer("color")) == files_total(
        sample_dataset.get_layer("color").path
    )  # the exact function never stops early
