"""`view[...]` follows tensorstore's index domain: absolute mag coordinates, the view's box is the
domain, and anything outside it (negative indices included) raises instead of reading zeros."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from webknossos_like import BoundingBox, Dataset, MagView
from webknossos_like.errors import OutOfBoundsError


@pytest.fixture
def mag(tmp_path: Path) -> MagView:
    """Mag 1 of a layer whose box is (64, 32, 0) + (32, 16, 8), holding distinct values."""
    ds = Dataset(tmp_path / "ds", voxel_size=(1, 1, 1))
    view = ds.add_layer("color", "color", dtype="uint16").add_mag(1)
    view.write(
        np.arange(32 * 16 * 8, dtype=np.uint16).reshape(32, 16, 8), absolute_offset=(64, 32, 0)
    )
    return view


def test_negative_indices_raise_naming_the_domain(mag: MagView) -> None:
    with pytest.raises(OutOfBoundsError, match=r"z: 0\.\.7") as info:
        mag[:, :, -1]
    assert "negative indices do not count from the end" in str(info.value)
    assert isinstance(info.value, IndexError)


def test_offsets_from_the_corner_raise_instead_of_reading_zeros(mag: MagView) -> None:
    with pytest.raises(OutOfBoundsError, match=r"x: 64\.\.95"):
        mag[0:10, 0:10, 0]
    np.testing.assert_array_equal(mag[64:74, 32:42, 0], mag.read()[0, :10, :10, 0])


def test_open_slices_cover_the_box_and_ends_may_touch_it(mag: MagView) -> None:
    assert mag[:, :, :].shape == (32, 16, 8)
    assert mag[...].shape == (32, 16, 8)
    assert mag[90:, :, 7].shape == (6, 16)
    assert mag[95, 47, 7] == mag.read()[0, -1, -1, -1]
    for bad in (np.s_[96, :, :], np.s_[:, 31, :], np.s_[60:70, :, :], np.s_[64:97, :, :]):
        with pytest.raises(OutOfBoundsError):
            mag[bad]


def test_sub_views_have_their_own_domain(mag: MagView) -> None:
    view = mag.get_view(absolute_offset=(64, 32, 0), size=(16, 16, 4))
    assert view[64:80, 32:48, 0:4].shape == (16, 16, 4)
    with pytest.raises(OutOfBoundsError, match=r"z: 0\.\.3"):
        view[64, 32, 4]
    with pytest.raises(OutOfBoundsError):
        view[80:81, 32, 0] = 1  # a sub-view never writes beyond itself
    mag[96:100, 32:36, 0:2] = 7  # a MagView grows its layer, as write() does
    assert mag.layer.bounding_box == BoundingBox((64, 32, 0), (36, 16, 8))


def test_reading_outside_with_read_keeps_the_zero_fill(mag: MagView) -> None:
    outside = mag.read(absolute_bounding_box=BoundingBox((0, 0, 0), (8, 8, 8)))
    assert outside.shape == (1, 8, 8, 8) and not outside.any()


def test_negative_coordinates_are_in_the_domain_where_the_format_has_them(tmp_path: Path) -> None:
    ds = Dataset(tmp_path / "ds", voxel_size=(1, 1, 1))
    layer = ds.add_layer("color", "color", data_format="neuroglancerPrecomputed")
    view = layer.add_mag(1)
    data = np.arange(8 * 4 * 2, dtype=np.uint8).reshape(8, 4, 2)
    view.write(data, absolute_offset=(-8, 0, 0))
    assert view[-8, 0, 0] == data[0, 0, 0]
    assert view[-1, 3, 1] == data[-1, 3, 1]
    with pytest.raises(OutOfBoundsError):
        view[0, 0, 0]


@settings(max_examples=100, deadline=None)
@given(
    corner=st.tuples(*[st.integers(0, 40)] * 3),
    size=st.tuples(*[st.integers(1, 12)] * 3),
    point=st.tuples(*[st.integers(-5, 60)] * 3),
)
def test_a_point_reads_iff_it_is_inside(
    tmp_path_factory: pytest.TempPathFactory,
    corner: tuple[int, int, int],
    size: tuple[int, int, int],
    point: tuple[int, int, int],
) -> None:
    ds = Dataset(tmp_path_factory.mktemp("ds") / "ds", voxel_size=(1, 1, 1))
    view = ds.add_layer("color", "color").add_mag(1)
    view.write(np.full(size, 9, np.uint8), absolute_offset=corner)
    box = BoundingBox(corner, size)
    if box.contains(point):
        assert view[point] == 9
    else:
        with pytest.raises(OutOfBoundsError):
            view[point]
