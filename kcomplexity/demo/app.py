"""``kcomplexity demo``: train small models with every method, measure them, write a report.

Steps (each prints progress): train every run of the ``Plan`` with every training seed: the
first seed writes the whole series ``OUT/runs/<series>/`` (one checkpoint per epoch), every
other seed its final (deployed) weights into ``OUT/runs/<series>_final/`` (step = training
seed); every seed's test accuracy goes to ``OUT/seeds.csv``. Then the controls: ``shuffled_<series>``
(each final of ``<series>_final`` with every tensor's values permuted, step = training seed),
``shuffled_<model>_init`` (the first seed's initialisation permuted) and
``<model>_random_init`` (fresh draws of the same architecture, step = draw seed, seeds
disjoint from the training seeds). ``analyse`` all series with the default estimators (see
``measure``); then tables, claims, plots and ``report.md`` (see ``findings`` and ``report``).
"""
from __future__ import annotations

import shutil
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable

import numpy as np
import torch
from safetensors.numpy import load_file, save_file

from ..errors import InputError
from ..train.data import Split, load_digits_split
from ..train.loop import checkpoint_name, evaluate, set_threads, train, write_metrics
from ..train.methods import QAT, Baseline, Method, Momos, Prune
from ..train.models import build_model

# The MoMos reference measures the whole model (all trainable tensors joined as one ModelStream,
# each tensor cut into blocks on its own, as momos cuts them); QuBD measures each weight matrix.
MODEL_ESTIMATORS = ("raw|lzma-9", "fields|zstd-19", "sign|bdm", "motif-4")
TENSOR_ESTIMATORS = ("bitplanes8|bdm2d",)
ESTIMATORS = MODEL_ESTIMATORS + TENSOR_ESTIMATORS
RANDOM_INIT_SEEDS = tuple(range(100, 108))  # 8 draws: the init distribution; disjoint from the training seeds
TRAIN_SEEDS = (0, 1, 2)  # the first writes the series over epochs; every seed's final weights are measured
LQ_EPS = 0.9  # prune_lq's relative l2 tolerance: below ~0.7 the bound keeps every weight of these dense layers


@dataclass
class Run:
    """One training run of the demo: model name and method; the series is ``<model>_<method>``."""
    model: str
    method: Method

    @property
    def series(self) -> str:
        return f"{self.model}_{self.method.name}"


@dataclass
class Plan:
    """The demo's runs, seeds and the names of every series (``findings`` takes its names from here)."""
    runs: list[Run]
    epochs: int
    train_seeds: tuple[int, ...] = TRAIN_SEEDS
    init_draws: tuple[int, ...] = RANDOM_INIT_SEEDS

    def __post_init__(self):
        if len(self.init_draws) < 5:
            raise InputError(f"the noise needs at least 5 random-init draws, got {len(self.init_draws)}")
        if len(self.train_seeds) < 2:
            raise InputError(f"the seed-to-seed noise needs at least 2 training seeds, got {len(self.train_seeds)}")
        shared = sorted(set(self.init_draws) & set(self.train_seeds))
        if shared:
            raise InputError(f"random-init draws {shared} are also training seeds: a trained model would share "
                             "its initialisation with a reference draw; pick disjoint seeds")

    @property
    def series(self) -> list[str]:
        return [r.series for r in self.runs]

    @property
    def models(self) -> list[str]:
        return list(dict.fromkeys(r.model for r in self.runs))

    def baseline(self, model: str) -> str:
        """The series of ``model``'s Baseline run (its epoch 0 is the model's initialisation)."""
        runs = [r.series for r in self.runs if r.model == model and type(r.method) is Baseline]
        if not runs:
            raise InputError(f"the plan has no Baseline run of {model!r}: add Run({model!r}, Baseline())")
        return runs[0]

    def runs_of(self, *methods: type) -> list[Run]:
        return [r for r in self.runs if isinstance(r.method, methods)]

    @staticmethod
    def final(series: str) -> str:
        """The final checkpoints of the training seeds after the first (step = seed); the first seed's
        final is the last epoch of ``series`` itself (measured once)."""
        return f"{series}_final"

    @staticmethod
    def shuffled(series: str) -> str:
        """Every training seed's final of ``series`` shuffled (step = training seed)."""
        return f"shuffled_{series}"

    @staticmethod
    def shuffled_init(model: str) -> str:
        """The first training seed's initialisation of ``model``, shuffled (one checkpoint, step 0)."""
        return f"shuffled_{model}_init"

    @staticmethod
    def random_init(model: str) -> str:
        return f"{model}_random_init"


def plan_runs(quick: bool = False) -> list[Run]:
    """The demo's runs. Quick: the MLP with baseline, QAT-4, MoMos (s=4, c=0.05), magnitude and l_q pruning."""
    if quick:
        return [Run("mlp", m) for m in (Baseline(), QAT(4), Momos(4, 0.05), Prune("magnitude", 0.7),
                                        Prune("lq", eps=LQ_EPS))]
    mlp = [Baseline(), QAT(8), QAT(4), Momos(4, 0.05), Momos(4, 0.01), Momos(4, 0.1), Momos(8, 0.05),
           Prune("magnitude", 0.7), Prune("pq"), Prune("lq", eps=LQ_EPS)]
    return [Run("mlp", m) for m in mlp] + [Run("cnn", Baseline()), Run("cnn", Momos(4, 0.05))]


def _load_into(model: torch.nn.Module, weights: dict[str, np.ndarray]) -> torch.nn.Module:
    model.load_state_dict({n: torch.from_numpy(np.ascontiguousarray(w)) for n, w in weights.items()})
    return model


def weights_of(model: torch.nn.Module) -> dict[str, np.ndarray]:
    return {n: t.detach().numpy().copy() for n, t in model.state_dict().items()}


def write_series(target: Path, model_name: str, checkpoints: dict[int, dict], data: Split, extra: dict) -> None:
    """Save ``{step: weights}`` as a series with each checkpoint's test accuracy and loss."""
    target.mkdir(parents=True, exist_ok=True)
    records = []
    for step, weights in checkpoints.items():
        save_file(weights, str(target / f"step_{step:04d}.safetensors"), metadata={"step": str(step)})
        accuracy, loss = evaluate(_load_into(build_model(model_name), weights), data.x_test, data.y_test)
        records.append({"step": step, "epoch": step, "accuracy": accuracy, "loss": loss, **extra})
    write_metrics(target, records, {"kind": extra["kind"], "model": model_name})


def write_controls(runs_dir: Path, plan: Plan, data: Split, finals: dict[str, dict], seed: int = 0) -> None:
    """``shuffled_<series>`` (every seed's final, ``variants.shuffle``), ``shuffled_<model>_init`` and
    ``<model>_random_init``; ``finals``: series -> {training seed: final weights}."""
    from ..variants import random_init, shuffle

    for run in plan.runs:
        shuffled = {k: shuffle(w, seed=seed) for k, w in finals[run.series].items()}
        write_series(runs_dir / plan.shuffled(run.series), run.model, shuffled, data,
                     {"kind": "shuffle", "of": f"{run.series} finals", "seed": seed})
    for model_name in plan.models:
        init = weights_of(build_model(model_name, plan.train_seeds[0]))
        write_series(runs_dir / plan.shuffled_init(model_name), model_name, {0: shuffle(init, seed=seed)}, data,
                     {"kind": "shuffle", "of": f"{model_name} seed {plan.train_seeds[0]} init", "seed": seed})
        draws = {s: random_init(build_model(model_name, s), seed=s) for s in plan.init_draws}
        write_series(runs_dir / plan.random_init(model_name), model_name, draws, data, {"kind": "random_init"})


def train_all(runs_dir: Path, plan: Plan, data: Split, say: Callable[[str], None]) -> tuple[dict, dict, dict]:
    """Train each run with every training seed: the first writes ``runs_dir/<series>``, every other seed
    its final deployed weights to ``runs_dir/<series>_final``. Returns (seconds per series, test accuracies
    per series in seed order, series -> {seed: final weights})."""
    seconds: dict[str, float] = {}
    accuracies: dict[str, list[float]] = {}
    finals: dict[str, dict[int, dict[str, np.ndarray]]] = {}
    for i, run in enumerate(plan.runs, 1):
        start = time.perf_counter()
        finals[run.series], accuracies[run.series] = {}, []
        for k, seed in enumerate(plan.train_seeds):
            result = train(run.model, run.method, epochs=plan.epochs, seed=seed, data=data,
                           out=runs_dir / run.series if k == 0 else None)
            with run.method.deployed(result.model):
                finals[run.series][seed] = weights_of(result.model)
            accuracies[run.series].append(result.accuracy)
        others = {seed: w for seed, w in finals[run.series].items() if seed != plan.train_seeds[0]}
        write_series(runs_dir / plan.final(run.series), run.model, others, data, {"kind": "final"})
        seconds[run.series] = time.perf_counter() - start
        acc = np.array(accuracies[run.series])
        say(f"[train {i}/{len(plan.runs)}] {run.series:<24} test accuracy {acc.mean():.3f} ± "
            f"{acc.std(ddof=1):.3f} over {acc.size} seeds ({seconds[run.series]:.1f} s)")
    return seconds, accuracies, finals


def measure(runs_dir: Path, cache: Path, workers: int, progress: bool | None,
            say: Callable[[str], None] = print):
    """One table: the whole-model estimators per model (with ``kc.sparsity``'s columns of the joined
    model), QuBD per weight matrix (dim >= 2)."""
    import pandas as pd

    from ..analysis import analyse

    common: dict[str, Any] = {"workers": workers, "cache": cache, "progress": progress}
    passes: list[tuple[str, tuple, dict[str, Any]]] = [("per model", MODEL_ESTIMATORS, {"per": "model", "sparsity": True}),
              ("per weight matrix", TENSOR_ESTIMATORS, {"per": "tensor", "min_ndim": 2})]
    tables = []
    for label, estimators, options in passes:
        start = time.perf_counter()
        tables.append(analyse(runs_dir, estimators=list(estimators), **options, **common))
        say(f"[analyse] {label}: {len(tables[-1])} rows in {time.perf_counter() - start:.1f} s")
    return pd.concat(tables, ignore_index=True)


def run_demo(out: "str | Path" = "report", epochs: int | None = None, quick: bool = False, workers: int = 2,
         seed: int = 0, say: Callable[[str], None] = print, progress: bool | None = None) -> dict:
    """Run the whole demo into ``out``; returns ``{"results", "totals", "summary", "claims", "relation",
    "correlations", "seconds"}``.

    Default 10 epochs (3 with ``quick``). ``say`` prints progress lines; ``progress``
    shows analyse's bar (None: when stderr is a terminal). Writes ``out/results.parquet``,
    ``out/results.csv``, ``out/summary.csv``, ``out/claims.csv`` (every test row), ``out/seeds.csv``, ``out/sparsity_correlations.csv``,
    ``out/*.png`` and ``out/report.md``.
    """
    import pandas as pd

    from ..analysis import check_output, write_table
    from . import findings, report

    epochs = epochs or (3 if quick else 10)
    if not isinstance(epochs, int) or epochs < 2:
        raise InputError(f"the demo needs at least 2 epochs (pruning happens half-way), got {epochs!r}")
    out = check_output(out, folder=True)
    runs_dir = out / "runs"
    shutil.rmtree(runs_dir, ignore_errors=True)  # a stale series would mix into this run's table
    set_threads()
    start = time.perf_counter()
    data = load_digits_split(seed=seed)
    plan = Plan(plan_runs(quick), epochs, train_seeds=tuple(seed + k for k in TRAIN_SEEDS),
                init_draws=tuple(seed + s for s in RANDOM_INIT_SEEDS))
    say(f"kcomplexity demo: {len(plan.runs)} runs x {epochs} epochs x {len(plan.train_seeds)} training seeds "
        f"on sklearn digits -> {out}/")
    train_seconds, accuracies, finals = train_all(runs_dir, plan, data, say)
    pd.DataFrame([{"series": s, "seed": seed_, "accuracy": a} for s, accs in accuracies.items()
                  for seed_, a in zip(plan.train_seeds, accs)]).to_csv(out / "seeds.csv", index=False)
    write_controls(runs_dir, plan, data, finals, seed)
    say(f"[analyse] {len(list(runs_dir.iterdir()))} series: {', '.join(MODEL_ESTIMATORS)} per model, "
        f"{', '.join(TENSOR_ESTIMATORS)} per weight matrix; {workers} worker(s)")
    t0 = time.perf_counter()
    results = measure(runs_dir, out / "cache.sqlite", workers, progress, say)
    analyse_seconds = time.perf_counter() - t0
    write_table(results, out / "results.parquet")
    write_table(results, out / "results.csv")
    tables = findings.compute(results, plan, accuracies)
    tables["summary"].to_csv(out / "summary.csv", index=False)
    tables["tests"].to_csv(out / "claims.csv", index=False)
    tables["correlations"].to_csv(out / "sparsity_correlations.csv", index=False)
    seconds = {"train": sum(train_seconds.values()), "analyse": analyse_seconds}
    seconds["total"] = time.perf_counter() - start
    report.write(out, results, tables, plan, seconds)
    seconds["total"] = time.perf_counter() - start
    say(findings.format_summary(tables["summary"]))
    say(findings.format_correlations(tables["correlations"]))
    for claim in tables["claims"]:
        say(f"({claim['id']}) {claim['verdict'].upper()}: {claim['statement']}")
    say(f"wrote {out}/report.md, results.parquet, results.csv, summary.csv and plots in {seconds['total']:.0f} s "
        f"(train {seconds['train']:.0f} s, analyse {analyse_seconds:.0f} s)")
    return {"results": results, **tables, "seconds": seconds}
