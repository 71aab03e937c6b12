"""Regenerate the small committed checkpoint series in ``data/``.

    .venv/bin/python data/make_data.py            # writes data/<series>/ (about 2 MB)

Each series: an MLP 64 -> 128 -> 128 -> 10 (26,122 parameters) trained on the
bundled scikit-learn digits for 8 epochs, seed 0; ``epoch_0000.safetensors`` is
the initialisation (the same for both series), ``metrics.json`` holds test
accuracy and loss per epoch. Deterministic: rerunning gives the same tensors,
accuracies and losses on the same torch build and CPU (the files may still differ
in the order of the safetensors metadata keys and in the timing field ``seconds``).
"""
from __future__ import annotations

import shutil
import sys
from pathlib import Path

from kcomplexity.train import Baseline, Momos, train

HERE = Path(__file__).resolve().parent
SERIES = {"mlp_baseline": Baseline(), "mlp_momos_s4_c0.05": Momos(s=4, capacity=0.05)}
OPTIONS = {"epochs": 8, "seed": 0, "model_options": {"hidden": (128, 128)}}


def main(out: Path = HERE) -> None:
    for name, method in SERIES.items():
        target = out / name
        shutil.rmtree(target, ignore_errors=True)
        result = train("mlp", method, out=target, **OPTIONS)
        print(f"{name}: test accuracy {result.accuracy:.3f} -> {target}")


if __name__ == "__main__":
    main(Path(sys.argv[1]) if len(sys.argv) > 1 else HERE)
