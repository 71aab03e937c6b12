"""The ``kcomplexity`` command line, thin over the public API.

Exit codes (scripts may rely on them):
  0    success
  1    user error: a KComplexityError (bad file, bad spec, ...); its message is printed, no traceback
  2    usage error (unknown option, missing argument), printed by argparse
  130  interrupted (Ctrl-C)

Ctrl-C: run as a program (``main()`` without arguments), the command runs in a forked child
while this process only waits, so SIGINT is answered at once, even while the child is inside
one long compression or a C extension's import: the child is killed (every finished row is
already committed to the cache), the message says how to resume, and the exit code is 130.
"""
from __future__ import annotations

import argparse
import os
import signal
import sys
import textwrap
import warnings

from .errors import InputError, KComplexityError

WIDTH = 120  # printed tables fit this many columns

EPILOG = textwrap.dedent("""\
    examples:
      kcomplexity estimate model.safetensors -e 'raw|zstd-19' -e 'bitplanes8|bdm2d-tile64' --min-ndim 2
      kcomplexity analyse runs/baseline -e 'raw|zstd-3' --out results.parquet --workers 2
      kcomplexity analyse runs/ --per model -e 'raw|lzma-9' --out runs.csv --dask tcp://host:8786
      kcomplexity variant momos final.safetensors --capacity 0.05 --out momos.safetensors
      kcomplexity compare trained=final.safetensors momos=momos.safetensors -e 'raw|lzma-9' -e motif-4
      kcomplexity plot results.parquet --kind steps --out steps.png
      kcomplexity <subcommand> --help

    exit codes: 0 ok, 1 user error (message, no traceback), 2 usage error, 130 interrupted
    """)


def _add_selection_options(p: argparse.ArgumentParser, per: bool = True, defaults: str | None = None) -> None:
    """Options shared by every subcommand that reads weights."""
    from .estimators import DEFAULT_ESTIMATOR

    defaults = defaults or DEFAULT_ESTIMATOR
    p.add_argument("-e", "--estimator", action="append", dest="estimators", metavar="SPEC",
                   help="estimator spec such as 'raw|zstd-19' or 'bitplanes8|bdm2d-tile64' (repeatable; "
                        f"default {defaults}). Quote it: '|' is a shell pipe")
    p.add_argument("--include", action="append", metavar="GLOB", help="only tensors whose name matches (repeatable)")
    p.add_argument("--exclude", action="append", metavar="GLOB", help="skip tensors whose name matches (repeatable)")
    p.add_argument("--min-ndim", type=int, default=0, metavar="N",
                   help="skip tensors with fewer than N dimensions (QuBD uses 2; MoMos 0)")
    if per:
        p.add_argument("--per", choices=("tensor", "model"), default="tensor",
                       help="one row per tensor, or one per checkpoint with all tensors joined in the canonical "
                            "model order (natural name order, whatever the file format)")


def _progress(args) -> "str | bool":
    """The progress bar's label (the subcommand) on a terminal, else False."""
    return not getattr(args, "quiet", False) and sys.stderr.isatty() and args.command


def _shorten(text: str, width: int) -> str:
    text = str(text)
    return text if len(text) <= width else text[:width // 2 - 1] + "..." + text[-(width - width // 2 - 2):]


def _print_rows(df, cols) -> None:
    """``df[cols]`` in at most WIDTH columns (long names shortened in the middle); each skipped
    row's reason once, below the table."""
    shown = df[cols].copy()
    numbers = {c: "{:.4g}".format for c in cols if shown[c].dtype.kind == "f"}
    fixed = sum(max(len(c), shown[c].map(numbers.get(c, str)).str.len().max()) + 2 for c in cols if c != "tensor")
    if "tensor" in shown:
        shown["tensor"] = shown["tensor"].map(lambda t: _shorten(t, max(12, WIDTH - fixed - 1)))
    print(shown.to_string(index=False, formatters=numbers))
    if "skipped" in df:
        for note, rows in df.dropna(subset=["skipped"]).groupby("skipped", sort=False):
            tensors, specs = dict.fromkeys(rows["tensor"]), ", ".join(dict.fromkeys(rows["estimator"]))
            text = f"skipped by {specs}, {len(tensors)} tensor(s) ({', '.join(tensors)}): {note}"
            print(textwrap.fill(text, WIDTH, subsequent_indent="  ", break_on_hyphens=False))


def _print_table(df) -> None:
    """An estimate table: one checkpoint named above its rows."""
    if "checkpoint" in df and df["checkpoint"].nunique() == 1:
        step = df["step"].dropna().unique() if "step" in df else []
        print(f"{df['checkpoint'].iloc[0]}" + (f" (step {step[0]})" if len(step) == 1 else ""))
    cols = [c for c in ("tensor", "n_params", "estimator", "bits", "bits_per_param", "ratio")
            if c in df.columns and df[c].notna().any()]
    _print_rows(df, cols)


def _print_summary(df) -> None:
    """An analyse table without --out: whole-model bits per checkpoint and estimator."""
    from .analysis import model_totals

    totals = model_totals(df)
    cols = [c for c in ("series", "step", "estimator", "bits", "bits_per_param") if c in totals]
    print(f"{len(df)} rows over {df['checkpoint'].nunique()} checkpoint(s); model totals "
          "(--out FILE writes every row):")
    _print_rows(totals, cols)


# ---------------------------------------------------------------- estimate
def add_estimate_parser(subparsers) -> None:
    p = subparsers.add_parser(
        "estimate", help="estimate the complexity of one checkpoint (file or model directory)",
        description="Estimate K(w) of every selected tensor of one checkpoint and print a table.",
        epilog="example:\n  kcomplexity estimate model.safetensors -e 'raw|zstd-19' -e 'q8|lzma-9' --min-ndim 2",
        formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("source", metavar="FILE_OR_DIR", help=".safetensors/.pt/.pth/.ckpt/.npz/.gguf/.onnx file, a model "
                   "directory or hf:ORG/NAME[@REVISION]")
    _add_selection_options(p)
    _add_dtypes_option(p)
    p.add_argument("--out", metavar="FILE", help="also write the table (.parquet or .csv)")
    _add_run_options(p)
    p.set_defaults(func=run_estimate)


def _add_run_options(p: argparse.ArgumentParser) -> None:
    """The options ``estimate`` and ``analyse`` share: the cache, non-finite values, progress."""
    p.add_argument("--no-cache", action="store_true", help="do not read or write the result cache")
    _add_nonfinite_option(p)
    p.add_argument("-q", "--quiet", action="store_true", help="no progress bar")


def _add_dtypes_option(p: argparse.ArgumentParser) -> None:
    p.add_argument("--all-dtypes", action="store_true",
                   help="also measure integer and bool tensors (e.g. a GGUF file's NAME@Q4_0-codes blocks)")


def _add_nonfinite_option(p: argparse.ArgumentParser) -> None:
    p.add_argument("--allow-nonfinite", action="store_true",
                   help="measure NaN/Inf weights as they are instead of stopping with an error")


def _check_out(path, **kwargs) -> None:
    """Validate an output path before any work (suffix, not a directory, writable folder)."""
    from .analysis import check_output

    if path:
        check_output(path, **kwargs)


def run_estimate(args) -> int:
    from .analysis import analyse, write_table

    _check_out(args.out)
    df = analyse(args.source, estimators=args.estimators, per=args.per, include=args.include,
                 exclude=args.exclude, min_ndim=args.min_ndim, floats_only=not args.all_dtypes,
                 cache=not args.no_cache, progress=_progress(args), allow_nonfinite=args.allow_nonfinite)
    if args.out:  # written before printing, so a closed pipe (| head) loses nothing
        write_table(df, args.out)
    _print_table(df)
    return 0


# ---------------------------------------------------------------- analyse
def add_analyse_parser(subparsers) -> None:
    p = subparsers.add_parser(
        "analyse", aliases=["analyze"], help="analyse a checkpoint series (or a directory of series) into a table",
        description="Measure every checkpoint x tensor x estimator of a series and write one long-form table.",
        epilog=textwrap.dedent("""\
            examples:
              kcomplexity analyse runs/baseline -e 'raw|zstd-3' -e 'bitplanes8|bdm2d-tile64' --min-ndim 2 --out r.parquet
              kcomplexity analyse runs/ --per model -e 'raw|lzma-9' --delta --out runs.csv --workers 2
              kcomplexity analyse runs/baseline --dask tcp://scheduler:8786 --out r.parquet
              kcomplexity analyse hf:EleutherAI/pythia-70m --revisions step0,step1000,step143000 --out p.csv
            """),
        formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("source", metavar="SERIES", help="series directory, parent of series directories, a glob, or "
                   "hf:ORG/NAME[@REVISION] (a revision glob such as @step* is a series)")
    p.add_argument("--revisions", metavar="REV,REV,...",
                   help="with an hf: source: these revisions as a series (steps read from their names)")
    _add_selection_options(p)
    _add_dtypes_option(p)
    p.add_argument("--out", metavar="FILE", help="output table: .parquet or .csv (without it: a summary is printed)")
    p.add_argument("--workers", type=int, default=1, metavar="N", help="local worker processes (default 1)")
    p.add_argument("--dask", metavar="ADDR", help="Dask scheduler address, e.g. tcp://host:8786")
    p.add_argument("--connect-timeout", type=float, default=8.0, metavar="S",
                   help="seconds to reach the Dask scheduler before giving up (default 8)")
    p.add_argument("--delta", action="store_true",
                   help="also estimate K(w_t | w_t-1) between consecutive checkpoints (estimator 'delta:<spec>')")
    _add_sparsity_option(p)
    p.add_argument("--cache", metavar="PATH", help="cache file (default .kcomplexity-cache/cache.sqlite)")
    _add_run_options(p)
    p.set_defaults(func=run_analyse)


def run_analyse(args) -> int:
    from .analysis import analyse, write_table
    from .analysis.executors import connect_dask

    _check_out(args.out)
    source = _with_revisions(args.source, args.revisions)
    cache = False if args.no_cache else (args.cache or True)
    client = connect_dask(args.dask, args.connect_timeout) if args.dask else None
    try:
        df = analyse(source, estimators=args.estimators, per=args.per, workers=args.workers,
                     executor=client, cache=cache, include=args.include, exclude=args.exclude,
                     min_ndim=args.min_ndim, floats_only=not args.all_dtypes, delta=args.delta,
                     progress=_progress(args),
                     allow_nonfinite=args.allow_nonfinite, sparsity=args.sparsity)
    finally:
        if client is not None:
            client.close()
    if not args.out:
        _print_summary(df)
        return 0
    write_table(df, args.out)
    print(f"wrote {len(df)} rows to {args.out}", file=sys.stderr)
    return 0


def _with_revisions(source: str, revisions: str | None) -> str:
    """``hf:ORG/NAME`` and ``--revisions a,b`` -> ``hf:ORG/NAME@a,b``."""
    if revisions is None:
        return source
    if not source.startswith("hf:") or "@" in source:
        raise InputError(f"--revisions applies to an hf:ORG/NAME source without @REVISION, got {source!r}")
    return f"{source}@{revisions}"


def _add_sparsity_option(p) -> None:
    p.add_argument("--sparsity", action="store_true",
                   help="add kc.sparsity's columns (lq_ratio, pq_index, gini, k_bound, k_eps) beside the bits")


# ---------------------------------------------------------------- demo
def add_demo_parser(subparsers) -> None:
    p = subparsers.add_parser(
        "demo", help="train small models with every method, measure them, write a report",
        description="Train baseline, QAT, MoMos and pruned models on sklearn's digits, analyse every series "
                    "with the default estimators and write tables, plots and report.md.",
        epilog="examples:\n  kcomplexity demo --out report\n  kcomplexity demo --out /tmp/r --quick",
        formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--out", default="report", metavar="DIR", help="report folder (default: report)")
    p.add_argument("--epochs", type=int, metavar="N", help="epochs per run (default 10, 3 with --quick)")
    p.add_argument("--quick", action="store_true", help="fewer runs and epochs (about a minute)")
    p.add_argument("--workers", type=int, default=2, metavar="N", help="analysis worker processes (default 2)")
    p.set_defaults(func=run_demo)


def run_demo(args) -> int:
    from .demo import run_demo

    _check_out(args.out, folder=True)
    run_demo(args.out, epochs=args.epochs, quick=args.quick, workers=args.workers)
    return 0


# ---------------------------------------------------------------- compare
COMPARE_SHOWN = ["variant", "estimator", "stream", "per", "bits", "ratio_to_reference", "ci_low", "ci_high",
                 "p_adjusted", "verdict", "ratio_to_shuffle", "shuffle_verdict"]  # the rest: --out and --report


def add_compare_parser(subparsers) -> None:
    from .analysis import COMPARE_ESTIMATORS, COMPARE_SEEDS
    from .variants import INIT_RULES

    p = subparsers.add_parser(
        "compare", help="compare variants of one model (trained, pruned, MoMos, ...) side by side",
        description="Measure each variant (whole model; per matrix for 2-D coders such as bdm2d); report bits, "
                    "the ratio to the model's own initialisation (or a named variant), drawn once per seed, "
                    "and the ratio to each variant's own shuffle, each with a 95 %% interval, a prediction t-test "
                    "against the draws and a Holm-adjusted verdict (lower / higher / no evidence). Multi-stream "
                    "estimators add one row per stream (bit-plane). The default estimators span four families "
                    "(lossless, QuBD, quantize+compress, sign BDM); --report also writes whether they agree and "
                    "the per-tensor-group verdicts.",
        epilog=textwrap.dedent("""\
            examples:
              kcomplexity compare pretrained=path/to/hf_model --report report.md
              kcomplexity compare pretrained=path/to/hf_model -e 'bitplanes8|bdm2d-tile64' --min-ndim 2
              kcomplexity compare trained=final.safetensors momos=momos.safetensors -e 'raw|lzma-9' -e motif-4
              kcomplexity compare trained=final.safetensors --init normal-0.02
            """),
        formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("variants", nargs="+", metavar="NAME=PATH", help="a variant's name and its checkpoint or model folder")
    _add_selection_options(p, per=False, defaults=" and ".join(COMPARE_ESTIMATORS))
    p.add_argument("--reference", default="random_init", metavar="NAME",
                   help="'random_init' (default: drawn from the first variant's architecture per seed) or a variant name")
    p.add_argument("--init", choices=INIT_RULES, default=INIT_RULES[0], metavar="RULE",
                   help=f"for a checkpoint without config.json: how to draw its matrices and embeddings, one of "
                        f"{', '.join(INIT_RULES)} (default {INIT_RULES[0]}); norm weights are 1, biases 0")
    p.add_argument("--seeds", type=int, nargs="+", default=list(COMPARE_SEEDS), metavar="S",
                   help=f"one reference draw and one shuffle per seed (default {' '.join(map(str, COMPARE_SEEDS))})")
    p.add_argument("--no-shuffle", action="store_true", help="skip the shuffled control")
    _add_sparsity_option(p)
    p.add_argument("--out", metavar="FILE", help="also write the table (.parquet or .csv)")
    p.add_argument("--report", metavar="FILE.md", help="also write a Markdown report: the verdicts, the agreement "
                                                      "across estimator families and the per-tensor-group table")
    p.set_defaults(func=run_compare)


def run_compare(args) -> int:
    import pandas as pd

    from . import compare, compare_report
    from .analysis import write_table

    _check_out(args.out)
    _check_out(args.report, suffixes=(".md",))
    variants = {}
    for item in args.variants:
        name, sep, path = item.partition("=")
        if not sep or not name or not path:
            raise InputError(f"variant {item!r} must be written NAME=PATH, e.g. trained=model.safetensors")
        if name in variants:
            raise InputError(f"variant name {name!r} is given twice; give each NAME=PATH a different name")
        variants[name] = path
    options = dict(reference=args.reference, seeds=args.seeds, shuffle_control=not args.no_shuffle, init=args.init,
                   include=args.include, exclude=args.exclude, min_ndim=args.min_ndim, sparsity=args.sparsity)
    report = compare_report(variants, args.estimators, **options) if args.report else None
    table: pd.DataFrame = report.verdicts if report else compare(variants, args.estimators, **options)
    print(f"reference: {table['reference_kind'].iloc[0]}, seeds {' '.join(map(str, args.seeds))}; verdicts: "
          "prediction t-test against the reference draws, Holm-adjusted (p_adjusted)")
    cols = [c for c in COMPARE_SHOWN if c in table and table[c].notna().any()]
    with pd.option_context("display.max_rows", 500, "display.width", 200, "display.max_columns", 20):
        print(table[cols].to_string(index=False, float_format="{:.4g}".format))
    for note, rows in table.dropna(subset=["skipped"]).groupby("skipped", sort=False):
        print(f"note ({', '.join(dict.fromkeys(rows['variant'] + ' ' + rows['estimator']))}): {note}")
    if args.out:
        write_table(table, args.out)
    if report:
        report.write(args.report)
        print(f"report: {args.report}")
    return 0


# ---------------------------------------------------------------- plot
IMAGE_SUFFIXES = (".png", ".pdf", ".svg", ".jpg", ".jpeg", ".eps", ".ps", ".tif", ".tiff", ".webp")
PLOTS = {"steps": "complexity_over_steps", "layers": "layer_bars", "variants": "variant_bars", "pareto": "pareto",
         "planes": "compare_planes"}


def add_plot_parser(subparsers) -> None:
    p = subparsers.add_parser(
        "plot", help="draw a figure from a result table (analyse or compare output)",
        description="kinds: steps (complexity over training, per estimator), layers (per-tensor bars), "
                    "variants (a compare table), pareto (accuracy vs complexity), planes (per-plane ratios of a "
                    "compare table with a bitplanes estimator).",
        epilog="example:\n  kcomplexity plot results.parquet --kind steps --out steps.png",
        formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("table", metavar="TABLE", help=".parquet or .csv written by analyse, compare or demo")
    p.add_argument("--kind", choices=sorted(PLOTS), required=True)
    p.add_argument("--out", required=True, metavar="IMAGE", help="output image (.png, .pdf, .svg)")
    p.add_argument("-e", "--estimator", metavar="SPEC", help="estimator for layers / pareto / planes (default: the first)")
    p.add_argument("--step", type=float, metavar="N", help="layers: the checkpoint at this step (default: the last)")
    p.add_argument("--series", metavar="NAME", help="layers: the series to draw (default: the first)")
    p.add_argument("--metrics", metavar="FILE",
                   help="pareto: accuracy (or other metrics) to join in: a series' metrics.json "
                        "({\"records\": [{\"step\": .., \"accuracy\": ..}]}), a JSON object "
                        "{variant: {\"accuracy\": ..}}, or a CSV with a step or variant column")
    p.set_defaults(func=run_plot)


def read_metrics_file(path):
    """A metrics file as a table keyed by ``step`` (a series' records) or ``variant``."""
    import json

    import pandas as pd

    try:
        if str(path).lower().endswith(".csv"):
            metrics = pd.read_csv(path)
        else:
            data = json.loads(open(path).read())
            metrics = pd.DataFrame(data["records"]) if isinstance(data, dict) and "records" in data else \
                pd.DataFrame.from_dict(data, orient="index").rename_axis("variant").reset_index()
    except (OSError, ValueError, TypeError, AttributeError) as exc:
        raise InputError(f"cannot read metrics from {path}: {exc}; give a metrics.json, a JSON object "
                         "{variant: {\"accuracy\": ..}} or a CSV with a step or variant column") from None
    if not {"step", "variant"} & set(metrics.columns):
        raise InputError(f"{path}: the metrics need a 'step' or 'variant' key to join on, found {list(metrics.columns)}")
    return metrics


def _join_metrics(table, metrics):
    key = "variant" if "variant" in metrics.columns and "variant" in table.columns else "step"
    if key not in table.columns:
        raise InputError(f"the metrics are keyed by {key!r}, which the table lacks: give a metrics file with "
                         f"{'variant' if 'variant' in table.columns else 'step'} keys")
    metrics = metrics.drop_duplicates(key, keep="last")
    if key == "step":
        metrics = metrics.astype({"step": "float64"})
        table = table.astype({"step": "float64"})
    return table.drop(columns=[c for c in metrics.columns if c != key and c in table.columns]).merge(
        metrics, on=key, how="left")


def run_plot(args) -> int:
    from . import plot
    from .analysis import read_table

    _check_out(args.out, suffixes=IMAGE_SUFFIXES)
    table = read_table(args.table)
    if args.metrics:
        table = _join_metrics(table, read_metrics_file(args.metrics))
    draw = getattr(plot, PLOTS[args.kind])
    options = {"estimator": args.estimator} if args.kind in ("layers", "pareto", "planes") else {}
    if args.kind == "layers":
        options.update(step=args.step, series=args.series)
    fig = draw(table, **options)
    fig.savefig(args.out, dpi=120)
    print(f"wrote {args.out}", file=sys.stderr)
    return 0


# ---------------------------------------------------------------- variant
def _add_prune_selection(p) -> None:
    p.add_argument("--include", action="append", metavar="GLOB", help="prune only tensors whose name matches (repeatable)")
    p.add_argument("--exclude", action="append", metavar="GLOB", help="leave tensors whose name matches (repeatable)")
    p.add_argument("--min-ndim", type=int, default=2, metavar="N",
                   help="prune only tensors with at least N dimensions (default 2: biases and norm weights stay)")


def _variant_kinds() -> dict:
    """``kind -> (help, add_options(parser), make(weights, args))`` for ``kcomplexity variant``."""
    from . import variants

    def selection(a):
        return {"include": a.include, "exclude": a.exclude, "min_ndim": a.min_ndim}

    def prune_magnitude(p):
        p.add_argument("--sparsity", type=float, required=True, metavar="F", help="fraction of weights to zero, e.g. 0.7")
        p.add_argument("--scope", choices=("global", "layer"), default="global",
                       help="one threshold for all selected tensors (default) or the same fraction in each")
        _add_prune_selection(p)

    def prune_pq(p):
        for flag, default, text in (("--p", 0.5, "p of the PQ index"), ("--q", 1.0, "q of the PQ index"),
                                    ("--eta", 0.0, "SAP eta"), ("--gamma", 1.0, "SAP gamma"),
                                    ("--beta", 0.9, "largest fraction pruned per unit")):
            p.add_argument(flag, type=float, default=default, metavar="X", help=f"{text} (default {default:g})")
        p.add_argument("--scope", choices=("neuron", "layer", "global"), default="layer", help="pruning unit (default layer)")
        _add_prune_selection(p)

    def prune_lq(p):
        p.add_argument("--q", type=float, default=0.5, metavar="X", help="q of the l_q norm, 0 < q < 1 (default 0.5)")
        p.add_argument("--eps", type=float, default=0.1, metavar="X", help="relative l2 error allowed (default 0.1)")
        p.add_argument("--scope", choices=("neuron", "layer", "global"), default="neuron", help="pruning unit (default neuron)")
        _add_prune_selection(p)

    def quantize(p):
        p.add_argument("--bits", type=int, default=8, metavar="B", help="bits per weight (default 8)")
        p.add_argument("--per-channel", action="store_true", help="one scale per output channel")

    def momos(p):
        p.add_argument("--s", type=int, default=4, metavar="S", help="block size (default 4)")
        p.add_argument("--capacity", type=float, default=0.01, metavar="F",
                       help="motifs as a fraction of the blocks (default 0.01)")
        p.add_argument("--k", type=int, metavar="K", help="number of motifs (instead of --capacity)")
        p.add_argument("--no-zero-motif", action="store_true", help="do not force motif 0 to be the zero block")
        p.add_argument("--per-tensor", action="store_true", help="one motif set per tensor")
        p.add_argument("--seed", type=int, default=0, metavar="S", help="seed of the motif draw (default 0)")

    def seeded(p):
        p.add_argument("--seed", type=int, default=0, metavar="S", help="random seed (default 0)")

    def random_init(p):
        seeded(p)
        p.add_argument("--init", choices=variants.INIT_RULES, default=variants.INIT_RULES[0], metavar="RULE",
                       help=f"for a checkpoint without config.json, one of {', '.join(variants.INIT_RULES)}")

    return {
        "prune-magnitude": ("zero the smallest weights to an exact sparsity", prune_magnitude,
                            lambda w, a: variants.prune_magnitude(w, a.sparsity, a.scope, **selection(a))),
        "prune-pq": ("one step of PQ-index pruning (SAP)", prune_pq,
                     lambda w, a: variants.prune_pq(w, a.p, a.q, a.eta, a.gamma, a.beta, a.scope, **selection(a))),
        "prune-lq": ("prune by the l_q best-k-term bound", prune_lq,
                     lambda w, a: variants.prune_lq(w, a.q, a.eps, a.scope, **selection(a))),
        "quantize": ("symmetric fake quantisation (dequantised)", quantize,
                     lambda w, a: variants.quantize(w, a.bits, a.per_channel)),
        "momos": ("Mosaic-of-Motifs projection", momos,
                  lambda w, a: variants.momos(w, a.s, a.capacity, a.k, not a.no_zero_motif, a.seed, a.per_tensor)),
        "random-init": ("the model's own initialisation, drawn with a seed", random_init,
                        lambda w, a: variants.random_init(w, a.seed, a.init)),
        "shuffle": ("each tensor's values permuted (same values, no arrangement)", seeded,
                    lambda w, a: variants.shuffle(w, a.seed)),
    }


def add_variant_parser(subparsers) -> None:
    p = subparsers.add_parser(
        "variant", help="write a pruned, quantised, MoMos, shuffled or re-initialised copy of a checkpoint",
        description="Make a variant of a checkpoint's float tensors and save it as .safetensors, ready for "
                    "'kcomplexity compare'.",
        epilog=textwrap.dedent("""\
            examples:
              kcomplexity variant momos final.safetensors --capacity 0.05 --out momos.safetensors
              kcomplexity variant prune-magnitude path/to/hf_model --sparsity 0.5 --out pruned.safetensors
              kcomplexity compare trained=final.safetensors momos=momos.safetensors -e 'raw|lzma-9' -e motif-4
            """),
        formatter_class=argparse.RawDescriptionHelpFormatter)
    kinds = p.add_subparsers(dest="kind", metavar="KIND", required=True)
    for kind, (text, add_options, make) in _variant_kinds().items():
        k = kinds.add_parser(kind, help=text, description=text.capitalize() + ".")
        k.add_argument("source", metavar="SRC", help="checkpoint file or model folder")
        k.add_argument("--out", required=True, metavar="DST", help="output .safetensors file")
        add_options(k)
        k.set_defaults(func=run_variant, make=make)


def run_variant(args) -> int:
    from .analysis import check_output
    from .io import save

    check_output(args.out, suffixes=(".safetensors",))
    result = args.make(args.source, args)
    weights = getattr(result, "weights", result)
    save(weights, args.out, metadata={"kcomplexity_variant": args.kind, "source": str(args.source)})
    zeros = sum(int((w == 0).sum()) for w in weights.values()) / sum(w.size for w in weights.values())
    print(f"wrote {args.out}: {args.kind} of {args.source}, {len(weights)} tensors, {zeros:.1%} zeros", file=sys.stderr)
    return 0


# ---------------------------------------------------------------- entry point
SUBCOMMANDS = [add_estimate_parser, add_analyse_parser, add_compare_parser, add_variant_parser, add_plot_parser,
               add_demo_parser]


def build_parser() -> argparse.ArgumentParser:
    from ._version import __version__

    parser = argparse.ArgumentParser(
        prog="kcomplexity", description="Kolmogorov-complexity estimates of neural-network weights.",
        epilog=EPILOG, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--version", action="version", version=f"kcomplexity {__version__}")
    subparsers = parser.add_subparsers(dest="command", metavar="SUBCOMMAND", required=True)
    for add in SUBCOMMANDS:
        add(subparsers)
    return parser


def _interrupted(argv: list[str]) -> str:
    """What Ctrl-C leaves behind, and how to go on (read off the raw arguments: nothing is parsed yet
    in the waiting process)."""
    command = next((a for a in argv if not a.startswith("-")), None)
    if command in ("estimate", "analyse", "analyze") and "--no-cache" not in argv:
        where = argv[argv.index("--cache") + 1] if "--cache" in argv[:-1] else ".kcomplexity-cache/cache.sqlite"
        return (f"kcomplexity: interrupted; every finished estimate is kept in the cache ({where}): "
                "rerun the same command to resume from there")
    return "kcomplexity: interrupted"


def run(argv: list[str]) -> int:
    """Parse and run one command in this process; returns the exit code (0, 1, 2 or 130)."""
    parser = build_parser()
    try:
        args = parser.parse_args(argv)
    except SystemExit as exc:  # --help / --version (0) or a usage error (2)
        return int(exc.code or 0)
    formatwarning, warnings.formatwarning = warnings.formatwarning, _warning_line
    try:
        return int(args.func(args) or 0)
    except KComplexityError as exc:
        print(f"kcomplexity: error: {exc}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print(_interrupted(argv), file=sys.stderr)
        return 130
    except BrokenPipeError:  # the reader went away (| head): stop quietly, as a shell tool does
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 128 + signal.SIGPIPE
    finally:
        warnings.formatwarning = formatwarning


def _supervised(argv: list[str]) -> int:
    """``run(argv)`` in a forked child that ignores SIGINT; this process waits and answers Ctrl-C.
    SIGINT is blocked across the fork, so it lands either before it (nothing started) or in the wait."""
    sys.stdout.flush()
    sys.stderr.flush()
    parent = os.getpid()
    signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGINT})
    pid = os.fork()
    if pid == 0:  # the child; its own pool workers inherit the ignored SIGINT
        signal.signal(signal.SIGINT, signal.SIG_IGN)
        signal.pthread_sigmask(signal.SIG_UNBLOCK, {signal.SIGINT})
        code = 1
        try:
            from .analysis.executors import die_with_parent
            die_with_parent(parent)
            code = run(argv)
        except BaseException:  # a bug: its traceback, then exit 1
            import traceback
            traceback.print_exc()
        finally:
            sys.stdout.flush()
            sys.stderr.flush()
            os._exit(code)
    try:
        signal.pthread_sigmask(signal.SIG_UNBLOCK, {signal.SIGINT})
        return _exit_code(os.waitpid(pid, 0)[1])
    except KeyboardInterrupt:
        os.kill(pid, signal.SIGKILL)
        os.waitpid(pid, 0)
        print(_interrupted(argv), file=sys.stderr, flush=True)
        return 130


def _exit_code(status: int) -> int:
    code = os.waitstatus_to_exitcode(status)
    return 128 - code if code < 0 else code  # killed by signal N: 128 + N, as a shell reports it


def main(argv: list[str] | None = None) -> int:
    """The ``kcomplexity`` program; returns the exit code (0, 1, 2 or 130).

    Without ``argv`` (the installed command, ``python -m kcomplexity.cli``) the command runs in a
    forked child so that Ctrl-C ends it within moments (exit 130); with ``argv`` it runs here.
    """
    if argv is not None or not hasattr(os, "fork"):
        return run(sys.argv[1:] if argv is None else argv)
    try:
        return _supervised(sys.argv[1:])
    except KeyboardInterrupt:  # before the child was started
        print(_interrupted(sys.argv[1:]), file=sys.stderr)
        return 130


def _warning_line(message, category, filename, lineno, line=None) -> str:
    """A warning on the command line: one line, without the library's source location."""
    return f"kcomplexity: warning: {message}\n"


if __name__ == "__main__":
    sys.exit(main())
