"""Builders for the executors users pass as `executor=` (`wkl.executors.threads(2)` ...)."""

from .parallel import processes, threads

__all__ = ["processes", "threads"]
