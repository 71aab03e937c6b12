"""``analyse``: checkpoints x tensors x estimators -> one long-form DataFrame.

Planned once in the parent: each checkpoint is opened once (``CheckpointRef.open``)
and each spec parsed once. The unit of work is a ``Task``: one tensor group (a
tensor, or for ``per="model"`` the joined model) of one checkpoint with every
Pipeline on it, plus its ``Delta`` estimators against the previous checkpoint. A
task carries the opened checkpoint: a file checkpoint travels as its lazy reader
(a torch file as its path), never as arrays; an in-memory source ships just the
arrays the task needs. The worker reads and hashes the group once (``_keys`` is the
only place a cache key is computed), looks every row up in the cache, and returns
one ``Outcome`` per row: the Estimate as a dict, or the KComplexityError object
raised. Finished rows are committed to the SQLite cache one by one as they arrive,
so an interrupted run resumes where it stopped.
"""
from __future__ import annotations

import json
import os
import sys
import threading
from dataclasses import dataclass, field, replace
from collections.abc import Callable
from functools import partial
from typing import TYPE_CHECKING, Any

import numpy as np

from ..errors import InputError, KComplexityError
from ..estimators import Pipeline, parse_all
from ..io import CheckpointRef, ModelStream, Selection, discover, model_order
from ..io.readers import Checkpoint, MemoryCheckpoint
from ..registry import families
from .cache import Cache, content_hash, lookup, resolve_cache_path, result_key, sparsity_label
from ..sparsity_measures import sparsity_options, vector_sparsity
from .delta import Delta, delta_for
from .executors import run_all, task_progress, threads_per_task

if TYPE_CHECKING:
    import pandas as pd

MODEL_TENSOR = "<model>"
COLUMNS = ["checkpoint", "step", "tensor", "shape", "n_params", "estimator", "bits", "bits_per_param",
           "ratio", "lossless", "seconds", "skipped", "details"]


@dataclass
class Task:
    """One tensor group of one checkpoint, as shipped to a worker, with every estimator to run on it."""
    checkpoint: Checkpoint
    names: tuple[str, ...]
    pipelines: tuple[Pipeline, ...]
    concat: bool = False                               # per="model": join the tensors into one stream
    previous: Checkpoint | None = None                 # w_{t-1} for the delta estimators
    deltas: tuple[tuple[Delta, Pipeline], ...] = ()
    cache_path: str | None = None
    allow_nonfinite: bool = False
    threads: int = 1                # for the chunks of a chunked coder (lzma-9-c64M)
    sparsity: dict | None = None    # options of the sparsity measures to add, computed from the same read


@dataclass
class Outcome:
    """One row's result from a worker: the Estimate as a dict, or the error raised measuring it."""
    result: dict | KComplexityError
    key: str | None = None  # cache key to store the result under; None when it came from the cache


@dataclass
class Row:
    """Parent-side identity of one output row."""
    ref: CheckpointRef
    tensor: str
    shape: str
    n_params: int
    estimator: str
    lossless: bool
    skipped: str | None = None      # decided before running (delta without a matching predecessor)
    result: dict = field(default_factory=dict)


@dataclass
class Job:
    """A task and the rows its outcomes fill, in order (rows skipped at planning get no outcome)."""
    task: Task
    rows: list[Row]
    sparsity: dict = field(default_factory=dict)  # the group's sparsity measures, when asked for


# ---------------------------------------------------------------- worker side
def model_stream(names, arrays: list[np.ndarray], allow_nonfinite: bool) -> ModelStream:
    """The task's tensors as one ``ModelStream`` (one tensor, or a whole model joined in task order)."""
    return ModelStream(dict(zip(names, arrays)), allow_nonfinite=allow_nonfinite)


def _inputs(task: Task) -> tuple[list[np.ndarray], list[np.ndarray]]:
    arrays = [task.checkpoint.read(n) for n in task.names]
    previous = task.previous
    return arrays, [previous.read(n) for n in task.names] if previous is not None and task.deltas else []


def _keys(task: Task, arrays: list[np.ndarray], previous: list[np.ndarray]) -> list[str]:
    """Cache key of each row of a task: the hash of the bytes it reads (never a file's stat), spec, options."""
    content = content_hash(arrays, task.concat)
    keys = [result_key(content, p.spec, task.allow_nonfinite) for p in task.pipelines]
    if previous:
        pair = f"{content}^{content_hash(previous, task.concat)}"
        keys += [result_key(pair, kind.label(p), task.allow_nonfinite) for kind, p in task.deltas]
    if task.sparsity is not None:
        keys.append(result_key(content, sparsity_label(task.sparsity), task.allow_nonfinite))
    return keys


def _measured(key: str, measure: Callable[[], Any]) -> Outcome:
    try:
        result = measure()
        return Outcome(result if isinstance(result, dict) else result.to_dict(), key)
    except KComplexityError as exc:
        return Outcome(exc)


def _estimate(pipeline: Pipeline, x: ModelStream, threads: int):
    return pipeline.estimate(x, allow_nonfinite=True, threads=threads, progress=task_progress())


def run_task(task: Task) -> list[Outcome]:
    """Read and hash the group once; one Outcome per pipeline, then per delta estimator, then the
    sparsity record when asked. The streams are built (and checked) only when some row is not in
    the cache yet."""
    rows = len(task.pipelines) + len(task.deltas) + (task.sparsity is not None)
    try:
        arrays, previous = _inputs(task)
        keys = _keys(task, arrays, previous)
        cached = [lookup(task.cache_path, key) for key in keys]
        if all(c is not None for c in cached):
            return [Outcome(c) for c in cached if c is not None]
        x = model_stream(task.names, arrays, task.allow_nonfinite)
        before = model_stream(task.names, previous, True) if previous else None
    except KComplexityError as exc:
        return [Outcome(exc)] * rows
    measures: list[Callable[[], Any]] = [partial(_estimate, p, x, task.threads) for p in task.pipelines]
    measures += [partial(kind.estimate, p, x, before) for kind, p in task.deltas if before is not None]
    if task.sparsity is not None:
        measures.append(partial(vector_sparsity, x.values(), **task.sparsity))
    return [Outcome(c) if c is not None else _measured(key, measure)
            for c, key, measure in zip(cached, keys, measures)]


# ---------------------------------------------------------------- planning
def _shape(info: dict, names: tuple, concat: bool) -> tuple[str, int]:
    shapes = [info[n][1] for n in names]
    n = sum(int(np.prod(s)) for s in shapes)
    return ("x".join(map(str, shapes[0])) if not concat else str(n)), n


def _ship(ref: CheckpointRef, names: tuple) -> Checkpoint:
    """What a task carries: the opened file checkpoint, else a checkpoint with only the needed arrays."""
    checkpoint = ref.open()
    if isinstance(ref.source, str):
        return checkpoint
    return MemoryCheckpoint({n: checkpoint.read(n) for n in names}, checkpoint.label)


def _groups(names: list[str], per: str) -> list[tuple[str, tuple]]:
    """Tensor rows, and the model row's tensors, in the canonical (natural) model order."""
    if per == "tensor":
        return [(n, (n,)) for n in names]
    return [(MODEL_TENSOR, tuple(model_order(names)))] if names else []


def _delta_skip(prev, label: str, group: tuple, info: dict) -> str | None:
    prev_ref, prev_info, prev_names, _ = prev
    if label == MODEL_TENSOR and set(prev_names) != set(group):
        return f"the selected tensors differ from those of {prev_ref.name}"
    missing = [n for n in group if n not in prev_info]
    if missing:
        return f"{missing[0]} is not in the previous checkpoint {prev_ref.name}"
    if any(prev_info[n] != info[n] for n in group):
        return f"shape or dtype changed since {prev_ref.name}"
    return None


def plan(refs: list[CheckpointRef], pipelines: list[Pipeline], deltas: list[tuple[Delta, Pipeline]],
         selection: Selection, per: str, cache_path: str | None, allow_nonfinite: bool,
         sparsity: dict | None = None) -> list[Job]:
    """Every task of the analysis with its output rows, in (checkpoint, tensor, estimator) order."""
    jobs: list[Job] = []
    previous: dict[str | None, tuple] = {}
    for ref in refs:
        checkpoint = ref.open()
        info = checkpoint.info()
        names = selection.names(info)
        prev, shipped = previous.get(ref.series), {}
        for label, group in _groups(names, per):
            shape, n = _shape(info, group, per == "model")
            shipped[group] = _ship(ref, group)
            task = Task(shipped[group], group, tuple(pipelines), per == "model", cache_path=cache_path,
                        allow_nonfinite=allow_nonfinite, sparsity=sparsity)
            rows = [Row(ref, label, shape, n, p.spec, p.lossless) for p in pipelines]
            if prev and deltas:
                skip = _delta_skip(prev, label, group, info)
                rows += [Row(ref, label, shape, n, kind.label(p), kind.lossless, skipped=skip) for kind, p in deltas]
                if skip is None:
                    task.previous = prev[3].get(group) or _ship(prev[0], group)
                    task.deltas = tuple(deltas)
            jobs.append(Job(task, rows))
        previous[ref.series] = (ref, info, names, shipped)
    return jobs


# ---------------------------------------------------------------- running
def _located(exc: KComplexityError, row: Row) -> KComplexityError:
    """The worker's own exception, its message prefixed with the checkpoint and tensor."""
    exc.args = (f"{row.ref.name}, tensor {row.tensor}: {exc}",)
    return exc


def execute(jobs: list[Job], cache: Cache | None, workers: int, executor, progress: bool,
            label: str = "analyse") -> None:
    """Fill ``row.result`` for every row to run: from the cache, or by running its task."""
    from tqdm import tqdm

    bar = tqdm(total=sum(len(j.rows) for j in jobs), desc=label, unit="est", disable=not progress,
               file=sys.stderr)
    if executor is not None or isinstance(workers, int) and workers > 1:  # largest first: none left alone at the end
        jobs = sorted(jobs, key=lambda j: -max((r.n_params for r in j.rows), default=0))
    bar_state = _BarState(bar, [len(j.rows) for j in jobs])
    tasks = [replace(j.task, threads=threads_per_task(workers, len(jobs), executor)) for j in jobs]
    try:
        for i, outcomes in run_all(run_task, tasks, workers, executor, bar_state.advance if progress else None):
            rows = [r for r in jobs[i].rows if r.skipped is None]
            extra = outcomes.pop() if jobs[i].task.sparsity is not None else None
            for row, outcome in zip(rows, outcomes, strict=True):
                _store(cache, outcome, row)
                row.result = outcome.result
            if extra is not None:
                _store(cache, extra, jobs[i].rows[0])
                jobs[i].sparsity = extra.result
            bar_state.finish(i)
    finally:
        bar.close()


def _store(cache: Cache | None, outcome: Outcome, row: Row) -> None:
    """Commit a freshly measured result (a cached one is not rewritten); raise the error a worker met."""
    if isinstance(outcome.result, KComplexityError):
        raise _located(outcome.result, row)
    if cache is not None and outcome.key is not None:
        cache.put(outcome.key, outcome.result)


class _BarState:
    """The bar's count: finished rows (a whole number); the running jobs' reported fractions show
    beside it as "running 45%" (thread-safe: pool progress arrives on a relay thread)."""

    def __init__(self, bar, rows: list[int]):
        self.bar, self.rows, self.finished, self.lock = bar, rows, 0, threading.Lock()
        self.partial: dict[int, float] = {}

    def advance(self, index: int, fraction: float) -> None:
        """``fraction`` of one more row of job ``index`` is done."""
        with self.lock:
            self.partial[index] = min(self.rows[index] - 0.01, self.partial.get(index, 0.0) + fraction)
            self._show()

    def finish(self, index: int) -> None:
        with self.lock:
            self.partial.pop(index, None)
            self.finished += self.rows[index]
            self._show()

    def _show(self) -> None:
        self.bar.n = self.finished
        running = " ".join(f"{100 * (part % 1):.0f}%" for part in self.partial.values())
        self.bar.set_postfix_str(f"running {running}" if running else "", refresh=False)
        self.bar.update(0)


# ---------------------------------------------------------------- table
def _row(row: Row) -> dict:
    r = row.result
    bits = float("nan") if row.skipped else r["bits"]
    details = r.get("details", {})
    n_params = r.get("n_values", row.n_params)  # a 2-D coder's model row: the values of the matrices scored
    out = {"series": row.ref.series, "checkpoint": row.ref.name, "step": row.ref.step, "tensor": row.tensor,
           "shape": row.shape, "n_params": n_params, "estimator": row.estimator, "bits": bits,
           "bits_per_param": bits / n_params, "ratio": r.get("ratio", float("nan")),
           "lossless": r.get("lossless", row.lossless), "seconds": r.get("seconds", 0.0),
           "skipped": row.skipped or r.get("skipped"), "details": json.dumps(details, sort_keys=True)}
    out.update(details.get("streams", {}))
    for key, total in (("blocks", sum), ("distinct_blocks", sum), ("possible_blocks", sum), ("saturation", max)):
        if isinstance(details.get(key), dict):  # BDM's regime, per stream: summed, saturation the worst
            out[key] = total(details[key].values())
    for key, value in row.ref.metrics.items():
        out[key if key not in out else f"metric_{key}"] = value
    return out


def to_frame(jobs: list[Job]) -> "pd.DataFrame":
    import pandas as pd

    df = pd.DataFrame([_row(r) for j in jobs for r in j.rows])
    if df["series"].isna().all():
        df = df.drop(columns="series")
    df["step"] = df["step"].astype("Int64")
    return df


# ---------------------------------------------------------------- public entry point
def _estimators(estimators, delta: bool) -> tuple[list[Pipeline], list[tuple[Delta, Pipeline]]]:
    """The parsed pipelines (each spec once) and, with ``delta``, the delta kind of each that has one."""
    pipelines = parse_all(estimators)
    deltas = [(kind, p) for p in pipelines if (kind := delta_for(p)) is not None] if delta else []
    if delta and not deltas:
        raise InputError(f"delta=True (command line: --delta) needs at least one lossless estimator (an encoding among "
                         f"{', '.join(families('encodings', lossless=True))} with a coder among "
                         f"{', '.join(families(lossless=True))}) or a BDM one; got {[p.spec for p in pipelines]}")
    return pipelines, deltas


def analyse(source, estimators=None, per: str = "tensor", workers: int = 1, executor=None, cache=True,
            include=None, exclude=None, min_ndim: int = 0, buffers: bool = False, floats_only: bool = True,
            delta: bool = False, steps=None, progress=None, allow_nonfinite: bool = False,
            sparsity=False) -> "pd.DataFrame":
    """Measure every (checkpoint, tensor, estimator) of ``source``; one row each.

    ``source``: a checkpoint file or model directory, a series directory (with
    ``metrics.json``), a directory of series directories, a glob, a list of paths,
    or in memory an ``nn.Module``, a state dict, a dict name -> array, or a list of
    those (step = list index). ``per="model"`` measures each checkpoint's selected
    tensors as one stream (tensor ``"<model>"``; order, padding and dtype rule in
    ``kcomplexity.io.model_stream``).
    ``delta=True`` adds ``delta:<spec>`` rows bounding K(w_t | w_{t-1}) for every
    lossless estimator, and conditional BDM for every BDM one (see ``kcomplexity.analysis.delta``). ``cache``: True (default
    file ``.kcomplexity-cache/cache.sqlite``), False, or a path. ``executor``: a Dask
    address or client (see ``executors``). ``progress``: a tqdm bar on stderr
    (default: when stderr is a terminal), labelled with ``progress`` when that is a string
    (default "analyse"); it counts finished rows and shows how far the running ones are
    (lzma pieces, chunks of a chunked coder). Locally it also advances within a tensor
    (lzma pieces, chunks of a chunked coder). Workers a local run leaves idle compress
    the chunks of a chunked coder (``raw|lzma-9-c64M``) in parallel.

    Columns: ``[series,] checkpoint, step, tensor, shape ("3x4"; length for <model>),
    n_params, estimator, bits, bits_per_param, ratio, lossless, seconds, skipped,
    details`` (JSON), one column per stream of a multi-stream encoding (QuBD
    ``plane_0 .. plane_{B-1}``, fields ``sign, exponent, mantissa_*``; bits each), for BDM
    estimators ``blocks, distinct_blocks, possible_blocks`` (summed over streams) and
    ``saturation`` (the worst stream's; above 1 BDM is saturated, see ``details``),
    then every ``metrics.json`` field merged on step (``accuracy``, ``loss``, ...).
    ``sparsity=True`` (or a dict of its options ``q, p, eps``) adds ``kc.sparsity``'s columns
    of each row's tensor (the joined model for ``<model>``) after ``bits_per_param``.
    """
    if per not in ("tensor", "model"):
        raise InputError(f"per must be 'tensor' or 'model', got {per!r}")
    pipelines, deltas = _estimators(estimators, delta)
    sparsity = sparsity_options(sparsity)
    selection = Selection.make(include, exclude, min_ndim, floats_only)
    refs = discover(source, steps, buffers)
    cache_file = resolve_cache_path(cache)
    cache_path = os.path.abspath(cache_file) if cache_file else None
    jobs = plan(refs, pipelines, deltas, selection, per, cache_path, allow_nonfinite, sparsity)
    if not jobs:
        raise InputError(f"no tensor selected in {len(refs)} checkpoint(s) (include={include}, exclude={exclude}, "
                         f"min_ndim={min_ndim}, floats_only={floats_only}): relax the selection (command line: "
                         "--include, --exclude, --min-ndim, --all-dtypes)")
    progress = sys.stderr.isatty() if progress is None else progress
    label = progress if isinstance(progress, str) else "analyse"
    store = Cache(cache_file) if cache_file else None
    try:
        execute(jobs, store, workers, executor, bool(progress), label)
    finally:
        if store is not None:
            store.close()
    frame = to_frame(jobs)
    return frame if sparsity is None else _with_sparsity(frame, jobs)


def _with_sparsity(frame, jobs: list[Job]):
    """``frame`` with the sparsity columns the workers measured, after ``bits_per_param``."""
    import pandas as pd

    records = [job.sparsity for job in jobs for _ in job.rows]
    columns = list(frame.columns)
    at = columns.index("bits_per_param") + 1
    extra = pd.DataFrame(records, index=frame.index)
    return frame.join(extra)[columns[:at] + list(extra.columns) + columns[at:]]


analyze = analyse
