"""compressed_segmentation: layout by hand, bit widths, shared tables, the C package's defects."""

from __future__ import annotations

from typing import Any

import compressed_segmentation as cseg_pkg  # type: ignore[import-not-found,unused-ignore]
import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from webknossos_like.errors import CorruptChunkError, UnsupportedFormatError
from webknossos_like.storage.precomputed import _cseg
from webknossos_like.storage.precomputed.codecs import decode_chunk, encode_chunk

CSEG = "compressed_segmentation"
SETTINGS = settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])


def words(*values: int) -> bytes:
    return np.array(values, dtype="<u4").tobytes()


def both_decoders(
    buf: bytes, shape: tuple[int, int, int, int], dtype: Any, block: tuple[int, int, int]
) -> np.ndarray:
    """Decode with numpy and with the package path; they must agree."""
    ours = _cseg.decode(buf, shape, np.dtype(dtype), block, use_package=False)
    package = _cseg.decode(buf, shape, np.dtype(dtype), block, use_package=True)
    np.testing.assert_array_equal(ours, package)
    public = decode_chunk(buf, CSEG, shape, dtype, block_size=block)
    np.testing.assert_array_equal(ours, public)
    assert public.dtype == np.dtype(dtype) and public.shape == shape and public.flags.writeable
    return ours


def header_bits(buf: bytes, nblocks: int = 1) -> list[int]:
    """encodedBits of the first `nblocks` blocks of channel 0."""
    w = np.frombuffer(buf, "<u4")
    base = int(w[0])
    return [int(v) >> 24 for v in w[base : base + 2 * nblocks : 2]]


# --------------------------------------------------------------------------------------------
# Bytes built by hand (the layout checked independently of any encoder)
# --------------------------------------------------------------------------------------------

# A 3x2x1 uint32 chunk with 2x2x1 blocks: block 0 (x 0-1) holds 5 and 7, block 1 (x 2,
# clipped) holds only 7. Voxel (x, y): (0,0)=5 (1,0)=7 (0,1)=5 (1,1)=5 (2,0)=7 (2,1)=7.
EXAMPLE = np.array([[[[5], [5]], [[7], [5]], [[7], [7]]]], dtype=np.uint32)


def test_hand_built_neuroglancer_layout() -> None:
    # Neuroglancer's order: headers, values(0), table(0), values(1) (empty), table(1).
    # Block 0: table [5, 7] at word 5, 1-bit values at word 4: indices 0,1,0,0 -> 0b0010.
    # Block 1: table [7] at word 7, 0 bits, values offset 7 (nothing stored).
    expected = words(1, 5 | 1 << 24, 4, 7, 7, 0b0010, 5, 7, 7)
    assert both_decoders(expected, (1, 3, 2, 1), np.uint32, (2, 2, 1)).tolist() == EXAMPLE.tolist()
    assert _cseg.encode(EXAMPLE, (2, 2, 1), use_package=False) == expected
    assert _cseg.encode(EXAMPLE, (2, 2, 1), use_package=True) == expected
    assert encode_chunk(EXAMPLE, "compressed_segmentation", block_size=(2, 2, 1)) == expected


def test_hand_built_unusual_layout() -> None:
    # Tables first, values last; block 1's table is the second entry of block 0's table;
    # offsets are relative to the channel start (word 1), not to the file.
    buf = words(1, 4 | 1 << 24, 6, 5 | 0 << 24, 0, 5, 7, 0b0010)
    np.testing.assert_array_equal(both_decoders(buf, (1, 3, 2, 1), np.uint32, (2, 2, 1)), EXAMPLE)


def test_hand_built_uint64_two_channels() -> None:
    big, bigger, top = 2**53 + 1, 2**60 + 3, 2**64 - 1
    # Channel 0 (2x1x1, one 2x1x1 block): voxels [bigger, big] -> table [big, bigger], idx 1, 0.
    # Channel 1: constant 2**64 - 1, 0 bits.
    channel0 = [
        3 | 1 << 24,
        2,
        0b01,
        big & 0xFFFFFFFF,
        big >> 32,
        bigger & 0xFFFFFFFF,
        bigger >> 32,
    ]
    channel1 = [2, 2, 0xFFFFFFFF, 0xFFFFFFFF]
    buf = words(2, 2 + len(channel0), *channel0, *channel1)
    decoded = both_decoders(buf, (2, 2, 1, 1), np.uint64, (2, 1, 1))
    assert decoded[:, :, 0, 0].tolist() == [[bigger, big], [top, top]]
    assert _cseg.encode(decoded, (2, 1, 1), use_package=False) == buf
    assert _cseg.encode(decoded, (2, 1, 1), use_package=True) == buf


def test_hand_built_channels_out_of_order_with_gap() -> None:
    # Channel 1's data comes first, then junk, then channel 0's.
    channel_a = [2, 2, 9]  # constant 9
    channel_b = [2, 2, 4]  # constant 4
    buf = words(2 + len(channel_a) + 2, 2, *channel_a, 0xDEAD, 0xBEEF, *channel_b)
    decoded = both_decoders(buf, (2, 1, 1, 1), np.uint32, (8, 8, 8))
    assert decoded.ravel().tolist() == [4, 9]


def test_hand_built_32_bit_block_and_package_defect() -> None:
    # One 2x1x1 block with 32-bit values: voxel 0 -> table[1] = 20, voxel 1 -> table[0] = 10.
    buf = words(1, 4 | 32 << 24, 2, 1, 0, 10, 20)
    expected = [20, 10]
    assert (
        decode_chunk(buf, CSEG, (1, 2, 1, 1), np.uint32, block_size=(2, 1, 1)).ravel().tolist()
        == expected
    )
    assert (
        _cseg.decode(buf, (1, 2, 1, 1), np.dtype(np.uint32), (2, 1, 1), use_package=True)
        .ravel()
        .tolist()
        == expected
    )
    # compressed-segmentation 2.3.3 computes its bit mask as (1 << 32) - 1 in int: every voxel
    # decodes to table[0]. If this starts failing, the package was fixed.
    wrong = cseg_pkg.decompress(buf, (2, 1, 1, 1), np.uint32, block_size=(2, 1, 1), order="F")
    assert wrong.ravel().tolist() == [10, 10]


# --------------------------------------------------------------------------------------------
# Bit widths 0..32
# --------------------------------------------------------------------------------------------


def block_with_labels(
    count: int, shape3: tuple[int, int, int], dtype: Any, seed: int
) -> np.ndarray:
    rng = np.random.default_rng(seed)
    size = int(np.prod(shape3))
    assert count <= size
    base = 2**60 if np.dtype(dtype) == np.uint64 else 2**31
    labels = base + rng.choice(10**7, count, replace=False).astype(np.uint64) * 977
    flat = np.concatenate([labels, rng.choice(labels, size - count)])
    rng.shuffle(flat)
    return flat.astype(dtype).reshape(1, *shape3)


@pytest.mark.parametrize("dtype", [np.uint32, np.uint64])
@pytest.mark.parametrize(("count", "bits"), [(1, 0), (2, 1), (3, 2), (5, 4), (17, 8), (300, 16)])
def test_bit_widths(dtype: Any, count: int, bits: int) -> None:
    data = block_with_labels(count, (8, 8, 8), dtype, seed=count)
    encoded = encode_chunk(data, CSEG, block_size=(8, 8, 8))
    assert header_bits(encoded) == [bits]
    assert encoded == _cseg.encode(data, (8, 8, 8), use_package=False)  # ours == package
    np.testing.assert_array_equal(both_decoders(encoded, data.shape, dtype, (8, 8, 8)), data)


@pytest.mark.parametrize("dtype", [np.uint32, np.uint64])
def test_70000_labels_use_32_bits(dtype: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    data = block_with_labels(70000, (64, 64, 20), dtype, seed=1)
    assert len(np.unique(data)) == 70000

    # The package's encoder would never return on this block, its decoder would give garbage:
    # make sure neither is called.
    class Forbidden:
        def compress(self, *args: Any, **kwargs: Any) -> bytes:
            raise AssertionError("package encoder used on a block of more than 65536 voxels")

        def decompress(self, *args: Any, **kwargs: Any) -> np.ndarray:
            raise AssertionError("package decoder used on 32-bit blocks")

    monkeypatch.setattr(_cseg, "_cseg_pkg", Forbidden())
    encoded = encode_chunk(data, CSEG, block_size=(64, 64, 20))
    assert header_bits(encoded) == [32]
    decoded = decode_chunk(encoded, CSEG, data.shape, dtype, block_size=(64, 64, 20))
    np.testing.assert_array_equal(decoded, data)
    # 2 header words + 81920 values + 70000 table entries.
    entry = np.dtype(dtype).itemsize // 4
    assert len(encoded) == 4 * (1 + 2 + 64 * 64 * 20 + 70000 * entry)


def test_big_block_few_labels_matches_package() -> None:
    # Blocks over 65536 voxels always go to our encoder; with few labels the package is safe
    # to call directly, and both must agree byte for byte.
    data = block_with_labels(5, (70, 40, 30), np.uint64, seed=3)
    ours = encode_chunk(data, CSEG, block_size=(64, 64, 20))
    words_ = np.frombuffer(
        cseg_pkg.compress(np.asfortranarray(data[0]), block_size=(64, 64, 20), order="F"), "<u4"
    )
    assert ours == words_.tobytes()
    np.testing.assert_array_equal(both_decoders(ours, data.shape, np.uint64, (64, 64, 20)), data)


# --------------------------------------------------------------------------------------------
# Shared tables, multi-channel, block sizes, large labels
# --------------------------------------------------------------------------------------------


def table_offsets(buf: bytes, nblocks: int) -> list[int]:
    w = np.frombuffer(buf, "<u4")
    return [int(v) & 0xFFFFFF for v in w[1 : 1 + 2 * nblocks : 2]]


def test_identical_tables_are_shared() -> None:
    # 8 blocks of 4x4x4, each holding exactly {3, 8} (different arrangements) except one.
    rng = np.random.default_rng(4)
    data = np.where(rng.random((1, 8, 8, 8)) < 0.5, 3, 8).astype(np.uint32)
    data[0, :4, :4, :4] = 11
    encoded = encode_chunk(data, CSEG, block_size=(4, 4, 4))
    offsets = table_offsets(encoded, 8)
    assert len(set(offsets)) == 2 and offsets.count(offsets[1]) == 7
    assert encoded == _cseg.encode(data, (4, 4, 4), use_package=False)
    # 8 headers + 7 x 2 value words + one [3, 8] table + one [11] table, plus the channel word.
    assert len(encoded) == 4 * (1 + 16 + 7 * 2 + 2 + 1)
    np.testing.assert_array_equal(both_decoders(encoded, data.shape, np.uint32, (4, 4, 4)), data)


def test_multi_channel() -> None:
    rng = np.random.default_rng(5)
    data = rng.integers(0, 6, (3, 9, 5, 4)).astype(np.uint64) * (2**55 + 7)
    encoded = encode_chunk(data, CSEG, block_size=(4, 4, 2))
    w = np.frombuffer(encoded, "<u4")
    assert int(w[0]) == 3
    for channel in range(3):
        single = _cseg.encode(data[channel : channel + 1], (4, 4, 2))[4:]
        end = int(w[channel + 1]) if channel < 2 else len(w)
        assert w[int(w[channel]) : end].tobytes() == single
    np.testing.assert_array_equal(both_decoders(encoded, data.shape, np.uint64, (4, 4, 2)), data)
    # numpy and package encoders agree on multi-channel chunks (the package's own 4-D path
    # crashes, so both go channel by channel).
    assert encoded == _cseg.encode(data, (4, 4, 2), use_package=False)


@pytest.mark.parametrize("block", [(4, 4, 2), (8, 8, 1), (3, 5, 7), (1, 1, 1), (16, 2, 3)])
def test_block_sizes(block: tuple[int, int, int]) -> None:
    rng = np.random.default_rng(sum(block))
    data = rng.integers(0, 9, (2, 13, 11, 6)).astype(np.uint32) + 2**31
    encoded = encode_chunk(data, CSEG, block_size=block)
    assert encoded == _cseg.encode(data, block, use_package=False)
    np.testing.assert_array_equal(both_decoders(encoded, data.shape, np.uint32, block), data)


def test_labels_above_2_53_are_exact() -> None:
    labels = np.array([2**53 + 1, 2**53 + 2, 2**63 + 5, 2**64 - 1, 2**64 - 2, 0], dtype=np.uint64)
    data = np.resize(labels, 3 * 4 * 5).reshape(1, 3, 4, 5)
    encoded = encode_chunk(data, CSEG, block_size=(2, 2, 2))
    decoded = both_decoders(encoded, data.shape, np.uint64, (2, 2, 2))
    assert decoded.tolist() == data.tolist()


def test_non_native_and_non_contiguous_input() -> None:
    rng = np.random.default_rng(6)
    base = rng.integers(0, 4, (1, 20, 9, 7)).astype(np.uint32)
    expected = encode_chunk(base, CSEG)
    assert encode_chunk(base.astype(">u4"), CSEG) == expected
    assert encode_chunk(np.asfortranarray(base), CSEG) == expected
    strided = np.zeros((1, 40, 9, 7), np.uint32)
    strided[:, ::2] = base
    assert encode_chunk(strided[:, ::2], CSEG) == expected
    readonly = base.copy()
    readonly.flags.writeable = False
    assert encode_chunk(readonly, CSEG) == expected


# --------------------------------------------------------------------------------------------
# An independent reference encoder with another layout; hypothesis cross-checks
# --------------------------------------------------------------------------------------------


def reference_encode(data: np.ndarray, block: tuple[int, int, int]) -> bytes:
    """Straightforward encoder, deliberately not neuroglancer's layout: channels in reverse
    order, each block's table *before* its values, no table sharing, junk between blocks,
    and padding voxels set to the *largest* value of their block."""
    channels, sx, sy, sz = data.shape
    bx, by, bz = block
    gx, gy, gz = -(-sx // bx), -(-sy // by), -(-sz // bz)
    entry = data.dtype.itemsize // 4
    chunks: dict[int, list[int]] = {}
    for c in reversed(range(channels)):
        out = [0] * (2 * gx * gy * gz)
        for kz in range(gz):
            for ky in range(gy):
                for kx in range(gx):
                    part = data[
                        c, kx * bx : (kx + 1) * bx, ky * by : (ky + 1) * by, kz * bz : (kz + 1) * bz
                    ]
                    table = sorted({int(v) for v in part.ravel()})
                    n = len(table)
                    bits = 0 if n == 1 else next(b for b in (1, 2, 4, 8, 16, 32) if (1 << b) >= n)
                    out.append(0xABCDEF)  # junk
                    table_offset = len(out)
                    for v in table:
                        out.extend([v & 0xFFFFFFFF, v >> 32][:entry])
                    values_offset = len(out)
                    nwords = (bits * bx * by * bz + 31) // 32
                    packed = [0] * nwords
                    index = {v: i for i, v in enumerate(table)}
                    for lz in range(bz):
                        for ly in range(by):
                            for lx in range(bx):
                                inside = (
                                    lx < part.shape[0] and ly < part.shape[1] and lz < part.shape[2]
                                )
                                i = index[int(part[lx, ly, lz])] if inside else n - 1
                                pos = bits * (lx + bx * (ly + by * lz))
                                if bits:
                                    packed[pos // 32] |= i << (pos % 32)
                    out.extend(packed)
                    k = kx + gx * (ky + gy * kz)
                    out[2 * k] = table_offset | bits << 24
                    out[2 * k + 1] = values_offset
        chunks[c] = out
    header: list[int] = [0] * channels
    body: list[int] = []
    for c in reversed(range(channels)):
        header[c] = channels + len(body)
        body.extend(chunks[c])
    return np.array(header + body, dtype="<u4").tobytes()


@st.composite
def cseg_cases(draw: st.DrawFn) -> tuple[np.ndarray, tuple[int, int, int]]:
    dtype = draw(st.sampled_from([np.uint32, np.uint64]))
    channels = draw(st.integers(1, 3))
    shape3 = draw(st.tuples(st.integers(1, 12), st.integers(1, 12), st.integers(1, 12)))
    block = draw(st.tuples(st.integers(1, 6), st.integers(1, 6), st.integers(1, 6)))
    alphabet = draw(st.integers(1, 40))
    seed = draw(st.integers(0, 2**32 - 1))
    rng = np.random.default_rng(seed)
    top = 2**32 if dtype == np.uint32 else 2**64
    labels = rng.integers(0, top, alphabet, dtype=np.uint64, endpoint=False)
    data = labels[rng.integers(0, alphabet, (channels, *shape3))].astype(dtype)
    return data, block


@SETTINGS
@given(cseg_cases())
def test_cseg_round_trip_and_cross_check(case: tuple[np.ndarray, tuple[int, int, int]]) -> None:
    data, block = case
    encoded = encode_chunk(data, CSEG, block_size=block)
    assert encoded == _cseg.encode(data, block, use_package=False)
    np.testing.assert_array_equal(both_decoders(encoded, data.shape, data.dtype, block), data)
    reference = reference_encode(data, block)
    np.testing.assert_array_equal(both_decoders(reference, data.shape, data.dtype, block), data)


# --------------------------------------------------------------------------------------------
# Corrupt input: always CorruptChunkError, on both decoder paths
# --------------------------------------------------------------------------------------------

CORRUPT = [
    ("not whole words", EXAMPLE, b"\x01\x00\x00\x00\x05"),
    ("empty", EXAMPLE, b""),
    ("channel offset past end", EXAMPLE, words(100, 0, 0, 0, 0)),
    ("headers cut", EXAMPLE, words(1, 5 | 1 << 24, 4)),
    ("bad bit width", EXAMPLE, words(1, 5 | 3 << 24, 4, 7, 7, 0b0010, 5, 7, 7)),
    ("values past end", EXAMPLE, words(1, 5 | 1 << 24, 400, 7, 7, 0b0010, 5, 7, 7)),
    ("table past end", EXAMPLE, words(1, 500 | 1 << 24, 4, 7, 7, 0b0010, 5, 7, 7)),
    # Block 0 has a 2-entry table at the very end of the buffer, and a voxel indexes entry 1:
    # one word is missing.
    ("index past end of table", EXAMPLE, words(1, 6 | 1 << 24, 4, 6, 7, 0b0010, 5, 7)),
    # The bytes that make compressed-segmentation 2.3.3 read out of bounds and crash.
    ("segfaults the package", np.zeros((1, 8, 8, 8), np.uint32), words(1, 0x10FFFFFF, 0x7FFFFFFF)),
]


@pytest.mark.parametrize(("name", "data", "buf"), CORRUPT, ids=[c[0] for c in CORRUPT])
@pytest.mark.parametrize("use_package", [False, True])
def test_corrupt_chunks(name: str, data: np.ndarray, buf: bytes, use_package: bool) -> None:
    block = (2, 2, 1) if data is EXAMPLE else (8, 8, 8)
    with pytest.raises(CorruptChunkError):
        _cseg.decode(buf, data.shape, data.dtype, block, use_package=use_package)


def test_uint64_table_entry_half_missing() -> None:
    # A uint64 table entry needs two words; only one is there.
    buf = words(1, 2, 2, 9)
    with pytest.raises(CorruptChunkError):
        decode_chunk(buf, CSEG, (1, 1, 1, 1), np.uint64, block_size=(8, 8, 8))
    assert decode_chunk(buf, CSEG, (1, 1, 1, 1), np.uint32, block_size=(8, 8, 8)).item() == 9


def test_clipped_values_need_only_the_words_inside_the_chunk() -> None:
    # 1x1x1 chunk in an 8x8x8 block with 16-bit values: only the first value word is needed.
    buf = words(1, 3 | 16 << 24, 2, 0x00000001, 3, 77)
    assert decode_chunk(buf, CSEG, (1, 1, 1, 1), np.uint32, block_size=(8, 8, 8)).item() == 77
    assert (
        _cseg.decode(buf, (1, 1, 1, 1), np.dtype(np.uint32), (8, 8, 8), use_package=True).item()
        == 77
    )


def test_empty_and_unsupported() -> None:
    assert decode_chunk(words(1), CSEG, (1, 0, 4, 4), np.uint32).shape == (1, 0, 4, 4)
    assert encode_chunk(np.zeros((2, 0, 3, 3), np.uint32), CSEG) == words(2, 2)
    with pytest.raises(UnsupportedFormatError):
        _cseg.encode(np.zeros((1, 2, 2, 2), np.uint16), (8, 8, 8))
    with pytest.raises(UnsupportedFormatError):
        _cseg.decode(b"", (1, 2, 2, 2), np.dtype(np.int32), (8, 8, 8))
