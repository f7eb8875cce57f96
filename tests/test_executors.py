"""Executors: the bounded-window policy, progress bars, and a real Dask cluster doing real work."""

from __future__ import annotations

import threading
from concurrent.futures import Executor, Future, ThreadPoolExecutor
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from webknossos_like import Dataset, Mag, executors
from webknossos_like.errors import InvalidArgumentError
from webknossos_like.parallel import run_tasks, set_progress


class CountingExecutor(Executor):
    """Runs tasks on threads and records the largest number of futures pending at once."""

    def __init__(self) -> None:
        self._pool = ThreadPoolExecutor(2)
        self._max_workers = 2
        self.pending = 0
        self.peak = 0
        self._lock = threading.Lock()

    def submit(self, fn: Any, /, *args: Any, **kwargs: Any) -> Future[Any]:
        with self._lock:
            self.pending += 1
            self.peak = max(self.peak, self.pending)
        future = self._pool.submit(fn, *args, **kwargs)

        def done(_: Future[Any]) -> None:
            with self._lock:
                self.pending -= 1

        future.add_done_callback(done)
        return future

    def shutdown(self, wait: bool = True, **kwargs: Any) -> None:
        self._pool.shutdown(wait)


def test_run_tasks_keeps_order_and_bounds_pending_futures() -> None:
    executor = CountingExecutor()
    results = run_tasks(lambda x: x * 2, list(range(500)), executor)
    executor.shutdown()
    assert results == [x * 2 for x in range(500)]
    assert executor.peak <= 2 * 4  # workers x window per worker, never 500


def test_run_tasks_reraises_first_failure() -> None:
    def fail_on_three(x: int) -> int:
        if x == 3:
            raise ValueError("three")
        return x

    with pytest.raises(ValueError, match="three"):
        run_tasks(fail_on_three, list(range(10)))
    with executors.threads(2) as pool, pytest.raises(ValueError, match="three"):
        run_tasks(fail_on_three, list(range(10)), pool)


def test_progress_bar_forced_and_silenced(capsys: pytest.CaptureFixture[str]) -> None:
    try:
        set_progress("always")
        run_tasks(lambda x: x, list(range(5)), desc="Working hard")
        shown = capsys.readouterr()
        set_progress("never")
        run_tasks(lambda x: x, list(range(5)), desc="Working hard")
        hidden = capsys.readouterr()
    finally:
        set_progress("auto")
    assert "Working hard" in shown.out + shown.err
    assert "Working hard" not in hidden.out + hidden.err
    with pytest.raises(InvalidArgumentError):
        set_progress("sometimes")


def test_nothing_starts_a_process_pool_by_default(
    dataset: Dataset, monkeypatch: pytest.MonkeyPatch
) -> None:
    import concurrent.futures
    import multiprocessing

    def forbidden(*args: object, **kwargs: object) -> None:
        raise AssertionError("a process pool was started without being asked for")

    monkeypatch.setattr(concurrent.futures, "ProcessPoolExecutor", forbidden)
    monkeypatch.setattr(multiprocessing, "Pool", forbidden)
    layer = dataset.add_layer("seg", "segmentation", dtype="uint32")
    layer.add_mag(1).write(np.ones((64, 64, 64), np.uint32))
    layer.downsample(coarsest_mag=Mag(2))
    layer.refresh_largest_segment_id()
    layer.get_mag(1).compress()
    assert layer.get_mag(1).content_is_equal(layer.get_mag(1))


@pytest.mark.slow
def test_dask_local_cluster_downsamples_and_converts(tmp_path: Path) -> None:
    distributed = pytest.importorskip("distributed")
    ds = Dataset(tmp_path / "ds", voxel_size=(1, 1, 1))
    rng = np.random.default_rng(5)
    labels = rng.integers(0, 20, size=(128, 128, 64), dtype=np.uint32)
    ds.add_layer("seg", "segmentation", dtype="uint32").add_mag(1, shard_shape=64).write(labels)
    with (
        distributed.LocalCluster(
            n_workers=2,
            processes=True,
            threads_per_worker=1,
            dashboard_address=None,
            silence_logs=40,
        ) as cluster,
        distributed.Client(cluster) as client,
    ):
        executor = executors.dask(client)
        ds.get_layer("seg").downsample(
            coarsest_mag=Mag(2), sampling_mode="isotropic", executor=executor
        )
        copy = ds.copy_dataset(
            tmp_path / "pre", data_format="neuroglancerPrecomputed", executor=executor
        )
        workers = {w["id"] for w in client.scheduler_info()["workers"].values()}
    assert len(workers) == 2
    from webknossos_like.geometry import Vec3Int
    from webknossos_like.ops.interpolation import downsample_data

    np.testing.assert_array_equal(
        ds.get_layer("seg").get_mag(2).read(), downsample_data(labels[None], Vec3Int(2), "mode")
    )
    for mag in (1, 2):
        assert copy.get_layer("seg").get_mag(mag).content_is_equal(ds.get_layer("seg").get_mag(mag))
