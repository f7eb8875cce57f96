"""The same webknossos 4.x snippets run through `webknossos` 4.3.3 and through ours.

Each test runs one snippet with `lib` = the `webknossos` module and with `lib` = ours and
compares what comes out (values, exception classes users catch, warnings). Where we differ on
purpose (docs/migrating-from-webknossos.md) the test says so.
"""

from __future__ import annotations

import json
import warnings
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pytest

import webknossos_like as wl

with warnings.catch_warnings():
    # webknossos warns at import time about optional image readers that are not installed.
    warnings.simplefilter("ignore")
    wk = pytest.importorskip("webknossos")
    cluster_tools = pytest.importorskip("cluster_tools")

pytestmark = pytest.mark.filterwarnings("ignore::UserWarning:webknossos.*")

LIBS = pytest.mark.parametrize("lib", [wk, wl], ids=["webknossos", "ours"])


def executor(lib: Any) -> Any:
    """webknossos' default executor spawns processes; tests run it sequentially."""
    return cluster_tools.get_executor("sequential") if lib is wk else None


def both(tmp_path: Path, snippet: Callable[[Any, Path], Any]) -> tuple[Any, Any]:
    """`snippet(lib, path)` for webknossos and ours, each in its own folder."""
    return snippet(wk, tmp_path / "wk"), snippet(wl, tmp_path / "ours")


def tup(vec: Any) -> tuple[int, ...]:
    return tuple(int(v) for v in vec)


def box(b: Any) -> tuple[tuple[int, ...], tuple[int, ...]]:
    return tup(b.topleft), tup(b.size)


def mags(layer: Any) -> list[tuple[int, ...]]:
    return sorted(tup(m.to_list()) for m in layer.mags)


def wkw_layer(lib: Any, path: Path, **kwargs: Any) -> Any:
    """A 64^3 WKW color layer with mag 1 (chunk 32, shard 64) in a new dataset."""
    ds = lib.Dataset(path, (1, 1, 1))
    layer = ds.add_layer(
        "color",
        "color",
        data_format="wkw",
        bounding_box=lib.BoundingBox((0, 0, 0), (64, 64, 64)),
        **kwargs,
    )
    layer.add_mag(1, chunk_shape=32, shard_shape=64)
    return layer


DATA = np.arange(64**3, dtype=np.uint8).reshape((64, 64, 64))
# Constant 4^3 blocks: every interpolation mode downsamples it to mag 4 the same way.
BLOCKY = (
    np.arange(16**3, dtype=np.uint8).reshape((16, 16, 16)).repeat(4, 0).repeat(4, 1).repeat(4, 2)
)


# -- 1. write(allow_resize=, allow_unaligned=) ---------------------------------------------------


def test_write_allow_resize_false_raises_what_webknossos_raises(tmp_path: Path) -> None:
    def snippet(lib: Any, path: Path) -> Any:
        mag = wkw_layer(lib, path).get_mag(1)
        try:
            mag.write(np.ones((8, 8, 8), np.uint8), absolute_offset=(64, 0, 0), allow_resize=False)
        except ValueError as exc:  # what webknossos users catch
            caught = type(exc)
        return caught, box(mag.layer.bounding_box)

    (wk_exc, wk_box), (our_exc, our_box) = both(tmp_path, snippet)
    assert issubclass(wk_exc, ValueError) and issubclass(our_exc, ValueError)
    assert issubclass(our_exc, wl.errors.OutOfBoundsError)
    assert wk_box == our_box == ((0, 0, 0), (64, 64, 64))


def test_write_allow_resize_true_grows(tmp_path: Path) -> None:
    def snippet(lib: Any, path: Path) -> Any:
        mag = wkw_layer(lib, path).get_mag(1)
        mag.write(
            DATA[:8, :8, :8], absolute_offset=(64, 0, 0), allow_resize=True, allow_unaligned=True
        )
        view = mag.get_view(absolute_offset=(0, 0, 0), size=(32, 32, 32))
        view.write(DATA[:16, :16, :16], relative_offset=(8, 8, 8), allow_unaligned=True)
        return box(mag.layer.bounding_box), mag.read(absolute_offset=(0, 0, 0), size=(72, 64, 64))

    (wk_box, wk_data), (our_box, our_data) = both(tmp_path, snippet)
    assert wk_box == our_box == ((0, 0, 0), (72, 64, 64))
    np.testing.assert_array_equal(wk_data, our_data)


def test_write_without_allow_resize_differs_on_purpose(tmp_path: Path) -> None:
    """webknossos refuses by default; we grow the layer (documented difference)."""
    outside = {"absolute_offset": (64, 0, 0)}
    with pytest.raises(ValueError):
        wkw_layer(wk, tmp_path / "wk").get_mag(1).write(np.ones((8, 8, 8), np.uint8), **outside)
    layer = wkw_layer(wl, tmp_path / "ours")
    layer.get_mag(1).write(np.ones((8, 8, 8), np.uint8), **outside)
    assert box(layer.bounding_box) == ((0, 0, 0), (72, 64, 64))


# -- 2. deprecated arguments ------------------------------------------------------------------


def test_dtype_per_channel_warns_and_is_honoured(tmp_path: Path) -> None:
    def snippet(lib: Any, path: Path) -> Any:
        ds = lib.Dataset(path, (1, 1, 1))
        with pytest.warns(DeprecationWarning, match="dtype_per_channel"):
            layer = ds.add_layer("c", "color", dtype_per_channel="uint16", data_format="wkw")
        with pytest.warns(DeprecationWarning, match="dtype_per_channel"):
            same = ds.get_or_add_layer("c", "color", dtype_per_channel="uint16")
        return str(layer.dtype), str(same.dtype)

    assert both(tmp_path, snippet)[0] == both(tmp_path / "2", snippet)[1] == ("uint16", "uint16")


def test_chunks_per_shard_warns_and_is_honoured(tmp_path: Path) -> None:
    def snippet(lib: Any, path: Path) -> Any:
        ds = lib.Dataset(path, (1, 1, 1))
        layer = ds.add_layer("c", "color", data_format="wkw")
        with pytest.warns(DeprecationWarning, match="chunks_per_shard"):
            mag = layer.add_mag(1, chunk_shape=32, chunks_per_shard=2)
        with pytest.raises(ValueError), warnings.catch_warnings():
            warnings.simplefilter("ignore", DeprecationWarning)
            layer.add_mag(2, chunk_shape=32, shard_shape=64, chunks_per_shard=2)
        return tup(mag.info.chunk_shape), tup(mag.info.shard_shape)

    wk_result, our_result = both(tmp_path, snippet)
    assert wk_result == our_result == ((32, 32, 32), (64, 64, 64))


# -- 3. extra arguments ------------------------------------------------------------------------


def test_add_layer_accepts_chunk_and_shard_shape(tmp_path: Path) -> None:
    """Both accept them; webknossos ignores them, ours uses them as add_mag defaults."""

    def snippet(lib: Any, path: Path) -> Any:
        ds = lib.Dataset(path, (1, 1, 1))
        layer = ds.add_layer("c", "color", data_format="wkw", chunk_shape=16, shard_shape=64)
        return tup(layer.add_mag(1).info.shard_shape)

    wk_shard, our_shard = both(tmp_path, snippet)
    assert wk_shard == (1024, 1024, 1024)  # ignored
    assert our_shard == (64, 64, 64)


def test_downsample_from_mag_view_alias(tmp_path: Path) -> None:
    def snippet(lib: Any, path: Path) -> Any:
        layer = wkw_layer(lib, path)
        layer.get_mag(1).write(BLOCKY)
        layer.downsample(
            from_mag_view=layer.get_mag(1),
            coarsest_mag=lib.Mag(4),
            sampling_mode="isotropic",
            executor=executor(lib),
        )
        return mags(layer), layer.get_mag(4).read()

    (wk_mags, wk_data), (our_mags, our_data) = both(tmp_path, snippet)
    assert wk_mags == our_mags == [(1, 1, 1), (2, 2, 2), (4, 4, 4)]
    np.testing.assert_array_equal(wk_data, our_data)


def test_downsample_align_with_other_dataset(tmp_path: Path) -> None:
    def snippet(lib: Any, path: Path) -> Any:
        reference = lib.Dataset(path / "ref", (1, 1, 1))
        ref_layer = reference.add_layer("r", "color", data_format="wkw")
        ref_layer.add_mag(1)
        ref_layer.add_mag("2-2-1")
        layer = wkw_layer(lib, path / "ds")
        layer.get_mag(1).write(BLOCKY)
        layer.downsample(
            coarsest_mag=lib.Mag(2), align_with_other_layers=reference, executor=executor(lib)
        )
        return mags(layer)

    wk_mags, our_mags = both(tmp_path, snippet)
    assert wk_mags == our_mags == [(1, 1, 1), (2, 2, 1)]


def test_add_layer_and_mag_as_copy_from_paths(tmp_path: Path) -> None:
    def snippet(lib: Any, path: Path) -> Any:
        source = wkw_layer(lib, path / "src")
        source.get_mag(1).write(DATA)
        target = lib.Dataset(path / "dst", (1, 1, 1))
        copied = target.add_layer_as_copy(str(source.path), "copy", executor=executor(lib))
        other = target.add_layer("other", "color", data_format="wkw")
        mag = other.add_mag_as_copy(source.get_mag(1).path, executor=executor(lib))
        return (
            box(copied.bounding_box),
            copied.get_mag(1).read(),
            box(other.bounding_box),
            mag.read(),
        )

    wk_result, our_result = both(tmp_path, snippet)
    assert wk_result[0] == our_result[0] == wk_result[2] == our_result[2]
    np.testing.assert_array_equal(wk_result[1], our_result[1])
    np.testing.assert_array_equal(wk_result[3], our_result[3])


def test_add_mag_as_copy_without_extending_bbox(tmp_path: Path) -> None:
    def snippet(lib: Any, path: Path) -> Any:
        source = wkw_layer(lib, path / "src")
        source.get_mag(1).write(DATA)
        target = lib.Dataset(path / "dst", (1, 1, 1))
        layer = target.add_layer(
            "c", "color", data_format="wkw", bounding_box=lib.BoundingBox((0, 0, 0), (32, 32, 32))
        )
        mag = layer.add_mag_as_copy(
            source.get_mag(1), extend_layer_bounding_box=False, executor=executor(lib)
        )
        return box(layer.bounding_box), mag.read()

    (wk_box, wk_data), (our_box, our_data) = both(tmp_path, snippet)
    assert wk_box == our_box == ((0, 0, 0), (32, 32, 32))
    np.testing.assert_array_equal(wk_data, our_data)


# -- 4. API that was missing ------------------------------------------------------------------


def test_write_layer(tmp_path: Path) -> None:
    def snippet(lib: Any, path: Path) -> Any:
        ds = lib.Dataset(path, (1, 1, 1))
        layer = ds.write_layer(
            "seg",
            "segmentation",
            DATA.astype(np.uint32),
            data_format="wkw",
            downsample=False,  # webknossos would start a process pool
            chunk_shape=32,
            shard_shape=64,
            absolute_offset=(32, 0, 0),
        )
        info = layer.get_mag(1).info
        compressed = info.compression_mode if lib is wk else info.compressed
        return box(layer.bounding_box), str(layer.dtype), compressed, layer.get_mag(1).read()

    wk_result, our_result = both(tmp_path, snippet)
    assert wk_result[:3] == our_result[:3] == (((32, 0, 0), (64, 64, 64)), "uint32", True)
    np.testing.assert_array_equal(wk_result[3], our_result[3])


def test_dataset_compress(tmp_path: Path) -> None:
    def snippet(lib: Any, path: Path) -> Any:
        ds = lib.Dataset(path, (1, 1, 1))
        layer = ds.add_layer("c", "color", data_format="wkw")
        mag = layer.add_mag(1, chunk_shape=32, shard_shape=64, compress=False)
        mag.write(DATA, allow_resize=True)
        ds.compress(executor=executor(lib))
        info = lib.Dataset.open(path).get_layer("c").get_mag(1).info
        return (info.compression_mode if lib is wk else info.compressed), mag.read()

    (wk_c, wk_data), (our_c, our_data) = both(tmp_path, snippet)
    assert wk_c is True and our_c is True
    np.testing.assert_array_equal(wk_data, our_data)


def test_as_segmentation_layer(tmp_path: Path) -> None:
    def snippet(lib: Any, path: Path) -> Any:
        ds = lib.Dataset(path, (1, 1, 1))
        seg = ds.add_layer("s", "segmentation", dtype="uint32", data_format="wkw")
        color = ds.add_layer("c", "color", data_format="wkw")
        with pytest.raises(TypeError):
            color.as_segmentation_layer()
        return type(seg.as_segmentation_layer()).__name__

    assert both(tmp_path, snippet) == ("SegmentationLayer", "SegmentationLayer")


def test_downsample_mag_list(tmp_path: Path) -> None:
    def snippet(lib: Any, path: Path) -> Any:
        layer = wkw_layer(lib, path)
        layer.get_mag(1).write(BLOCKY)
        layer.downsample_mag_list(lib.Mag(1), [lib.Mag(2), lib.Mag(4)], executor=executor(lib))
        return mags(layer), layer.get_mag(4).read()

    (wk_mags, wk_data), (our_mags, our_data) = both(tmp_path, snippet)
    assert wk_mags == our_mags == [(1, 1, 1), (2, 2, 2), (4, 4, 4)]
    np.testing.assert_array_equal(wk_data, our_data)


def test_read_cxyz_write_cxyz(tmp_path: Path) -> None:
    def snippet(lib: Any, path: Path) -> Any:
        mag = wkw_layer(lib, path).get_mag(1)
        mag.write_cxyz(DATA[np.newaxis], allow_unaligned=True)
        return mag.read_cxyz(absolute_offset=(8, 8, 8), size=(4, 4, 4))

    wk_data, our_data = both(tmp_path, snippet)
    assert wk_data.shape == our_data.shape == (1, 4, 4, 4)
    np.testing.assert_array_equal(wk_data, our_data)


def _double_chunk(args: tuple[Any, Any, int]) -> None:
    source, target, _ = args
    target.write((source.read() // 2).astype(np.uint8))


def test_for_zipped_chunks(tmp_path: Path) -> None:
    def snippet(lib: Any, path: Path) -> Any:
        layer = wkw_layer(lib, path)
        layer.get_mag(1).write(DATA)
        target = layer.dataset.add_layer("t", "color", data_format="wkw")
        target.bounding_box = layer.bounding_box
        target_mag = target.add_mag(1, chunk_shape=32, shard_shape=64)
        layer.get_mag(1).for_zipped_chunks(
            _double_chunk,
            target_mag,
            source_chunk_shape=(64, 64, 64),
            target_chunk_shape=(64, 64, 64),
            executor=executor(lib),
        )
        return target_mag.read()

    wk_data, our_data = both(tmp_path, snippet)
    np.testing.assert_array_equal(wk_data, our_data)
    np.testing.assert_array_equal(our_data[0], DATA // 2)


# -- 5. silent differences that now match ----------------------------------------------------


def test_new_segmentation_layer_has_no_largest_segment_id(tmp_path: Path) -> None:
    def snippet(lib: Any, path: Path) -> Any:
        ds = lib.Dataset(path, (1, 1, 1))
        seg = ds.add_layer("s", "segmentation", dtype="uint32", data_format="wkw")
        saved = json.loads((path / "datasource-properties.json").read_text())["dataLayers"][0]
        return seg.largest_segment_id, saved.get("largestSegmentId")

    assert both(tmp_path, snippet) == ((None, None), (None, None))


def test_get_view_of_empty_layer(tmp_path: Path) -> None:
    def snippet(lib: Any, path: Path) -> Any:
        ds = lib.Dataset(path, (1, 1, 1))
        view = ds.add_layer("c", "color", data_format="wkw").add_mag(1).get_view()
        return box(view.bounding_box), view.bounding_box.is_empty()

    wk_result, our_result = both(tmp_path, snippet)
    assert wk_result == our_result == (((0, 0, 0), (0, 0, 0)), True)


def test_dtype_float_is_float32(tmp_path: Path) -> None:
    def snippet(lib: Any, path: Path) -> Any:
        ds = lib.Dataset(path, (1, 1, 1))
        layer = ds.add_layer("c", "color", dtype="float", data_format="wkw")
        saved = json.loads((path / "datasource-properties.json").read_text())["dataLayers"][0]
        return str(layer.dtype), saved["elementClass"]

    assert both(tmp_path, snippet) == (("float32", "float"), ("float32", "float"))


def test_dataset_name_is_third_positional_argument(tmp_path: Path) -> None:
    def snippet(lib: Any, path: Path) -> Any:
        ds = lib.Dataset(path, (1, 1, 1), "my_name")
        again = lib.Dataset(path, (1, 1, 1), "my_name", True)
        return ds.name, again.name, lib.Dataset.open(path).name

    assert both(tmp_path, snippet) == (("my_name",) * 3, ("my_name",) * 3)


def test_content_is_equal_with_chunk_shape_below_the_shard(tmp_path: Path) -> None:
    """chunk_shape 32 on 64-voxel shards: both compare (reading needs no shard multiples)."""

    def snippet(lib: Any, path: Path) -> Any:
        first = wkw_layer(lib, path / "a").get_mag(1)
        second = wkw_layer(lib, path / "b").get_mag(1)
        first.write(DATA)
        second.write(DATA)
        shape = (32, 32, 32)
        equal = first.content_is_equal(second, chunk_shape=shape, executor=executor(lib))
        second.write(DATA[:32, :32, :32] + 1, allow_unaligned=True)
        differs = first.content_is_equal(second, chunk_shape=shape, executor=executor(lib))
        # Below the storage chunk (32) webknossos' own check fails and it answers False.
        small = first.content_is_equal(first, chunk_shape=(16, 16, 16), executor=executor(lib))
        return equal, differs, small

    assert both(tmp_path, snippet) == ((True, False, False), (True, False, True))


# -- 4b. references -----------------------------------------------------------------------------


def test_add_layer_and_mag_as_ref(tmp_path: Path) -> None:
    def snippet(lib: Any, path: Path) -> Any:
        source = wkw_layer(lib, path / "src")
        source.get_mag(1).write(DATA)
        target = lib.Dataset(path / "dst", (1, 1, 1))
        ref = target.add_layer_as_ref(source, "ref")
        other = target.add_layer("other", "color", data_format="wkw")
        mag = other.add_mag_as_ref(str(source.get_mag(1).path))
        saved = json.loads((path / "dst" / "datasource-properties.json").read_text())
        entry = saved["dataLayers"][0]["mags"][0]
        return (
            box(ref.bounding_box),
            box(other.bounding_box),
            ref.get_mag(1).read_only,
            mag.read_only,
            Path(entry["path"]).resolve() == (path / "src" / "color" / "1").resolve(),
            ref.get_mag(1).read(),
            lib.Dataset.open(path / "dst").get_layer("other").get_mag(1).read(),
        )

    wk_result, our_result = both(tmp_path, snippet)
    assert wk_result[:5] == our_result[:5] == (((0, 0, 0), (64, 64, 64)),) * 2 + (True,) * 3
    for index in (5, 6):
        np.testing.assert_array_equal(wk_result[index], our_result[index])
        np.testing.assert_array_equal(our_result[index][0], DATA)


def test_shallow_copy_dataset(tmp_path: Path) -> None:
    def snippet(lib: Any, path: Path) -> Any:
        source = wkw_layer(lib, path / "src")
        source.get_mag(1).write(DATA)
        copy = source.dataset.shallow_copy_dataset(path / "copy", name="shallow")
        reopened = lib.Dataset.open(path / "copy")
        layer = reopened.get_layer("color")
        return reopened.name, list(reopened.layers), mags(layer), layer.get_mag(1).read(), copy.name

    wk_result, our_result = both(tmp_path, snippet)
    assert wk_result[:3] == our_result[:3] == ("shallow", ["color"], [(1, 1, 1)])
    np.testing.assert_array_equal(wk_result[3], our_result[3])


# -- 4c. default view configuration -------------------------------------------------------------


def test_default_view_configuration_round_trip(tmp_path: Path) -> None:
    def snippet(lib: Any, path: Path) -> Any:
        ds = lib.Dataset(path, (1, 1, 1))
        layer = ds.add_layer("c", "color", data_format="wkw")
        assert ds.default_view_configuration is None and layer.default_view_configuration is None
        ds.default_view_configuration = lib.DatasetViewConfiguration(
            zoom=1.5, four_bit=True, position=(1, 2, 3), color_layer_order=["c"]
        )
        layer.default_view_configuration = lib.LayerViewConfiguration(
            color=(255, 0, 0), alpha=50.0, intensity_range=(0, 100), is_inverted=False
        )
        saved = json.loads((path / "datasource-properties.json").read_text())
        reopened = lib.Dataset.open(path)
        dataset_config = reopened.default_view_configuration
        layer_config = reopened.get_layer("c").default_view_configuration
        return (
            saved["defaultViewConfiguration"],
            saved["dataLayers"][0]["defaultViewConfiguration"],
            (dataset_config.zoom, tup(dataset_config.position), dataset_config.four_bit),
            (tup(layer_config.color), tuple(layer_config.intensity_range), layer_config.alpha),
        )

    wk_result, our_result = both(tmp_path, snippet)
    assert wk_result == our_result
    assert wk_result[0] == {
        "fourBit": True,
        "zoom": 1.5,
        "position": [1, 2, 3],
        "colorLayerOrder": ["c"],
    }


def test_default_view_configuration_written_by_webknossos_reads_in_ours(tmp_path: Path) -> None:
    ds = wk.Dataset(tmp_path / "ds", (1, 1, 1))
    layer = ds.add_layer("c", "color", data_format="wkw")
    ds.default_view_configuration = wk.DatasetViewConfiguration(
        interpolation=True, layers={"c": wk.LayerViewConfiguration(is_disabled=True)}
    )
    layer.default_view_configuration = wk.LayerViewConfiguration(min=1.0, max=9.0)
    ours = wl.Dataset.open(tmp_path / "ds")
    config = ours.default_view_configuration
    assert config is not None and config.interpolation is True
    assert config.layers is not None and config.layers["c"].is_disabled is True
    layer_config = ours.get_layer("c").default_view_configuration
    assert layer_config is not None and (layer_config.min, layer_config.max) == (1.0, 9.0)
    # webknossos writes those nested layer entries in snake_case (and reads them back empty);
    # we read both spellings and write camelCase.
    ours.default_view_configuration = config
    saved = json.loads((tmp_path / "ds" / "datasource-properties.json").read_text())
    assert saved["defaultViewConfiguration"] == {
        "interpolation": True,
        "layers": {"c": {"isDisabled": True}},
    }
    assert wl.Dataset.open(tmp_path / "ds").default_view_configuration == config


@LIBS
def test_unaligned_writable_view_warns_and_aligned_does_not(lib: Any, tmp_path: Path) -> None:
    layer = wkw_layer(lib, tmp_path / "ds")
    mag = layer.get_mag(1)
    with pytest.warns(UserWarning, match="(?i)align"):
        mag.get_view(absolute_offset=(16, 0, 0), size=(32, 32, 32))
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        mag.get_view(absolute_offset=(0, 0, 0), size=(64, 64, 64))
        mag.get_view(absolute_offset=(16, 0, 0), size=(32, 32, 32), read_only=True)


@LIBS
def test_buffered_slice_writer_takes_webknossos_options(
    lib: Any, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    layer = wkw_layer(lib, tmp_path / "ds")
    mag = layer.get_mag(1)
    with (
        caplog.at_level("INFO"),
        mag.get_buffered_slice_writer(
            absolute_offset=(0, 0, 0), use_logging=True, allow_unaligned=True
        ) as writer,
    ):
        for z in range(64):
            writer.send(DATA[:, :, z])
    np.testing.assert_array_equal(mag.read(absolute_offset=(0, 0, 0), size=(64, 64, 64))[0], DATA)
    assert caplog.records  # use_logging logged the slabs
    with (
        pytest.warns(DeprecationWarning),
        mag.get_buffered_slice_writer(
            absolute_offset=(0, 0, 0), dimension=2, allow_unaligned=True
        ) as writer,
    ):
        writer.send(DATA[:, :, 0])


def test_coordinate_transformations_round_trip_between_the_libraries(tmp_path: Path) -> None:
    """Each library reads what the other wrote: equal matrices and landmarks."""
    for writer, reader in ((wk, wl), (wl, wk)):
        path = tmp_path / writer.__name__
        layer = wkw_layer(writer, path)
        layer.coordinate_transformations = [
            writer.AffineCoordinateTransformation.identity().rotate("z", 30).translate((1, 2, 3)),
            writer.ThinPlateSplineCoordinateTransformation.from_pairs(
                [((0, 0, 0), (1, 0, 0)), ((5, 5, 5), (6, 5, 5))]
            ),
        ]
        theirs = reader.Dataset.open(path).get_layer("color").coordinate_transformations
        affine, spline = theirs
        np.testing.assert_array_equal(affine.matrix, layer.coordinate_transformations[0].matrix)
        np.testing.assert_array_equal(spline.source, [[0, 0, 0], [5, 5, 5]])
        np.testing.assert_array_equal(spline.target, [[1, 0, 0], [6, 5, 5]])


@LIBS
def test_copy_dataset_keeps_view_configuration(lib: Any, tmp_path: Path) -> None:
    layer = wkw_layer(lib, tmp_path / "ds")
    ds = layer.dataset
    ds.default_view_configuration = lib.DatasetViewConfiguration(zoom=2.5)
    layer.default_view_configuration = lib.LayerViewConfiguration(color=(255, 0, 0))
    copied = ds.copy_dataset(
        tmp_path / "copy", **({"executor": executor(lib)} if lib is wk else {})
    )
    assert copied.default_view_configuration.zoom == 2.5
    assert tuple(copied.get_layer("color").default_view_configuration.color) == (255, 0, 0)


@LIBS
def test_older_webknossos_names_still_work(lib: Any, tmp_path: Path) -> None:
    source = wkw_layer(lib, tmp_path / "src")
    source.get_mag(1).write(DATA, absolute_offset=(0, 0, 0))
    target = lib.Dataset(tmp_path / "dst", (1, 1, 1))
    with pytest.warns(DeprecationWarning):
        linked = target.add_symlink_layer(source, "linked")
    np.testing.assert_array_equal(linked.get_mag(1).read()[0], DATA)
    assert linked.is_mag_view_foreign(linked.get_mag(1))
    with pytest.warns(DeprecationWarning):
        copied = target.add_copy_layer(
            source, "copied", **({"executor": executor(lib)} if lib is wk else {})
        )
    assert not copied.is_foreign and not copied.is_mag_view_foreign(copied.get_mag(1))
    assert copied.get_mag(1).data_format == lib.DataFormat.WKW
    box = copied.normalized_bounding_box
    assert (tup(box.topleft), tup(box.size)) == ((0, 0, 0, 0), (1, 64, 64, 64))
    assert tup(copied.get_mag(1).normalized_bounding_box.size) == (1, 64, 64, 64)
    assert len(list(copied.get_mag(1).get_views_on_disk(read_only=True))) == 1
    assert copied.resolved_path == (tmp_path / "dst" / "copied").resolve()
    with pytest.warns(DeprecationWarning):
        assert copied.dtype_per_channel == np.dtype("uint8")


@LIBS
def test_data_format_enum(lib: Any, tmp_path: Path) -> None:
    ds = lib.Dataset(tmp_path / "ds", (1, 1, 1))
    for name, member in (("w", lib.DataFormat.WKW), ("z", lib.DataFormat.Zarr3)):
        layer = ds.add_layer(name, "color", data_format=member)
        layer.add_mag(1)
        assert layer.data_format == member
    reopened = lib.Dataset.open(tmp_path / "ds")
    assert reopened.get_layer("z").data_format == lib.DataFormat.Zarr3


@LIBS
def test_voxel_size_with_unit(lib: Any, tmp_path: Path) -> None:
    size = lib.VoxelSize((11.24, 11.24, 25), lib.LengthUnit.MICROMETER)
    ds = lib.Dataset(tmp_path / "ds", voxel_size_with_unit=size)
    assert tuple(ds.voxel_size) == (11240.0, 11240.0, 25000.0)  # nanometers, as webknossos
    reopened = lib.Dataset.open(tmp_path / "ds").voxel_size_with_unit
    assert reopened.unit == lib.LengthUnit.MICROMETER
    assert tuple(reopened.to_nanometer()) == (11240.0, 11240.0, 25000.0)
    raw = json.loads((tmp_path / "ds" / "datasource-properties.json").read_text())
    assert raw["scale"] == {"factor": [11.24, 11.24, 25.0], "unit": "micrometer"}
