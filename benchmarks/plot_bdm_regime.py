"""BDM's size regime: bits per cell against size for whole and tiled BDM, 2-D and 1-D, on
i.i.d. random bits, and where QuBD stands for typical layer shapes.

Prints the tables (sizes, layer shapes, and the regime check on skewed planes) and saves the README figure ``docs/bdm_regime.png``
(``kcomplexity.plot.bdm_regime``). BDM bits only: the 64 side bits of the 1-bit
quantiser that passes the 0/1 matrix through are left out.
Run: .venv/bin/python benchmarks/plot_bdm_regime.py [--out docs/bdm_regime.png] [--quick]
"""
import argparse
import warnings
from pathlib import Path

import ml_dtypes
import numpy as np
import pandas as pd

import kcomplexity as kc
from kcomplexity.plot import bdm_regime

SIDES_2D = [64, 128, 256, 512, 1024, 2048, 4096]
LENGTHS_1D = [10 ** 3, 10 ** 4, 10 ** 5, 10 ** 6, 10 ** 7]
SPECS_2D = ["bitplanes1|bdm2d", "bitplanes1|bdm2d-tile64"]  # a 0/1 matrix's only bit-plane is itself
SPECS_1D = ["sign|bdm", "sign|bdm-chunk1200"]                # sign(0/1 values) = the values
LAYERS = [(768, 768), (768, 3072), (4096, 4096), (4096, 11008)]


def bdm_bits_per_cell(x, spec) -> float:
    est = kc.estimate(x, spec)
    return est.details["bdm"] / est.n_values


def size_table(rng, sides, lengths) -> pd.DataFrame:
    rows = []
    for side in sides:
        bits = rng.integers(0, 2, (side, side), dtype=np.uint8)
        rows += [{"estimator": s, "size": f"{side}x{side}", "n_values": bits.size,
                  "bits_per_value": bdm_bits_per_cell(bits, s)} for s in SPECS_2D]
    for n in lengths:
        bits = rng.integers(0, 2, n, dtype=np.uint8)
        rows += [{"estimator": s, "size": f"{n:.0e}", "n_values": n, "bits_per_value": bdm_bits_per_cell(bits, s)}
                 for s in SPECS_1D]
    return pd.DataFrame(rows)


def layer_table(rng, layers) -> pd.DataFrame:
    """QuBD (bitplanes8|bdm2d) on bf16 weights shaped like transformer layers."""
    rows = []
    for shape in layers:
        w = (rng.standard_normal(shape, dtype=np.float32) * 0.02).astype(ml_dtypes.bfloat16)
        whole, tiled = kc.estimate(w, ["bitplanes8|bdm2d", "bitplanes8|bdm2d-tile64"])
        rows.append({"shape": "x".join(map(str, shape)), "blocks per plane": whole.details["blocks"]["plane_0"],
                     "saturation": max(whole.details["saturation"].values()),
                     "whole bits/value": whole.bits_per_value, "tile64 bits/value": tiled.bits_per_value})
    return pd.DataFrame(rows)


def skew_table(rng, side: int = 768, p_ones=(0.5, 0.2, 0.05)) -> pd.DataFrame:
    """The regime check on skewed i.i.d. bit planes: saturation alone misses them, the whole form's
    bits beside the tiled form's (``size_stable_bits``) do not."""
    rows = []
    for p in p_ones:
        x = (rng.random((side, side)) < p).astype(np.float32)
        d = kc.estimate(x, "bitplanes1|bdm2d").details
        rows.append({"p(1)": p, "shape": f"{side}x{side}", "saturation": d["saturation"]["plane_0"],
                     "whole bits": d["bdm"], "tile64 bits": d["size_stable_bits"]["plane_0"],
                     "whole / tile64": d["bdm"] / d["size_stable_bits"]["plane_0"], "regime": d["regime"]["plane_0"]})
    return pd.DataFrame(rows)


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", default=str(Path(__file__).resolve().parent.parent / "docs" / "bdm_regime.png"))
    parser.add_argument("--quick", action="store_true", help="smaller sizes (a check, not the README figure)")
    args = parser.parse_args()
    rng = np.random.default_rng(0)
    warnings.simplefilter("ignore", kc.errors.BDMSaturationWarning)  # saturation is what this measures
    sizes = size_table(rng, SIDES_2D[:4] if args.quick else SIDES_2D, LENGTHS_1D[:3] if args.quick else LENGTHS_1D)
    wide = sizes.pivot_table(index=["n_values", "size"], columns="estimator", values="bits_per_value")
    print("BDM bits per cell on i.i.d. random bits (whole vs tiled/chunked)")
    print(wide.to_string(float_format=lambda v: f"{v:.4f}", na_rep=""))
    print("\nQuBD on bf16 N(0, 0.02^2) weights of typical layer shapes (saturation > 1: saturated)")
    print(layer_table(rng, LAYERS[:2] if args.quick else LAYERS).to_string(index=False, float_format=lambda v: f"{v:.4f}"))
    print("\nThe regime check on skewed planes (out of regime where whole and tiled differ by > 10 %)")
    print(skew_table(rng).to_string(index=False, float_format=lambda v: f"{v:.4f}"))
    fig = bdm_regime(sizes)
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(args.out, dpi=80)
    print(f"\nfigure: {args.out}")


if __name__ == "__main__":
    main()
