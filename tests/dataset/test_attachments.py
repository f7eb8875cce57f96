"""Segmentation-layer attachments: the JSON form, write-through, copies, errors."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
import pytest

import webknossos_like as wkl
from webknossos_like import (
    AgglomerateAttachment,
    AttachmentDataFormat,
    ConnectomeAttachment,
    CumsumAttachment,
    Dataset,
    MeshAttachment,
    SegmentationLayer,
    SegmentIndexAttachment,
    SegmentStatisticsAttachment,
)
from webknossos_like.errors import (
    AttachmentExistsError,
    AttachmentFileNotFoundError,
    AttachmentNotFoundError,
    InvalidNameError,
    InvalidPropertiesError,
    ReadOnlyError,
    UnsupportedFormatError,
    WebknossosLikeError,
)

try:  # the moto S3 server fixtures; without moto the object-storage tests skip
    from tests.s3.conftest import bucket, s3_endpoint, s3_env  # noqa: F401
except (ImportError, pytest.skip.Exception):

    @pytest.fixture
    def bucket() -> str:
        """Stands in for the S3 fixture when moto is not installed."""
        pytest.skip("moto is not installed")


def _seg(dataset: Dataset) -> SegmentationLayer:
    layer = dataset.add_layer("seg", "segmentation", dtype=np.uint32)
    assert isinstance(layer, SegmentationLayer)
    layer.add_mag(1).write(
        np.arange(8**3, dtype=np.uint32).reshape(8, 8, 8), absolute_offset=(0, 0, 0)
    )
    return layer


def _file(path: Path, content: bytes = b"x") -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(content)
    return path


def _folder(path: Path) -> Path:
    path.mkdir(parents=True, exist_ok=True)
    (path / "zarr.json").write_text("{}")
    (path / "sub").mkdir(exist_ok=True)
    (path / "sub" / "chunk").write_bytes(b"\x00\x01")
    return path


def _raw(dataset_path: Path, layer: str = "seg") -> Any:
    props = json.loads((dataset_path / "datasource-properties.json").read_text())
    return next(entry for entry in props["dataLayers"] if entry["name"] == layer).get("attachments")


def test_empty_layer_has_no_attachments(dataset: Dataset) -> None:
    seg = _seg(dataset)
    assert seg.attachments.is_empty
    assert list(seg.attachments) == []
    assert seg.attachments.meshes == ()
    assert seg.attachments.segment_index is None


def test_every_kind_round_trips_through_the_json(dataset: Dataset, tmp_path: Path) -> None:
    seg = _seg(dataset)
    inside = dataset.path / "seg"
    mesh = _file(inside / "meshes" / "m.hdf5")
    agg = _folder(inside / "agglomerates" / "a")
    conn = _file(tmp_path / "outside" / "c.hdf5")
    index = _file(inside / "segmentIndex" / "i.hdf5")
    stats = _folder(inside / "segmentStatistics" / "s")
    cumsum = _file(inside / "cumsum" / "cs.json", b"{}")

    seg.attachments.add_mesh(mesh, name="m", data_format=AttachmentDataFormat.HDF5)
    seg.attachments.add_agglomerate(agg, name="a", data_format="zarr3")
    seg.attachments.add_connectome(conn, name="c", data_format=AttachmentDataFormat.HDF5)
    seg.attachments.add_segment_index(index, name="i", data_format=AttachmentDataFormat.HDF5)
    seg.attachments.add_segment_statistics(stats, name="s", data_format=AttachmentDataFormat.Zarr3)
    seg.attachments.add_cumsum(cumsum, name="cs", data_format=AttachmentDataFormat.JSON)

    assert _raw(dataset.path) == {
        "meshes": [{"name": "m", "path": "./seg/meshes/m.hdf5", "dataFormat": "hdf5"}],
        "agglomerates": [{"name": "a", "path": "./seg/agglomerates/a", "dataFormat": "zarr3"}],
        "connectomes": [{"name": "c", "path": conn.absolute().as_posix(), "dataFormat": "hdf5"}],
        "segmentIndex": {"name": "i", "path": "./seg/segmentIndex/i.hdf5", "dataFormat": "hdf5"},
        "segmentStatistics": {
            "name": "s",
            "path": "./seg/segmentStatistics/s",
            "dataFormat": "zarr3",
        },
        "cumsum": {"name": "cs", "path": "./seg/cumsum/cs.json", "dataFormat": "json"},
    }
    reopened = Dataset.open(dataset.path).get_segmentation_layer("seg").attachments
    assert reopened.meshes == (MeshAttachment("m", mesh.absolute(), AttachmentDataFormat.HDF5),)
    assert reopened.agglomerates[0].path == agg.absolute()
    assert reopened.agglomerates[0].data_format is AttachmentDataFormat.Zarr3
    assert reopened.connectomes == (ConnectomeAttachment("c", conn.absolute(), "hdf5"),)
    assert reopened.segment_index == SegmentIndexAttachment("i", index.absolute(), "hdf5")
    assert reopened.segment_statistics == SegmentStatisticsAttachment(
        "s", stats.absolute(), "zarr3"
    )
    assert reopened.cumsum == CumsumAttachment("cs", cumsum.absolute(), "json")
    kinds = [type(a) for a in reopened]
    assert kinds == [
        MeshAttachment,
        AgglomerateAttachment,
        SegmentIndexAttachment,
        SegmentStatisticsAttachment,
        CumsumAttachment,
        ConnectomeAttachment,
    ]
    assert not reopened.is_empty and len(list(reopened)) == 6


def test_relative_paths_resolve_against_the_dataset_folder(dataset: Dataset) -> None:
    seg = _seg(dataset)
    _file(dataset.path / "seg" / "meshes" / "m.hdf5")
    seg.attachments.add_mesh("seg/meshes/m.hdf5", name="m", data_format="hdf5")
    (mesh,) = Dataset.open(dataset.path).get_segmentation_layer("seg").attachments.meshes
    assert mesh.path == (dataset.path / "seg" / "meshes" / "m.hdf5").absolute()


def test_changes_are_written_through_and_merge_with_other_writers(dataset: Dataset) -> None:
    seg = _seg(dataset)
    other = Dataset.open(dataset.path).get_segmentation_layer("seg")
    _file(dataset.path / "a.hdf5")
    _file(dataset.path / "b.hdf5")
    seg.attachments.add_mesh(dataset.path / "a.hdf5", name="a", data_format="hdf5")
    other.attachments.add_mesh(dataset.path / "b.hdf5", name="b", data_format="hdf5")
    names = [m.name for m in Dataset.open(dataset.path).get_segmentation_layer("seg").attachments]
    assert names == ["a", "b"]


def test_rename_and_delete(dataset: Dataset) -> None:
    seg = _seg(dataset)
    mesh = seg.attachments.add_mesh(_file(dataset.path / "m.hdf5"), name="m", data_format="hdf5")
    index = seg.attachments.add_segment_index(
        _file(dataset.path / "i.hdf5"), name="i", data_format="hdf5"
    )
    renamed = seg.attachments.rename_attachment(mesh, new_name="m2")
    assert renamed.name == "m2" and renamed.path == mesh.path
    assert [
        m.name for m in Dataset.open(dataset.path).get_segmentation_layer("seg").attachments.meshes
    ] == ["m2"]
    seg.attachments.delete_attachment(renamed)
    seg.attachments.delete_attachment(index)
    assert seg.attachments.is_empty
    assert (dataset.path / "m.hdf5").exists()  # the files stay, as in webknossos
    assert _raw(dataset.path) == {}
    with pytest.raises(AttachmentNotFoundError):
        seg.attachments.delete_attachment(renamed)
    with pytest.raises(KeyError):
        seg.attachments.rename_attachment(index, new_name="j")


def test_set_replaces_the_singleton_add_refuses_it(dataset: Dataset) -> None:
    seg = _seg(dataset)
    one, two = _file(dataset.path / "1.json"), _file(dataset.path / "2.json")
    seg.attachments.add_cumsum(one, name="one", data_format="json")
    with pytest.raises(AttachmentExistsError):
        seg.attachments.add_cumsum(two, name="two", data_format="json")
    with pytest.raises(ValueError):
        seg.attachments.add_attachment_as_ref(CumsumAttachment("two", two, "json"))
    seg.attachments.set_cumsum(two, name="two", data_format="json")
    cumsum = seg.attachments.cumsum
    assert cumsum is not None and cumsum.name == "two"


def test_bad_input_raises_our_errors(dataset: Dataset, tmp_path: Path) -> None:
    seg = _seg(dataset)
    mesh = _file(dataset.path / "m.hdf5")
    with pytest.raises(UnsupportedFormatError):
        seg.attachments.add_mesh(mesh, name="m", data_format="obj")
    with pytest.raises(ValueError):  # statistics are Zarr v3 only
        seg.attachments.add_segment_statistics(mesh, name="s", data_format="hdf5")
    with pytest.raises(InvalidNameError):
        seg.attachments.add_mesh(mesh, name="../up", data_format="hdf5")
    seg.attachments.add_mesh(mesh, name="m", data_format="hdf5")
    with pytest.raises(AttachmentExistsError):
        seg.attachments.add_mesh(mesh, name="m", data_format="hdf5")
    missing = MeshAttachment("gone", tmp_path / "nope.hdf5", "hdf5")
    with pytest.raises(AttachmentFileNotFoundError) as info:
        seg.attachments.add_attachment_as_copy(missing)
    assert isinstance(info.value, FileNotFoundError)
    assert isinstance(info.value, WebknossosLikeError)
    assert [a.name for a in seg.attachments] == ["m"]


def test_read_only_refuses_changes(dataset: Dataset) -> None:
    seg = _seg(dataset)
    mesh = _file(dataset.path / "m.hdf5")
    read_only = Dataset.open(dataset.path, read_only=True).get_segmentation_layer("seg")
    with pytest.raises(ReadOnlyError):
        read_only.attachments.add_mesh(mesh, name="m", data_format="hdf5")
    assert seg.attachments.is_empty


def test_malformed_json_names_the_place(dataset: Dataset) -> None:
    _seg(dataset)
    file = dataset.path / "datasource-properties.json"
    props = json.loads(file.read_text())
    props["dataLayers"][0]["attachments"] = {"meshes": [{"name": "m", "path": "./x"}]}
    file.write_text(json.dumps(props))
    layer = Dataset.open(dataset.path).get_segmentation_layer("seg")
    with pytest.raises(InvalidPropertiesError, match=r"attachments\.meshes\[0\]"):
        list(layer.attachments)


def test_unknown_attachment_keys_survive_changes(dataset: Dataset) -> None:
    _seg(dataset)
    file = dataset.path / "datasource-properties.json"
    props = json.loads(file.read_text())
    props["dataLayers"][0]["attachments"] = {"futureKind": [{"name": "f", "path": "./f"}]}
    file.write_text(json.dumps(props))
    layer = Dataset.open(dataset.path).get_segmentation_layer("seg")
    layer.attachments.add_mesh(_file(dataset.path / "m.hdf5"), name="m", data_format="hdf5")
    assert _raw(dataset.path)["futureKind"] == [{"name": "f", "path": "./f"}]


def test_add_attachment_as_copy_puts_it_where_webknossos_does(
    dataset: Dataset, tmp_path: Path
) -> None:
    seg = _seg(dataset)
    mesh = MeshAttachment("m", _file(tmp_path / "elsewhere" / "mesh.h5", b"mesh"), "hdf5")
    agg = AgglomerateAttachment("a", _folder(tmp_path / "elsewhere" / "agg"), "zarr3")
    index = SegmentIndexAttachment("i", _folder(tmp_path / "elsewhere" / "idx"), "zarr3")
    new_mesh = seg.attachments.add_attachment_as_copy(mesh)
    new_agg = seg.attachments.add_attachment_as_copy(agg)
    new_index = seg.attachments.add_attachment_as_copy(index)
    layer_path = (dataset.path / "seg").absolute()
    assert new_mesh.path == layer_path / "meshes" / "m.hdf5"
    assert new_agg.path == layer_path / "agglomerates" / "a"
    assert new_index.path == layer_path / "segmentIndex" / "i"
    assert (layer_path / "meshes" / "m.hdf5").read_bytes() == b"mesh"
    assert (layer_path / "agglomerates" / "a" / "sub" / "chunk").read_bytes() == b"\x00\x01"
    assert _raw(dataset.path)["agglomerates"][0]["path"] == "./seg/agglomerates/a"
    assert not [p for p in layer_path.rglob("*") if p.name.startswith(".wkl-tmp-")]


def test_add_attachment_as_ref_keeps_the_path(dataset: Dataset, tmp_path: Path) -> None:
    seg = _seg(dataset)
    conn = ConnectomeAttachment("c", _file(tmp_path / "c.hdf5"), "hdf5")
    ref = seg.attachments.add_attachment_as_ref(conn, new_name="c2")
    assert ref.name == "c2" and ref.path == conn.path
    assert _raw(dataset.path)["connectomes"][0]["path"] == (tmp_path / "c.hdf5").as_posix()


def _with_attachments(dataset: Dataset, tmp_path: Path) -> SegmentationLayer:
    """A layer with an attachment inside the layer, one elsewhere in the dataset, one outside."""
    seg = _seg(dataset)
    seg.attachments.add_mesh(
        _file(dataset.path / "seg" / "meshes" / "m.hdf5", b"mesh"), name="m", data_format="hdf5"
    )
    seg.attachments.add_agglomerate(
        _folder(dataset.path / "shared" / "agg"), name="a", data_format="zarr3"
    )
    seg.attachments.add_connectome(
        _file(tmp_path / "outside" / "c.hdf5"), name="c", data_format="hdf5"
    )
    return seg


def _assert_copied(target: Path, outside: Path) -> None:
    raw = _raw(target)
    assert raw["meshes"] == [{"name": "m", "path": "./seg/meshes/m.hdf5", "dataFormat": "hdf5"}]
    assert raw["agglomerates"] == [
        {"name": "a", "path": "./seg/agglomerates/a", "dataFormat": "zarr3"}
    ]
    assert raw["connectomes"] == [
        {"name": "c", "path": outside.absolute().as_posix(), "dataFormat": "hdf5"}
    ]
    assert (target / "seg" / "meshes" / "m.hdf5").read_bytes() == b"mesh"
    assert (target / "seg" / "agglomerates" / "a" / "sub" / "chunk").exists()


def test_copy_dataset_keeps_attachments(dataset: Dataset, tmp_path: Path) -> None:
    _with_attachments(dataset, tmp_path)
    copy = dataset.copy_dataset(tmp_path / "copy", data_format="wkw")
    _assert_copied(copy.path, tmp_path / "outside" / "c.hdf5")
    seg = Dataset.open(copy.path).get_segmentation_layer("seg")
    assert [a.name for a in seg.attachments] == ["m", "a", "c"]
    assert seg.attachments.meshes[0].path == (copy.path / "seg" / "meshes" / "m.hdf5").absolute()


def test_copy_dataset_resumed_adds_missing_attachments(dataset: Dataset, tmp_path: Path) -> None:
    _with_attachments(dataset, tmp_path)
    copy = dataset.copy_dataset(tmp_path / "copy")
    target = copy.get_segmentation_layer("seg")
    target.attachments.delete_attachment(target.attachments.meshes[0])
    dataset.copy_dataset(tmp_path / "copy", exist_ok=True)
    _assert_copied(copy.path, tmp_path / "outside" / "c.hdf5")


def test_add_layer_as_copy_keeps_attachments(dataset: Dataset, tmp_path: Path) -> None:
    seg = _with_attachments(dataset, tmp_path)
    other = Dataset(tmp_path / "other", voxel_size=(1, 1, 1))
    other.add_layer_as_copy(seg)
    _assert_copied(other.path, tmp_path / "outside" / "c.hdf5")
    renamed = other.add_layer_as_copy(seg, "seg2")
    assert isinstance(renamed, SegmentationLayer)
    assert (
        renamed.attachments.meshes[0].path == (other.path / "seg2" / "meshes" / "m.hdf5").absolute()
    )


def test_refs_and_shallow_copies_reference_attachments(dataset: Dataset, tmp_path: Path) -> None:
    seg = _with_attachments(dataset, tmp_path)
    expected = [(type(a), a.name, a.path) for a in seg.attachments]
    shallow = dataset.shallow_copy_dataset(tmp_path / "shallow")
    ref = Dataset(tmp_path / "ref", voxel_size=(1, 1, 1)).add_layer_as_ref(seg)
    for layer in (shallow.get_segmentation_layer("seg"), ref):
        assert isinstance(layer, SegmentationLayer)
        assert [(type(a), a.name, a.path) for a in layer.attachments] == expected
    assert not (tmp_path / "shallow" / "seg" / "meshes").exists()


def test_layer_rename_moves_attachment_paths(dataset: Dataset, tmp_path: Path) -> None:
    seg = _with_attachments(dataset, tmp_path)
    seg.name = "renamed"
    mesh = Dataset.open(dataset.path).get_segmentation_layer("renamed").attachments.meshes[0]
    assert mesh.path == (dataset.path / "renamed" / "meshes" / "m.hdf5").absolute()
    assert mesh.path.exists()
    assert _raw(dataset.path, "renamed")["meshes"][0]["path"] == "./renamed/meshes/m.hdf5"


def test_public_names() -> None:
    assert str(wkl.AttachmentDataFormat.NeuroglancerPrecomputed) == "neuroglancerPrecomputed"
    assert wkl.AttachmentDataFormat("hdf5") == "hdf5"
    assert issubclass(wkl.MeshAttachment, wkl.Attachment)
    assert wkl.Attachments.__name__ == "Attachments"


def test_detect_legacy_attachments(dataset: Dataset) -> None:
    seg = _seg(dataset)
    layer_path = dataset.path / "seg"
    _file(layer_path / "meshes" / "old_mesh.hdf5")
    _file(layer_path / "agglomerates" / "agglomerate_view_5.hdf5")
    _file(layer_path / "agglomerates" / "cumsum.json", b"{}")
    _file(layer_path / "segmentIndex" / "index.hdf5")
    _file(layer_path / "connectomes" / "not_hdf5.txt")
    seg.attachments.detect_legacy_attachments()
    seg.attachments.detect_legacy_attachments()  # already listed: nothing twice
    assert [(type(a).__name__, a.name, a.data_format.value) for a in seg.attachments] == [
        ("MeshAttachment", "old_mesh", "hdf5"),
        ("AgglomerateAttachment", "agglomerate_view_5", "hdf5"),
        ("SegmentIndexAttachment", "index", "hdf5"),
        ("CumsumAttachment", "cumsum", "json"),
    ]
    assert _raw(dataset.path)["cumsum"]["path"] == "./seg/agglomerates/cumsum.json"


def test_deprecated_bulk_adders_warn(dataset: Dataset, tmp_path: Path) -> None:
    seg = _seg(dataset)
    mesh = MeshAttachment("m", _file(tmp_path / "m.hdf5"), "hdf5")
    conn = ConnectomeAttachment("c", _file(tmp_path / "c.hdf5"), "hdf5")
    with pytest.warns(DeprecationWarning, match="add_attachment_as_ref"):
        seg.attachments.add_attachments(conn)
    with pytest.warns(DeprecationWarning, match="add_attachment_as_copy"):
        seg.attachments.add_copy_attachments(mesh)
    assert seg.attachments.connectomes[0].path == tmp_path / "c.hdf5"
    assert seg.attachments.meshes[0].path == (dataset.path / "seg" / "meshes" / "m.hdf5").absolute()


def test_copy_with_a_missing_attachment_file_warns_and_keeps_it(
    dataset: Dataset, tmp_path: Path
) -> None:
    seg = _seg(dataset)
    gone = _file(dataset.path / "seg" / "meshes" / "gone.hdf5")
    seg.attachments.add_mesh(gone, name="gone", data_format="hdf5")
    gone.unlink()
    with pytest.warns(UserWarning, match="gone"):
        copy = dataset.copy_dataset(tmp_path / "copy")
    (mesh,) = copy.get_segmentation_layer("seg").attachments.meshes
    assert mesh.path == gone.absolute()


def test_copy_to_object_storage_references_attachments(
    dataset: Dataset,
    tmp_path: Path,
    bucket: str,
) -> None:
    """Attachment files are not uploaded: the S3 copy lists them by their local paths."""
    seg = _with_attachments(dataset, tmp_path)
    expected = [(type(a), a.name, a.path) for a in seg.attachments]
    with pytest.warns(UserWarning, match="object storage"):
        copy = dataset.copy_dataset(f"s3://{bucket}/ds", data_format="zarr3")
    layer = Dataset.open(f"s3://{bucket}/ds").get_segmentation_layer("seg")
    assert [(type(a), a.name, a.path) for a in layer.attachments] == expected
    assert copy.get_segmentation_layer("seg").attachments.meshes[0].name == "m"


def test_relative_paths_of_object_storage_datasets_are_urls(
    bucket: str,
) -> None:
    remote = Dataset(f"s3://{bucket}/ds", voxel_size=(1, 1, 1))
    seg = remote.add_layer("seg", "segmentation", dtype=np.uint32, data_format="zarr3")
    assert isinstance(seg, SegmentationLayer)
    seg.attachments.add_mesh(f"s3://{bucket}/ds/seg/meshes/m.hdf5", name="m", data_format="hdf5")
    seg.attachments.add_cumsum("seg/cumsum.json", name="c", data_format="json")
    reopened = Dataset.open(f"s3://{bucket}/ds").get_segmentation_layer("seg").attachments
    assert reopened.meshes[0].path == f"s3://{bucket}/ds/seg/meshes/m.hdf5"
    cumsum = reopened.cumsum
    assert cumsum is not None and cumsum.path == f"s3://{bucket}/ds/seg/cumsum.json"


def test_wkl_convert_keeps_attachments(dataset: Dataset, tmp_path: Path) -> None:
    from webknossos_like.cli import main

    _with_attachments(dataset, tmp_path)
    target = tmp_path / "converted"
    assert main(["convert", str(dataset.path), str(target), "--format", "zarr3"]) == 0
    _assert_copied(target, tmp_path / "outside" / "c.hdf5")


def test_relative_references(dataset: Dataset, tmp_path: Path) -> None:
    seg = _with_attachments(dataset, tmp_path)
    expected = [(type(a), a.name, a.path) for a in seg.attachments]
    ref = Dataset(tmp_path / "ref", voxel_size=(1, 1, 1)).add_layer_as_ref(seg, make_relative=True)
    assert isinstance(ref, SegmentationLayer)
    assert _raw(tmp_path / "ref")["meshes"][0]["path"] == "../ds/seg/meshes/m.hdf5"
    assert _raw(tmp_path / "ref")["connectomes"][0]["path"] == "../outside/c.hdf5"
    reopened = Dataset.open(tmp_path / "ref").get_segmentation_layer("seg")
    assert [(type(a), a.name, a.path) for a in reopened.attachments] == expected
