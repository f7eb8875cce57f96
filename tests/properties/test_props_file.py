"""PropertiesFile: loading, atomic saves, locked updates, and no lost updates across processes."""

from __future__ import annotations

import functools
import multiprocessing
import os
import threading
from pathlib import Path

import pytest

from webknossos_like._atomic import TEMP_PREFIX
from webknossos_like.errors import DatasetNotFoundError, InvalidPropertiesError
from webknossos_like.properties import (
    LOCK_FILE_NAME,
    BoundingBoxProperties,
    DatasetId,
    DatasetProperties,
    LayerProperties,
    MagViewProperties,
    PropertiesFile,
    VoxelSize,
    dumps,
)

EXAMPLE_TEXT = (Path(__file__).parent / "data" / "wk_example.json").read_text()


def _layer(name: str, width: int = 0) -> LayerProperties:
    return LayerProperties(
        name,
        "color",
        BoundingBoxProperties([0, 0, 0], width, 1, 1),
        "wkw",
        [MagViewProperties([1, 1, 1], f"./{name}/1")],
        1,
        "uint8",
    )


def _props(*layers: LayerProperties) -> DatasetProperties:
    return DatasetProperties(DatasetId("ds"), VoxelSize((1.0, 1.0, 2.0)), list(layers))


def _leftovers(folder: Path) -> list[str]:
    return sorted(p.name for p in folder.iterdir() if p.name.startswith(TEMP_PREFIX))


def test_paths(tmp_path: Path) -> None:
    file = PropertiesFile(tmp_path)
    assert file.path == tmp_path / "datasource-properties.json"
    assert file.lock_path == tmp_path / LOCK_FILE_NAME
    assert not file.exists()


def test_load_missing_file(tmp_path: Path) -> None:
    with pytest.raises(DatasetNotFoundError) as info:
        PropertiesFile(tmp_path).load()
    assert isinstance(info.value, FileNotFoundError)
    assert str(tmp_path / "datasource-properties.json") in str(info.value)


def test_load_missing_folder(tmp_path: Path) -> None:
    with pytest.raises(DatasetNotFoundError):
        PropertiesFile(tmp_path / "nope").load()
    with pytest.raises(DatasetNotFoundError):
        PropertiesFile(tmp_path / "nope").save(_props())


def test_load_malformed_file_names_path(tmp_path: Path) -> None:
    file = PropertiesFile(tmp_path)
    file.path.write_text(EXAMPLE_TEXT.replace('"uint32"', '"uint33"'))
    with pytest.raises(InvalidPropertiesError) as info:
        file.load()
    assert str(file.path) in str(info.value)
    assert info.value.json_path == "dataLayers[1].elementClass"


def test_load_not_utf8(tmp_path: Path) -> None:
    file = PropertiesFile(tmp_path)
    file.path.write_bytes(b'{"id": "\xff"}')
    with pytest.raises(InvalidPropertiesError, match="UTF-8"):
        file.load()


def test_load_accepts_utf8_bom(tmp_path: Path) -> None:
    file = PropertiesFile(tmp_path)
    file.path.write_bytes(b"\xef\xbb\xbf" + EXAMPLE_TEXT.encode())
    assert file.load().id.name == "wk_example_ds"


def test_save_and_load(tmp_path: Path) -> None:
    file = PropertiesFile(tmp_path)
    props = _props(_layer("a", 5))
    file.save(props)
    assert file.exists()
    assert file.load() == props
    assert file.path.read_text() == dumps(props)
    assert _leftovers(tmp_path) == []


def test_save_invalid_props_keeps_old_file(tmp_path: Path) -> None:
    file = PropertiesFile(tmp_path)
    file.save(_props(_layer("a")))
    before = file.path.read_bytes()
    bad = _props(_layer("a"))
    bad.data_layers[0].mags[0].mag = [3, 3, 3]
    with pytest.raises(InvalidPropertiesError):
        file.save(bad)
    assert file.path.read_bytes() == before
    assert _leftovers(tmp_path) == []


def test_update_mutates_and_persists(tmp_path: Path) -> None:
    file = PropertiesFile(tmp_path)
    file.save(_props(_layer("a", 1)))

    def grow(props: DatasetProperties) -> int:
        props.data_layers[0].bounding_box.width += 10
        return props.data_layers[0].bounding_box.width

    props, value = file.update(grow)
    assert value == 11
    assert props.data_layers[0].bounding_box.width == 11
    assert file.load().data_layers[0].bounding_box.width == 11
    assert _leftovers(tmp_path) == []


def test_update_reapplies_to_freshest_file(tmp_path: Path) -> None:
    """A stale in-memory copy does not matter: update always starts from the file."""
    first, second = PropertiesFile(tmp_path), PropertiesFile(tmp_path)
    first.save(_props(_layer("a")))
    first.update(lambda p: p.data_layers.append(_layer("b")))
    second.update(lambda p: p.data_layers.append(_layer("c")))
    assert [layer.name for layer in first.load().data_layers] == ["a", "b", "c"]


def test_update_without_change_does_not_rewrite(tmp_path: Path) -> None:
    file = PropertiesFile(tmp_path)
    file.path.write_text(EXAMPLE_TEXT)
    inode = os.stat(file.path).st_ino
    _, value = file.update(lambda p: len(p.data_layers))
    assert value == 2
    assert os.stat(file.path).st_ino == inode
    file.update(lambda p: setattr(p.id, "name", "renamed"))
    assert os.stat(file.path).st_ino != inode  # atomically replaced
    assert file.load().id.name == "renamed"


def test_update_that_raises_writes_nothing(tmp_path: Path) -> None:
    file = PropertiesFile(tmp_path)
    file.save(_props(_layer("a")))
    before = file.path.read_bytes()

    def fail(props: DatasetProperties) -> None:
        props.data_layers.clear()
        raise RuntimeError("boom")

    with pytest.raises(RuntimeError, match="boom"):
        file.update(fail)
    assert file.path.read_bytes() == before
    assert _leftovers(tmp_path) == []


def test_update_result_that_cannot_be_saved_writes_nothing(tmp_path: Path) -> None:
    file = PropertiesFile(tmp_path)
    file.save(_props(_layer("a")))
    before = file.path.read_bytes()
    with pytest.raises(InvalidPropertiesError):
        file.update(lambda p: p.data_layers.append(_layer("a")))  # duplicate name
    assert file.path.read_bytes() == before


def test_nested_update_in_one_thread_does_not_deadlock(tmp_path: Path) -> None:
    PropertiesFile(tmp_path).save(_props(_layer("a")))
    done = threading.Event()

    def nested() -> None:
        outer = PropertiesFile(tmp_path)

        def mutate(props: DatasetProperties) -> None:
            PropertiesFile(tmp_path).update(lambda inner: inner.data_layers.append(_layer("b")))
            props.id.name = "outer"

        outer.update(mutate)
        done.set()

    thread = threading.Thread(target=nested, daemon=True)
    thread.start()
    thread.join(timeout=10)
    assert done.is_set(), "nested update deadlocked"
    assert PropertiesFile(tmp_path).load().id.name == "outer"


def test_threads_do_not_lose_updates(tmp_path: Path) -> None:
    PropertiesFile(tmp_path).save(_props(_layer("shared")))

    def work(worker: int) -> None:
        file = PropertiesFile(tmp_path)
        for step in range(10):
            file.update(functools.partial(_apply, worker=worker, step=step))

    threads = [threading.Thread(target=work, args=(i,)) for i in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    _assert_all_updates(tmp_path, workers=4, steps=10)


# --- multi-process: no lost updates ------------------------------------------------------------


def _apply(props: DatasetProperties, worker: int, step: int) -> None:
    props.data_layers.append(_layer(f"w{worker}_{step}"))
    props.data_layers[0].bounding_box.width += 1


def _process_worker(dataset_path: str, worker: int, steps: int) -> None:
    file = PropertiesFile(dataset_path)
    for step in range(steps):
        file.update(functools.partial(_apply, worker=worker, step=step))


def _assert_all_updates(dataset_path: Path, workers: int, steps: int) -> None:
    props = PropertiesFile(dataset_path).load()
    names = {layer.name for layer in props.data_layers}
    expected = {f"w{w}_{s}" for w in range(workers) for s in range(steps)}
    assert expected <= names
    assert len(props.data_layers) == workers * steps + 1
    assert props.data_layers[0].bounding_box.width == workers * steps
    assert _leftovers(dataset_path) == []


def test_processes_do_not_lose_updates(tmp_path: Path) -> None:
    PropertiesFile(tmp_path).save(_props(_layer("shared")))
    workers, steps = 4, 20
    context = multiprocessing.get_context("spawn")
    processes = [
        context.Process(target=_process_worker, args=(str(tmp_path), worker, steps))
        for worker in range(workers)
    ]
    for process in processes:
        process.start()
    for process in processes:
        process.join(timeout=120)
    assert [process.exitcode for process in processes] == [0] * workers
    _assert_all_updates(tmp_path, workers, steps)
