"""Precomputed chunk codecs: raw, jpeg, png, compresso, jxl, and the shared API rules."""

from __future__ import annotations

import io
import struct
import zlib
from typing import Any

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from PIL import Image

from webknossos_like.errors import (
    CorruptChunkError,
    DataShapeError,
    InvalidArgumentError,
    UnsupportedFormatError,
)
from webknossos_like.storage.precomputed import _codec_png, codecs
from webknossos_like.storage.precomputed.codecs import (
    SUPPORTED_ENCODINGS,
    check_encoding,
    chunk_encoder,
    decode_chunk,
    encode_chunk,
)

SETTINGS = settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])

# Odd, edge-clipped chunk shapes, including 1-voxel dimensions.
dims = st.integers(1, 9)
shapes3 = st.tuples(dims, dims, dims)


def random_chunk(
    seed: int, shape: tuple[int, ...], dtype: Any, high: int | None = None
) -> np.ndarray:
    rng = np.random.default_rng(seed)
    dt = np.dtype(dtype)
    if dt.kind == "f":
        return rng.standard_normal(shape).astype(dt)
    if dt.kind == "b":
        return rng.integers(0, 2, shape).astype(dt)
    info = np.iinfo(dt)
    top = info.max if high is None else min(info.max, high)
    return rng.integers(info.min, top, shape, dtype=dt, endpoint=True)


# --------------------------------------------------------------------------------------------
# check_encoding / API
# --------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("encoding", "dtype", "channels"),
    [
        ("raw", "float64", 7),
        ("raw", "int16", 1),
        ("RAW", "uint8", 2),
        ("compressed_segmentation", "uint32", 1),
        ("Compressed_Segmentation", "uint64", 5),
        ("jpeg", "uint8", 1),
        ("JPEG", "uint8", 3),
        ("png", "uint8", 4),
        ("Png", "uint16", 2),
        ("compresso", "uint64", 1),
        ("jxl", "uint8", 4),
    ],
)
def test_check_encoding_accepts(encoding: str, dtype: str, channels: int) -> None:
    assert check_encoding(encoding, dtype, channels) == encoding.lower()


@pytest.mark.parametrize(
    ("encoding", "dtype", "channels"),
    [
        ("compressed_segmentation", "uint16", 1),
        ("compressed_segmentation", "int32", 1),
        ("compressed_segmentation", "float32", 1),
        ("jpeg", "uint16", 1),
        ("jpeg", "uint8", 2),
        ("jpeg", "uint8", 4),
        ("png", "uint32", 1),
        ("png", "int16", 1),
        ("png", "uint8", 5),
        ("compresso", "uint32", 2),
        ("compresso", "int32", 1),
        ("jxl", "uint8", 2),
        ("jxl", "uint16", 1),
        ("raw", "object", 1),
        ("raw", "U4", 1),
        ("raw", "uint8", 0),
        ("fpzip", "float32", 1),
        ("gzip", "uint8", 1),
    ],
)
def test_check_encoding_rejects(encoding: str, dtype: str, channels: int) -> None:
    with pytest.raises(UnsupportedFormatError):
        check_encoding(encoding, dtype, channels)


def test_error_message_is_clear() -> None:
    with pytest.raises(
        UnsupportedFormatError, match=r"'jpeg'.*uint8 data with 1 or 3 channels.*2 channel"
    ):
        check_encoding("jpeg", "uint8", 2)
    with pytest.raises(UnsupportedFormatError, match="Unknown precomputed encoding 'kempressed'"):
        check_encoding("kempressed", "uint8", 1)


def test_supported_encodings() -> None:
    assert {
        "raw",
        "compressed_segmentation",
        "jpeg",
        "png",
        "compresso",
        "jxl",
    } == SUPPORTED_ENCODINGS


def test_encode_rejects_bad_arguments() -> None:
    data = np.zeros((1, 2, 2, 2), np.uint8)
    with pytest.raises(DataShapeError):
        encode_chunk(np.zeros((2, 2, 2), np.uint8), "raw")
    with pytest.raises(UnsupportedFormatError):
        encode_chunk(data.astype(np.float32), "jpeg")
    with pytest.raises(InvalidArgumentError):
        encode_chunk(data, "jpeg", jpeg_quality=101)
    with pytest.raises(InvalidArgumentError):
        encode_chunk(data, "png", png_level=10)
    with pytest.raises(InvalidArgumentError):
        encode_chunk(data.astype(np.uint32), "compressed_segmentation", block_size=(8, 0, 8))
    with pytest.raises(DataShapeError):
        encode_chunk(np.zeros((1, 0, 2, 2), np.uint8), "png")
    with pytest.raises(DataShapeError):
        decode_chunk(b"", "raw", (1, 2, 2), np.uint8)


# --------------------------------------------------------------------------------------------
# raw
# --------------------------------------------------------------------------------------------

RAW_DTYPES = [
    "uint8",
    "int8",
    "uint16",
    "int16",
    "uint32",
    "int32",
    "uint64",
    "int64",
    "float32",
    "float64",
]


@pytest.mark.parametrize(
    ("encoding", "dtype", "channels", "options"),
    [
        ("raw", "uint8", 1, {}),
        ("raw", ">u2", 2, {}),
        ("compressed_segmentation", "uint32", 2, {"block_size": (4, 2, 3)}),
        ("compressed_segmentation", "uint64", 1, {}),
        ("jpeg", "uint8", 3, {"jpeg_quality": 80}),
        ("png", "uint16", 1, {"png_level": 1}),
    ],
)
def test_chunk_encoder_writes_what_encode_chunk_writes(
    encoding: str, dtype: str, channels: int, options: dict[str, Any]
) -> None:
    encode = chunk_encoder(encoding, dtype, channels, **options)
    for seed, shape3 in enumerate([(8, 8, 8), (5, 3, 7), (1, 1, 1)]):
        native = np.dtype(dtype).newbyteorder("=")
        data = random_chunk(seed, (channels, *shape3), native, high=50).astype(dtype)
        assert bytes(encode(data)) == encode_chunk(data, encoding, **options)


def test_chunk_encoder_checks_its_arguments_once() -> None:
    with pytest.raises(UnsupportedFormatError):
        chunk_encoder("jpeg", "float32", 1)
    with pytest.raises(InvalidArgumentError):
        chunk_encoder("png", "uint8", 1, png_level=10)
    with pytest.raises(InvalidArgumentError):
        chunk_encoder("compressed_segmentation", "uint32", 1, block_size=(8, 0, 8))


@SETTINGS
@given(st.sampled_from(RAW_DTYPES), st.integers(1, 4), shapes3, st.integers(0, 2**32 - 1))
def test_raw_round_trip(dtype: str, channels: int, shape3: tuple[int, int, int], seed: int) -> None:
    data = random_chunk(seed, (channels, *shape3), dtype)
    encoded = encode_chunk(data, "raw")
    assert len(encoded) == data.nbytes
    # [x, y, z, c] Fortran order, little-endian == C-order (c, z, y, x).
    assert (
        encoded
        == np.ascontiguousarray(data.transpose(0, 3, 2, 1))
        .astype(data.dtype.newbyteorder("<"))
        .tobytes()
    )
    decoded = decode_chunk(encoded, "raw", data.shape, dtype)
    assert decoded.dtype == np.dtype(dtype) and decoded.shape == data.shape
    np.testing.assert_array_equal(decoded, data)
    assert decoded.flags.writeable


def test_raw_layout_by_hand() -> None:
    # 2x1x1 chunk, 2 channels, uint16: bytes are x fastest, channel slowest, little-endian.
    data = np.array([[[[0x0102]], [[0x0304]]], [[[0x0506]], [[0x0708]]]], dtype=np.uint16)
    assert data.shape == (2, 2, 1, 1)
    assert encode_chunk(data, "raw") == bytes([2, 1, 4, 3, 6, 5, 8, 7])
    np.testing.assert_array_equal(
        decode_chunk(bytes([2, 1, 4, 3, 6, 5, 8, 7]), "raw", (2, 2, 1, 1), "uint16"), data
    )


def test_raw_big_endian_and_fortran_input() -> None:
    data = random_chunk(1, (2, 3, 4, 5), np.int32)
    expected = encode_chunk(data, "raw")
    assert encode_chunk(data.astype(">i4"), "raw") == expected
    assert encode_chunk(np.asfortranarray(data), "raw") == expected
    np.testing.assert_array_equal(decode_chunk(expected, "raw", data.shape, ">i4"), data)


def test_raw_length_is_checked() -> None:
    data = random_chunk(2, (1, 3, 4, 5), np.uint16)
    encoded = encode_chunk(data, "raw")
    with pytest.raises(CorruptChunkError, match=r"119 bytes.*exactly 120 bytes"):
        decode_chunk(encoded[:-1], "raw", data.shape, np.uint16)
    with pytest.raises(CorruptChunkError, match="exactly 120 bytes"):
        decode_chunk(encoded + b"\0\0", "raw", data.shape, np.uint16)
    # The full-size length of an edge chunk is refused too (no padding on disk).
    with pytest.raises(CorruptChunkError):
        decode_chunk(encoded, "raw", (1, 3, 4, 4), np.uint16)


def test_raw_decode_accepts_buffers_and_is_x_fastest() -> None:
    data = random_chunk(3, (1, 4, 3, 2), np.uint8)
    encoded = encode_chunk(data, "raw")
    for buf in (bytearray(encoded), memoryview(encoded)):
        decoded = decode_chunk(buf, "raw", data.shape, np.uint8)
        np.testing.assert_array_equal(decoded, data)
        assert decoded.flags.writeable
    assert decode_chunk(encoded, "raw", data.shape, np.uint8).flags.f_contiguous


# --------------------------------------------------------------------------------------------
# jpeg
# --------------------------------------------------------------------------------------------


def smooth_chunk(seed: int, shape: tuple[int, int, int, int]) -> np.ndarray:
    rng = np.random.default_rng(seed)
    c, x, y, z = shape
    gx, gy, gz = np.meshgrid(np.arange(x), np.arange(y), np.arange(z), indexing="ij")
    base = rng.integers(30, 200, c)[:, None, None, None]
    slope = rng.integers(-3, 4, (c, 3))
    vals = (
        base
        + slope[:, 0, None, None, None] * gx
        + slope[:, 1, None, None, None] * gy
        + slope[:, 2, None, None, None] * gz
    )
    return np.clip(vals, 0, 255).astype(np.uint8)


def sof_sampling(jpeg: bytes) -> list[tuple[int, int]]:
    """(h, v) sampling factors of each component in the first SOF marker."""
    i = 2
    while i < len(jpeg):
        marker, length = jpeg[i + 1], struct.unpack(">H", jpeg[i + 2 : i + 4])[0]
        if marker in (0xC0, 0xC1, 0xC2):
            n = jpeg[i + 9]
            return [(jpeg[i + 11 + 3 * k] >> 4, jpeg[i + 11 + 3 * k] & 15) for k in range(n)]
        i += 2 + length
    raise AssertionError("no SOF")


@SETTINGS
@given(st.sampled_from([1, 3]), shapes3, st.integers(0, 2**32 - 1))
def test_jpeg_round_trip_within_tolerance(
    channels: int, shape3: tuple[int, int, int], seed: int
) -> None:
    data = smooth_chunk(seed, (channels, *shape3))
    encoded = encode_chunk(data, "jpeg", jpeg_quality=95)
    decoded = decode_chunk(encoded, "jpeg", data.shape, np.uint8)
    assert decoded.shape == data.shape and decoded.dtype == np.uint8
    assert np.abs(decoded.astype(int) - data).max() <= 12
    assert decoded.flags.writeable


@pytest.mark.parametrize("quality", [100, 95, 90])
def test_jpeg_constant_data(quality: int) -> None:
    for value in (0, 1, 37, 128, 254, 255):
        gray = np.full((1, 5, 3, 7), value, np.uint8)
        decoded = decode_chunk(
            encode_chunk(gray, "jpeg", jpeg_quality=quality), "jpeg", gray.shape, np.uint8
        )
        np.testing.assert_array_equal(decoded, gray)
        rgb_gray = np.full((3, 5, 3, 7), value, np.uint8)
        decoded = decode_chunk(
            encode_chunk(rgb_gray, "jpeg", jpeg_quality=quality), "jpeg", rgb_gray.shape, np.uint8
        )
        np.testing.assert_array_equal(decoded, rgb_gray)
    # Arbitrary constant colours: exact up to the YCbCr <-> RGB rounding (at most 1).
    colour = np.empty((3, 5, 3, 7), np.uint8)
    colour[:] = np.array([200, 30, 90], np.uint8)[:, None, None, None]
    decoded = decode_chunk(
        encode_chunk(colour, "jpeg", jpeg_quality=quality), "jpeg", colour.shape, np.uint8
    )
    assert np.abs(decoded.astype(int) - colour).max() <= 1


def test_jpeg_layout_channels_and_subsampling() -> None:
    data = np.zeros((3, 4, 3, 2), np.uint8)
    data[0] = 250  # red everywhere
    data[1, 1, 2, 1] = 250  # one yellow voxel
    encoded = encode_chunk(data, "jpeg", jpeg_quality=100)
    with Image.open(io.BytesIO(encoded)) as image:
        assert image.size == (4, 6) and image.mode == "RGB"  # width x, height y*z
        pixels = np.asarray(image)
    assert np.abs(pixels[1 * 3 + 2, 1].astype(int) - [250, 250, 0]).max() <= 3
    assert sof_sampling(encoded) == [(1, 1), (1, 1), (1, 1)]  # 4:4:4
    decoded = decode_chunk(encoded, "jpeg", data.shape, np.uint8)
    assert abs(int(decoded[1, 1, 2, 1]) - 250) <= 3 and int(decoded[1, 0, 0, 0]) <= 3


def test_jpeg_checks_only_area_and_components() -> None:
    data = smooth_chunk(5, (1, 6, 4, 3))
    # A width x*y, height z image (the other recommended tiling) decodes the same.
    image = Image.fromarray(np.ascontiguousarray(data[0].transpose(2, 1, 0)).reshape(3, 24))
    out = io.BytesIO()
    image.save(out, format="JPEG", quality=100)
    decoded = decode_chunk(out.getvalue(), "jpeg", data.shape, np.uint8)
    assert np.abs(decoded.astype(int) - data).max() <= 2
    with pytest.raises(CorruptChunkError, match=r"pixels"):
        decode_chunk(out.getvalue(), "jpeg", (1, 6, 4, 4), np.uint8)
    with pytest.raises(CorruptChunkError, match=r"component"):
        decode_chunk(out.getvalue(), "jpeg", (3, 6, 4, 3), np.uint8)


def test_jpeg_tall_chunks_are_retiled() -> None:
    # x by y*z would be 70,000 pixels high, more than JPEG allows.
    data = np.full((1, 2, 2, 35000), 9, np.uint8)
    encoded = encode_chunk(data, "jpeg")
    with Image.open(io.BytesIO(encoded)) as image:
        width, height = image.size
    assert width * height == 140000 and max(width, height) <= 65535
    np.testing.assert_array_equal(decode_chunk(encoded, "jpeg", data.shape, np.uint8), data)


# --------------------------------------------------------------------------------------------
# png
# --------------------------------------------------------------------------------------------


@SETTINGS
@given(
    st.sampled_from(["uint8", "uint16"]),
    st.integers(1, 4),
    shapes3,
    st.integers(0, 2**32 - 1),
    st.integers(0, 9),
)
def test_png_round_trip(
    dtype: str, channels: int, shape3: tuple[int, int, int], seed: int, level: int
) -> None:
    data = random_chunk(seed, (channels, *shape3), dtype)
    encoded = encode_chunk(data, "png", png_level=level)
    decoded = decode_chunk(encoded, "png", data.shape, dtype)
    assert decoded.dtype == np.dtype(dtype)
    np.testing.assert_array_equal(decoded, data)
    assert decoded.flags.writeable and decoded.flags.f_contiguous


@pytest.mark.parametrize("channels", [1, 2, 3, 4])
def test_png_file_is_standard(channels: int) -> None:
    data = random_chunk(7, (channels, 5, 3, 2), np.uint16)
    encoded = encode_chunk(data, "png")
    header, idat = _codec_png.parse_png(encoded)
    assert (header.width, header.height, header.bit_depth, header.channels) == (5, 6, 16, channels)
    raw = zlib.decompress(idat)
    first_row = np.frombuffer(raw[1 : 1 + 5 * 2 * channels], np.uint8)
    if raw[0] == 0:  # unfiltered first row: big-endian samples of voxel (0, 0, 0)
        assert int(first_row[0]) * 256 + int(first_row[1]) == data[0, 0, 0, 0]
    with Image.open(io.BytesIO(encoded)) as image:
        image.load()  # Pillow can parse it (it truncates 16-bit multi-channel samples)
    data8 = random_chunk(8, (channels, 5, 3, 2), np.uint8)
    with Image.open(io.BytesIO(encode_chunk(data8, "png"))) as image:
        pixels = np.asarray(image).reshape(2, 3, 5, channels)
    np.testing.assert_array_equal(pixels.transpose(3, 2, 1, 0), data8)


def test_png_16_bit_gray_via_pillow() -> None:
    data = random_chunk(9, (1, 7, 3, 2), np.uint16)
    image = Image.fromarray(
        np.ascontiguousarray(data[0].transpose(2, 1, 0)).reshape(6, 7).astype("<u2")
    )
    assert image.mode == "I;16"
    out = io.BytesIO()
    image.save(out, format="PNG")
    np.testing.assert_array_equal(decode_chunk(out.getvalue(), "png", data.shape, np.uint16), data)


def _reference_filter(rows: np.ndarray, bpp: int, types: list[int]) -> bytes:
    """Straightforward per-byte PNG filtering (the spec's definitions)."""
    out = bytearray()
    prev = [0] * rows.shape[1]
    for row, kind in zip(rows.tolist(), types, strict=True):
        out.append(kind)
        for i, x in enumerate(row):
            a = row[i - bpp] if i >= bpp else 0
            b = prev[i]
            c = prev[i - bpp] if i >= bpp else 0
            if kind == 0:
                pred = 0
            elif kind == 1:
                pred = a
            elif kind == 2:
                pred = b
            elif kind == 3:
                pred = (a + b) // 2
            else:
                p = a + b - c
                pa, pb, pc = abs(p - a), abs(p - b), abs(p - c)
                pred = a if pa <= pb and pa <= pc else (b if pb <= pc else c)
            out.append((x - pred) % 256)
        prev = row
    return bytes(out)


def _png_file(
    width: int, height: int, depth: int, color: int, idat: bytes, interlace: int = 0
) -> bytes:
    ihdr = struct.pack(">IIBBBBB", width, height, depth, color, 0, 0, interlace)
    return (
        _codec_png.SIGNATURE
        + _codec_png._chunk(b"IHDR", ihdr)
        + _codec_png._chunk(b"IDAT", zlib.compress(idat))
        + _codec_png._chunk(b"IEND", b"")
    )


@pytest.mark.parametrize(("depth", "channels"), [(16, 3), (16, 4), (16, 2), (8, 3), (8, 1)])
def test_png_reader_all_filters(depth: int, channels: int) -> None:
    rng = np.random.default_rng(depth * 10 + channels)
    shape = (channels, 6, 4, 5)
    dtype = np.uint8 if depth == 8 else np.uint16
    data = random_chunk(11, shape, dtype, high=3000)
    pixels = np.ascontiguousarray(data.transpose(3, 2, 1, 0)).reshape(20, 6 * channels)
    rows = pixels.astype(">u2" if depth == 16 else "u1").view(np.uint8).reshape(20, -1)
    bpp = channels * depth // 8
    # Every filter type, in runs and mixed (average and Paeth next to each other).
    types = [4, 4, 3, 4, 3, 3, 0, 1, 2, 2, 4, 1, 0, 0, 3, 2, 4, 4, 1, 3]
    assert len(types) == 20 and set(types) == {0, 1, 2, 3, 4}
    color = {1: 0, 2: 4, 3: 2, 4: 6}[channels]
    png = _png_file(6, 20, depth, color, _reference_filter(rows, bpp, types))
    np.testing.assert_array_equal(decode_chunk(png, "png", shape, dtype), data)
    header, idat = _codec_png.parse_png(png)
    np.testing.assert_array_equal(
        _codec_png.decode_pixels(header, idat), pixels.reshape(-1, channels)
    )
    # Random filter choices too.
    for _ in range(3):
        types = rng.integers(0, 5, 20).tolist()
        png = _png_file(6, 20, depth, color, _reference_filter(rows, bpp, types))
        np.testing.assert_array_equal(decode_chunk(png, "png", shape, dtype), data)


def _adam7(pixels: np.ndarray, bpp_dtype: str) -> bytes:
    out = b""
    for x0, y0, dx, dy in _codec_png._ADAM7:
        sub = pixels[y0::dy, x0::dx]
        if sub.size == 0:
            continue
        rows = np.ascontiguousarray(sub).astype(bpp_dtype).view(np.uint8).reshape(sub.shape[0], -1)
        bpp = rows.shape[1] // sub.shape[1]
        out += _reference_filter(rows, bpp, [(i % 5) for i in range(rows.shape[0])])
    return out


@pytest.mark.parametrize(("depth", "channels"), [(16, 3), (8, 2), (16, 1)])
def test_png_reader_interlaced(depth: int, channels: int) -> None:
    shape = (channels, 9, 3, 4)  # 9 x 12 image
    dtype = np.uint8 if depth == 8 else np.uint16
    data = random_chunk(12, shape, dtype)
    pixels = np.ascontiguousarray(data.transpose(3, 2, 1, 0)).reshape(12, 9, channels)
    color = {1: 0, 2: 4, 3: 2, 4: 6}[channels]
    png = _png_file(
        9, 12, depth, color, _adam7(pixels, ">u2" if depth == 16 else "u1"), interlace=1
    )
    np.testing.assert_array_equal(decode_chunk(png, "png", shape, dtype), data)


def test_png_checks_area_components_and_depth() -> None:
    data = random_chunk(13, (3, 4, 3, 2), np.uint8)
    encoded = encode_chunk(data, "png")
    with pytest.raises(CorruptChunkError, match="pixels"):
        decode_chunk(encoded, "png", (3, 4, 3, 3), np.uint8)
    with pytest.raises(CorruptChunkError, match="component"):
        decode_chunk(encoded, "png", (4, 4, 3, 2), np.uint8)
    with pytest.raises(CorruptChunkError, match=r"8-bit samples"):
        decode_chunk(encoded, "png", (3, 4, 3, 2), np.uint16)
    # Any tiling with the right area is accepted: x*y wide, z high.
    pixels = np.ascontiguousarray(data.transpose(3, 2, 1, 0)).reshape(2, 12, 3)
    retiled = _codec_png.encode_png(pixels, 6)
    np.testing.assert_array_equal(decode_chunk(retiled, "png", data.shape, np.uint8), data)
    # Palette images are not a precomputed png.
    image = Image.fromarray(np.zeros((6, 4), np.uint8)).convert("P")
    out = io.BytesIO()
    image.save(out, format="PNG")
    with pytest.raises(CorruptChunkError, match="colour type 3"):
        decode_chunk(out.getvalue(), "png", (1, 4, 3, 2), np.uint8)


# --------------------------------------------------------------------------------------------
# compresso and jxl (optional)
# --------------------------------------------------------------------------------------------


@SETTINGS
@given(st.sampled_from(["uint8", "uint16", "uint32", "uint64"]), shapes3, st.integers(0, 2**32 - 1))
def test_compresso_round_trip(dtype: str, shape3: tuple[int, int, int], seed: int) -> None:
    pytest.importorskip("compresso")
    data = random_chunk(seed, (1, *shape3), dtype, high=5)
    decoded = decode_chunk(encode_chunk(data, "compresso"), "compresso", data.shape, dtype)
    np.testing.assert_array_equal(decoded, data)
    assert decoded.dtype == np.dtype(dtype) and decoded.flags.writeable


def test_compresso_checks_shape() -> None:
    pytest.importorskip("compresso")
    data = random_chunk(14, (1, 4, 3, 2), np.uint32, high=3)
    encoded = encode_chunk(data, "compresso")
    with pytest.raises(CorruptChunkError, match="compresso"):
        decode_chunk(encoded, "compresso", (1, 4, 3, 3), np.uint32)
    wide = encode_chunk(data.astype(np.uint64), "compresso")
    with pytest.raises(CorruptChunkError, match="too wide"):
        decode_chunk(wide, "compresso", data.shape, np.uint32)
    np.testing.assert_array_equal(decode_chunk(encoded, "compresso", data.shape, np.uint64), data)


def test_compresso_corrupt_streams_are_refused() -> None:
    """The compresso package decodes without bounds checks; our checks must catch these first."""
    compresso = pytest.importorskip("compresso")
    data = np.zeros((1, 12, 10, 3), np.uint32)
    data[0, :6] = 3
    data[0, 6:, :4] = 70000
    data[0, 2:4, 1:8, 1] = 9
    encoded = encode_chunk(data, "compresso")
    header = compresso.header(encoded)
    assert (
        header["format_version"] == 1 and header["xstep"] * header["ystep"] * header["zstep"] == 16
    )
    np.testing.assert_array_equal(decode_chunk(encoded, "compresso", data.shape, np.uint32), data)
    index_width = int(compresso.zindex_byte_width(12, 10))
    windows_end = len(encoded) - 2 * 3 * index_width
    corrupt = {
        # The last run-length entry becomes a long run followed by a write past the grid.
        "window write past grid": encoded[: windows_end - 4]
        + b"\xff\x0f\x02\x00"
        + encoded[windows_end:],
        # The z index must start at location 0.
        "z index start": encoded[: windows_end + 3 * index_width]
        + b"\x07"
        + encoded[windows_end + 3 * index_width + 1 :],
        # Fewer locations than boundary voxels that need one.
        "location count": encoded[:27] + (0).to_bytes(8, "little") + encoded[35:],
        "truncated": encoded[:-1],
        "bad steps": encoded[:12] + b"\x00" + encoded[13:],
    }
    for name, buf in corrupt.items():
        with pytest.raises(CorruptChunkError):
            decode_chunk(buf, "compresso", data.shape, np.uint32)
            pytest.fail(name)


@SETTINGS
@given(st.sampled_from([1, 3, 4]), shapes3, st.integers(0, 2**32 - 1))
def test_jxl_round_trip(channels: int, shape3: tuple[int, int, int], seed: int) -> None:
    pytest.importorskip("imagecodecs")
    data = random_chunk(seed, (channels, *shape3), np.uint8)
    lossless = decode_chunk(
        encode_chunk(data, "jxl", jpeg_quality=100), "jxl", data.shape, np.uint8
    )
    np.testing.assert_array_equal(lossless, data)
    smooth = smooth_chunk(seed, (channels, *shape3))
    lossy = decode_chunk(encode_chunk(smooth, "jxl", jpeg_quality=90), "jxl", data.shape, np.uint8)
    # Lossy: single voxels of tiny images can be off by 70 (3,000 random cases: max 73, largest
    # mean 5.5), so the bound is on the mean error; a broken codec is off by ~80 on average.
    error = np.abs(lossy.astype(int) - smooth)
    assert error.mean() <= 8 and error.max() <= 128


@pytest.mark.parametrize(
    ("encoding", "package"), [("compresso", "compresso"), ("jxl", "imagecodecs")]
)
def test_missing_optional_package(
    monkeypatch: pytest.MonkeyPatch, encoding: str, package: str
) -> None:
    real = codecs.importlib.import_module

    def fake(name: str, *args: Any) -> Any:
        if name == package:
            raise ImportError(f"No module named {name!r}")
        return real(name, *args)

    monkeypatch.setattr(codecs.importlib, "import_module", fake)
    dtype = np.uint8
    data = np.zeros((1, 2, 2, 2), dtype)
    with pytest.raises(UnsupportedFormatError, match=f"pip install {package}"):
        encode_chunk(data, encoding)
    with pytest.raises(UnsupportedFormatError, match=f"optional package '{package}'"):
        decode_chunk(b"xx", encoding, data.shape, dtype)
