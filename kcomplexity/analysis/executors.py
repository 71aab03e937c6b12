"""Where work units run: in this process, a local process pool, or a Dask cluster.

``run_all(fn, tasks, workers, executor)`` yields ``(index, result)`` as tasks
finish, in completion order. ``executor``: None (local: in-process when
``workers <= 1``, else a ``ProcessPoolExecutor`` of ``workers`` processes), a Dask
scheduler address (``"tcp://host:8786"``; a client is opened and closed here), a
``distributed.Client``, or any ``concurrent.futures.Executor``.
"""
from __future__ import annotations

import concurrent.futures as cf
from collections.abc import Callable, Iterator

from ..errors import InputError


def _serial(fn, tasks) -> Iterator:
    for i, task in enumerate(tasks):
        yield i, fn(task)


def _futures(submit, as_completed, fn, tasks) -> Iterator:
    index = {submit(fn, task): i for i, task in enumerate(tasks)}
    try:
        for future in as_completed(list(index)):
            yield index[future], future.result()
    finally:
        for future in index:
            future.cancel()


def _dask(client, fn, tasks) -> Iterator:
    from distributed import as_completed

    def submit(f, task):
        return client.submit(f, task, pure=False)

    yield from _futures(submit, as_completed, fn, tasks)


def _dask_client(address: str):
    try:
        from distributed import Client
    except ImportError:
        raise InputError("a Dask address was given but dask.distributed is not installed: "
                         "pip install 'kcomplexity[dask]'") from None
    try:
        return Client(address, timeout="10s")
    except (OSError, TimeoutError) as exc:
        raise InputError(f"cannot reach the Dask scheduler at {address!r} ({exc}); check the address "
                         "(tcp://host:8786) and that the scheduler is running") from None


def run_all(fn: Callable, tasks: list, workers: int = 1, executor=None) -> Iterator:
    """Run ``fn(task)`` for every task; yield ``(task index, result)`` as each finishes."""
    if not isinstance(workers, int) or workers < 1:
        raise InputError(f"workers must be a positive integer, got {workers!r}")
    if not tasks:
        return
    if executor is None:
        if workers == 1:
            yield from _serial(fn, tasks)
            return
        with cf.ProcessPoolExecutor(max_workers=min(workers, len(tasks))) as pool:
            yield from _futures(pool.submit, cf.as_completed, fn, tasks)
        return
    if isinstance(executor, str):
        client = _dask_client(executor)
        try:
            yield from _dask(client, fn, tasks)
        finally:
            client.close()
        return
    if isinstance(executor, cf.Executor):
        yield from _futures(executor.submit, cf.as_completed, fn, tasks)
        return
    if type(executor).__name__ == "Client" and hasattr(executor, "submit"):
        yield from _dask(executor, fn, tasks)
        return
    raise InputError(f"executor must be None, a Dask address string, a distributed.Client or a "
                     f"concurrent.futures.Executor, got {type(executor).__name__}")
