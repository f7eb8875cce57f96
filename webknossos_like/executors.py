"""Builders for the executors users pass as `executor=` (`wkl.executors.threads(2)` ...)."""

from .parallel import dask, processes, set_progress, threads

__all__ = ["dask", "processes", "set_progress", "threads"]
