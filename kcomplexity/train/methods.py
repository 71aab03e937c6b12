"""Training methods as hooks on one loop: baseline, QAT, MoMos, magnitude, PQ-index and l_q pruning.

A method sees the model at four points of the loop (see ``loop.train``):
``forward_weights`` wraps forward + backward, ``after_step`` runs after each
optimizer step, ``after_epoch`` at the end of each epoch (returns extra metrics),
and ``deployed`` wraps evaluation and checkpoint writing.
"""
from __future__ import annotations

from contextlib import contextmanager

import numpy as np
import torch
from torch import nn

from ..errors import InputError


def quantised_weights(model: nn.Module) -> dict[str, nn.Parameter]:
    """The tensors QAT and pruning act on: trainable weights with dim >= 2 (biases are left alone)."""
    return {n: p for n, p in model.named_parameters() if p.requires_grad and p.dim() >= 2}


def fake_quantize(w: torch.Tensor, bits: int) -> torch.Tensor:
    """Per-tensor symmetric fake quantisation, scale x clamp(round(w / scale), -Q, Q) with
    Q = 2^(bits-1) - 1 and scale = max|w| / Q, by ``kcomplexity.variants.quantize``."""
    from ..variants import quantize

    return torch.from_numpy(quantize({"w": w.detach()}, bits=bits)["w"]).to(w.dtype)


class Method:
    """Plain training (the baseline). Subclasses override the hooks they need."""
    name = "baseline"

    def params(self) -> dict:
        return {}

    def setup(self, model: nn.Module, epochs: int) -> None:
        pass

    @contextmanager
    def forward_weights(self, model: nn.Module):
        yield

    def after_step(self, model: nn.Module, step: int) -> None:
        pass

    def after_epoch(self, model: nn.Module, epoch: int) -> dict:
        return {}

    @contextmanager
    def deployed(self, model: nn.Module):
        yield

    def meta(self) -> dict:
        return {"method": type(self).__name__.lower(), "series": self.name, **self.params()}


class Baseline(Method):
    pass


class QAT(Method):
    """Quantisation-aware training with a straight-through estimator (MoMos' QAT baseline).

    Forward and backward run on fake-quantised weights; the gradient is applied to
    the float latent weights (the STE: d w_q / d w := 1). Checkpoints and accuracy
    are those of the quantised weights, i.e. the deployed model.
    """

    def __init__(self, bits: int = 8):
        if bits not in range(2, 17):
            raise InputError(f"QAT bits must be in 2..16, got {bits!r}")
        self.bits = bits
        self.name = f"qat{bits}"

    def params(self):
        return {"bits": self.bits}

    @contextmanager
    def forward_weights(self, model):
        latent = {n: p.detach().clone() for n, p in quantised_weights(model).items()}
        with torch.no_grad():
            for p in quantised_weights(model).values():
                p.copy_(fake_quantize(p, self.bits))
        try:
            yield
        finally:
            with torch.no_grad():
                for n, p in quantised_weights(model).items():
                    p.copy_(latent[n])

    deployed = forward_weights


class Momos(Method):
    """Mosaic-of-Motifs: project all trainable tensors onto k motifs of size ``s``.

    ``every="epoch"`` projects at the end of each epoch (the reference loop);
    ``every="step"`` after each optimizer step (the reference README's example).
    The projection is ``kcomplexity.variants.momos``, seeded per call.
    """

    def __init__(self, s: int = 4, capacity: float = 0.01, force_zero: bool = True,
                 every: str = "epoch", seed: int = 0):
        if every not in ("epoch", "step"):
            raise InputError(f"MoMos projects every 'epoch' or every 'step', got {every!r}")
        self.s, self.capacity, self.force_zero, self.every, self.seed = s, capacity, force_zero, every, seed
        self.name = f"momos_s{s}_c{capacity:g}" + ("_step" if every == "step" else "")
        self._calls = 0

    def params(self):
        return {"s": self.s, "capacity": self.capacity, "force_zero": self.force_zero, "every": self.every}

    def setup(self, model, epochs):
        self._calls = 0  # the projection seeds restart with each run

    def project(self, model: nn.Module) -> dict:
        from ..variants import momos

        params = {n: p for n, p in model.named_parameters() if p.requires_grad}
        result = momos({n: p.detach() for n, p in params.items()}, s=self.s, capacity=self.capacity,
                       force_zero=self.force_zero, seed=self.seed * 100_003 + self._calls)
        self._calls += 1
        with torch.no_grad():
            for n, p in params.items():
                p.copy_(torch.as_tensor(np.asarray(result.weights[n]), dtype=p.dtype).reshape(p.shape))
        stats = result.stats
        return {"momos_k": int(stats["k"]), "momos_distortion": float(stats["distortion"]),
                "momos_changed_weights": int(stats["changed_weights"])}

    def after_step(self, model, step):
        if self.every == "step":
            self.project(model)

    def after_epoch(self, model, epoch):
        return self.project(model)


class Prune(Method):
    """Prune once, then fine-tune with the masks fixed (zeros stay zero after every step).

    Schedule: dense training up to the end of epoch ``at_epoch`` (default: half of
    the epochs), then prune the dim >= 2 weights at the end of ``rounds`` consecutive
    epochs, fine-tuning in between and after. ``kind="magnitude"`` zeroes the
    smallest |w| to ``sparsity`` at once (``variants.prune_magnitude``, default one
    round); ``kind="pq"`` runs one SAP step of ``variants.prune_pq`` per round (the
    PQ-index rule is iterative with retraining; default 3 rounds); ``kind="lq"`` keeps
    each neuron's ``k_bound(eps)`` largest weights (``variants.prune_lq``, options ``q``,
    ``eps``; default 3 rounds). ``scope`` defaults to ``"global"``, and to ``"neuron"`` for lq. Each round's zeros join the mask, which is applied after
    every optimizer step.
    """

    def __init__(self, kind: str = "magnitude", sparsity: float = 0.7, scope: str | None = None,
                 at_epoch: int | None = None, rounds: int | None = None, **pq_options):
        if kind not in ("magnitude", "pq", "lq"):
            raise InputError(f"pruning kind is 'magnitude', 'pq' or 'lq', got {kind!r}")
        self.kind, self.sparsity, self.at_epoch = kind, sparsity, at_epoch
        self.scope = scope or ("neuron" if kind == "lq" else "global")
        self.rounds = rounds or (1 if kind == "magnitude" else 3)
        self._at = at_epoch
        self.pq_options = pq_options
        self.name = f"prune_magnitude{sparsity:g}" if kind == "magnitude" else f"prune_{kind}"
        self.masks: dict[str, torch.Tensor] = {}

    def params(self):
        p = {"kind": self.kind, "scope": self.scope, "at_epoch": self._at, "rounds": self.rounds,
             **self.pq_options}
        return p | ({"sparsity": self.sparsity} if self.kind == "magnitude" else {})

    def setup(self, model, epochs):
        self.masks = {}
        self._at = self.at_epoch or max(1, epochs // 2)

    def prune(self, model: nn.Module) -> None:
        from .. import variants

        weights = {n: p.detach() for n, p in quantised_weights(model).items()}  # variants copy via arrays
        if self.kind == "magnitude":
            pruned = variants.prune_magnitude(weights, sparsity=self.sparsity, scope=self.scope)
        else:
            rule = variants.prune_pq if self.kind == "pq" else variants.prune_lq
            pruned = rule(weights, scope=self.scope, **self.pq_options).weights
        with torch.no_grad():
            for n, p in quantised_weights(model).items():
                new = torch.as_tensor(np.asarray(pruned[n]), dtype=p.dtype).reshape(p.shape)
                self.masks[n] = new != 0
                p.copy_(new)

    def after_step(self, model, step):
        if self.masks:
            with torch.no_grad():
                for n, p in quantised_weights(model).items():
                    p.mul_(self.masks[n])

    def after_epoch(self, model, epoch):
        if self._at <= epoch < self._at + self.rounds:
            self.prune(model)
        weights = list(quantised_weights(model).values())
        zeros = sum(int((p == 0).sum()) for p in weights)
        return {"weight_sparsity": zeros / sum(p.numel() for p in weights)}
