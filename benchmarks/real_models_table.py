"""Bits per parameter of tiny real architectures under a spread of estimators, side by side.

Builds GPT-2 and LLaMA models from configs with ``transformers`` (no download) in a
temporary folder: GPT-2 at initialisation, the same + N(0, 1e-3) noise, after 20 AdamW
steps on random tokens, and each in bf16; a LLaMA in bf16. Prints one row per model
(whole-model estimators on the joined model; QuBD summed over the 2-D tensors) and the
seconds each estimator took over all models.

    .venv/bin/python benchmarks/real_models_table.py
"""
import tempfile
import time
from pathlib import Path

import pandas as pd
import torch
import transformers

import kcomplexity as kc

MODEL_SPECS = ["raw|zstd-3", "raw|lzma-9", "fields|entropy", "fields|zstd-3", "entropy", "motif-4", "sign|bdm",
               "q8|lzma-9"]
QUBD = "bitplanes8|bdm2d"


def gpt2_variants(root: Path) -> dict[str, Path]:
    torch.manual_seed(0)
    config = transformers.GPT2Config(vocab_size=512, n_embd=128, n_layer=2, n_head=4, n_positions=128,
                                     bos_token_id=0, eos_token_id=0)
    model = transformers.GPT2LMHeadModel(config)
    folders = {"gpt2 init": model}
    noisy = transformers.GPT2LMHeadModel(config)
    noisy.load_state_dict(model.state_dict())
    with torch.no_grad():
        for p in noisy.parameters():
            p.add_(1e-3 * torch.randn_like(p))
    folders["gpt2 init + noise 1e-3"] = noisy
    tuned = transformers.GPT2LMHeadModel(config)
    tuned.load_state_dict(model.state_dict())
    opt = torch.optim.AdamW(tuned.parameters(), lr=1e-3)
    tokens = torch.randint(0, 512, (8, 64))
    for _ in range(20):
        tuned(input_ids=tokens, labels=tokens).loss.backward()
        opt.step()
        opt.zero_grad()
    folders["gpt2 20 AdamW steps"] = tuned
    out = {}
    for name, m in folders.items():
        m.save_pretrained(root / name.replace(" ", "_"))
        m.to(torch.bfloat16).save_pretrained(root / (name.replace(" ", "_") + "_bf16"))
        out[name], out[name + " (bf16)"] = root / name.replace(" ", "_"), root / (name.replace(" ", "_") + "_bf16")
    llama = transformers.LlamaForCausalLM(transformers.LlamaConfig(
        vocab_size=512, hidden_size=128, intermediate_size=352, num_hidden_layers=2, num_attention_heads=4,
        num_key_value_heads=2, max_position_embeddings=128)).to(torch.bfloat16)
    llama.save_pretrained(root / "llama_bf16")
    out["llama init (bf16)"] = root / "llama_bf16"
    return out


def main() -> None:
    seconds: dict[str, float] = dict.fromkeys(MODEL_SPECS + [QUBD], 0.0)
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        for name, folder in gpt2_variants(Path(tmp)).items():
            row = {"model": name}
            for spec in MODEL_SPECS:
                r = kc.analyse(folder, [spec], per="model", cache=False).iloc[0]
                row["n_params"], row[spec], seconds[spec] = r.n_params, r.bits_per_param, seconds[spec] + r.seconds
            qubd = kc.analyse(folder, [QUBD], min_ndim=2, cache=False)
            row[QUBD + " (2-D)"] = qubd.bits.sum() / qubd.n_params.sum()
            seconds[QUBD] += qubd.seconds.sum()
            rows.append(row)
    with pd.option_context("display.width", 250, "display.max_columns", 20, "display.float_format", "{:.3f}".format):
        print("bits per parameter (whole model; QuBD over the 2-D tensors)")
        print(pd.DataFrame(rows).set_index("model").T.to_string())
        print("\nseconds per estimator over all models:", {k: round(float(v), 2) for k, v in seconds.items()})


if __name__ == "__main__":
    t0 = time.perf_counter()
    main()
    print(f"total {time.perf_counter() - t0:.1f} s")
