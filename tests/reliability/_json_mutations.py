"""Hypothesis strategies that damage JSON documents (structure and text) for the fuzz tests."""

from __future__ import annotations

import copy
import json
from collections.abc import Callable, Iterator
from typing import Any

from hypothesis import strategies as st

Path_ = tuple[str | int, ...]

SANE_STRINGS = [
    "",
    "../../outside",
    "/abs/path",
    "..",
    "uint8",
    "uint24",
    "float64",
    "segmentation",
    "wkw",
    "neuroglancerPrecomputed",
    "compressed_segmentation",
    "jpeg",
    "neuroglancer_uint64_sharded_v1",
    "murmurhash3_x86_128",
    "gzip",
    "2-2-1",
]
#: Beyond "sane": what breaks paths and numbers (known failure classes, see docs/reliability.md).
NASTY_STRINGS = [
    *SANE_STRINGS,
    "\x00",
    "a\x00b",
    "\ud800",
    "x" * 300,
    "x" * 5000,
    "./datasource-properties.json",
    "high",
]


def json_values(hostile: bool) -> st.SearchStrategy[Any]:
    """Arbitrary JSON; `hostile` adds NaN/Infinity, huge numbers, NUL, surrogates, long names."""
    if hostile:
        leaves = st.one_of(
            st.none(),
            st.booleans(),
            st.integers(-(2**70), 2**70),
            st.sampled_from(
                [
                    0,
                    1,
                    -1,
                    2,
                    3,
                    8,
                    64,
                    2**24,
                    2**31,
                    2**32,
                    2**40,
                    -(2**40),
                    2**53 + 1,
                    2**63,
                    2**64,
                ]
            ),
            st.floats(allow_nan=True, allow_infinity=True),
            st.sampled_from([float("nan"), float("inf"), -float("inf"), 0.5, 1e300, -0.0]),
            st.text(max_size=12),
            st.sampled_from(NASTY_STRINGS),
        )
    else:
        leaves = st.one_of(
            st.none(),
            st.booleans(),
            st.integers(-(2**20), 2**20),
            st.sampled_from([0, 1, -1, 2, 3, 7, 8, 64, 1000]),
            st.floats(-1e6, 1e6, allow_nan=False),
            st.text(st.characters(min_codepoint=32, max_codepoint=126), max_size=12),
            st.sampled_from(SANE_STRINGS),
        )
    return st.recursive(
        leaves,
        lambda children: st.one_of(
            st.lists(children, max_size=4),
            st.dictionaries(st.text(max_size=8), children, max_size=4),
        ),
        max_leaves=12,
    )


def edits(hostile: bool) -> st.SearchStrategy[list[tuple[int, str, Any, int, bool]]]:
    """(location index, operation, payload, perturbation index, hostile); locations wrap."""
    return st.lists(
        st.tuples(
            st.integers(0, 10**6),
            st.sampled_from(["replace", "delete", "insert", "perturb", "perturb"]),
            json_values(hostile),
            st.integers(0, 10),
            st.just(hostile),
        ),
        min_size=1,
        max_size=3,
    )


#: Text damage after serialising: None, or (position, kind) with kind cut / flip / dup / bom.
TEXT_EDITS = st.one_of(
    st.none(),
    st.none(),
    st.tuples(st.integers(0, 10**6), st.sampled_from(["cut", "flip", "dup", "bom"])),
)


def locations(doc: Any, path: Path_ = ()) -> Iterator[Path_]:
    """Every node of the document, the root first."""
    yield path
    if isinstance(doc, dict):
        for key, value in doc.items():
            yield from locations(value, (*path, key))
    elif isinstance(doc, list):
        for index, value in enumerate(doc):
            yield from locations(value, (*path, index))


def _perturb(value: Any, which: int, hostile: bool) -> Any:
    """A nearby wrong value: off by one, negative, another type, a `../` path; `hostile` adds
    huge values, NaN/Infinity, NUL, surrogates and over-long names."""
    choices: list[Callable[[], Any]]
    if not hostile and isinstance(value, (int, float)) and not isinstance(value, bool):
        choices = [
            lambda: value + 1,
            lambda: value - 1,
            lambda: -value,
            lambda: 0,
            lambda: value * 4,
            lambda: value + 0.5,
            lambda: str(value),
            lambda: None,
        ]
    elif not hostile and isinstance(value, str):
        choices = [
            lambda: "",
            lambda: "../" + value,
            lambda: "/" + value,
            lambda: value.upper(),
            lambda: value + "x",
            lambda: value * 3,
            lambda: value[:-1],
            lambda: None,
        ]
    elif isinstance(value, bool):
        choices = [lambda: not value, lambda: None, lambda: 1, lambda: "true"]
    elif isinstance(value, int):
        choices = [
            lambda: value + 1,
            lambda: value - 1,
            lambda: -value,
            lambda: 0,
            lambda: value * 2**40,
            lambda: value + 0.5,
            lambda: str(value),
            lambda: 2**64,
            lambda: -(2**40),
            lambda: 2**31,
            lambda: 2**40,
            lambda: [value],
            lambda: float("nan"),
            lambda: float("inf"),
            lambda: "high",
        ]
    elif isinstance(value, float):
        choices = [
            lambda: value * 1e300,
            lambda: -value,
            lambda: float("nan"),
            lambda: float("inf"),
            lambda: 0.0,
            lambda: value * 2**64,
            lambda: None,
            lambda: 1e-300,
        ]
    elif isinstance(value, str):
        choices = [
            lambda: "",
            lambda: "../" + value,
            lambda: "/" + value,
            lambda: value.upper(),
            lambda: value + "x",
            lambda: value * 50,
            lambda: value[:-1],
            lambda: None,
            lambda: value + "\x00",
            lambda: value + "\udcff\ud800",
            lambda: value + "/" + "x" * 300,
            lambda: "x" * 5000,
        ]
    elif isinstance(value, list):
        choices = [
            lambda: value[:-1],
            lambda: value + value[-1:],
            lambda: [],
            lambda: value * 3,
            lambda: list(reversed(value)),
            lambda: {"0": value},
            lambda: None,
            lambda: [value],
        ]
    elif isinstance(value, dict):
        choices = [
            lambda: {},
            lambda: None,
            lambda: [value],
            lambda: dict(reversed(list(value.items()))),
            lambda: 1,
            lambda: "{}",
            lambda: {"x": value},
        ]
    else:
        choices = [lambda: 0, lambda: "", lambda: [], lambda: {}, lambda: False, lambda: "x"]
    return choices[which % len(choices)]()


def mutate(doc: Any, changes: list[tuple[int, str, Any, int, bool]]) -> Any:
    """A damaged deep copy of `doc` (see `edits`)."""
    out = copy.deepcopy(doc)
    for index, operation, payload, which, hostile in changes:
        paths = list(locations(out))
        path = paths[index % len(paths)]
        if not path:
            out = payload if operation == "replace" else _perturb(out, which, hostile)
            continue
        parent = out
        for part in path[:-1]:
            parent = parent[part]
        key = path[-1]
        if operation == "replace":
            parent[key] = payload
        elif operation == "delete":
            del parent[key]
        elif operation == "insert":
            if isinstance(parent, list):
                parent.insert(key, payload)  # type: ignore[arg-type]
            else:
                parent[f"{key}_extra"] = payload
        else:
            parent[key] = _perturb(parent[key], which, hostile)
    return out


def to_text(doc: Any, text_edit: tuple[int, str] | None) -> str:
    """Serialise (NaN and Infinity as Python's json writes them), then damage the text."""
    text = json.dumps(doc, indent=2)
    if text_edit is None or not text:
        return text
    position, kind = text_edit
    at = position % len(text)
    if kind == "cut":
        return text[:at]
    if kind == "flip":
        return text[:at] + chr((ord(text[at]) + 1) % 128) + text[at + 1 :]
    if kind == "dup":
        return text[:at] + text[at:] + text[at:]
    return "\ufeff" + text
