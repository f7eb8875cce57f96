"""Chunk codecs of the Neuroglancer precomputed format: raw, compressed_segmentation, jpeg, png, compresso, jxl.

Arrays are `(c, x, y, z)`. The shape handed to `decode_chunk` is the *clipped* shape of the
chunk (edge chunks are smaller, never padded). Undecodable bytes raise `CorruptChunkError`
(without a file name: callers add it); an encoding that cannot hold the dtype / channel count,
or an optional codec package that is not installed, raises `UnsupportedFormatError`.

Decoded arrays are writable. Image codecs (jpeg, png, jxl) return Fortran-ordered arrays;
raw and compressed_segmentation return channel-planar arrays (x fastest within a channel,
which is Fortran order when there is one channel), since that is their byte order.
"""

from __future__ import annotations

import functools
import importlib
import io
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np
import numpy.typing as npt

from ...errors import (
    CorruptChunkError,
    DataShapeError,
    InvalidArgumentError,
    UnsupportedFormatError,
)
from . import _codec_compresso, _codec_png, _cseg

__all__ = [
    "DEFAULT_CSEG_BLOCK_SIZE",
    "SUPPORTED_ENCODINGS",
    "check_encoding",
    "chunk_encoder",
    "decode_chunk",
    "decode_chunk_into",
    "encode_chunk",
    "encode_chunk_buffer",
    "max_encoded_size",
    "normalize_encoding",
]

SUPPORTED_ENCODINGS: frozenset[str] = frozenset(
    {"raw", "compressed_segmentation", "jpeg", "png", "compresso", "jxl"}
)
"""Encodings this module knows; `compresso` and `jxl` also need optional packages."""

DEFAULT_CSEG_BLOCK_SIZE: tuple[int, int, int] = _cseg.DEFAULT_BLOCK_SIZE

Buffer = bytes | bytearray | memoryview

# Optional packages: import name, pip name.
_OPTIONAL = {"compresso": ("compresso", "compresso"), "jxl": ("imagecodecs", "imagecodecs")}
# JPEG's largest image side.
_JPEG_MAX_SIDE = 65535
_IMAGE_ENCODINGS = ("jpeg", "png", "jxl")


def normalize_encoding(encoding: str) -> str:
    """Lower-case an encoding name and check that it is one of `SUPPORTED_ENCODINGS`."""
    if not isinstance(encoding, str):
        raise UnsupportedFormatError(f"Encoding must be a string, not {encoding!r}.")
    name = encoding.strip().lower()
    if name not in SUPPORTED_ENCODINGS:
        raise UnsupportedFormatError(
            f"Unknown precomputed encoding {encoding!r}; supported: "
            f"{', '.join(sorted(SUPPORTED_ENCODINGS))}."
        )
    return name


def check_encoding(encoding: str, dtype: npt.DTypeLike, num_channels: int) -> str:
    """Check that `encoding` can store `num_channels` channels of `dtype`; return its normal name.

    Rules: raw takes any numeric dtype; compressed_segmentation uint32/uint64 with any channel
    count; jpeg uint8 with 1 or 3 channels; png uint8/uint16 with 1-4 channels; compresso one
    channel of unsigned integers; jxl uint8 with 1, 3 or 4 channels.
    Raises `UnsupportedFormatError` otherwise.
    """
    name = normalize_encoding(encoding)
    try:
        dt = np.dtype(dtype)
    except TypeError as exc:
        raise UnsupportedFormatError(f"Not a data type: {dtype!r}.") from exc
    if isinstance(num_channels, bool) or not isinstance(num_channels, int | np.integer):
        raise UnsupportedFormatError(f"num_channels must be an integer, not {num_channels!r}.")
    channels = int(num_channels)
    if channels < 1:
        raise UnsupportedFormatError(f"num_channels must be at least 1, not {channels}.")
    if dt.kind not in "iuf" or dt.itemsize == 0 or dt.fields is not None:
        raise UnsupportedFormatError(f"Data type {dt} cannot be stored in precomputed chunks.")
    dtype_name = dt.name
    dt = dt.newbyteorder("=")  # byte order does not matter here

    def refuse(rule: str) -> UnsupportedFormatError:
        return UnsupportedFormatError(
            f"The {name!r} encoding stores {rule}; it cannot store {channels} channel(s) of "
            f"{dtype_name}."
        )

    if name == "compressed_segmentation":
        if dt.kind != "u" or dt.itemsize not in (4, 8):
            raise refuse("uint32 or uint64 data (any number of channels)")
    elif name == "jpeg":
        if dt != np.uint8 or channels not in (1, 3):
            raise refuse("uint8 data with 1 or 3 channels")
    elif name == "png":
        if dt not in (np.dtype(np.uint8), np.dtype(np.uint16)) or not 1 <= channels <= 4:
            raise refuse("uint8 or uint16 data with 1 to 4 channels")
    elif name == "compresso":
        if dt.kind != "u" or channels != 1:
            raise refuse("one channel of unsigned integer labels")
    elif name == "jxl" and (dt != np.uint8 or channels not in (1, 3, 4)):
        raise refuse("uint8 data with 1, 3 or 4 channels")
    return name


def max_encoded_size(encoding: str, decoded_nbytes: int) -> int:
    """The most bytes a chunk that decodes to `decoded_nbytes` may take in `encoding`.

    Exact for raw. For the compressed encodings a generous bound (8x plus 1 MiB: cseg with tiny
    blocks takes up to 3x, jpeg of noise at quality 100 about 2x), so that no valid chunk is
    refused, while a hostile file (a gzip bomb, a huge sparse file) is refused before it is read.
    """
    if normalize_encoding(encoding) == "raw":
        return decoded_nbytes
    return 8 * decoded_nbytes + (1 << 20)


def _block_size(block_size: Sequence[int] | None) -> tuple[int, int, int]:
    if block_size is None:
        return DEFAULT_CSEG_BLOCK_SIZE
    try:
        values = tuple(int(v) for v in block_size)
    except (TypeError, ValueError) as exc:
        raise InvalidArgumentError(
            f"Invalid compressed_segmentation block size {block_size!r}."
        ) from exc
    if len(values) != 3 or min(values) < 1:
        raise InvalidArgumentError(
            f"compressed_segmentation block size must be 3 positive integers, not {block_size!r}."
        )
    return values[0], values[1], values[2]


def _import_optional(encoding: str) -> Any:
    module, pip_name = _OPTIONAL[encoding]
    try:
        return importlib.import_module(module)
    except ImportError as exc:
        raise UnsupportedFormatError(
            f"The {encoding!r} encoding needs the optional package {pip_name!r} "
            f"(pip install {pip_name})."
        ) from exc


def _writable(array: npt.NDArray[Any]) -> npt.NDArray[Any]:
    return array if array.flags.writeable else array.copy(order="K")


# --------------------------------------------------------------------------------------------
# Image tiling shared by jpeg, png and jxl: the chunk's voxels in [x, y, z] Fortran order,
# read row after row, with `channels` interleaved samples per pixel.
# --------------------------------------------------------------------------------------------


def _image_dims(shape3: tuple[int, int, int], max_side: int | None) -> tuple[int, int]:
    """(width, height) of the image holding a chunk: x by y*z, else x*y by z, else any split."""
    sx, sy, sz = shape3
    total = sx * sy * sz
    for width in (sx, sx * sy):
        if max_side is None or (width <= max_side and total // width <= max_side):
            return width, total // width
    assert max_side is not None
    for width in range(max(1, -(-total // max_side)), max_side + 1):
        if total % width == 0 and total // width <= max_side:
            return width, total // width
    raise UnsupportedFormatError(
        f"A {sx}x{sy}x{sz} chunk cannot be tiled into an image of at most "
        f"{max_side}x{max_side} pixels; use smaller chunks."
    )


def _to_pixels(data: npt.NDArray[Any], width: int, height: int) -> npt.NDArray[Any]:
    """`(c, x, y, z)` -> `(height, width, c)` C-contiguous pixels."""
    channels = data.shape[0]
    return np.ascontiguousarray(data.transpose(3, 2, 1, 0)).reshape(height, width, channels)


def _from_pixels(pixels: npt.NDArray[Any], shape: tuple[int, int, int, int]) -> npt.NDArray[Any]:
    """Row-major interleaved samples (any 2-D tiling) -> Fortran-ordered `(c, x, y, z)`."""
    c, sx, sy, sz = shape
    return _writable(pixels.reshape(sz, sy, sx, c).transpose(3, 2, 1, 0))


def _check_area(encoding: str, width: int, height: int, shape: tuple[int, int, int, int]) -> None:
    expected = shape[1] * shape[2] * shape[3]
    if width * height != expected:
        raise CorruptChunkError(
            f"{encoding} chunk is a {width}x{height} image ({width * height} pixels), but the "
            f"{shape[1]}x{shape[2]}x{shape[3]} chunk needs {expected} pixels"
        )


def _check_components(encoding: str, found: int, expected: int) -> None:
    if found != expected:
        raise CorruptChunkError(
            f"{encoding} chunk has {found} component(s) per pixel, but the volume has "
            f"{expected} channel(s)"
        )


# --------------------------------------------------------------------------------------------
# raw
# --------------------------------------------------------------------------------------------


def _encode_raw(data: npt.NDArray[Any]) -> bytearray:
    """The chunk's bytes (x fastest per channel) in one copy, written straight into the buffer."""
    little = data.dtype.newbyteorder("<") if data.dtype.itemsize > 1 else data.dtype
    c, sx, sy, sz = data.shape
    out = bytearray(c * sx * sy * sz * little.itemsize)
    target = np.frombuffer(out, dtype=little).reshape(c, sz, sy, sx)
    source = data.transpose(0, 3, 2, 1)
    if data.strides[1] == data.itemsize or sz <= 1:
        target[...] = source  # x runs are contiguous on both sides: a plain strided copy
    else:
        # A real transpose (x is not the fastest axis of `data`): one z plane at a time, so
        # source and target of each step stay in the CPU cache.
        for z in range(sz):
            target[:, z] = source[:, z]
    return out


def _decode_raw(
    buf: Buffer, shape: tuple[int, int, int, int], dtype: np.dtype[Any], *, writable: bool = True
) -> npt.NDArray[Any]:
    c, sx, sy, sz = shape
    expected = c * sx * sy * sz * dtype.itemsize
    actual = memoryview(buf).nbytes
    if actual != expected:
        raise CorruptChunkError(
            f"raw chunk is {actual} bytes, but a {sx}x{sy}x{sz} chunk with {c} channel(s) of "
            f"{dtype} needs exactly {expected} bytes"
        )
    little = dtype.newbyteorder("<") if dtype.itemsize > 1 else dtype
    flat = np.frombuffer(buf, dtype=little)
    if little != dtype:
        flat = flat.astype(dtype)
    view = flat.reshape(c, sz, sy, sx).transpose(0, 3, 2, 1)
    return _writable(view) if writable else view


# --------------------------------------------------------------------------------------------
# jpeg (Pillow)
# --------------------------------------------------------------------------------------------


def _encode_jpeg(data: npt.NDArray[Any], quality: int) -> bytes:
    from PIL import Image

    channels = data.shape[0]
    width, height = _image_dims(data.shape[1:], _JPEG_MAX_SIDE)
    pixels = _to_pixels(data, width, height)
    image = Image.fromarray(pixels[:, :, 0] if channels == 1 else pixels)
    out = io.BytesIO()
    # subsampling=0 is 4:4:4: no chroma subsampling, so colour does not bleed across the
    # seams between the z slices stacked in the image.
    image.save(out, format="JPEG", quality=quality, subsampling=0)
    return out.getvalue()


def _open_image(encoding: str, buf: Buffer) -> Any:
    """Open with Pillow's plugin class directly: `Image.open` would apply its decompression-bomb
    limit, but the image's area has to equal the chunk's anyway (checked before loading)."""
    from PIL import JpegImagePlugin, PngImagePlugin

    plugin = JpegImagePlugin.JpegImageFile if encoding == "jpeg" else PngImagePlugin.PngImageFile
    try:
        return plugin(io.BytesIO(buf))
    except MemoryError:
        raise
    except Exception as exc:
        raise CorruptChunkError(f"{encoding} chunk cannot be decoded: {exc}") from exc


def _decode_jpeg(buf: Buffer, shape: tuple[int, int, int, int]) -> npt.NDArray[Any]:
    with _open_image("jpeg", buf) as image:
        width, height = image.size
        _check_area("jpeg", width, height, shape)
        components = {"L": 1, "RGB": 3}.get(image.mode)
        if components is None:
            raise CorruptChunkError(
                f"jpeg chunk has unsupported colour mode {image.mode!r} (expected grayscale or RGB)"
            )
        _check_components("jpeg", components, shape[0])
        try:
            image.load()
            pixels = np.asarray(image)
        except MemoryError:
            raise
        except Exception as exc:
            raise CorruptChunkError(f"jpeg chunk cannot be decoded: {exc}") from exc
    return _from_pixels(pixels, shape)


# --------------------------------------------------------------------------------------------
# png (own writer; Pillow or own reader)
# --------------------------------------------------------------------------------------------


def _encode_png(data: npt.NDArray[Any], level: int) -> bytes:
    width, height = _image_dims(data.shape[1:], None)
    return _codec_png.encode_png(_to_pixels(data, width, height), level)


_PIL_PNG_MODES = {(8, 1): "L", (8, 2): "LA", (8, 3): "RGB", (8, 4): "RGBA", (16, 1): "I;16"}


def _decode_png(
    buf: Buffer, shape: tuple[int, int, int, int], dtype: np.dtype[Any]
) -> npt.NDArray[Any]:
    raw = bytes(buf)
    header, idat = _codec_png.parse_png(raw)
    _check_area("png", header.width, header.height, shape)
    if header.channels == 0 or header.bit_depth not in (8, 16):
        raise CorruptChunkError(
            f"png chunk has bit depth {header.bit_depth} and colour type {header.color_type}; "
            "expected 8 or 16 bits of gray, gray+alpha, RGB or RGBA"
        )
    _check_components("png", header.channels, shape[0])
    if header.bit_depth != 8 * dtype.itemsize:
        raise CorruptChunkError(
            f"png chunk has {header.bit_depth}-bit samples, but the volume is {dtype}"
        )
    mode = _PIL_PNG_MODES.get((header.bit_depth, header.channels))
    if mode is None:
        # Pillow truncates 16-bit gray+alpha, RGB and RGBA to 8 bits: decode those ourselves.
        pixels = _codec_png.decode_pixels(header, idat)
        return _from_pixels(pixels, shape)
    with _open_image("png", raw) as image:
        try:
            image.load()
            pixels = np.asarray(image)
        except MemoryError:
            raise
        except Exception as exc:
            raise CorruptChunkError(f"png chunk cannot be decoded: {exc}") from exc
        found = image.mode
    if found != mode and not (mode == "I;16" and found in ("I;16B", "I;16L", "I")):
        raise CorruptChunkError(f"png chunk decoded to image mode {found!r}, expected {mode!r}")
    return _from_pixels(pixels.astype(dtype, copy=False), shape)


# --------------------------------------------------------------------------------------------
# compresso and jxl (optional packages)
# --------------------------------------------------------------------------------------------


def _encode_compresso(data: npt.NDArray[Any]) -> bytes:
    return _codec_compresso.encode(_import_optional("compresso"), data[0])


def _decode_compresso(
    buf: Buffer, shape: tuple[int, int, int, int], dtype: np.dtype[Any]
) -> npt.NDArray[Any]:
    compresso = _import_optional("compresso")
    volume = _codec_compresso.decode(compresso, buf, (shape[1], shape[2], shape[3]), dtype)
    return _writable(volume[np.newaxis])


def _encode_jxl(data: npt.NDArray[Any], quality: int) -> bytes:
    imagecodecs = _import_optional("jxl")
    width, height = _image_dims(data.shape[1:], None)
    pixels = _to_pixels(data, width, height)
    if data.shape[0] == 1:
        pixels = pixels[:, :, 0]
    if quality >= 100:
        encoded = imagecodecs.jpegxl_encode(pixels, lossless=True)
    else:
        encoded = imagecodecs.jpegxl_encode(pixels, level=quality)
    return bytes(encoded)


def _decode_jxl(buf: Buffer, shape: tuple[int, int, int, int]) -> npt.NDArray[Any]:
    imagecodecs = _import_optional("jxl")
    try:
        pixels = np.asarray(imagecodecs.jpegxl_decode(bytes(buf)))
    except MemoryError:
        raise
    except Exception as exc:
        raise CorruptChunkError(f"jxl chunk cannot be decoded: {exc}") from exc
    if pixels.ndim not in (2, 3) or pixels.dtype != np.uint8:
        raise CorruptChunkError(
            f"jxl chunk decoded to a {pixels.dtype} array of shape {pixels.shape}; expected "
            "8-bit pixels"
        )
    height, width = pixels.shape[:2]
    _check_area("jxl", width, height, shape)
    _check_components("jxl", 1 if pixels.ndim == 2 else pixels.shape[2], shape[0])
    return _from_pixels(pixels, shape)


# --------------------------------------------------------------------------------------------
# Public API
# --------------------------------------------------------------------------------------------


def _check_level(name: str, value: object, top: int) -> None:
    """`value` must be an integer (not a bool, NaN or string) in `0..top`."""
    if (
        isinstance(value, bool)
        or not isinstance(value, int | np.integer)
        or not 0 <= int(value) <= top
    ):
        raise InvalidArgumentError(f"{name} must be an integer from 0 to {top}, not {value!r}.")


def encode_chunk(
    data: npt.NDArray[Any],
    encoding: str,
    *,
    block_size: Sequence[int] | None = None,
    jpeg_quality: int = 95,
    png_level: int = 6,
) -> bytes:
    """Encode one chunk, `data` of shape `(c, x, y, z)` (the clipped shape for edge chunks).

    `block_size` is the compressed_segmentation block size (default 8x8x8); `jpeg_quality`
    (0-100) is used by jpeg and jxl (jxl: 100 means lossless), `png_level` (zlib 0-9) by png.
    """
    encoded = encode_chunk_buffer(
        data, encoding, block_size=block_size, jpeg_quality=jpeg_quality, png_level=png_level
    )
    return encoded if isinstance(encoded, bytes) else bytes(encoded)


def encode_chunk_buffer(
    data: npt.NDArray[Any],
    encoding: str,
    *,
    block_size: Sequence[int] | None = None,
    jpeg_quality: int = 95,
    png_level: int = 6,
) -> bytes | bytearray:
    """`encode_chunk` without the final copy into `bytes` (raw chunks come as a `bytearray`)."""
    if not isinstance(data, np.ndarray) or data.ndim != 4:
        raise DataShapeError(
            f"A chunk must be a 4-D (c, x, y, z) numpy array, not {type(data).__name__} "
            f"of shape {getattr(data, 'shape', None)}."
        )
    name = check_encoding(encoding, data.dtype, int(data.shape[0]))
    _check_level("jpeg_quality", jpeg_quality, 100)
    _check_level("png_level", png_level, 9)
    if name in _IMAGE_ENCODINGS and data.size == 0:
        raise DataShapeError(f"Cannot encode an empty chunk (shape {data.shape}) as {name}.")
    if name == "raw":
        return _encode_raw(data)
    if name == "compressed_segmentation":
        return _cseg.encode(data, _block_size(block_size))
    if name == "jpeg":
        return _encode_jpeg(data, int(jpeg_quality))
    if name == "png":
        return _encode_png(data, int(png_level))
    if name == "compresso":
        return _encode_compresso(data)
    return _encode_jxl(data, int(jpeg_quality))


def chunk_encoder(
    encoding: str,
    dtype: npt.DTypeLike,
    num_channels: int,
    *,
    block_size: Sequence[int] | None = None,
    jpeg_quality: int = 95,
    png_level: int = 6,
) -> Callable[[npt.NDArray[Any]], bytes | bytearray]:
    """`encode_chunk_buffer` with every argument checked once, for the many chunks of one write:
    the returned function takes `(c, x, y, z)` chunks of `dtype` with `num_channels` channels."""
    name = check_encoding(encoding, dtype, num_channels)
    _check_level("jpeg_quality", jpeg_quality, 100)
    _check_level("png_level", png_level, 9)
    if name == "raw":
        return _encode_raw
    if name == "compressed_segmentation":
        block = _block_size(block_size)
        return lambda data: _cseg.encode(data, block)
    return functools.partial(
        encode_chunk_buffer,
        encoding=name,
        block_size=block_size,
        jpeg_quality=jpeg_quality,
        png_level=png_level,
    )


def decode_chunk(
    buf: Buffer,
    encoding: str,
    shape: Sequence[int],
    dtype: npt.DTypeLike,
    *,
    block_size: Sequence[int] | None = None,
    writable: bool = True,
) -> npt.NDArray[Any]:
    """Decode one chunk to a `(c, x, y, z)` array of `dtype` (writable unless `writable=False`,
    which lets raw chunks be a view of `buf`: no copy when the caller only reads).

    `shape` is `(c, x, y, z)`, the clipped shape for edge chunks; `block_size` is the
    compressed_segmentation block size (default 8x8x8). Raises `CorruptChunkError` when the
    bytes do not decode to that shape.
    """
    try:
        dims = tuple(int(v) for v in shape)
    except (TypeError, ValueError) as exc:
        raise DataShapeError(
            f"Chunk shape must be 4 integers (c, x, y, z), not {shape!r}."
        ) from exc
    if len(dims) != 4 or min(dims) < 0:
        raise DataShapeError(
            f"Chunk shape must be 4 non-negative integers (c, x, y, z), not {shape!r}."
        )
    full = (dims[0], dims[1], dims[2], dims[3])
    dt = np.dtype(dtype)
    name = check_encoding(encoding, dt, max(full[0], 1))
    if name == "raw":
        return _decode_raw(buf, full, dt, writable=writable)
    if name == "compressed_segmentation":
        return _cseg.decode(buf, full, dt, _block_size(block_size))
    if name in _IMAGE_ENCODINGS and 0 in full:
        raise CorruptChunkError(f"An empty chunk (shape {full}) has no {name} representation.")
    if name == "jpeg":
        return _decode_jpeg(buf, full)
    if name == "png":
        return _decode_png(buf, full, dt)
    if name == "compresso":
        return _decode_compresso(buf, full, dt)
    return _decode_jxl(buf, full)


def decode_chunk_into(
    buf: Buffer,
    encoding: str,
    shape: Sequence[int],
    out: npt.NDArray[Any],
    start: Sequence[int],
    *,
    block_size: Sequence[int] | None = None,
) -> None:
    """Decode the voxels `start + [0, out.shape[1:])` of a chunk of `shape` into `out`.

    compressed_segmentation decodes straight into `out` (compiled kernel, when numba is
    installed); raw copies from a view of `buf`; other encodings decode the chunk, then copy.
    """
    dims = tuple(int(v) for v in shape)
    if len(dims) != 4 or len(out.shape) != 4:
        raise DataShapeError(f"Chunk shape must be 4 integers (c, x, y, z), not {shape!r}.")
    full = (dims[0], dims[1], dims[2], dims[3])
    begin = (int(start[0]), int(start[1]), int(start[2]))
    if normalize_encoding(encoding) == "compressed_segmentation" and _cseg.decode_into(
        buf, full, _block_size(block_size), out, begin
    ):
        return
    data = decode_chunk(buf, encoding, full, out.dtype, block_size=block_size, writable=False)
    region = tuple(slice(b, b + n) for b, n in zip(begin, out.shape[1:], strict=True))
    key = (slice(None), *region)
    out[...] = data[key]
