"""Fuzzing the chunk decoders: bad bytes give CorruptChunkError (or an array), never anything else."""

from __future__ import annotations

import contextlib
import importlib.util
import signal
from collections.abc import Callable, Iterator
from typing import Any

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from webknossos_like.errors import CorruptChunkError
from webknossos_like.storage.precomputed import _cseg
from webknossos_like.storage.precomputed.codecs import decode_chunk, encode_chunk

FUZZ = settings(max_examples=800, deadline=2000, suppress_health_check=[HealthCheck.too_slow])
TIME_LIMIT_S = 10


@contextlib.contextmanager
def time_limit(seconds: int) -> Iterator[None]:
    """Fail instead of hanging (hypothesis deadlines only report after the call returns)."""
    if not hasattr(signal, "setitimer"):
        yield
        return

    def expire(signum: int, frame: Any) -> None:
        raise TimeoutError(f"decoder did not return within {seconds} s")

    previous = signal.signal(signal.SIGALRM, expire)
    signal.setitimer(signal.ITIMER_REAL, seconds)
    try:
        yield
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)


def _valid_chunk(encoding: str, dtype: str, channels: int) -> np.ndarray:
    rng = np.random.default_rng(0)
    shape = (channels, 9, 7, 5)
    if encoding in ("jpeg", "jxl"):
        gx, gy, gz = np.meshgrid(np.arange(9), np.arange(7), np.arange(5), indexing="ij")
        return np.broadcast_to((20 + 9 * gx + 5 * gy + 3 * gz).astype(np.uint8), shape).copy()
    if encoding in ("compressed_segmentation", "compresso"):
        labels = rng.integers(0, np.iinfo(dtype).max, 40, dtype=dtype, endpoint=True)
        data = labels[rng.integers(0, 3, shape)]
        data[..., :2] = labels[rng.integers(0, 40, (channels, 9, 7, 2))]  # blocks with more bits
        return data
    return rng.integers(0, np.iinfo(dtype).max, shape, dtype=dtype, endpoint=True)


CASES: list[tuple[str, str, int, dict[str, Any]]] = [
    ("raw", "uint16", 2, {}),
    ("compressed_segmentation", "uint32", 2, {"use_package": True}),
    ("compressed_segmentation", "uint64", 1, {"use_package": True}),
    ("compressed_segmentation", "uint32", 1, {"use_package": False}),
    ("compressed_segmentation", "uint64", 2, {"use_package": False}),
    ("jpeg", "uint8", 1, {}),
    ("jpeg", "uint8", 3, {}),
    ("png", "uint8", 1, {}),
    ("png", "uint8", 3, {}),
    ("png", "uint16", 3, {}),
    ("png", "uint16", 1, {}),
]
if importlib.util.find_spec("compresso") is not None:
    CASES.append(("compresso", "uint32", 1, {}))
if importlib.util.find_spec("imagecodecs") is not None:
    CASES.append(("jxl", "uint8", 3, {}))

BLOCK = (4, 4, 2)


def _decoder(
    encoding: str, dtype: str, shape: tuple[int, int, int, int], options: dict[str, Any]
) -> Callable[[bytes], np.ndarray]:
    if encoding == "compressed_segmentation":
        return lambda buf: _cseg.decode(buf, shape, np.dtype(dtype), BLOCK, **options)
    return lambda buf: decode_chunk(buf, encoding, shape, dtype, block_size=BLOCK)


@st.composite
def mutations(draw: st.DrawFn, valid: bytes) -> bytes:
    kind = draw(st.sampled_from(["random", "truncate", "flip", "splice", "extend"]))
    if kind == "random":
        return draw(st.binary(max_size=2 * len(valid)))
    if kind == "truncate":
        return valid[: draw(st.integers(0, len(valid) - 1))]
    if kind == "extend":
        return valid + draw(st.binary(min_size=1, max_size=64))
    if kind == "flip":
        buf = bytearray(valid)
        for bit in draw(st.lists(st.integers(0, 8 * len(valid) - 1), min_size=1, max_size=4)):
            buf[bit // 8] ^= 1 << (bit % 8)
        return bytes(buf)
    start = draw(st.integers(0, len(valid) - 1))
    stop = draw(st.integers(start, min(len(valid), start + 16)))
    return valid[:start] + draw(st.binary(min_size=0, max_size=16)) + valid[stop:]


@pytest.mark.parametrize(
    ("encoding", "dtype", "channels", "options"),
    CASES,
    ids=[f"{c[0]}-{c[1]}-{c[2]}ch-{c[3]}" for c in CASES],
)
def test_fuzz_decoder(encoding: str, dtype: str, channels: int, options: dict[str, Any]) -> None:
    data = _valid_chunk(encoding, dtype, channels)
    valid = encode_chunk(data, encoding, block_size=BLOCK)
    decode = _decoder(encoding, dtype, data.shape, options)
    np.testing.assert_array_equal(decode(valid).shape, data.shape)

    @FUZZ
    @given(mutations(valid))
    def check(buf: bytes) -> None:
        with time_limit(TIME_LIMIT_S):
            try:
                out = decode(buf)
            except CorruptChunkError:
                return
        assert out.shape == data.shape and out.dtype == np.dtype(dtype)

    check()


def test_fuzz_raw_decodes_any_right_length() -> None:
    data = _valid_chunk("raw", "uint16", 2)

    @FUZZ
    @given(st.binary(min_size=data.nbytes, max_size=data.nbytes))
    def check(buf: bytes) -> None:
        out = decode_chunk(buf, "raw", data.shape, "uint16")
        assert out.shape == data.shape
        assert encode_chunk(out, "raw") == buf

    check()
