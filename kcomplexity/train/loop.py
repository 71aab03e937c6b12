"""The training loop: one seeded run that writes a checkpoint series.

Layout of a series directory (the contract with ``kcomplexity.analyse``)::

    epoch_0000.safetensors   the initialisation (identical across methods for one seed)
    epoch_0001.safetensors   after epoch 1 (for QAT: the quantised, deployed weights)
    ...
    metrics.json             {"records": [{"step", "epoch", "accuracy", "loss", ...}], "meta": {...}}

``step`` equals the epoch number. ``accuracy``/``loss`` are on the held-out test
split; ``train_loss`` is the mean training loss over the epoch (epoch 0: at init).
"""
from __future__ import annotations

import json
import math
import os
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

import torch
from safetensors.torch import save_file
from torch import nn

from ..errors import InputError
from ..io.series import METRICS_FILE
from .data import Split, load_digits_split
from .methods import Baseline, Method
from .models import build_model

RECIPE = {"optimizer": "AdamW", "schedule": "cosine", "dataset": "sklearn.load_digits"}


@dataclass
class TrainResult:
    model: nn.Module
    records: list[dict]
    meta: dict
    path: Path | None

    @property
    def accuracy(self) -> float:
        """Test accuracy after the last epoch."""
        return self.records[-1]["accuracy"]


def checkpoint_name(epoch: int) -> str:
    return f"epoch_{epoch:04d}.safetensors"


def set_threads(threads: int | None = None) -> None:
    """Use ``threads`` torch CPU threads (default 1: these models are too small to gain from
    more, and measured 2-9x slower with 2 threads on a busy 2-core machine)."""
    torch.set_num_threads(threads or 1)


@torch.no_grad()
def evaluate(model: nn.Module, x: torch.Tensor, y: torch.Tensor) -> tuple[float, float]:
    """(accuracy, mean cross-entropy) of ``model`` on (x, y)."""
    model.eval()
    logits = model(x)
    loss = nn.functional.cross_entropy(logits, y).item()
    return float((logits.argmax(1) == y).float().mean()), loss


def _save(model: nn.Module, path: Path, epoch: int) -> None:
    tensors = {n: t.detach().contiguous().clone() for n, t in model.state_dict().items()}
    save_file(tensors, str(path), metadata={"epoch": str(epoch), "step": str(epoch)})


def _epoch(model, method, optimizer, data: Split, batch_size, generator, step) -> tuple[float, int]:
    model.train()
    order = torch.randperm(len(data.y_train), generator=generator)
    total = 0.0
    for start in range(0, len(order), batch_size):
        idx = order[start:start + batch_size]
        optimizer.zero_grad(set_to_none=True)
        with method.forward_weights(model):
            loss = nn.functional.cross_entropy(model(data.x_train[idx]), data.y_train[idx])
            loss.backward()
        optimizer.step()
        step += 1
        method.after_step(model, step)
        total += loss.item() * len(idx)
    return total / len(order), step


def _deploy(model: nn.Module, method: Method, data: Split, path: Path | None, epoch: int) -> tuple[float, float]:
    """Test accuracy and loss of the deployed weights, and their checkpoint when ``path`` is set."""
    with method.deployed(model):
        if path is not None:
            _save(model, path / checkpoint_name(epoch), epoch)
        return evaluate(model, data.x_test, data.y_test)


def train(model: "str | nn.Module" = "mlp", method: Method | None = None, *, epochs: int = 10,
          out: "str | os.PathLike | None" = None, seed: int = 0, lr: float = 3e-3,
          weight_decay: float = 1e-2, batch_size: int = 64, data: Split | None = None,
          threads: int | None = None, model_options: dict | None = None,
          progress: Callable[[dict], None] | None = None) -> TrainResult:
    """Train ``model`` on the digits split with ``method``; write a checkpoint series to ``out``.

    AdamW (lr, weight_decay) with a cosine schedule over the epochs and seeded
    shuffling. The reference MLP uses lr 3e-4 for 200 epochs; these runs last ~10
    epochs, so the default is 3e-3. ``progress`` is called with each epoch's record.
    """
    if not isinstance(epochs, int) or epochs < 1:
        raise InputError(f"epochs must be a positive integer, got {epochs!r}")
    set_threads(threads)
    method = method or Baseline()
    model_name = model if isinstance(model, str) else type(model).__name__.lower()
    model = build_model(model, seed, **(model_options or {})) if isinstance(model, str) else model
    data = data or load_digits_split(seed=seed)
    path = Path(out) if out is not None else None
    if path is not None:
        path.mkdir(parents=True, exist_ok=True)
    method.setup(model, epochs)
    meta = {**method.meta(), "model": model_name, **(model_options or {}), "epochs": epochs, "seed": seed,
            "lr": lr, "weight_decay": weight_decay, "batch_size": batch_size, **RECIPE,
            "n_train": len(data.y_train), "n_test": len(data.y_test)}
    optimizer = torch.optim.AdamW(model.parameters(), lr=lr, weight_decay=weight_decay)
    schedule = torch.optim.lr_scheduler.CosineAnnealingLR(optimizer, T_max=epochs)
    generator = torch.Generator().manual_seed(seed)
    records, step = [], 0
    for epoch in range(epochs + 1):
        start = time.perf_counter()
        extra: dict = {}
        if epoch == 0:
            train_loss = evaluate(model, data.x_train, data.y_train)[1]
        else:
            train_loss, step = _epoch(model, method, optimizer, data, batch_size, generator, step)
            schedule.step()
            extra = method.after_epoch(model, epoch)
        accuracy, loss = _deploy(model, method, data, path, epoch)
        record = {"step": epoch, "epoch": epoch, "accuracy": accuracy, "loss": loss,
                  "train_loss": train_loss, "optimizer_steps": step, **extra,
                  "seconds": time.perf_counter() - start}
        records.append(record)
        if path is not None:
            write_metrics(path, records, meta)
        if progress:
            progress({**record, "series": method.name})
    return TrainResult(model, records, meta, path)


def write_metrics(path: Path, records: list[dict], meta: dict) -> None:
    """Write ``metrics.json`` atomically (a reader never sees half a file)."""
    clean = [{k: (None if isinstance(v, float) and math.isnan(v) else v) for k, v in r.items()} for r in records]
    tmp = path / (METRICS_FILE + ".tmp")
    tmp.write_text(json.dumps({"records": clean, "meta": meta}, indent=1))
    tmp.replace(path / METRICS_FILE)
