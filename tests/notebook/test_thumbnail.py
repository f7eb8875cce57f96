"""Thumbnails: which slice, which orientation, contrast, label colours, PNG files and errors."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pytest
from PIL import Image

from webknossos_like import Dataset, MagView, View
from webknossos_like.errors import InvalidArgumentError, OutOfBoundsError, WebknossosLikeError
from webknossos_like.notebook import label_color, label_colors
from webknossos_like.notebook import thumbnail as _thumbnail
from webknossos_like.notebook import to_png as _to_png

OFFSET = (32, 16, 8)
SHAPE = (64, 48, 16)
IDENTITY = (0, 255)  # value_range that shows uint8 data unchanged


def pixels(image: Image.Image) -> np.ndarray:
    return np.asarray(image)


def thumbnail(view: View, *args: Any, **options: Any) -> Image.Image:
    """One pixel per voxel (`size=None`): these tests compare pixels with voxels one to one."""
    options.setdefault("size", None)
    return _thumbnail(view, *args, **options)


def to_png(view: View, *args: Any, **options: Any) -> None:
    """`to_png` with one pixel per voxel, like `thumbnail` above."""
    options.setdefault("size", None)
    _to_png(view, *args, **options)


@pytest.fixture
def color(tmp_path: Path, rng: np.random.Generator) -> tuple[MagView, np.ndarray]:
    """A uint8 mag-1 view of random data written at OFFSET, and the data."""
    dataset = Dataset(tmp_path / "ds", voxel_size=(1, 1, 1))
    data = rng.integers(0, 256, SHAPE, dtype=np.uint8)
    mag = dataset.add_layer("color", "color").add_mag(1)
    mag.write(data, absolute_offset=OFFSET)
    return mag, data


@pytest.fixture
def labels(tmp_path: Path, rng: np.random.Generator) -> tuple[MagView, np.ndarray]:
    """A uint32 segmentation mag with labels 0..40 (0 is background)."""
    dataset = Dataset(tmp_path / "seg", voxel_size=(1, 1, 1))
    data = rng.integers(0, 41, SHAPE, dtype=np.uint32)
    mag = dataset.add_layer("segmentation", "segmentation", dtype="uint32").add_mag(1)
    mag.write(data, absolute_offset=OFFSET)
    return mag, data


# -- which slice, which orientation -------------------------------------------------------------
def test_default_is_the_middle_z_slice(color: tuple[MagView, np.ndarray]) -> None:
    view, data = color
    image = thumbnail(view, value_range=IDENTITY)
    assert image.mode == "L" and image.size == (64, 48)  # (width = x, height = y)
    middle = OFFSET[2] + SHAPE[2] // 2
    np.testing.assert_array_equal(pixels(image), data[:, :, SHAPE[2] // 2].T)
    np.testing.assert_array_equal(
        pixels(image), pixels(thumbnail(view, "z", middle, value_range=IDENTITY))
    )
    assert not np.array_equal(
        pixels(image), pixels(thumbnail(view, "z", middle + 1, value_range=IDENTITY))
    )


@pytest.mark.parametrize(
    ("axis", "index", "size", "expected"),
    [
        ("x", OFFSET[0] + 10, (48, 16), lambda d: d[10, :, :].T),
        ("y", OFFSET[1] + 5, (64, 16), lambda d: d[:, 5, :].T),
        ("z", OFFSET[2] + 3, (64, 48), lambda d: d[:, :, 3].T),
        (0, OFFSET[0], (48, 16), lambda d: d[0, :, :].T),
        ("Z", OFFSET[2] + 15, (64, 48), lambda d: d[:, :, 15].T),
    ],
)
def test_axes_and_orientation(
    color: tuple[MagView, np.ndarray], axis: object, index: int, size: tuple[int, int], expected
) -> None:
    view, data = color
    image = thumbnail(view, axis, index, value_range=IDENTITY)  # type: ignore[arg-type]
    assert image.size == size
    np.testing.assert_array_equal(pixels(image), expected(data))


def test_index_is_absolute_in_the_mag_grid(color: tuple[MagView, np.ndarray]) -> None:
    view, _ = color
    layer = view.layer
    # The layer box (32, 16, 8) + (64, 48, 16) is (16, 8, 8) + (32, 24, 16) in mag 2-2-1.
    mag2 = layer.downsample_mag(1, "2-2-1")
    image = thumbnail(mag2, "z", 8, value_range=IDENTITY)
    assert image.size == (32, 24)
    np.testing.assert_array_equal(pixels(image), mag2[:, :, 8].T)
    for outside in (7, 24):
        with pytest.raises(OutOfBoundsError, match="outside the view"):
            thumbnail(mag2, "z", outside)
    # Mag 2-2-1 voxels are twice as wide in y as in z: x slices keep that aspect.
    assert thumbnail(mag2, "x", 16).size == (48, 16) and thumbnail(mag2, "x", 47).size == (48, 16)
    assert thumbnail(mag2, "x", 16, physical_aspect=False).size == (24, 16)
    with pytest.raises(OutOfBoundsError):
        thumbnail(mag2, "x", 48)


def test_sub_view_slices(color: tuple[MagView, np.ndarray]) -> None:
    view, data = color
    sub = view.get_view(absolute_offset=(40, 20, 10), size=(16, 12, 4), read_only=True)
    image = thumbnail(sub, value_range=IDENTITY)  # middle of z 10..13 is 12
    assert image.size == (16, 12)
    np.testing.assert_array_equal(pixels(image), data[8:24, 4:16, 12 - OFFSET[2]].T)
    with pytest.raises(OutOfBoundsError):
        thumbnail(sub, "z", 9)
    with pytest.raises(OutOfBoundsError):
        thumbnail(sub, "y", 32)


def test_methods_match_the_functions(color: tuple[MagView, np.ndarray], tmp_path: Path) -> None:
    view, _ = color
    method = view.thumbnail("y", OFFSET[1] + 1)  # type: ignore[attr-defined]
    np.testing.assert_array_equal(pixels(method), pixels(_thumbnail(view, "y", OFFSET[1] + 1)))
    target = tmp_path / "slice.png"
    view.to_png(target, axis="x")  # type: ignore[attr-defined]
    with Image.open(target) as written:
        np.testing.assert_array_equal(pixels(written), pixels(_thumbnail(view, "x")))


# -- contrast -----------------------------------------------------------------------------------
def test_percentiles_map_to_0_and_255(tmp_path: Path, rng: np.random.Generator) -> None:
    dataset = Dataset(tmp_path / "u16", voxel_size=(1, 1, 1))
    data = rng.integers(1000, 60000, (50, 40, 3), dtype=np.uint16)
    mag = dataset.add_layer("color", "color", dtype="uint16").add_mag(1)
    mag.write(data)
    plane = data[:, :, 1].T.astype(np.float64)
    image = pixels(thumbnail(mag))
    low, high = np.percentile(plane, (0.5, 99.5))
    assert image.dtype == np.uint8 and image.shape == plane.shape
    assert (image[plane <= low] == 0).all() and (image[plane >= high] == 255).all()
    inside = (plane > low) & (plane < high)
    expected = np.rint((plane[inside] - low) / (high - low) * 255)
    np.testing.assert_array_equal(image[inside], expected)
    order = np.argsort(plane, axis=None)
    assert (np.diff(image.ravel()[order].astype(int)) >= 0).all()  # monotonic
    full = pixels(thumbnail(mag, percentiles=(0, 100)))
    assert full[plane == plane.min()].min() == 0 and full[plane == plane.max()].max() == 255


def test_degenerate_slices(tmp_path: Path) -> None:
    dataset = Dataset(tmp_path / "flat", voxel_size=(1, 1, 1))
    mag = dataset.add_layer("color", "color").add_mag(1)
    mag.write(np.full((20, 20, 2), 7, dtype=np.uint8))  # one value: shown against 0..255
    assert (pixels(thumbnail(mag)) == 7).all()
    sparse = np.zeros((20, 20, 2), dtype=np.uint8)
    sparse[3, 4, :] = 200  # a single bright voxel: percentiles are both 0, min/max take over
    mag.write(sparse)
    image = pixels(thumbnail(mag))
    assert image[4, 3] == 255 and image.sum() == 255
    floats = dataset.add_layer("float", "color", dtype="float32").add_mag(1)
    values = np.linspace(-1, 1, 20 * 20 * 2, dtype=np.float32).reshape(20, 20, 2)
    values[0, 0, :] = np.nan
    floats.write(values)
    image = pixels(thumbnail(floats, percentiles=(0, 100)))
    assert image[0, 0] == 0 and image.max() == 255


def test_three_channels_give_rgb(tmp_path: Path, rng: np.random.Generator) -> None:
    dataset = Dataset(tmp_path / "rgb", voxel_size=(1, 1, 1))
    data = rng.integers(0, 256, (3, 30, 20, 4), dtype=np.uint8)
    data[1] //= 4  # a dim channel is stretched on its own
    mag = dataset.add_layer("rgb", "color", num_channels=3).add_mag(1)
    mag.write(data)
    image = thumbnail(mag, value_range=IDENTITY)
    assert image.mode == "RGB" and image.size == (30, 20)
    np.testing.assert_array_equal(pixels(image), data[:, :, :, 2].transpose(2, 1, 0))
    stretched = pixels(thumbnail(mag))
    assert stretched[..., 1].max() == 255 and stretched[..., 1].min() == 0
    single = thumbnail(mag, channel=1, value_range=IDENTITY)
    assert single.mode == "L"
    np.testing.assert_array_equal(pixels(single), data[1, :, :, 2].T)


def test_two_and_four_channels(tmp_path: Path, rng: np.random.Generator) -> None:
    dataset = Dataset(tmp_path / "multi", voxel_size=(1, 1, 1))
    two = dataset.add_layer("two", "color", num_channels=2).add_mag(1)
    two.write(rng.integers(0, 256, (2, 8, 8, 2), dtype=np.uint8))
    image = thumbnail(two)
    assert image.mode == "RGB" and (pixels(image)[..., 2] == 0).all()
    four = dataset.add_layer("four", "color", num_channels=4).add_mag(1)
    four.write(rng.integers(0, 256, (4, 8, 8, 2), dtype=np.uint8))
    with pytest.raises(InvalidArgumentError, match="channel"):
        thumbnail(four)
    assert thumbnail(four, channel=3).mode == "L"


# -- label colours ------------------------------------------------------------------------------
def test_label_colours(labels: tuple[MagView, np.ndarray]) -> None:
    view, data = labels
    image = thumbnail(view)  # a segmentation layer: colours, not intensities
    assert image.mode == "RGB" and image.size == (64, 48)
    rgb = pixels(image)
    plane = data[:, :, SHAPE[2] // 2].T
    assert (rgb[plane == 0] == 0).all()
    assert label_color(0) == (0, 0, 0)
    seen: dict[tuple[int, int, int], int] = {}
    for label in np.unique(plane):
        colours = {tuple(c) for c in rgb[plane == label]}
        assert colours == {label_color(int(label))}  # one colour per label, the documented one
        colour = label_color(int(label))
        assert seen.setdefault(colour, int(label)) == label  # different labels, different colours
        if label:
            assert max(colour) >= 48  # never mistaken for the black background
    np.testing.assert_array_equal(pixels(thumbnail(view)), rgb)  # stable across calls


def test_label_colours_are_stable_and_distinct() -> None:
    ids = np.arange(0, 2000, dtype=np.uint64)
    colours = label_colors(ids)
    assert colours.shape == (2000, 3) and colours.dtype == np.uint8
    assert (colours[0] == 0).all() and (colours[1:].max(axis=1) > 0).all()
    assert len({tuple(c) for c in colours[1:256]}) == 255
    np.testing.assert_array_equal(label_colors(ids.astype(np.uint32)), colours)  # any dtype
    assert label_color(123456789) == tuple(label_colors(np.array([123456789]))[0])
    assert label_color(2**64 - 1) == label_color(-1)
    # Fixed values: a change of the hash would silently recolour every user's pictures.
    assert [label_color(i) for i in (1, 2, 3)] == [tuple(c) for c in colours[1:4]]
    assert label_color(1) == label_color(1) != label_color(2)


def test_label_colour_is_the_same_in_every_slice_axis_and_view(
    labels: tuple[MagView, np.ndarray],
) -> None:
    view, data = labels
    label = int(data[5, 6, 7])
    for axis, index in (("x", OFFSET[0] + 5), ("y", OFFSET[1] + 6), ("z", OFFSET[2] + 7)):
        rgb = pixels(thumbnail(view, axis, index))
        assert label_color(label) in {tuple(c) for c in rgb.reshape(-1, 3)}
    sub = view.get_view(
        absolute_offset=(OFFSET[0] + 5, OFFSET[1] + 6, OFFSET[2] + 7), size=(1, 1, 1)
    )
    assert thumbnail(sub).getpixel((0, 0)) == label_color(label)  # sub-views know the layer


def test_segmentation_can_be_forced_either_way(
    labels: tuple[MagView, np.ndarray], color: tuple[MagView, np.ndarray]
) -> None:
    assert thumbnail(labels[0], segmentation=False).mode == "L"
    assert thumbnail(color[0], segmentation=True).mode == "RGB"


def test_precomputed_segmentation(labels: tuple[MagView, np.ndarray], tmp_path: Path) -> None:
    view, _ = labels
    target = Dataset(tmp_path / "pc", voxel_size=(1, 1, 1))
    copy = target.add_layer_as_copy(view.layer, data_format="neuroglancerPrecomputed")
    np.testing.assert_array_equal(
        pixels(thumbnail(copy.get_mag(1), "y")), pixels(thumbnail(view, "y"))
    )


# -- size and files -----------------------------------------------------------------------------
def test_max_size(color: tuple[MagView, np.ndarray], labels: tuple[MagView, np.ndarray]) -> None:
    assert thumbnail(color[0], max_size=16).size == (16, 12)
    assert thumbnail(color[0], max_size=100).size == (64, 48)  # never enlarged
    small = pixels(thumbnail(labels[0], max_size=16))
    full = pixels(thumbnail(labels[0]))
    assert {tuple(c) for c in small.reshape(-1, 3)} <= {tuple(c) for c in full.reshape(-1, 3)}


def test_to_png_writes_a_readable_png(labels: tuple[MagView, np.ndarray], tmp_path: Path) -> None:
    view, _ = labels
    target = tmp_path / "labels.png"
    to_png(view, target, "x", OFFSET[0] + 3)
    with Image.open(target) as written:
        assert written.format == "PNG" and written.mode == "RGB" and written.size == (48, 16)
        np.testing.assert_array_equal(pixels(written), pixels(thumbnail(view, "x", OFFSET[0] + 3)))
    to_png(view, str(tmp_path / "as_string.png"), max_size=8)
    with Image.open(tmp_path / "as_string.png") as written:
        assert max(written.size) == 8


# -- errors -------------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("kwargs", "error"),
    [
        ({"axis": "w"}, InvalidArgumentError),
        ({"axis": 3}, InvalidArgumentError),
        ({"axis": True}, InvalidArgumentError),
        ({"index": "3"}, InvalidArgumentError),
        ({"index": 1.5}, InvalidArgumentError),
        ({"index": OFFSET[2] - 1}, OutOfBoundsError),
        ({"index": OFFSET[2] + SHAPE[2]}, OutOfBoundsError),
        ({"percentiles": (50, 10)}, InvalidArgumentError),
        ({"percentiles": (0, 101)}, InvalidArgumentError),
        ({"percentiles": "low"}, InvalidArgumentError),
        ({"value_range": (5, 5)}, InvalidArgumentError),
        ({"channel": 1}, InvalidArgumentError),
        ({"max_size": 0}, InvalidArgumentError),
    ],
)
def test_bad_arguments(
    color: tuple[MagView, np.ndarray], kwargs: dict[str, object], error: type[Exception]
) -> None:
    with pytest.raises(error) as raised:
        thumbnail(color[0], **kwargs)  # type: ignore[arg-type]
    assert isinstance(raised.value, WebknossosLikeError)
    assert isinstance(raised.value, ValueError | IndexError)


def test_empty_view_has_no_slice(tmp_path: Path) -> None:
    dataset = Dataset(tmp_path / "empty", voxel_size=(1, 1, 1))
    mag = dataset.add_layer("color", "color").add_mag(1)  # no data yet: an empty bounding box
    with pytest.raises(OutOfBoundsError, match="empty"):
        thumbnail(mag)


def test_any_view_type(color: tuple[MagView, np.ndarray]) -> None:
    view, _ = color
    plain = View.get_view(view, absolute_offset=OFFSET, size=(4, 4, 4), read_only=True)
    assert thumbnail(plain).size == (4, 4)


# -- default size, physical aspect, segmentation overlay ---------------------------------------
def test_default_is_512_pixels_enlarged_nearest_neighbour(
    color: tuple[MagView, np.ndarray],
) -> None:
    view, data = color
    image = _thumbnail(view, value_range=IDENTITY)
    assert image.size == (512, 384)  # 64 x 48 voxels, 8 pixels per voxel
    plane = data[:, :, SHAPE[2] // 2].T
    np.testing.assert_array_equal(pixels(image), np.repeat(np.repeat(plane, 8, 0), 8, 1))


def test_large_slices_shrink_to_512(tmp_path: Path) -> None:
    mag = Dataset(tmp_path / "wide", voxel_size=(1, 1, 1)).add_layer("color", "color").add_mag(1)
    mag.write(np.full((1024, 256, 1), 77, dtype=np.uint8))
    image = _thumbnail(mag, value_range=IDENTITY)
    assert image.size == (512, 128)
    assert (pixels(image) == 77).all()


def test_anisotropic_voxels_are_not_squashed(tmp_path: Path) -> None:
    """11 x 11 x 25 nm voxels: in a y slice a z step is 25/11 times as tall as an x step is wide."""
    dataset = Dataset(tmp_path / "aniso", voxel_size=(11, 11, 25))
    mag = dataset.add_layer("color", "color").add_mag(1)
    x, _, z = np.meshgrid(np.arange(22), np.arange(20), np.arange(10), indexing="ij")
    mag.write((10 * z + x % 2).astype(np.uint8))  # rows (z) and columns (x) both recognisable
    natural = pixels(_thumbnail(mag, "y", 3, value_range=IDENTITY, size=None))
    assert natural.shape == (23, 22)  # 10 z voxels x 25/11 = 22.7 rows, 22 columns
    image = pixels(_thumbnail(mag, "y", 3, value_range=IDENTITY))
    assert image.shape == (512, 496)  # long side 512, aspect 22.7 : 22
    z_rows = np.bincount(image[:, 0] // 10)  # pixel rows per z voxel
    x_columns = np.bincount(image[0, :] % 2)  # pixel columns per parity of x: 11 voxels each
    assert z_rows.min() >= 51 and z_rows.max() <= 52  # 512 / 10
    assert x_columns.tolist() == [248, 248]  # 11 voxels x 22.5 pixels
    ratio = (512 / 10) / (496 / 22)
    assert abs(ratio - 25 / 11) < 0.02
    # A z slice of the same data is isotropic: square pixels per voxel.
    assert _thumbnail(mag, "z", 0, size=None).size == (22, 20)
    assert _thumbnail(mag, "y", 3, size=None, physical_aspect=False).size == (22, 10)


def _image_and_labels(tmp_path: Path) -> tuple[Dataset, np.ndarray]:
    dataset = Dataset(tmp_path / "overlay", voxel_size=(1, 1, 1))
    dataset.add_layer("color", "color").add_mag(1).write(np.full((16, 8, 2), 100, np.uint8))
    labels = np.zeros((16, 8, 2), dtype=np.uint32)
    labels[8:, :4] = 7
    labels[8:, 4:] = 123456
    dataset.add_layer("segmentation", "segmentation", dtype="uint32").add_mag(1).write(labels)
    return dataset, labels


def test_segmentation_overlay(tmp_path: Path) -> None:
    dataset, _ = _image_and_labels(tmp_path)
    color, segmentation = dataset.get_layer("color"), dataset.get_layer("segmentation")
    image = color.thumbnail(  # type: ignore[attr-defined]
        overlay=segmentation, alpha=0.4, value_range=IDENTITY, size=None
    )
    assert image.mode == "RGB" and image.size == (16, 8)
    rgb = pixels(image)
    assert (rgb[:, :8] == 100).all(), "label 0 is transparent"
    for label, columns, rows in (
        (7, slice(8, 16), slice(0, 4)),
        (123456, slice(8, 16), slice(4, 8)),
    ):
        expected = np.rint(0.6 * 100 + 0.4 * np.array(label_color(label))).astype(np.uint8)
        assert (rgb[rows, columns] == expected).all()
    assert tuple(rgb[0, 8]) != tuple(rgb[7, 8]), "different segments, different colours"
    # The default size enlarges image and labels alike; the same segment keeps its colour.
    big = pixels(color.thumbnail(overlay=segmentation, value_range=IDENTITY))  # type: ignore[attr-defined]
    assert big.shape == (256, 512, 3)
    np.testing.assert_array_equal(big[::32, ::32], rgb)
    # A MagView works as the overlay too; alpha 0 shows the image only.
    same = _thumbnail(
        color.get_mag(1), overlay=segmentation.get_mag(1), value_range=IDENTITY, size=None
    )
    np.testing.assert_array_equal(pixels(same), rgb)
    plain = _thumbnail(color.get_mag(1), overlay=segmentation, alpha=0, value_range=IDENTITY)
    assert (pixels(plain) == 100).all()


def test_overlay_mistakes(tmp_path: Path) -> None:
    dataset, _ = _image_and_labels(tmp_path)
    color, segmentation = dataset.get_layer("color"), dataset.get_layer("segmentation")
    color.downsample_mag(1, 2)
    with pytest.raises(InvalidArgumentError, match="no mag 2"):
        _thumbnail(color.get_mag(2), overlay=segmentation)
    segmentation.downsample_mag(1, 2)
    with pytest.raises(InvalidArgumentError, match="same mag"):
        _thumbnail(color.get_mag(1), overlay=segmentation.get_mag(2))
    with pytest.raises(InvalidArgumentError, match="alpha"):
        _thumbnail(color.get_mag(1), overlay=segmentation, alpha=1.5)
    floats = dataset.add_layer("f", "color", dtype="float32")
    floats.add_mag(1).write(np.zeros((4, 4, 1), np.float32))
    with pytest.raises(InvalidArgumentError, match="integer labels"):
        _thumbnail(color.get_mag(1), overlay=floats)
    with pytest.raises(InvalidArgumentError, match="Layer or a View"):
        _thumbnail(color.get_mag(1), overlay="segmentation")  # type: ignore[arg-type]


def test_layer_thumbnail_picks_a_mag(tmp_path: Path) -> None:
    dataset, _ = _image_and_labels(tmp_path)
    color = dataset.get_layer("color")
    color.downsample_mag(1, 2)
    assert color.thumbnail(size=None).size == (16, 8)  # type: ignore[attr-defined]
    assert color.thumbnail(mag=2, size=None).size == (8, 4)  # type: ignore[attr-defined]
    color.to_png(tmp_path / "c.png", mag=2)  # type: ignore[attr-defined]
    with Image.open(tmp_path / "c.png") as written:
        assert written.size == (512, 256)
