"""Hostile metadata: properties JSON, precomputed `info`, sharding specs.

Valid documents written by the library are damaged structurally (a value replaced, deleted or
perturbed, a key inserted) and as text (cut, flipped, duplicated, BOM). Two input spaces:
- "sane": ordinary damage - wrong types, off-by-one, negative, `../` and absolute paths, wrong
  names, broken JSON - which must pass today;
- "hostile": also NaN/Infinity, huge numbers (2^31, 2^40, -2^40 boxes), NUL bytes, lone
  surrogates, over-long names and paths (5,000 characters), non-integer jpeg_quality/png_level
  ("high", [1], NaN, Infinity) and, for the dataset, WKW headers with any block/file length;
  every mag is read whole (a full read, as `mag.read()` does) instead of an 8^3 corner;
  these tests first try the known failing inputs (listed below, each also a test of its own)
  these were bugs, now fixed; the tests stay as regression tests (`pytest.mark.regression`).
Pure parsers run in this process under a time limit; opening and reading a dataset runs in the
oracle process, since reading goes through the decoders with damaged parameters. Allowed: a
value, or an exception of `webknossos_like.errors`; never another exception, a hang or a crash.
"""

from __future__ import annotations

import contextlib
import json
import shutil
import signal
from collections import Counter
from collections.abc import Callable, Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st

from webknossos_like import Dataset
from webknossos_like.errors import WebknossosLikeError
from webknossos_like.properties import loads
from webknossos_like.storage.precomputed.info import loads_info
from webknossos_like.storage.precomputed.sharding import ShardingSpec, choose_sharding_spec

from ._json_mutations import TEXT_EDITS, edits, mutate, to_text
from ._oracle_client import Oracle, acceptable, describe
from ._wkw_header import set_wkw_geometry

PRECOMPUTED = "neuroglancerPrecomputed"
TIME_LIMIT_S = 10
IN_PROCESS = settings(
    max_examples=250,
    deadline=timedelta(seconds=5),
    derandomize=True,
    database=None,
    phases=[Phase.explicit, Phase.generate],
    report_multiple_bugs=False,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
THROUGH_ORACLE = settings(IN_PROCESS, max_examples=150, deadline=timedelta(seconds=40))
DEEP = 100_000
Doc = dict[str, Any]


@contextlib.contextmanager
def time_limit(seconds: int = TIME_LIMIT_S) -> Iterator[None]:
    """Fail instead of hanging (a hypothesis deadline only reports after the call returned)."""

    def expire(signum: int, frame: Any) -> None:
        raise TimeoutError(f"did not return within {seconds} s")

    previous = signal.signal(signal.SIGALRM, expire)
    signal.setitimer(signal.ITIMER_REAL, seconds)
    try:
        yield
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)


def checked(call: Callable[[], Any]) -> None:
    """Run `call()` under the time limit; anything but a library error is an AssertionError."""
    try:
        with time_limit():
            call()
    except WebknossosLikeError:
        pass
    except Exception as exc:
        raise AssertionError(f"raised {type(exc).__name__}: {exc}") from exc


def changed(doc: Doc, change: Callable[[Doc], Any]) -> Doc:
    out: Doc = json.loads(json.dumps(doc))
    change(out)
    return out


# -- documents --------------------------------------------------------------------------------


def build_dataset(root: Path) -> Path:
    """A dataset with WKW color and segmentation layers and a precomputed layer, all with data."""
    ds = Dataset(root / "ds", voxel_size=(11.24, 11.24, 25.0))
    color = ds.add_layer("color", "color", dtype="uint8", num_channels=3)
    color.add_mag(1, chunk_shape=16, shard_shape=32).write(np.ones((3, 32, 32, 32), np.uint8))
    color.add_mag("2-2-1", chunk_shape=16, shard_shape=32)
    seg = ds.add_layer("seg", "segmentation", dtype="uint32")
    seg.add_mag(1, chunk_shape=16, shard_shape=32, compress=False).write(
        np.arange(32**3, dtype=np.uint32).reshape(32, 32, 32)
    )
    pre = ds.add_layer("pre", "segmentation", dtype="uint64", data_format=PRECOMPUTED)
    pre.add_mag(1, chunk_shape=16, compress=True).write(np.full((32, 32, 32), 2**40, np.uint64))
    pre.add_mag(2, chunk_shape=16, compress=True, sharded=True)
    pre.downsample_mag(1, 2, allow_overwrite=True)
    return ds.path


def build_bare(root: Path) -> Path:
    """A bare precomputed volume (an `info`, no properties): raw scale 1, sharded cseg scale 2."""
    ds = Dataset(root / "bare-src", voxel_size=(4.0, 4.0, 40.0))
    layer = ds.add_layer("vol", "segmentation", dtype="uint32", data_format=PRECOMPUTED)
    layer.add_mag(1, chunk_shape=16, encoding="raw").write(
        np.arange(32**3, dtype=np.uint32).reshape(32, 32, 32) % 7
    )
    layer.add_mag(2, chunk_shape=8, compress=True, sharded=True)
    layer.downsample_mag(1, 2, allow_overwrite=True)
    shutil.copytree(layer.path, root / "bare")
    return root / "bare"


@pytest.fixture(scope="module")
def documents(module_tmp: Path) -> dict[str, Any]:
    ds_path = build_dataset(module_tmp)
    bare = build_bare(module_tmp)
    spec = choose_sharding_spec((16, 16, 8), chunk_nbytes=4096, data_encoding="gzip").to_json()
    spec["extra_key"] = {"kept": [1, 2]}
    info = json.loads((bare / "info").read_text())
    return {
        "dataset": ds_path,
        "properties": json.loads((ds_path / "datasource-properties.json").read_text()),
        "bare": bare,
        "info": info,
        # The hostile info fuzzers damage these too (valid values, mutated into hostile ones).
        "info_levels": changed(
            info, lambda d: [s.update(jpeg_quality=90, png_level=6) for s in d["scales"]]
        ),
        "spec": spec,
    }


@pytest.fixture(scope="module")
def oracle() -> Iterator[Oracle]:
    reader = Oracle()
    yield reader
    reader.close()


def open_with(
    oracle: Oracle, folder: Path, file: str, text: str, *, full: bool = False
) -> dict[str, Any]:
    """Replace `folder/file` by `text`, open and read the dataset in the oracle (`full`: every
    mag whole, else an 8^3 corner), restore."""
    target = folder / file
    original = target.read_bytes()
    target.write_text(text, encoding="utf-8")
    try:
        return oracle.ask(path=str(folder), full=full)
    finally:
        target.write_bytes(original)


@contextlib.contextmanager
def wkw_geometry(mag: Path, lengths: tuple[int, int] | None) -> Iterator[None]:
    """With `lengths` = (block, file) length exponents: the mag's header and shard files declare
    them for the duration (then the mag folder is restored)."""
    if lengths is None:
        yield
        return
    backup = mag.with_name(mag.name + "-backup")
    shutil.copytree(mag, backup)
    try:
        set_wkw_geometry(mag, *lengths)
        yield
    finally:
        shutil.rmtree(mag)
        backup.rename(mag)


def test_documents_are_valid(documents: dict[str, Any], oracle: Oracle) -> None:
    """The baseline: undamaged documents load and read in the oracle."""
    loads(json.dumps(documents["properties"]))
    loads_info(json.dumps(documents["info"]))
    ShardingSpec.from_json(documents["spec"])
    for key in ("dataset", "bare"):
        answer = oracle.ask(path=str(documents[key]))
        assert answer["status"] == "ok", describe(answer)


# -- known failures, each a test of its own --------------------------------------------------

PATH_CHARS = pytest.mark.regression(
    strict=True,
    raises=AssertionError,
    reason="bug: mag paths, layer names and scale keys from metadata reach os/pathlib unchecked "
    "(Layer._mag_path resolve(), WKWArray._parse_header catching only FileNotFoundError): NUL "
    "bytes raise ValueError, lone surrogates UnicodeEncodeError, a path to a file "
    "NotADirectoryError, an over-long name OSError(ENAMETOOLONG) - none from webknossos_like.errors",
)


def _no_mag_paths(layer: Doc) -> None:
    for mag in layer["mags"]:
        mag.pop("path", None)


KNOWN_PROPERTIES: dict[str, Callable[[Doc], Any]] = {
    "mag path with NUL": lambda p: p["dataLayers"][0]["mags"][0].update(path="./color/\x001"),
    "mag path with surrogate": lambda p: p["dataLayers"][0]["mags"][0].update(
        path="./color/\ud800"
    ),
    "mag path is a file": lambda p: p["dataLayers"][0]["mags"][0].update(
        path="./datasource-properties.json"
    ),
    "mag path too long": lambda p: p["dataLayers"][0]["mags"][0].update(path="x" * 300),
    "layer name with NUL": lambda p: (
        p["dataLayers"][0].update(name="a\x00b"),
        _no_mag_paths(p["dataLayers"][0]),
    ),
    "layer name with surrogate": lambda p: (
        p["dataLayers"][0].update(name="\ud800"),
        _no_mag_paths(p["dataLayers"][0]),
    ),
    "layer name too long": lambda p: (
        p["dataLayers"][0].update(name="y" * 300),
        _no_mag_paths(p["dataLayers"][0]),
    ),
}


@pytest.mark.parametrize("case", list(KNOWN_PROPERTIES))
@PATH_CHARS
def test_properties_hostile_paths(case: str, documents: dict[str, Any], oracle: Oracle) -> None:
    text = json.dumps(changed(documents["properties"], KNOWN_PROPERTIES[case]))
    answer = open_with(oracle, documents["dataset"], "datasource-properties.json", text)
    assert acceptable(answer), describe(answer)


NON_FINITE = pytest.mark.regression(
    strict=True,
    raises=AssertionError,
    reason="bug: loads_info lets OverflowError/ValueError escape for NaN or Infinity in integer "
    "lists (int(nan)/int(inf) in info._int_list), RecursionError for deeply nested JSON (only "
    "ValueError is caught around json.loads), and storage.precomputed.bare.properties_from_info "
    "OverflowError for an infinite resolution ratio (round(inf))",
)
LIMITS = pytest.mark.regression(
    strict=True,
    raises=AssertionError,
    reason="bug: parse_info accepts any num_channels and compressed_segmentation block size: an "
    "8^3 read then allocates petabytes (MemoryError) or overflows numpy (ValueError 'Maximum "
    "allowed dimension exceeded', OverflowError in _cseg._parse_headers)",
)

KNOWN_INFO_TEXT: dict[str, Callable[[Doc], str]] = {
    "NaN in size": lambda i: json.dumps(
        changed(i, lambda d: d["scales"][0].update(size=[float("nan"), 32, 32]))
    ),
    "Infinity in chunk_sizes": lambda i: json.dumps(
        changed(i, lambda d: d["scales"][0].update(chunk_sizes=[[float("inf"), 16, 16]]))
    ),
    "-Infinity in voxel_offset": lambda i: json.dumps(
        changed(i, lambda d: d["scales"][1].update(voxel_offset=[0, -float("inf"), 0]))
    ),
    "NaN in block size": lambda i: json.dumps(
        changed(
            i,
            lambda d: d["scales"][1].update(
                compressed_segmentation_block_size=[8, 8, float("nan")]
            ),
        )
    ),
    "deeply nested": lambda i: "[" * DEEP + "]" * DEEP,
}


@pytest.mark.parametrize("case", list(KNOWN_INFO_TEXT))
@NON_FINITE
def test_info_non_finite_and_deep(case: str, documents: dict[str, Any]) -> None:
    text = KNOWN_INFO_TEXT[case](documents["info"])
    checked(lambda: loads_info(text, path="info"))


KNOWN_BARE: dict[str, tuple[Callable[[Doc], Any], Any]] = {
    "NaN in size": (lambda d: d["scales"][0].update(size=[float("nan"), 32, 32]), NON_FINITE),
    "infinite resolution": (
        lambda d: d["scales"][0].update(resolution=[float("inf"), 4, 40]),
        NON_FINITE,
    ),
    "resolution 1e-308": (lambda d: d["scales"][1].update(resolution=[1e-308, 8, 40]), NON_FINITE),
    "scale key with NUL": (lambda d: d["scales"][0].update(key="a\x00b"), PATH_CHARS),
    "scale key with surrogate": (lambda d: d["scales"][0].update(key="\ud800"), PATH_CHARS),
    "num_channels 2**40": (lambda d: d.update(num_channels=2**40), LIMITS),
    "num_channels 2**64": (lambda d: d.update(num_channels=2**64), LIMITS),
    "block size 2**62": (
        lambda d: d["scales"][1].update(compressed_segmentation_block_size=[2**62, 8, 8]),
        LIMITS,
    ),
    "block size 2**64": (
        lambda d: d["scales"][1].update(compressed_segmentation_block_size=[2**64, 8, 8]),
        LIMITS,
    ),
}


@pytest.mark.parametrize(
    "case", [pytest.param(name, marks=mark) for name, (_, mark) in KNOWN_BARE.items()]
)
def test_bare_info_hostile_values(case: str, documents: dict[str, Any], oracle: Oracle) -> None:
    text = json.dumps(changed(documents["info"], KNOWN_BARE[case][0]))
    answer = open_with(oracle, documents["bare"], "info", text)
    assert acceptable(answer), describe(answer)


SPEC_DEEP = pytest.mark.regression(
    strict=True,
    raises=AssertionError,
    reason="bug: ShardingSpec.from_json deep-copies unknown keys: a deeply nested value (from "
    "json.loads a depth of ~900 already fails at the default recursion limit) raises "
    "RecursionError instead of InvalidPropertiesError",
)


def _deep_spec(spec: Doc) -> Doc:
    nested: list[Any] = []
    for _ in range(20_000):  # deeper than any recursion limit (hypothesis raises the limit)
        nested = [nested]
    return {**spec, "nested": nested}


@SPEC_DEEP
def test_sharding_spec_deeply_nested_extra(documents: dict[str, Any]) -> None:
    checked(lambda: ShardingSpec.from_json(_deep_spec(documents["spec"])))


def test_properties_loads_deeply_nested() -> None:
    checked(lambda: loads("[" * DEEP + "]" * DEEP))
    checked(lambda: loads('{"id": ' * DEEP))


# -- extreme values (issue items 13-15), tried first by the hostile fuzzers ----------------------


def _wkw_box(top_left: list[int], size: list[int]) -> Callable[[Doc], Any]:
    def change(doc: Doc) -> None:
        doc["dataLayers"][0]["boundingBox"] = dict(
            topLeft=top_left, width=size[0], height=size[1], depth=size[2]
        )

    return change


EXTREME_PROPERTIES: dict[str, Callable[[Doc], Any]] = {
    "WKW topLeft -2^40": _wkw_box([-(2**40)] * 3, [32, 32, 32]),
    "WKW box 2^31 per axis": _wkw_box([0, 0, 0], [2**31] * 3),
    "WKW box 2^40 per axis": _wkw_box([0, 0, 0], [2**40] * 3),
    "mag path of 5000 characters": lambda p: p["dataLayers"][0]["mags"][0].update(
        path="/".join(["x" * 99] * 50)
    ),
    "precomputed box 2^40 per axis": lambda p: p["dataLayers"][2]["boundingBox"].update(
        width=2**40, height=2**40, depth=2**40
    ),
}


def _levels(name: str, value: Any) -> Callable[[Doc], Any]:
    def change(doc: Doc) -> None:
        for scale in doc["scales"]:
            scale[name] = value

    return change


EXTREME_INFO: dict[str, Callable[[Doc], Any]] = {
    **{
        f"{name} {value!r}": _levels(name, value)
        for name in ("jpeg_quality", "png_level")
        for value in ("high", [1], float("nan"), float("inf"), True, 2**64)
    },
    "size 2^40 per axis": lambda d: d["scales"][0].update(size=[2**40] * 3),
    "scale key of 5000 characters": lambda d: d["scales"][0].update(key="/".join(["k" * 99] * 50)),
}


# -- the fuzzers ------------------------------------------------------------------------------

HOSTILE = pytest.mark.regression(
    strict=True,
    raises=AssertionError,
    reason="bug: the known failures above (tried first in the hostile input space)",
)
SPACES = [pytest.param(False, id="sane"), pytest.param(True, id="hostile", marks=HOSTILE)]


@pytest.mark.parametrize("hostile", [False, True], ids=["sane", "hostile"])
@IN_PROCESS
@given(data=st.data())
def test_fuzz_properties_loads(
    hostile: bool, data: Any, documents: dict[str, Any], stats: Counter[str]
) -> None:
    """`properties.loads` - no known failures: both spaces must pass."""
    text = to_text(
        mutate(documents["properties"], data.draw(edits(hostile))), data.draw(TEXT_EDITS)
    )
    stats[f"fuzz examples: properties loads ({'hostile' if hostile else 'sane'})"] += 1
    checked(lambda: loads(text, path="datasource-properties.json"))


@pytest.mark.parametrize("hostile", SPACES)
@THROUGH_ORACLE
@given(data=st.data())
def test_fuzz_properties_dataset_open(
    hostile: bool, data: Any, documents: dict[str, Any], oracle: Oracle, stats: Counter[str]
) -> None:
    """`Dataset.open` on a damaged properties file, then every layer and mag opened and read."""
    if hostile:
        for change in [*KNOWN_PROPERTIES.values(), *EXTREME_PROPERTIES.values()]:
            text = json.dumps(changed(documents["properties"], change))
            answer = open_with(
                oracle, documents["dataset"], "datasource-properties.json", text, full=True
            )
            assert acceptable(answer), describe(answer)
    text = to_text(
        mutate(documents["properties"], data.draw(edits(hostile))), data.draw(TEXT_EDITS)
    )
    # Hostile: sometimes also a WKW header (and its shard files) with other block/file lengths.
    lengths = data.draw(st.none() | st.tuples(st.integers(0, 15), st.integers(0, 15)))
    stats[
        f"fuzz examples: Dataset.open, damaged properties ({'hostile' if hostile else 'sane'})"
    ] += 1
    with wkw_geometry(documents["dataset"] / "color" / "1", lengths if hostile else None):
        answer = open_with(
            oracle, documents["dataset"], "datasource-properties.json", text, full=hostile
        )
    assert acceptable(answer), describe(answer)


@pytest.mark.parametrize("hostile", SPACES)
@IN_PROCESS
@given(data=st.data())
def test_fuzz_info_loads(
    hostile: bool, data: Any, documents: dict[str, Any], stats: Counter[str]
) -> None:
    if hostile:
        for make in KNOWN_INFO_TEXT.values():
            known = make(documents["info"])
            checked(lambda known=known: loads_info(known, path="info"))
        for change in EXTREME_INFO.values():
            extreme = json.dumps(changed(documents["info"], change))
            checked(lambda extreme=extreme: loads_info(extreme, path="info"))
    source = documents["info_levels" if hostile else "info"]
    text = to_text(mutate(source, data.draw(edits(hostile))), data.draw(TEXT_EDITS))
    stats[f"fuzz examples: loads_info ({'hostile' if hostile else 'sane'})"] += 1
    checked(lambda: loads_info(text, path="info"))


@pytest.mark.parametrize("hostile", SPACES)
@THROUGH_ORACLE
@given(data=st.data())
def test_fuzz_bare_info_dataset_open(
    hostile: bool, data: Any, documents: dict[str, Any], oracle: Oracle, stats: Counter[str]
) -> None:
    """`Dataset.open` of a bare precomputed folder with a damaged `info`; every mag read."""
    if hostile:
        changes = [change for change, _ in KNOWN_BARE.values()] + list(EXTREME_INFO.values())
        for change in changes:
            text = json.dumps(changed(documents["info"], change))
            answer = open_with(oracle, documents["bare"], "info", text, full=True)
            assert acceptable(answer), describe(answer)
    source = documents["info_levels" if hostile else "info"]
    text = to_text(mutate(source, data.draw(edits(hostile))), data.draw(TEXT_EDITS))
    stats[
        f"fuzz examples: Dataset.open, bare folder, damaged info ({'hostile' if hostile else 'sane'})"
    ] += 1
    answer = open_with(oracle, documents["bare"], "info", text, full=hostile)
    assert acceptable(answer), describe(answer)


@pytest.mark.parametrize(
    "hostile", [pytest.param(False, id="sane"), pytest.param(True, id="hostile", marks=SPEC_DEEP)]
)
@IN_PROCESS
@given(data=st.data())
def test_fuzz_sharding_spec(
    hostile: bool, data: Any, documents: dict[str, Any], stats: Counter[str]
) -> None:
    if hostile:
        checked(lambda: ShardingSpec.from_json(_deep_spec(documents["spec"])))
    spec = mutate(documents["spec"], data.draw(edits(hostile)))
    stats[f"fuzz examples: ShardingSpec.from_json ({'hostile' if hostile else 'sane'})"] += 1

    def parse_and_dump() -> None:
        parsed = ShardingSpec.from_json(spec, path="info", json_path="scales[0].sharding")
        ShardingSpec.from_json(parsed.to_json())

    checked(parse_and_dump)
