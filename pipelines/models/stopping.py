"""Stopping the models of a build that has failed or was interrupted.

The build runs its models on threads (pipelines/models/graph.py `build`). When one fails,
or Ctrl-C reaches the run, the queries the others have running in DuckDB are interrupted
there; a model computing in NumPy has no query to interrupt, and would run its course
(the forecast: minutes at a national chain's scale) before the build could end. Such a
model calls `checkpoint()` between steps of its own work: once the build has stopped, it
raises `BuildStoppedError` there.

The stop travels with the thread that runs the model (a context variable), and into the
threads of the model's own pool by `carried`, so two builds in one process (tests, a
chain's clinics) do not stop each other.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from contextvars import ContextVar
from typing import ParamSpec, TypeVar

P = ParamSpec("P")
T = TypeVar("T")

_STOP: ContextVar[threading.Event | None] = ContextVar("build_stop", default=None)


class BuildStoppedError(Exception):
    """The build stopped this model: another failed, or the run was interrupted."""


def checkpoint() -> None:
    """Raise `BuildStoppedError` if the build running this model has stopped."""
    stop = _STOP.get()
    if stop is not None and stop.is_set():
        raise BuildStoppedError("another model failed, or the run was interrupted")


def under(stop: threading.Event, work: Callable[P, T], *args: P.args, **kwargs: P.kwargs) -> T:
    """`work` run with `stop` as its build's stop (what the build submits to its threads)."""
    token = _STOP.set(stop)
    try:
        return work(*args, **kwargs)
    finally:
        _STOP.reset(token)


def carried(work: Callable[P, T]) -> Callable[P, T]:
    """`work` for another thread (a model's own pool): under the caller's build's stop."""
    stop = _STOP.get()
    if stop is None:
        return work

    def run(*args: P.args, **kwargs: P.kwargs) -> T:
        return under(stop, work, *args, **kwargs)

    return run
