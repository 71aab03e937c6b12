"""Checkpoint series: discover checkpoints, read their steps, attach training metrics.

A source becomes a list of ``CheckpointRef`` ordered by ``(series, step)``:

- one file, model directory or in-memory object: one checkpoint;
- a list/tuple: each element one checkpoint; in-memory elements take their list
  index as step, paths their parsed step;
- a glob string (``runs/a/*.pt``): the matching paths;
- a directory of checkpoints (files with a known suffix, or model directories
  such as ``checkpoint-500/``): one series, with ``metrics.json`` merged if present;
- a directory whose subdirectories are series (``runs/baseline``, ``runs/momos``):
  several series, named after the subdirectory (the ``series`` column).

Step of a checkpoint, first that applies: ``steps=`` given explicitly; metadata
(``global_step``, then ``step``: Lightning dicts, safetensors metadata, HF
``trainer_state.json``); the name (``step_100``, ``epoch=3-step=200``,
``checkpoint-500``, ``ckpt_0007``, ``iter_20``). A name with only an epoch
(``epoch_0003``) takes the ``step`` of the ``metrics.json`` record with that
epoch, or the epoch number itself when there is no such record.
"""
from __future__ import annotations

import glob as globlib
import json
import os
import re
import warnings
from dataclasses import dataclass, field
from pathlib import Path
from typing import cast

from ..errors import SkippedTensorsWarning, SourceError
from . import hub
from .readers import FILE_SUFFIXES, Checkpoint, is_checkpoint_dir, open_cached, open_source, path_errors
from .selection import natural_key

METRICS_FILE = "metrics.json"
STEP_PATTERNS = [re.compile(p, re.I) for p in (
    r"(?:global_)?step[=_-]?([0-9]+)", r"checkpoint[=_-]([0-9]+)", r"ckpt[=_-]?([0-9]+)",
    r"iter(?:ation)?[=_-]?([0-9]+)")]  # ASCII digits only: lookalikes are not step numbers
EPOCH_PATTERN = re.compile(r"epoch[=_-]?([0-9]+)", re.I)
METADATA_STEP_KEYS = ("global_step", "step")
MAX_STEP = 2**63 - 1  # steps are stored as int64


@dataclass
class CheckpointRef:
    """One checkpoint of a series. ``source`` is a path (read where the work runs) or a Checkpoint."""
    name: str
    source: object
    step: int | None = None
    series: str | None = None
    metrics: dict = field(default_factory=dict)
    _checkpoint: Checkpoint | None = field(default=None, repr=False, compare=False)

    def open(self) -> Checkpoint:
        """The opened checkpoint, opened once and kept for the life of this reference."""
        checkpoint = self._checkpoint
        if checkpoint is None:
            checkpoint = open_cached(self.source) if isinstance(self.source, str) else cast(Checkpoint, self.source)
            self._checkpoint = checkpoint
        return checkpoint


def as_step(value, where: str) -> int:
    """A training step: an integer (or integral float) in 0 .. 2**63-1, else SourceError naming ``where``."""
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value <= MAX_STEP:
        raise SourceError(f"{where}: step {str(value)[:40]!r} is not an integer from 0 to 2**63-1; "
                          "give whole, non-negative step numbers")
    return value


def steps_from_name(name: str) -> tuple[int | None, int | None]:
    """``(step, epoch)`` read from a checkpoint name; None where absent."""
    def number(digits: str) -> int:
        return as_step(int(digits) if len(digits) <= 19 else digits, name)

    step = next((number(m.group(1)) for p in STEP_PATTERNS if (m := p.search(name))), None)
    m = EPOCH_PATTERN.search(name)
    return step, (number(m.group(1)) if m else None)


def _is_path(x) -> bool:
    return isinstance(x, (str, os.PathLike))


def _has_glob(s: str) -> bool:
    return any(c in s for c in "*?[")


def _checkpoint_entries(directory: Path) -> list[Path]:
    return sorted((p for p in directory.iterdir()
                   if (p.is_file() and p.suffix.lower() in FILE_SUFFIXES) or is_checkpoint_dir(p)),
                  key=lambda p: natural_key(p.name))


def read_metrics(directory: Path) -> list[dict]:
    """Records of ``metrics.json`` (``{"records": [{"step": .., ...}], "meta": {..}}``), or []."""
    f = directory / METRICS_FILE
    if not f.is_file():
        return []
    try:
        records = json.loads(f.read_text())["records"]
    except (ValueError, KeyError, TypeError, RecursionError) as exc:
        raise SourceError(f"{f}: expected {{\"records\": [{{\"step\": ..., ...}}]}} ({exc}); fix or remove it") from exc
    if not isinstance(records, list) or not all(isinstance(r, dict) for r in records):
        raise SourceError(f"{f}: \"records\" must be a list of objects such as {{\"step\": 100, \"loss\": 0.3}}; "
                          "fix or remove it")
    for i, r in enumerate(records):
        for key in ("step", "epoch"):
            if key in r:
                r[key] = as_step(r[key], f"{f}, record {i}, {key!r}")
    return records


def _warn_nested_checkpoints(path: Path) -> None:
    """A Trainer output folder holds the final model beside its ``checkpoint-N`` folders: say which is measured."""
    nested = sorted((p.name for p in path.iterdir() if is_checkpoint_dir(p)), key=natural_key)
    if nested:
        pattern = path / (os.path.commonprefix(nested) + "*")
        warnings.warn(f"{path.name} is a model folder and also holds {len(nested)} checkpoint folder(s) "
                      f"({nested[0]} .. {nested[-1]}): measuring the model folder only; pass '{pattern}' "
                      "to measure them as a series", SkippedTensorsWarning, stacklevel=5)


def _resolve_step(ref: CheckpointRef, records: list[dict]) -> None:
    metadata = ref.open().metadata
    step = next((as_step(metadata[k], f"{ref.name} ({k})") for k in METADATA_STEP_KEYS if k in metadata), None)
    name_step, epoch = steps_from_name(ref.name)
    step = step if step is not None else name_step
    if step is None and epoch is None and "epoch" in metadata:  # HF writes fractional epochs beside global_step
        epoch = as_step(metadata["epoch"], f"{ref.name} (epoch)")
    if step is None and epoch is not None:
        match = [r for r in records if r.get("epoch") == epoch and "step" in r]
        step = int(match[-1]["step"]) if match else epoch
    ref.step = step


def _attach_metrics(refs: list[CheckpointRef], records: list[dict]) -> None:
    by_step = {r["step"]: r for r in records if "step" in r}
    for ref in refs:
        record = by_step.get(ref.step, {})
        ref.metrics = {k: v for k, v in record.items() if k != "step"}


def _assign_steps(refs: list[CheckpointRef], steps) -> None:
    """The explicit ``steps=``, one per checkpoint in order."""
    if len(steps) != len(refs):
        raise SourceError(f"steps= has {len(steps)} entries for {len(refs)} checkpoints")
    for ref, step in zip(refs, steps):
        ref.step = as_step(step, f"steps= for checkpoint {ref.name}")


def _series_from_paths(paths: list[Path], series: str | None, steps, records: list[dict],
                       names: list[str] | None = None) -> list[CheckpointRef]:
    refs = [CheckpointRef(n, os.path.abspath(p), series=series) for n, p in zip(names or [p.name for p in paths], paths)]
    if steps is not None:
        _assign_steps(refs, steps)
    else:
        for ref in refs:
            _resolve_step(ref, records)
    if len(refs) > 1:
        _check_steps(refs)
    _attach_metrics(refs, records)
    return sorted(refs, key=lambda r: (r.step if r.step is not None else -1))


def _check_steps(refs: list[CheckpointRef]) -> None:
    names = [r.name for r in refs]
    if any(r.step is None for r in refs):
        bad = [r.name for r in refs if r.step is None]
        raise SourceError(f"cannot read a training step from {bad} (checkpoints: {names}). Name them like "
                          "step_100.pt, epoch=3-step=200.ckpt, checkpoint-500/ or ckpt_0007.safetensors, or pass "
                          "the steps explicitly: analyse([path, ...], steps=[0, 100, ...])")
    seen: dict[int | None, str] = {}
    for r in refs:
        if r.step in seen:
            raise SourceError(f"{seen[r.step]} and {r.name} both have step {r.step}; pass steps=[...] explicitly "
                              "or analyse them as separate series")
        seen[r.step] = r.name


def _directory(path: Path, steps) -> list[CheckpointRef]:
    entries = _checkpoint_entries(path)
    subdirs = sorted((d for d in path.iterdir() if d.is_dir() and not is_checkpoint_dir(d) and _checkpoint_entries(d)),
                     key=lambda d: natural_key(d.name))
    if entries and subdirs:
        raise SourceError(f"{path}: holds both checkpoints at its top level ({[p.name for p in entries][:3]}) and "
                          f"series folders ({[d.name for d in subdirs][:3]}); which to measure is ambiguous. Pass "
                          f"one series folder, or a glob such as '{path / '*.pt'}', or move the stray checkpoints")
    if entries:
        return _series_from_paths(entries, None, steps, read_metrics(path))
    if not subdirs:
        raise SourceError(f"{path}: no checkpoints found (looked for {', '.join(FILE_SUFFIXES)} files and model "
                          "directories here and one level down)")
    if steps is not None:
        raise SourceError("steps= applies to one series; this directory holds several: "
                          f"{[d.name for d in subdirs]}")
    return [ref for d in subdirs for ref in _series_from_paths(_checkpoint_entries(d), d.name, None, read_metrics(d))]


def discover(source, steps=None, buffers: bool = False) -> list[CheckpointRef]:
    """The checkpoints of ``source`` in (series, step) order; see the module docstring."""
    with path_errors():
        return _discover(source, steps, buffers)


def _discover(source, steps, buffers: bool) -> list[CheckpointRef]:
    if steps is not None and not isinstance(steps, (list, tuple, range)):
        raise SourceError(f"steps= takes a list of integers, one per checkpoint, got {type(steps).__name__}")
    if hub.is_hub(source) or isinstance(source, (list, tuple)) and source and all(hub.is_hub(s) for s in source):
        named = [pair for s in ([source] if hub.is_hub(source) else source) for pair in hub.series(s)]
        return _series_from_paths([p for _, p in named], None, steps, [], [n for n, _ in named])
    if isinstance(source, (list, tuple)):
        if not source:
            raise SourceError("an empty list of checkpoints was given")
        if all(_is_path(s) for s in source):
            return _series_from_paths([Path(s) for s in source], None, steps, [])
        refs = [CheckpointRef(str(i), open_source(s, buffers), step=i) for i, s in enumerate(source)]
        if steps is not None:
            _assign_steps(refs, steps)
        return refs
    if _is_path(source):
        text = os.fspath(source)
        if _has_glob(text) and not Path(text).exists():
            matches = sorted(globlib.glob(text), key=natural_key)
            if not matches:
                raise SourceError(f"the pattern {text!r} matches no file")
            return _series_from_paths([Path(m) for m in matches], None, steps, [])
        path = Path(text)
        if path.is_dir() and not is_checkpoint_dir(path):
            return _directory(path, steps)
        if path.is_dir():
            _warn_nested_checkpoints(path)
        return _series_from_paths([path], None, steps, read_metrics(path.parent))
    ref = CheckpointRef("<memory>", open_source(source, buffers))
    _resolve_step(ref, [])
    return [ref]
