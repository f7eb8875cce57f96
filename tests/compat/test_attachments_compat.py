"""Attachments written by webknossos 4.3.3 read in ours, and ours read in webknossos (no mocks)."""

from __future__ import annotations

import json
import warnings
from pathlib import Path
from typing import Any

import numpy as np
import pytest

import webknossos_like as wl

with warnings.catch_warnings():
    warnings.simplefilter("ignore")
    wk = pytest.importorskip("webknossos")
    from webknossos.dataset_properties.data_format import AttachmentDataFormat as WkFormat

pytestmark = [
    pytest.mark.filterwarnings("ignore::UserWarning:webknossos.*"),
    pytest.mark.filterwarnings("ignore::DeprecationWarning"),
]


def _files(root: Path) -> dict[str, Path]:
    """Attachment files: some in the layer folder, one outside the dataset."""
    made = {
        "mesh": root / "seg" / "meshes" / "meshfile.hdf5",
        "agg": root / "seg" / "agglomerates" / "agg",
        "index": root / "seg" / "segmentIndex" / "index.hdf5",
        "stats": root / "seg" / "segmentStatistics" / "stats",
        "conn": root.parent / "outside" / "conn.hdf5",
        "cumsum": root / "seg" / "cumsum.json",
    }
    for key, path in made.items():
        if key in ("agg", "stats"):
            path.mkdir(parents=True, exist_ok=True)
            (path / "zarr.json").write_text("{}")
        else:
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_bytes(key.encode())
    return made


def _summary(attachments: Any) -> list[tuple[str, str, str, str]]:
    """(kind, name, absolute path, format) of every attachment, whichever library."""
    return [
        (type(a).__name__, a.name, Path(str(a.path)).resolve().as_posix(), str(a.data_format))
        for a in attachments
    ]


def _wk_dataset_with_attachments(path: Path) -> tuple[Any, dict[str, Path]]:
    ds = wk.Dataset(path, voxel_size=(1, 1, 1))
    seg = ds.add_layer("seg", "segmentation", dtype_per_channel="uint32", largest_segment_id=0)
    seg.add_mag(1)  # no voxels: a write through webknossos costs seconds here
    files = _files(path)
    seg.attachments.add_mesh(files["mesh"], name="meshfile", data_format=WkFormat.HDF5)
    seg.attachments.add_agglomerate(files["agg"], name="agg", data_format=WkFormat.Zarr3)
    seg.attachments.set_segment_index(files["index"], name="index", data_format=WkFormat.HDF5)
    seg.attachments.add_attachment_as_ref(
        wk.SegmentStatisticsAttachment.from_path_and_name(
            files["stats"], "stats", data_format=WkFormat.Zarr3
        )
    )
    seg.attachments.add_connectome(files["conn"], name="conn", data_format=WkFormat.HDF5)
    seg.attachments.set_cumsum(files["cumsum"], name="cumsum", data_format=WkFormat.JSON)
    return ds, files


def test_webknossos_attachments_open_in_ours(tmp_path: Path) -> None:
    theirs, _ = _wk_dataset_with_attachments(tmp_path / "wk")
    expected = _summary(theirs.get_segmentation_layer("seg").attachments)
    assert len(expected) == 6
    ours = wl.Dataset.open(tmp_path / "wk").get_segmentation_layer("seg")
    assert _summary(ours.attachments) == expected
    assert ours.attachments.meshes[0].data_format is wl.AttachmentDataFormat.HDF5


def test_copies_of_webknossos_datasets_keep_attachments(tmp_path: Path) -> None:
    """The motivating bug: our copies dropped the attachments of webknossos' datasets."""
    _wk_dataset_with_attachments(tmp_path / "wk")
    ours = wl.Dataset.open(tmp_path / "wk")
    ours.copy_dataset(tmp_path / "copy")
    ours.shallow_copy_dataset(tmp_path / "shallow")
    copied = wk.Dataset.open(tmp_path / "copy").get_segmentation_layer("seg").attachments
    names = [(type(a).__name__, a.name) for a in copied]
    assert names == [
        ("MeshAttachment", "meshfile"),
        ("AgglomerateAttachment", "agg"),
        ("SegmentIndexAttachment", "index"),
        ("SegmentStatisticsAttachment", "stats"),
        ("CumsumAttachment", "cumsum"),
        ("ConnectomeAttachment", "conn"),
    ]
    copy_root = (tmp_path / "copy").resolve()
    assert Path(str(copied.meshes[0].path)) == copy_root / "seg" / "meshes" / "meshfile.hdf5"
    assert Path(str(copied.meshes[0].path)).read_bytes() == b"mesh"
    assert Path(str(copied.cumsum.path)) == copy_root / "seg" / "cumsum" / "cumsum.json"
    assert Path(str(copied.connectomes[0].path)) == (tmp_path / "outside" / "conn.hdf5").resolve()
    shallow = wk.Dataset.open(tmp_path / "shallow").get_segmentation_layer("seg").attachments
    assert _summary(shallow) == _summary(
        wk.Dataset.open(tmp_path / "wk").get_segmentation_layer("seg").attachments
    )


def test_our_attachments_open_in_webknossos(tmp_path: Path) -> None:
    ds = wl.Dataset(tmp_path / "ours", voxel_size=(1, 1, 1))
    seg = ds.add_layer("seg", "segmentation", dtype=np.uint32)
    assert isinstance(seg, wl.SegmentationLayer)
    seg.add_mag(1).write(np.ones((8, 8, 8), dtype=np.uint32), absolute_offset=(0, 0, 0))
    files = _files(tmp_path / "ours")
    seg.attachments.add_mesh(files["mesh"], name="meshfile", data_format="hdf5")
    seg.attachments.add_agglomerate(files["agg"], name="agg", data_format="zarr3")
    seg.attachments.add_segment_index(files["index"], name="index", data_format="hdf5")
    seg.attachments.add_segment_statistics(files["stats"], name="stats", data_format="zarr3")
    seg.attachments.add_connectome(files["conn"], name="conn", data_format="hdf5")
    seg.attachments.add_cumsum(files["cumsum"], name="cumsum", data_format="json")
    theirs = wk.Dataset.open(tmp_path / "ours").get_segmentation_layer("seg")
    assert _summary(theirs.attachments) == _summary(seg.attachments)
    # webknossos can change them and we read its change.
    theirs.attachments.delete_attachment(theirs.attachments.meshes[0])
    reopened = wl.Dataset.open(tmp_path / "ours").get_segmentation_layer("seg")
    assert reopened.attachments.meshes == ()
    assert len(list(reopened.attachments)) == 5


def test_same_json_as_webknossos(tmp_path: Path) -> None:
    """Both libraries store the same `attachments` object for the same calls."""
    raw = {}
    for lib in (wk, wl):
        root = tmp_path / lib.__name__
        ds = lib.Dataset(root, voxel_size=(1, 1, 1))
        kwargs = {"dtype_per_channel": "uint32"} if lib is wk else {"dtype": "uint32"}
        seg = ds.add_layer("seg", "segmentation", largest_segment_id=0, **kwargs)
        files = _files(root)
        fmt = WkFormat if lib is wk else wl.AttachmentDataFormat
        seg.attachments.add_mesh(files["mesh"], name="meshfile", data_format=fmt.HDF5)
        seg.attachments.add_connectome(files["conn"], name="conn", data_format=fmt.HDF5)
        seg.attachments.set_cumsum(files["cumsum"], name="cumsum", data_format=fmt.JSON)
        props = json.loads((root / "datasource-properties.json").read_text())
        raw[lib] = props["dataLayers"][0]["attachments"]
    assert raw[wl] == raw[wk]


def test_webknossos_attachment_objects_are_accepted(tmp_path: Path) -> None:
    theirs, files = _wk_dataset_with_attachments(tmp_path / "wk")
    ds = wl.Dataset(tmp_path / "ours", voxel_size=(1, 1, 1))
    seg = ds.add_layer("seg", "segmentation", dtype=np.uint32)
    assert isinstance(seg, wl.SegmentationLayer)
    wk_attachments = theirs.get_segmentation_layer("seg").attachments
    seg.attachments.add_attachment_as_copy(wk_attachments.meshes[0])
    seg.attachments.add_attachment_as_ref(wk_attachments.connectomes[0])
    assert (tmp_path / "ours" / "seg" / "meshes" / "meshfile.hdf5").read_bytes() == b"mesh"
    assert seg.attachments.connectomes[0].path == files["conn"].absolute()


def test_relative_references_open_in_webknossos(tmp_path: Path) -> None:
    theirs, _ = _wk_dataset_with_attachments(tmp_path / "wk")
    source = wl.Dataset.open(tmp_path / "wk").get_segmentation_layer("seg")
    wl.Dataset(tmp_path / "ref", voxel_size=(1, 1, 1)).add_layer_as_ref(source, make_relative=True)
    ref = wk.Dataset.open(tmp_path / "ref").get_segmentation_layer("seg")
    assert _summary(ref.attachments) == _summary(theirs.get_segmentation_layer("seg").attachments)
