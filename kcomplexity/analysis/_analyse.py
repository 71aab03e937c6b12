"""``analyse``: checkpoints x tensors x estimators -> one long-form DataFrame.

The unit of work is (checkpoint, tensor, estimator). File tensors are read inside
the worker (a task carries the path and tensor names, never the array); in-memory
sources ship just the arrays a task needs. Finished rows are committed to the
SQLite cache one by one as they arrive, so an interrupted run resumes where it
stopped.
"""
from __future__ import annotations

import json
import os
import sys
from dataclasses import dataclass, field, replace

import numpy as np


from .. import errors
from ..errors import InputError, KComplexityError
from ..estimators import DEFAULT_ESTIMATOR, parse
from ..io import CheckpointRef, ModelStream, Selection, discover, model_order
from ..io.readers import Checkpoint, MemoryCheckpoint, open_cached
from .cache import Cache, content_hash, lookup, resolve_cache_path, result_key
from ._sparsity import sparsity_options, vector_sparsity
from .delta import PREFIX, delta_spec, xor_delta
from .executors import run_all

MODEL_TENSOR = "<model>"
COLUMNS = ["checkpoint", "step", "tensor", "shape", "n_params", "estimator", "bits", "bits_per_param",
           "ratio", "lossless", "seconds", "skipped", "details"]


@dataclass
class Task:
    """One work unit as shipped to a worker: where to read, which tensors, which estimator."""
    source: object                  # absolute path, or a MemoryCheckpoint holding just ``names``
    names: tuple[str, ...]
    spec: str                       # pipeline spec, without the delta prefix
    concat: bool = False            # per="model": join the tensors into one stream
    delta: bool = False             # estimate K(w_t | w_{t-1}) from the XOR delta
    previous: object = None         # source of w_{t-1} for a delta task
    cache_path: str | None = None
    allow_nonfinite: bool = False

    @property
    def estimator(self) -> str:
        return (PREFIX if self.delta else "") + self.spec


@dataclass
class Unit:
    """Parent-side identity of one output row."""
    ref: CheckpointRef
    tensor: str
    shape: str
    n_params: int
    task: Task
    skipped: str | None = None      # decided before running (delta without a matching predecessor)
    result: dict = field(default_factory=dict)


# ---------------------------------------------------------------- worker side
def _read(source, names) -> list[np.ndarray]:
    checkpoint = source if isinstance(source, Checkpoint) else open_cached(source)
    return [checkpoint.read(n) for n in names]


def model_stream(names, arrays: list[np.ndarray], allow_nonfinite: bool) -> ModelStream:
    """The task's tensors as one ``ModelStream`` (one tensor, or a whole model joined in task order)."""
    return ModelStream(dict(zip(names, arrays)), allow_nonfinite=allow_nonfinite)


def _key(task: Task, arrays: list[np.ndarray], previous: list[np.ndarray] | None) -> str:
    """Cache key of a task: the hash of the bytes it reads (never a file's size or mtime) and its options."""
    content = content_hash(arrays, task.concat)
    if previous is not None:
        content += "^" + content_hash(previous, task.concat)
    return result_key(content, task.estimator, task.allow_nonfinite)


def _inputs(task: Task) -> tuple[list[np.ndarray], list[np.ndarray] | None]:
    previous = None if task.previous is None else _read(task.previous, task.names)
    return _read(task.source, task.names), previous


def run_task(task: Task) -> tuple[str | None, dict]:
    """Read, hash, consult the cache, estimate. Returns ``(cache key, Estimate as dict)``."""
    try:
        arrays, previous = _inputs(task)
        x = model_stream(task.names, arrays, task.allow_nonfinite)
        if previous is not None:
            old = model_stream(task.names, previous, True).tensors
            x = model_stream(task.names, [xor_delta(a, b) for a, b in zip(x.tensors, old)], True)
        key = _key(task, arrays, previous)
        cached = lookup(task.cache_path, key)
        if cached is not None:
            return key, cached
        estimate = parse(task.spec).estimate(x, allow_nonfinite=True)
        return key, estimate.to_dict()
    except KComplexityError as exc:
        return None, {"error": str(exc), "type": type(exc).__name__}


# ---------------------------------------------------------------- planning
def _shape(info: dict, names: tuple, concat: bool) -> tuple[str, int]:
    shapes = [info[n][1] for n in names]
    n = sum(int(np.prod(s)) for s in shapes)
    return ("x".join(map(str, shapes[0])) if not concat else str(n)), n


def _ship(ref: CheckpointRef, checkpoint: Checkpoint, names: tuple):
    """What a task carries: the path for files, else a checkpoint with only the needed arrays."""
    if isinstance(ref.source, str):
        return ref.source
    return MemoryCheckpoint({n: checkpoint.read(n) for n in names}, checkpoint.label)


def _groups(names: list[str], per: str, info: dict, carries_order: bool) -> list[tuple[str, tuple]]:
    """Tensor rows in natural order; the model row joins them in the source's own order."""
    if per == "tensor":
        return [(n, (n,)) for n in names]
    chosen = set(names)
    in_source = [n for n in info if n in chosen]
    return [(MODEL_TENSOR, tuple(model_order(in_source, carries_order)))] if names else []


def _delta_skip(prev, label: str, group: tuple, info: dict) -> str | None:
    prev_ref, prev_info, prev_names = prev
    if label == MODEL_TENSOR and set(prev_names) != set(group):
        return f"the selected tensors differ from those of {prev_ref.name}"
    missing = [n for n in group if n not in prev_info]
    if missing:
        return f"{missing[0]} is not in the previous checkpoint {prev_ref.name}"
    if any(prev_info[n] != info[n] for n in group):
        return f"shape or dtype changed since {prev_ref.name}"
    return None


def _delta_units(ref: CheckpointRef, prev, label: str, shape: str, n: int, base: Task, info: dict,
                 deltas: list[str]) -> list[Unit]:
    """``delta:<spec>`` rows of one tensor group against the previous checkpoint of its series."""
    skip = _delta_skip(prev, label, base.names, info)
    prev_source = None if skip else _ship(prev[0], prev[0].open(), base.names)
    return [Unit(ref, label, shape, n, replace(base, spec=spec, delta=True, previous=prev_source), skipped=skip)
            for spec in deltas]


def plan(refs: list[CheckpointRef], specs: list[str], deltas: list[str], selection: Selection, per: str,
         cache_path: str | None, allow_nonfinite: bool) -> list[Unit]:
    """Every output row of the analysis, in (checkpoint, tensor, estimator) order."""
    units, previous = [], {}
    for ref in refs:
        checkpoint = ref.open()
        info = checkpoint.info()
        names = selection.names(info)
        prev = previous.get(ref.series)
        for label, group in _groups(names, per, info, checkpoint.carries_order):
            shape, n = _shape(info, group, per == "model")
            source = _ship(ref, checkpoint, group)
            base = Task(source, group, "", per == "model", cache_path=cache_path, allow_nonfinite=allow_nonfinite)
            units += [Unit(ref, label, shape, n, replace(base, spec=spec)) for spec in specs]
            if prev and deltas:
                units += _delta_units(ref, prev, label, shape, n, base, info, deltas)
        previous[ref.series] = (ref, info, names)
    return units


# ---------------------------------------------------------------- running
def _from_cache(unit: Unit, cache: Cache | None) -> dict | None:
    """In-memory tasks are looked up here; file tasks by the worker, which reads the bytes anyway."""
    if cache is None or not isinstance(unit.task.source, Checkpoint):
        return None
    return cache.get(_key(unit.task, *_inputs(unit.task)))


def _fail(unit: Unit, result: dict) -> KComplexityError:
    cls = getattr(errors, result["type"], KComplexityError)
    return cls(f"{unit.ref.name}, tensor {unit.tensor}: {result['error']}")


def execute(units: list[Unit], cache: Cache | None, workers: int, executor, progress: bool) -> None:
    """Fill ``unit.result`` for every unit: from the cache, or by running its task."""
    from tqdm import tqdm

    bar = tqdm(total=len(units), desc="analyse", unit="est", disable=not progress, file=sys.stderr)
    pending = []
    for unit in units:
        unit.result = {} if unit.skipped else (_from_cache(unit, cache) or {})
        if unit.result or unit.skipped:
            bar.update()
        else:
            pending.append(unit)
    try:
        for i, (key, result) in run_all(run_task, [u.task for u in pending], workers, executor):
            unit = pending[i]
            if key is None:
                raise _fail(unit, result)
            if cache is not None:
                cache.put(key, result)
            unit.result = result
            bar.update()
    finally:
        bar.close()


# ---------------------------------------------------------------- table
def _row(unit: Unit) -> dict:
    r = unit.result
    skipped = unit.skipped or r.get("skipped")
    bits = float("nan") if unit.skipped else r["bits"]
    details = r.get("details", {})
    row = {"series": unit.ref.series, "checkpoint": unit.ref.name, "step": unit.ref.step, "tensor": unit.tensor,
           "shape": unit.shape, "n_params": unit.n_params, "estimator": unit.task.estimator, "bits": bits,
           "bits_per_param": bits / unit.n_params, "ratio": r.get("ratio", float("nan")),
           "lossless": r.get("lossless", unit.task.delta or parse(unit.task.spec).lossless),
           "seconds": r.get("seconds", 0.0), "skipped": skipped, "details": json.dumps(details, sort_keys=True)}
    row.update(details.get("streams", {}))
    for key, value in unit.ref.metrics.items():
        row[key if key not in row else f"metric_{key}"] = value
    return row


def to_frame(units: list[Unit]) -> "pd.DataFrame":
    import pandas as pd

    df = pd.DataFrame([_row(u) for u in units])
    if df["series"].isna().all():
        df = df.drop(columns="series")
    df["step"] = df["step"].astype("Int64")
    return df


# ---------------------------------------------------------------- public entry point
def _estimator_specs(estimators, delta: bool) -> tuple[list[str], list[str]]:
    if estimators is None:
        estimators = [DEFAULT_ESTIMATOR]
    elif isinstance(estimators, str):
        estimators = [estimators]
    specs = list(dict.fromkeys(parse(e).spec for e in estimators))
    if not specs:
        raise InputError("estimators is empty: pass at least one spec such as 'raw|zstd-3'")
    deltas = [delta_spec(s)[len(PREFIX):] for s in specs if parse(s).lossless] if delta else []
    if delta and not deltas:
        raise InputError(f"delta=True needs at least one lossless estimator (raw|... or fields|... with a "
                         f"compressor, entropy or motif-S); got {specs}")
    return specs, deltas


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
    lossless estimator (see ``kcomplexity.analysis.delta``). ``cache``: True (default
    file ``.kcomplexity-cache/cache.sqlite``), False, or a path. ``executor``: a Dask
    address or client (see ``executors``). ``progress``: a tqdm bar on stderr
    (default: when stderr is a terminal).

    Columns: ``[series,] checkpoint, step, tensor, shape ("3x4"; length for <model>),
    n_params, estimator, bits, bits_per_param, ratio, lossless, seconds, skipped,
    details`` (JSON), one column per stream of a multi-stream encoding (QuBD
    ``plane_0 .. plane_{B-1}``, fields ``sign, exponent, mantissa_*``; bits each),
    then every ``metrics.json`` field merged on step (``accuracy``, ``loss``, ...).
    ``sparsity=True`` (or a dict of its options ``q, p, eps``) adds ``kc.sparsity``'s columns
    of each row's tensor (the joined model for ``<model>``) after ``bits_per_param``.
    """
    if per not in ("tensor", "model"):
        raise InputError(f"per must be 'tensor' or 'model', got {per!r}")
    specs, deltas = _estimator_specs(estimators, delta)
    sparsity = sparsity_options(sparsity)
    selection = Selection.make(include, exclude, min_ndim, floats_only)
    refs = discover(source, steps, buffers)
    cache_file = resolve_cache_path(cache)
    cache_path = os.path.abspath(cache_file) if cache_file else None
    units = plan(refs, specs, deltas, selection, per, cache_path, allow_nonfinite)
    if not units:
        raise InputError(f"no tensor selected in {len(refs)} checkpoint(s) (include={include}, exclude={exclude}, "
                         f"min_ndim={min_ndim}, floats_only={floats_only}): relax the selection")
    progress = sys.stderr.isatty() if progress is None else bool(progress)
    store = Cache(cache_file) if cache_file else None
    try:
        execute(units, store, workers, executor, progress)
    finally:
        if store is not None:
            store.close()
    frame = to_frame(units)
    return frame if sparsity is None else _with_sparsity(frame, units, sparsity)


def _with_sparsity(frame, units: list[Unit], options: dict):
    """``frame`` with ``sparsity``'s columns after ``bits_per_param``, computed once per tensor group."""
    import pandas as pd

    memo: dict = {}
    for u in units:
        key = (id(u.ref), u.task.names)
        if key not in memo:
            values = model_stream(u.task.names, _read(u.task.source, u.task.names), True).values()
            memo[key] = vector_sparsity(values, **options)
    columns = list(frame.columns)
    at = columns.index("bits_per_param") + 1
    extra = pd.DataFrame([memo[(id(u.ref), u.task.names)] for u in units], index=frame.index)
    return frame.join(extra)[columns[:at] + list(extra.columns) + columns[at:]]


analyze = analyse
