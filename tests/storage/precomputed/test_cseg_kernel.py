"""The compiled compressed_segmentation decoder against the reference (package / numpy)."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from webknossos_like.errors import CorruptChunkError, UnsupportedFormatError
from webknossos_like.storage.precomputed import _cseg
from webknossos_like.storage.precomputed.codecs import decode_chunk_into

pytest.importorskip("numba")


@pytest.fixture(autouse=True)
def _kernels_at_once(monkeypatch: pytest.MonkeyPatch) -> None:
    """The kernels load only after 32 MiB of work in a process; here from the first chunk."""
    monkeypatch.setattr(_cseg, "_KERNELS_AFTER_BYTES", 0)


shapes = st.tuples(st.integers(1, 20), st.integers(1, 20), st.integers(1, 12))
blocks = st.tuples(st.integers(1, 8), st.integers(1, 8), st.integers(1, 8))


@st.composite
def chunks(draw: st.DrawFn) -> tuple[np.ndarray, tuple[int, int, int]]:
    shape = draw(shapes)
    channels = draw(st.integers(1, 2))
    dtype = draw(st.sampled_from([np.uint32, np.uint64]))
    labels = draw(st.integers(1, 300))
    seed = draw(st.integers(0, 2**32 - 1))
    rng = np.random.default_rng(seed)
    values = rng.integers(0, 2**32 if dtype == np.uint32 else 2**63, labels, dtype=dtype)
    data = values[rng.integers(0, labels, (channels, *shape))]
    return np.asfortranarray(data), draw(blocks)


@settings(
    max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(chunk=chunks(), data=st.data())
def test_kernel_decodes_like_the_reference(
    chunk: tuple[np.ndarray, tuple[int, int, int]], data: st.DataObject
) -> None:
    array, block = chunk
    encoded = _cseg.encode(array, block)
    reference = _cseg.decode(encoded, array.shape, array.dtype, block)
    np.testing.assert_array_equal(reference, array)
    start = tuple(data.draw(st.integers(0, n - 1)) for n in array.shape[1:])
    size = tuple(
        data.draw(st.integers(1, n - s)) for n, s in zip(array.shape[1:], start, strict=True)
    )
    out = np.zeros((array.shape[0], *size), dtype=array.dtype, order="F")
    decode_chunk_into(encoded, "compressed_segmentation", array.shape, out, start, block_size=block)
    region = tuple(slice(s, s + n) for s, n in zip(start, size, strict=True))
    np.testing.assert_array_equal(out, array[(slice(None), *region)])


@settings(
    max_examples=200, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    chunk=chunks(),
    flips=st.lists(st.tuples(st.integers(0, 10**6), st.integers(0, 255)), min_size=1, max_size=4),
)
def test_kernel_refuses_what_the_reference_refuses(
    chunk: tuple[np.ndarray, tuple[int, int, int]], flips: list[tuple[int, int]]
) -> None:
    array, block = chunk
    damaged = bytearray(_cseg.encode(array, block))
    for where, value in flips:
        damaged[where % len(damaged)] = value
    try:
        reference = _cseg.decode(bytes(damaged), array.shape, array.dtype, block, use_package=False)
    except CorruptChunkError:
        reference = None
    out = np.zeros(array.shape, dtype=array.dtype, order="F")
    if reference is None:
        with pytest.raises(CorruptChunkError):
            decode_chunk_into(
                bytes(damaged),
                "compressed_segmentation",
                array.shape,
                out,
                (0, 0, 0),
                block_size=block,
            )
    else:
        decode_chunk_into(
            bytes(damaged), "compressed_segmentation", array.shape, out, (0, 0, 0), block_size=block
        )
        np.testing.assert_array_equal(out, reference)


@settings(
    max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(chunk=chunks())
def test_compiled_encoder_writes_the_packages_bytes(
    chunk: tuple[np.ndarray, tuple[int, int, int]],
) -> None:
    array, block = chunk
    compiled = _cseg.encode(array, block)  # the compiled encoder when numba is installed
    assert compiled == _cseg.encode(array, block, use_package=True)
    assert compiled == _cseg.encode(array, block, use_package=False)
    strided = np.ascontiguousarray(array)  # another memory layout, same bytes
    assert _cseg.encode(strided, block) == compiled


@pytest.mark.parametrize("dtype", [np.uint32, np.uint64])
def test_compiled_encoder_on_blocks_with_many_labels_and_padding(dtype: type) -> None:
    """Blocks past the small-table limit (64 labels) are sorted whole; edge blocks are padded."""
    rng = np.random.default_rng(7)
    labels = rng.integers(0, 2**31, 5000).astype(dtype) * 3
    data = np.asfortranarray(labels[rng.integers(0, 5000, (2, 19, 13, 11))])
    data[0, :8, :8, :8] = labels[:2][rng.integers(0, 2, (8, 8, 8))]  # few
    data[1, 8:16, :8, :8] = 5  # uniform
    for block in ((8, 8, 8), (8, 4, 2), (5, 7, 3)):
        compiled = _cseg.encode(data, block)
        assert compiled == _cseg.encode(data, block, use_package=False)
        np.testing.assert_array_equal(_cseg.decode(compiled, data.shape, data.dtype, block), data)


def test_compiled_encoder_refuses_table_offsets_beyond_24_bits() -> None:
    # One distinct label per 1x1x1 block: 3 words per voxel push table offsets past 2**24.
    data = np.arange(180**3, dtype=np.uint32).reshape(1, 180, 180, 180, order="F")
    with pytest.raises(UnsupportedFormatError, match="24-bit"):
        _cseg.encode(data, (1, 1, 1))
