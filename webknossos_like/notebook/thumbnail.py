"""Pictures of data: one slice of a view as a `PIL.Image`, or written to a PNG file.

* Color data is contrast-normalised: by default the 0.5th and 99.5th percentiles of the slice
  map to 0 and 255 (per channel), values beyond them are clipped.
* Segmentation data gets one stable colour per label (a hash of the id, the same in every call,
  slice and process); label 0 is black.
* One channel gives a grayscale (`L`) image, two or three channels an `RGB` one.
* The picture is 512 pixels on its long side by default (small slices enlarged nearest-neighbour),
  with the voxel size's aspect ratio: a `y` slice of 11 x 11 x 25 nm voxels is not squashed.
* `overlay=` draws a segmentation over the image, one stable colour per segment, 0 transparent.

The slice is picked in the view's **mag voxel grid**, with absolute coordinates, exactly like
`view[x0:x1, y0:y1, z0:z1]` indexing: `thumbnail(mag2_view, "z", 10)` shows `mag2_view[:, :, 10]`.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

import numpy as np
import numpy.typing as npt
from PIL import Image

from ..errors import InvalidArgumentError, OutOfBoundsError
from ..geometry import BoundingBox

if TYPE_CHECKING:
    from ..dataset import Layer, View

__all__ = ["label_color", "label_colors", "thumbnail", "to_png"]

AXES = ("x", "y", "z")
DEFAULT_PERCENTILES = (0.5, 99.5)
DEFAULT_SIZE = 512  # pixels on the long side: readable in a notebook, small as a PNG
DEFAULT_ALPHA = 0.4  # opacity of overlaid segment colours
# Labels other than 0 get colour components in [_LABEL_FLOOR, 255], so none looks like background.
_LABEL_FLOOR = 48
_U64 = np.uint64


def _parse_axis(axis: object) -> int:
    if isinstance(axis, str) and axis.lower() in AXES:
        return AXES.index(axis.lower())
    if isinstance(axis, (int, np.integer)) and not isinstance(axis, bool) and 0 <= axis <= 2:
        return int(axis)
    raise InvalidArgumentError(f"axis must be 'x', 'y' or 'z' (or 0, 1, 2), got {axis!r}.")


def _mag_extent(view: View) -> BoundingBox:
    """The view's box in its own mag's voxel grid (the grid `view[...]` indexes)."""
    return view.bounding_box.align_with_mag(view.mag, ceil=True).in_mag(view.mag)


def _slice_index(extent: BoundingBox, axis: int, index: object) -> int:
    name = AXES[axis]
    low, high = extent.topleft[axis], extent.bottomright[axis]
    if extent.is_empty():
        raise OutOfBoundsError(
            f"The view is empty ({extent} in mag voxels): there is no slice to show. "
            "Write data first, or pick a view with a non-empty bounding box."
        )
    if index is None:
        return low + (high - low) // 2
    if isinstance(index, bool) or not isinstance(index, (int, np.integer)):
        raise InvalidArgumentError(f"index must be an int, got {index!r}.")
    if not low <= int(index) < high:
        raise OutOfBoundsError(
            f"Slice {name}={int(index)} is outside the view: {name} runs from {low} to {high - 1} "
            "in the view's mag voxel grid (absolute, like view[...] indexing)."
        )
    return int(index)


def _read_plane(view: View, extent: BoundingBox, axis: int, index: int) -> npt.NDArray[Any]:
    """The slice as `(c, rows, columns)`: rows run along the second remaining axis."""
    key = tuple(
        index if a == axis else slice(extent.topleft[a], extent.bottomright[a]) for a in range(3)
    )
    data: npt.NDArray[Any] = np.asarray(view[key])
    if data.ndim == 2:
        data = data[np.newaxis]
    # (c, first remaining axis, second remaining axis) -> (c, rows, columns)
    planes: npt.NDArray[Any] = data.transpose(0, 2, 1)
    return planes


# -- segmentation colours -----------------------------------------------------------------------
def _mix64(values: npt.NDArray[np.uint64]) -> npt.NDArray[np.uint64]:
    """MurmurHash3's 64-bit finaliser: a fixed, well-mixing bijection of uint64 values."""
    x = values.astype(_U64, copy=True)
    x ^= x >> _U64(33)
    x *= _U64(0xFF51AFD7ED558CCD)
    x ^= x >> _U64(33)
    x *= _U64(0xC4CEB9FE1A85EC53)
    x ^= x >> _U64(33)
    return x


def label_colors(labels: npt.ArrayLike) -> npt.NDArray[np.uint8]:
    """RGB colours `(..., 3)` uint8 for an array of integer labels: 0 is black, others bright.

    The colour is a hash of the label id, so it is the same in every call and process; signed
    labels are taken modulo 2**64.
    """
    array = np.asarray(labels)
    if array.dtype.kind not in "ui" and array.dtype != np.bool_:
        raise InvalidArgumentError(f"Labels must be integers, got dtype {array.dtype}.")
    ids = array.astype(np.int64).view(_U64) if array.dtype.kind == "i" else array.astype(_U64)
    hashed = _mix64(ids)
    channels = [(hashed >> _U64(shift)) & _U64(0xFF) for shift in (0, 8, 16)]
    scale = 255 - _LABEL_FLOOR
    rgb = np.stack([_LABEL_FLOOR + (c * _U64(scale)) // _U64(255) for c in channels], axis=-1)
    rgb[ids == 0] = 0
    return rgb.astype(np.uint8)


def label_color(label: int) -> tuple[int, int, int]:
    """The RGB colour that thumbnails give to `label` (black for 0)."""
    if isinstance(label, bool) or not isinstance(label, (int, np.integer)):
        raise InvalidArgumentError(f"A label is an int, got {label!r}.")
    value = int(label) % 2**64
    r, g, b = label_colors(np.array([value], dtype=_U64))[0]
    return int(r), int(g), int(b)


def _segmentation_image(plane: npt.NDArray[Any]) -> npt.NDArray[np.uint8]:
    unique, inverse = np.unique(plane, return_inverse=True)
    colors = label_colors(unique)
    rgb: npt.NDArray[np.uint8] = colors[inverse.reshape(plane.shape)]
    return rgb


# -- color normalisation ------------------------------------------------------------------------
def _check_percentiles(percentiles: Sequence[float]) -> tuple[float, float]:
    try:
        low, high = (float(p) for p in percentiles)
    except (TypeError, ValueError) as exc:
        raise InvalidArgumentError(
            f"percentiles must be two numbers (low, high), got {percentiles!r}."
        ) from exc
    if not 0 <= low < high <= 100:
        raise InvalidArgumentError(
            f"percentiles must satisfy 0 <= low < high <= 100, got {percentiles!r}."
        )
    return low, high


def _check_value_range(value_range: Sequence[float]) -> tuple[float, float]:
    try:
        low, high = (float(v) for v in value_range)
    except (TypeError, ValueError) as exc:
        raise InvalidArgumentError(
            f"value_range must be two numbers (low, high), got {value_range!r}."
        ) from exc
    if not low < high:
        raise InvalidArgumentError(f"value_range needs low < high, got {value_range!r}.")
    return low, high


def _dtype_window(dtype: np.dtype[Any]) -> tuple[float, float]:
    if dtype.kind in "ui":
        info = np.iinfo(dtype)
        return float(info.min), float(info.max)
    return 0.0, 1.0


def _window(
    plane: npt.NDArray[np.float64], percentiles: tuple[float, float], dtype: np.dtype[Any]
) -> tuple[float, float]:
    """The values mapped to 0 and 255: the percentiles, else min/max, else the dtype's range."""
    finite = plane[np.isfinite(plane)]
    if finite.size == 0:
        return _dtype_window(dtype)
    low, high = (float(v) for v in np.percentile(finite, percentiles))
    if high > low:
        return low, high
    low, high = float(finite.min()), float(finite.max())
    if high > low:
        return low, high
    return _dtype_window(dtype)


def _to_uint8(plane: npt.NDArray[np.float64], low: float, high: float) -> npt.NDArray[np.uint8]:
    scaled = (plane - low) * (255.0 / (high - low))
    scaled = np.nan_to_num(scaled, nan=0.0, posinf=255.0, neginf=0.0)
    return np.rint(np.clip(scaled, 0.0, 255.0)).astype(np.uint8)


def _color_image(
    planes: npt.NDArray[Any],
    dtype: np.dtype[Any],
    percentiles: tuple[float, float],
    value_range: tuple[float, float] | None,
) -> npt.NDArray[np.uint8]:
    """`(c, rows, columns)` -> `(rows, columns)` for one channel, `(rows, columns, 3)` for 2-3."""
    out = []
    for channel in planes:
        values = channel.astype(np.float64)
        low, high = value_range if value_range is not None else _window(values, percentiles, dtype)
        out.append(_to_uint8(values, low, high))
    if len(out) == 1:
        return out[0]
    while len(out) < 3:
        out.append(np.zeros_like(out[0]))
    return np.stack(out, axis=-1)


# -- size, aspect and overlay -------------------------------------------------------------------
def _layer_of(view: View) -> Any:
    """The view's layer, or None (sub-views of a MagView keep it privately)."""
    layer = getattr(view, "layer", None)
    return layer if layer is not None else getattr(view, "_layer", None)


def _voxel_size(view: View) -> tuple[float, float, float]:
    """The physical size of one of the view's voxels (mag 1 voxel size x mag); 1s if unknown."""
    layer = _layer_of(view)
    dataset = getattr(layer, "dataset", None)
    base = getattr(dataset, "voxel_size", None) or (1.0, 1.0, 1.0)
    x, y, z = (float(v) * m for v, m in zip(base, view.mag.to_list(), strict=True))
    return x, y, z


def _pixel_scale(view: View, axis: int) -> tuple[float, float]:
    """(row, column) stretch that gives the slice its physical aspect; the finer axis stays 1."""
    columns_axis, rows_axis = (a for a in range(3) if a != axis)
    size = _voxel_size(view)
    finest = min(size[rows_axis], size[columns_axis])
    if finest <= 0:
        return 1.0, 1.0
    return size[rows_axis] / finest, size[columns_axis] / finest


def _check_pixels(value: object, name: str) -> int | None:
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < 1:
        raise InvalidArgumentError(f"{name} must be a positive int or None, got {value!r}.")
    return int(value)


def _output_shape(
    shape: tuple[int, int], scale: tuple[float, float], size: int | None, max_size: int | None
) -> tuple[int, int]:
    """(rows, columns) of the picture: the physical shape, its long side `size` (or shrunk to
    `max_size`, never enlarged, when that is given)."""
    natural = (shape[0] * scale[0], shape[1] * scale[1])
    long_side = max(natural)
    if max_size is not None:
        target = min(long_side, float(max_size))
    elif size is not None:
        target = float(size)
    else:
        target = long_side
    factor = target / long_side
    return max(1, round(natural[0] * factor)), max(1, round(natural[1] * factor))


def _nearest(array: npt.NDArray[Any], shape: tuple[int, int]) -> npt.NDArray[Any]:
    """`array` (rows, columns, ...) resampled to `shape` by nearest neighbour (pixel centres)."""
    rows = np.minimum(
        ((np.arange(shape[0]) + 0.5) * array.shape[0] / shape[0]).astype(np.intp),
        array.shape[0] - 1,
    )
    cols = np.minimum(
        ((np.arange(shape[1]) + 0.5) * array.shape[1] / shape[1]).astype(np.intp),
        array.shape[1] - 1,
    )
    resampled: npt.NDArray[Any] = array[rows][:, cols]
    return resampled


def _resample(
    pixels: npt.NDArray[np.uint8], shape: tuple[int, int], exact: bool
) -> npt.NDArray[np.uint8]:
    """Enlarge (or keep labels) nearest-neighbour; shrink color by box averaging."""
    if pixels.shape[:2] == shape:
        return pixels
    if exact or (shape[0] >= pixels.shape[0] and shape[1] >= pixels.shape[1]):
        return _nearest(pixels, shape)
    image = Image.fromarray(np.ascontiguousarray(pixels))
    shrunk = image.resize((shape[1], shape[0]), Image.Resampling.BOX)
    return np.asarray(shrunk, dtype=np.uint8)


def _overlay_view(overlay: object, view: View) -> View:
    """The view of `overlay` (a layer or a view) in `view`'s mag, checked to hold labels."""
    from ..dataset import Layer, View

    mag = view.mag
    if isinstance(overlay, Layer):
        if mag not in overlay.mags:
            raise InvalidArgumentError(
                f"The overlay layer {overlay.name!r} has no mag {mag.to_layer_name()}; "
                "downsample it, or pass overlay=<layer>.get_mag(...) of the same mag."
            )
        found: View = overlay.get_mag(mag)
    elif isinstance(overlay, View):
        if overlay.mag != mag:
            raise InvalidArgumentError(
                f"The overlay is mag {overlay.mag.to_layer_name()} but the image is mag "
                f"{mag.to_layer_name()}; pass an overlay of the same mag."
            )
        found = overlay
    else:
        raise InvalidArgumentError(f"overlay must be a Layer or a View, got {overlay!r}.")
    if found.num_channels != 1 or found.dtype.kind not in "ui":
        raise InvalidArgumentError(
            f"The overlay must hold integer labels in one channel, got {found.num_channels} x "
            f"{found.dtype}."
        )
    return found


def _overlay_plane(overlay: View, extent: BoundingBox, axis: int, index: int) -> npt.NDArray[Any]:
    """The overlay's labels on the image's slice, `(rows, columns)`; 0 where it has no data."""
    topleft, size = extent.topleft.to_list(), extent.size.to_list()
    topleft[axis], size[axis] = index, 1
    box = BoundingBox(topleft, size).from_mag_to_mag1(overlay.mag)
    data = np.asarray(overlay.read(absolute_bounding_box=box))[0]
    plane: npt.NDArray[Any] = np.squeeze(data, axis=axis).T
    return plane


def _blend(
    pixels: npt.NDArray[np.uint8], labels: npt.NDArray[Any], alpha: float
) -> npt.NDArray[np.uint8]:
    """Segment colours over the image with opacity `alpha`; label 0 leaves the image as it is."""
    rgb = pixels if pixels.ndim == 3 else np.repeat(pixels[..., np.newaxis], 3, axis=-1)
    out = rgb.astype(np.float64)
    mask = labels != 0
    colors = label_colors(labels[mask]).astype(np.float64)
    out[mask] = (1.0 - alpha) * out[mask] + alpha * colors
    return np.rint(out).astype(np.uint8)


def _check_alpha(alpha: object) -> float:
    if isinstance(alpha, bool) or not isinstance(alpha, (int, float, np.floating)):
        raise InvalidArgumentError(f"alpha must be a number from 0 to 1, got {alpha!r}.")
    if not 0.0 <= float(alpha) <= 1.0:
        raise InvalidArgumentError(f"alpha must be a number from 0 to 1, got {alpha!r}.")
    return float(alpha)


# -- public API ---------------------------------------------------------------------------------
def _is_segmentation(view: View) -> bool:
    """Whether the view belongs to a segmentation layer (views know their layer when they can)."""
    return getattr(_layer_of(view), "category", None) == "segmentation"


def thumbnail(
    view: View,
    axis: str = "z",
    index: int | None = None,
    *,
    channel: int | None = None,
    segmentation: bool | None = None,
    percentiles: Sequence[float] = DEFAULT_PERCENTILES,
    value_range: Sequence[float] | None = None,
    size: int | None = DEFAULT_SIZE,
    max_size: int | None = None,
    physical_aspect: bool = True,
    overlay: Layer | View | None = None,
    alpha: float = DEFAULT_ALPHA,
) -> Image.Image:
    """One slice of `view` as a `PIL.Image` (shown inline by Jupyter).

    Args:
        view: A `View` or `MagView` (a layer's mag: `layer.get_mag(1)`).
        axis: The axis the slice is perpendicular to: `"x"`, `"y"` or `"z"`. A `z` slice shows x
            to the right and y downwards; `y` slices show x and z, `x` slices y and z.
        index: The slice's coordinate along `axis`, in the view's mag voxel grid and absolute,
            like `view[...]` indexing. Default: the middle slice of the view.
        channel: Show only this channel (grayscale). Default: all channels; one gives an `L`
            image, two or three an `RGB` image (a missing blue channel is 0).
        segmentation: Colour labels instead of normalising intensities. Default: whether the
            view's layer is a segmentation layer.
        percentiles: For color data, the percentiles of the slice mapped to 0 and 255 (per
            channel). A slice with one value only is shown relative to its dtype's range.
        value_range: Map these values to 0 and 255 instead of percentiles (the same window for
            every slice, e.g. `(0, 255)` shows uint8 data unchanged).
        size: Pixels on the picture's long side (default 512): small slices are enlarged
            nearest-neighbour, large ones shrunk (box averaging; labels stay exact colours).
            None: no scaling (one pixel per voxel along the finer axis).
        max_size: Instead of `size`: shrink so that neither side exceeds this, never enlarge.
        physical_aspect: Stretch rows or columns by the voxel-size ratio (mag 1 voxel size x
            mag), so that anisotropic voxels are not squashed. False: square pixels per voxel.
        overlay: A segmentation `Layer` (its mag of the view's mag) or `View` (same mag) drawn
            over the slice: one stable colour per segment id, 0 transparent.
        alpha: Opacity of the overlay colours, 0 to 1 (default 0.4).

    Returns:
        An image of mode `L` (one channel) or `RGB` (segmentation, two or three channels, or an
        overlay), `size` pixels on the long side.

    Raises:
        InvalidArgumentError: An unknown axis, a non-integer index, an invalid channel,
            percentiles, value range, size or alpha, color data with more than three channels
            and no `channel`, or an overlay that is not labels of the same mag.
        OutOfBoundsError: `index` lies outside the view, or the view is empty.
    """
    axis_number = _parse_axis(axis)
    extent = _mag_extent(view)
    position = _slice_index(extent, axis_number, index)
    window = _check_percentiles(percentiles)
    fixed = _check_value_range(value_range) if value_range is not None else None
    long_side = _check_pixels(size, "size")
    shrink_to = _check_pixels(max_size, "max_size")
    opacity = _check_alpha(alpha)
    labels_view = _overlay_view(overlay, view) if overlay is not None else None
    num_channels = view.num_channels
    if channel is not None and (
        isinstance(channel, bool)
        or not isinstance(channel, (int, np.integer))
        or not 0 <= channel < num_channels
    ):
        raise InvalidArgumentError(
            f"channel must be an int from 0 to {num_channels - 1}, got {channel!r}."
        )
    as_labels = _is_segmentation(view) if segmentation is None else bool(segmentation)
    if channel is None and num_channels > (1 if as_labels else 3):
        raise InvalidArgumentError(
            f"The view has {num_channels} channels; pass channel=0..{num_channels - 1} to pick one."
        )
    planes = _read_plane(view, extent, axis_number, position)
    if channel is not None:
        planes = planes[int(channel) : int(channel) + 1]
    if as_labels:
        pixels = _segmentation_image(planes[0])
    else:
        pixels = _color_image(planes, view.dtype, window, fixed)
    scale = _pixel_scale(view, axis_number) if physical_aspect else (1.0, 1.0)
    shape = _output_shape(pixels.shape[:2], scale, long_side, shrink_to)
    pixels = _resample(pixels, shape, exact=as_labels)
    if labels_view is not None:
        labels = _overlay_plane(labels_view, extent, axis_number, position)
        pixels = _blend(pixels, _nearest(labels, shape), opacity)
    return Image.fromarray(np.ascontiguousarray(pixels))


def to_png(
    view: View,
    path: str | os.PathLike[str],
    axis: str = "z",
    index: int | None = None,
    **options: Any,
) -> None:
    """Write `thumbnail(view, axis, index, **options)` to `path` as a PNG file."""
    thumbnail(view, axis, index, **options).save(os.fspath(path), format="PNG")
