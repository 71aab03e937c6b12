"""Where work units run: in this process, a local process pool, or a Dask cluster.

``run_all(fn, tasks, workers, executor)`` yields ``(index, result)`` as tasks
finish, in completion order. ``executor``: None (local: in-process when
``workers <= 1``, else a ``ProcessPoolExecutor`` of ``workers`` processes), a Dask
scheduler address (``"tcp://host:8786"``; a client is opened and closed here, see
``connect_dask`` for the connect timeout), a
``distributed.Client``, or any ``concurrent.futures.Executor``.

Progress inside a task: with ``on_progress(index, fraction)`` given, a task that
runs here or in the local pool gets a callback from ``task_progress()`` for the
fractions of its work newly done (pool workers send them through a queue).
"""
from __future__ import annotations

import concurrent.futures as cf
import ctypes
import ctypes.util
import multiprocessing
import os
import re
import signal
import socket
import struct
import threading
import time
from collections.abc import Callable, Iterator
from functools import partial

from ..errors import InputError

CONNECT_TIMEOUT = 8.0       # seconds to reach a Dask scheduler and receive its handshake (fails within 10 s)
MAX_HANDSHAKE = 1 << 20     # a Dask handshake message is a few hundred bytes
PR_SET_PDEATHSIG = 1        # linux/prctl.h


def die_with_parent(parent: int) -> None:
    """Pool initializer: this worker exits when ``parent`` dies, even by SIGKILL.

    Linux: ``prctl(PR_SET_PDEATHSIG, SIGKILL)``; elsewhere a daemon thread polls the parent id."""
    try:
        libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6", use_errno=True)
        armed = libc.prctl(PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0) == 0
    except (OSError, AttributeError):
        armed = False
    if os.getppid() != parent:  # the parent died before prctl took effect
        os._exit(1)
    if not armed:
        threading.Thread(target=_watch_parent, args=(parent,), daemon=True).start()


def _watch_parent(parent: int) -> None:
    while os.getppid() == parent:
        time.sleep(0.5)
    os._exit(1)


_report: Callable | None = None  # in this process: (task index, fraction) -> the parent's progress
_current: int | None = None      # index of the task running in this process


def task_progress() -> Callable[[float], None] | None:
    """Inside a task run by ``run_all``: a callback for the fraction of it newly done, else None."""
    report, index = _report, _current
    return None if report is None or index is None else (lambda fraction: report(index, fraction))


def _indexed(fn, item):
    global _current
    _current, task = item
    try:
        return fn(task)
    finally:
        _current = None


def _start_worker(parent: int, queue) -> None:
    """Pool initializer: die with the parent; send progress through ``queue`` when given."""
    global _report
    die_with_parent(parent)
    if queue is not None:
        _report = lambda index, fraction: queue.put((index, fraction))  # noqa: E731


def _relay(queue, on_progress) -> None:
    for message in iter(queue.get, None):
        on_progress(*message)


def _serial(fn, tasks, on_progress=None) -> Iterator:
    global _report
    _report = on_progress
    try:
        for i, task in enumerate(tasks):
            yield i, _indexed(fn, (i, task))
    finally:
        _report = None


def _pool(fn, tasks, workers: int, on_progress=None) -> Iterator:
    """A local process pool; progress messages come back through a queue and a relay thread."""
    ctx = multiprocessing.get_context()
    queue = ctx.SimpleQueue() if on_progress else None
    relay = threading.Thread(target=_relay, args=(queue, on_progress), daemon=True) if queue else None
    if relay:
        relay.start()
    pool = cf.ProcessPoolExecutor(max_workers=min(workers, len(tasks)), mp_context=ctx,
                                  initializer=_start_worker, initargs=(os.getpid(), queue))
    try:
        with pool:
            yield from _futures(pool.submit, cf.as_completed, partial(_indexed, fn), list(enumerate(tasks)))
    finally:
        if relay and queue is not None:
            queue.put(None)
            relay.join()


def _futures(submit, as_completed, fn, tasks) -> Iterator:
    try:
        index = {submit(fn, task): i for i, task in enumerate(tasks)}
    except RuntimeError as exc:  # concurrent.futures: "cannot schedule new futures after shutdown"
        raise InputError(f"the executor does not take tasks ({exc}); pass one that is running "
                         "(not shut down), or executor=None for local workers") from None
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


def _host_port(address: str) -> tuple[str, int]:
    """``tcp://host:port`` (or ``host:port``) -> (host, port); anything else is an InputError."""
    m = re.fullmatch(r"(?:tcp://)?(\[[0-9a-fA-F:.]+\]|[A-Za-z0-9_.-]+):([0-9]{1,5})", address.strip())
    if not m or not 0 < int(m.group(2)) < 65536:
        raise InputError(f"{address[:80]!r} is not a Dask scheduler address: write tcp://HOST:PORT, "
                         "e.g. tcp://127.0.0.1:8786")
    return m.group(1).strip("[]"), int(m.group(2))


def check_scheduler(address: str, timeout: float = CONNECT_TIMEOUT) -> None:
    """Fail within ``timeout`` seconds unless a Dask peer answers at ``address``.

    A Dask comm sends its handshake first: an 8-byte little-endian length of a small
    message. A port that accepts and stays silent (or an HTTP server, which waits for
    a request) sends nothing, and is refused here before distributed talks to it.
    """
    host, port = _host_port(address)
    deadline = time.monotonic() + timeout
    try:
        with socket.create_connection((host, port), timeout=timeout) as sock:
            head = b""
            while len(head) < 8:
                sock.settimeout(max(deadline - time.monotonic(), 0.001))
                chunk = sock.recv(8 - len(head))
                if not chunk:
                    break
                head += chunk
    except socket.timeout:
        raise InputError(f"the peer at {address} accepted a connection but did not answer as a Dask scheduler "
                         f"within {timeout:g} s; check the address and port (--connect-timeout sets the wait)") from None
    except OSError as exc:
        raise InputError(f"cannot reach the Dask scheduler at {address} ({exc.strerror or exc}); check the address "
                         "(tcp://host:8786) and that the scheduler is running") from None
    if len(head) < 8 or not 0 < struct.unpack("<Q", head)[0] <= MAX_HANDSHAKE:
        raise InputError(f"the peer at {address} is not a Dask scheduler (it answered {head[:8]!r}); "
                         "check the address and port")


def connect_dask(address: str, timeout: float = CONNECT_TIMEOUT):
    """A ``distributed.Client`` for a scheduler address, or InputError within about ``timeout`` seconds."""
    try:
        from distributed import Client
    except ImportError:
        raise InputError("a Dask address was given but dask.distributed is not installed: "
                         "pip install 'kcomplexity[dask]'") from None
    if isinstance(timeout, bool) or not isinstance(timeout, (int, float)) or not 0 < timeout <= 3600:
        raise InputError(f"the connect timeout must be a number of seconds in (0, 3600], got {timeout!r}")
    if not address.startswith("inproc://"):  # inproc: a scheduler inside this process
        check_scheduler(address, timeout)
    try:
        return Client(address, timeout=timeout)
    except (OSError, TimeoutError, ValueError, MemoryError) as exc:
        raise InputError(f"cannot connect to the Dask scheduler at {address!r} ({exc}); check the address "
                         "(tcp://host:8786) and that the scheduler is running") from None


def threads_per_task(workers: int, n_tasks: int, executor=None) -> int:
    """Threads a task may use for a chunked coder: the local workers that tasks leave idle
    (the coder caps them by the cores)."""
    if executor is not None or not isinstance(workers, int) or workers < 2 or n_tasks < 1:
        return 1  # (bad ``workers`` are reported by run_all)
    return workers // min(workers, n_tasks)


def run_all(fn: Callable, tasks: list, workers: int = 1, executor=None, on_progress=None) -> Iterator:
    """Run ``fn(task)`` for every task; yield ``(task index, result)`` as each finishes."""
    if not isinstance(workers, int) or workers < 1:
        raise InputError(f"workers must be a positive integer, got {workers!r}")
    if not tasks:
        return
    if executor is None:
        yield from _serial(fn, tasks, on_progress) if workers == 1 else _pool(fn, tasks, workers, on_progress)
        return
    if isinstance(executor, str):
        client = connect_dask(executor)
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
