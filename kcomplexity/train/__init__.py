"""Small reference training runs: digits data, MLP/CNN models, methods, checkpoint series.

>>> from kcomplexity.train import train, QAT
>>> result = train("mlp", QAT(bits=4), epochs=2, out="runs/qat4")  # doctest: +SKIP
"""
from ..errors import require

require("torch", "torch", "kcomplexity.train")

from .data import Split, load_digits_split
from .loop import METRICS_FILE, TrainResult, checkpoint_name, evaluate, train
from .methods import QAT, Baseline, Method, Momos, Prune, fake_quantize
from .models import CNN, MLP, build_model

__all__ = ["CNN", "MLP", "METRICS_FILE", "QAT", "Baseline", "Method", "Momos", "Prune", "Split",
           "TrainResult", "build_model", "checkpoint_name", "evaluate", "fake_quantize",
           "load_digits_split", "train"]
