"""compare's inference: under the null (a fresh init draw against its random_init reference) every estimator
family says "no evidence" in at least 95 % of seeded trials; tensor groups for BERT, GPT-2 and LLaMA names."""
import numpy as np
import pandas as pd
import pytest

import kcomplexity as kc
from kcomplexity.analysis._compare import TOTAL, measure
from kcomplexity.analysis.families import DEFAULT_SPECS, FAMILIES, GROUPS, family_of, group_of
from kcomplexity.analysis.inference import against_reference, holm, verdict

N_DRAWS, N_REFERENCE, N_TRIALS = 30, 8, 600


@pytest.fixture(scope="module")
def init_draws(bert_dir):
    """Bits of 30 random_init draws of the tiny BERT under each default family, per stream."""
    pipelines = [kc.parse(s) for s in DEFAULT_SPECS]
    draws = [kc.variants.random_init(bert_dir, seed=1000 + i) for i in range(N_DRAWS)]
    measured = [{p.spec: measure(dict(w), p).streams for p in pipelines} for w in draws]
    return {(spec, stream): np.array([m[spec][stream] for m in measured])
            for spec, streams in measured[0].items() for stream in streams}


def trial_verdicts(bits: dict, variant: int, reference: np.ndarray) -> dict:
    """compare's verdicts for one variant draw against eight reference draws: its test per row, Holm over
    the total rows and over the per-stream rows (the families ``add_verdicts`` forms; checked end to end below)."""
    tests = {key: against_reference(values[variant], values[reference]) for key, values in bits.items()}
    out = {}
    for family in ([k for k in tests if k[1] == TOTAL], [k for k in tests if k[1] != TOTAL]):
        adjusted = holm([tests[k].p_value for k in family])
        out.update({k: verdict(tests[k].ratio, p) for k, p in zip(family, adjusted)})
    return out


def trials(bits: dict, n: int, seed: int, shift: float = 1.0) -> pd.DataFrame:
    """``n`` seeded trials: a draw is the variant (times ``shift``), eight others the reference."""
    rng, rows = np.random.default_rng(seed), []
    for _ in range(n):
        chosen = rng.choice(N_DRAWS, 1 + N_REFERENCE, replace=False)
        shifted = {k: np.where(np.arange(N_DRAWS) == chosen[0], shift * v, v) for k, v in bits.items()}
        rows.append(trial_verdicts(shifted, chosen[0], chosen[1:]))
    table = pd.DataFrame(rows)
    table.columns = pd.MultiIndex.from_tuples(table.columns, names=["estimator", "stream"])
    return table


def test_a_fresh_init_draw_gets_no_evidence_in_95_percent_of_trials(init_draws):
    verdicts = trials(init_draws, N_TRIALS, seed=0)
    table = verdicts.eq("no evidence").mean()
    print("\n" + table.to_string())
    assert table.min() >= 0.95                           # every family, every stream (planes included)
    totals = verdicts.xs(TOTAL, axis=1, level=1)
    assert totals.ne("no evidence").any(axis=1).mean() <= 0.075   # family-wise: Holm's 5 % plus trial noise
    # the reference noise is real: each family's draws spread, so the test is not vacuous
    assert all(init_draws[(spec, TOTAL)].std() > 0 for spec in DEFAULT_SPECS)


def test_a_shifted_draw_is_detected(init_draws):
    """Power: the same trials with the variant 0.5 % below its draw are "lower" for the low-noise families."""
    rate = trials(init_draws, 200, seed=1, shift=0.995).xs(TOTAL, axis=1, level=1).eq("lower").mean()
    assert rate["fields|zstd-3"] > 0.95 and rate["q8|zstd-9"] > 0.95


def test_compare_on_a_fresh_draw_end_to_end(bert_dir, tiny_bert_config):
    """One real compare call: the folder is a torch-built init (another seed); a pruned copy is simpler."""
    pruned = kc.variants.prune_magnitude(kc.load(bert_dir), 0.5)
    df = kc.compare({"fresh": bert_dir, "pruned": pruned})
    total = df[df.stream == TOTAL].set_index(["variant", "estimator"])
    assert list(total.loc["fresh"].index) == list(DEFAULT_SPECS)
    assert (total.loc["fresh", "verdict"] == "no evidence").all()
    assert (total.loc["random_init", "n_seeds"] == 8).all() and (total.loc["random_init", "test"] == "the reference "
                                                                   "itself").all()
    assert total.loc["random_init", "p_value"].isna().all()
    fresh = total.loc["fresh"]
    assert (fresh["ci_low"] < fresh["ratio_to_reference"]).all()
    assert (fresh["ratio_to_reference"] < fresh["ci_high"]).all()
    assert (fresh["test"] == "prediction t, 7 df").all() and (fresh["noise"] > 0).all()
    assert total.loc[("pruned", "fields|zstd-3"), "verdict"] == "lower"
    # Holm over the total rows of both variants; the per-stream rows are a family of their own
    rows = df[(df.stream == TOTAL) & (df.variant != "random_init")]
    np.testing.assert_allclose(rows["p_adjusted"], holm(rows["p_value"].to_numpy()))
    planes = df[(df.stream != TOTAL) & (df.variant != "random_init")]
    np.testing.assert_allclose(planes["p_adjusted"], holm(planes["p_value"].to_numpy()))
    assert [verdict(r, p) for r, p in zip(df["ratio_to_reference"], df["p_adjusted"])] == list(df["verdict"])
    assert set(df["family"]) == {f.name for f in FAMILIES}


# ---------------------------------------------------------------- families and groups
def test_family_of_every_default_and_other_specs():
    assert [family_of(kc.parse(f.spec)) for f in FAMILIES] == [f.name for f in FAMILIES]
    assert family_of(kc.parse("raw|lzma-9")) == "lossless" and family_of(kc.parse("q8|lzma-9")) == "quantize+compress"
    assert family_of(kc.parse("bitplanes8|bdm2d")) == "QuBD" and family_of(kc.parse("q2|bdm")) == "BDM"


def _names(build, config):
    import torch
    torch.manual_seed(0)
    return list(build(config).state_dict())


def expected_group(name: str) -> str:
    """A second, hand-written statement of the rules for the three architectures' names."""
    if any(k in name for k in ("LayerNorm", "ln_", "layernorm", "norm.weight")):
        return "norms"
    if any(k in name for k in ("embeddings.", "wte", "wpe", "embed_tokens", "lm_head", "predictions.decoder")):
        return "embeddings"
    if any(k in name for k in (".attention.", ".attn.", ".self_attn.")):
        return "attention"
    if any(k in name for k in (".intermediate.", ".output.dense", ".mlp.")):
        return "MLP"
    return "other"


@pytest.mark.parametrize("arch", ["bert", "gpt2", "llama"])
def test_groups_on_config_built_models(arch, tiny_bert_config):
    import transformers as t
    build, config = {
        "bert": (t.BertForMaskedLM, tiny_bert_config),
        "gpt2": (t.GPT2LMHeadModel, t.GPT2Config(vocab_size=300, n_embd=64, n_layer=2, n_head=2, n_positions=64,
                                                 bos_token_id=0, eos_token_id=0)),
        "llama": (t.LlamaForCausalLM, t.LlamaConfig(vocab_size=300, hidden_size=64, num_hidden_layers=2,
                                                     num_attention_heads=2, intermediate_size=128,
                                                     tie_word_embeddings=False)),
    }[arch]
    names = _names(build, config)
    groups = {n: group_of(n) for n in names}
    assert groups == {n: expected_group(n) for n in names}
    counts = pd.Series(groups).value_counts().to_dict()
    expected = {"bert": {"embeddings": 5, "attention": 16, "MLP": 8, "norms": 12, "other": 3},
                "gpt2": {"embeddings": 3, "attention": 8, "MLP": 8, "norms": 10},
                "llama": {"embeddings": 2, "attention": 8, "MLP": 6, "norms": 5}}[arch]
    assert counts == expected


def test_compare_by_group_sums_per_matrix_estimators(gpt2_dir):
    spec = "bitplanes8|bdm2d-tile64"
    whole = kc.compare({"init": gpt2_dir}, [spec, "q8|zstd-9"], seeds=(0, 1, 2), shuffle_control=False)
    groups = kc.compare({"init": gpt2_dir}, [spec, "q8|zstd-9"], seeds=(0, 1, 2), shuffle_control=False, by="group")
    assert list(dict.fromkeys(groups["group"])) == [g for g in GROUPS if g != "other"]
    g = groups[(groups.variant == "init") & (groups.stream == TOTAL)].set_index(["estimator", "group"])
    w = whole[(whole.variant == "init") & (whole.stream == TOTAL)].set_index("estimator")
    # a per-matrix estimator sums over matrices, so its groups add up to the whole model (norms: all 1-D, NaN)
    assert g.loc[spec, "bits"].sum() == pytest.approx(w.loc[spec, "bits"])
    assert np.isnan(g.loc[(spec, "norms"), "bits"]) and "left out" in g.loc[(spec, "norms"), "skipped"]
    assert g.loc["q8|zstd-9", "n_params"].sum() == w.loc["q8|zstd-9", "n_params"]
    rows = groups[(groups.stream == TOTAL) & (groups.variant != "random_init")]
    np.testing.assert_allclose(rows["p_adjusted"], holm(rows["p_value"].to_numpy()))   # one family: all groups
    with pytest.raises(kc.KComplexityError, match="by must be"):
        kc.compare({"init": gpt2_dir}, by="layer")


# ---------------------------------------------------------------- the report
SPECS = ["q8|zstd-9", "sign|bdm-chunk1200"]


@pytest.fixture(scope="module")
def report(gpt2_dir):
    pruned = kc.variants.prune_magnitude(kc.load(gpt2_dir), 0.5)
    return kc.compare_report({"init": gpt2_dir, "pruned": pruned}, SPECS, seeds=(0, 1, 2))


def test_report_tables_are_compares_tables(report, gpt2_dir):
    pruned = kc.variants.prune_magnitude(kc.load(gpt2_dir), 0.5)
    for by, table in (("model", report.verdicts), ("group", report.groups)):
        expected = kc.compare({"init": gpt2_dir, "pruned": pruned}, SPECS, seeds=(0, 1, 2), by=by)
        pd.testing.assert_frame_equal(table, expected)
    agree = report.agreement.set_index(["variant", "group"])
    assert list(agree.columns) == SPECS + ["agree", "summary"]
    assert agree.loc[("pruned", "all"), "agree"] and agree.loc[("pruned", "all"), "summary"] == "all 2 agree: lower"
    assert agree.loc[("init", "all"), "summary"] == "all 2 agree: no evidence"
    # norms are ones and zeros in every draw and in both variants: no noise, and the test says so
    g = report.groups
    norms = g[(g.group == "norms") & (g.stream == TOTAL) & (g.variant != "random_init")]
    assert norms["test"].str.contains("identical").all() and (norms["verdict"] == "no evidence").all()


def test_agreement_names_family_dependent_verdicts():
    from kcomplexity.analysis.report import agreement
    rows = pd.DataFrame({"variant": "v", "stream": TOTAL, "test": "prediction t, 7 df",
                         "estimator": ["fields|zstd-3", "q8|zstd-9", "sign|bdm-chunk1200"],
                         "ratio_to_reference": [0.98, 0.93, 1.01], "p_value": [1e-5, 1e-6, 0.5],
                         "verdict": ["lower", "lower", "no evidence"]})
    row = agreement(rows).iloc[0]
    assert not row["agree"] and row["summary"] == ("family-dependent: lower under lossless (fields|zstd-3), "
                                                   "quantize+compress (q8|zstd-9); no evidence under sign BDM "
                                                   "(sign|bdm-chunk1200)")
    assert row["q8|zstd-9"] == "lower (0.9300)"


def test_cli_report_writes_the_apis_markdown(report, gpt2_dir, tmp_path, capsys):
    from kcomplexity import cli
    out = tmp_path / "r.md"
    pruned = tmp_path / "pruned.safetensors"
    from safetensors.numpy import save_file
    save_file({k: np.ascontiguousarray(v) for k, v in
               kc.variants.as_weights(kc.variants.prune_magnitude(kc.load(gpt2_dir), 0.5)).items()}, pruned)
    argv = ["compare", f"init={gpt2_dir}", f"pruned={pruned}", "-e", SPECS[0], "-e", SPECS[1], "--seeds", "0", "1",
            "2", "--report", str(out)]
    assert cli.main(argv) == 0
    text = out.read_text()
    assert text == kc.compare_report({"init": gpt2_dir, "pruned": pruned}, SPECS, seeds=(0, 1, 2)).markdown
    for heading in ("## Verdicts: whole model", "## Agreement across estimator families", "## Per tensor group"):
        assert heading in text
    assert "Reference: `hf-config:GPT2LMHeadModel`, 3 draws" in text and "| pruned | q8\\|zstd-9 |" in text
    assert "verdict" in capsys.readouterr().out
    assert cli.main(["compare", f"init={gpt2_dir}", "--report", str(tmp_path / "r.txt")]) == 1
