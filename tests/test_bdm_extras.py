"""pybdm parity beyond BDM: the perturbation experiment (against pybdm's own), the coarse
conditional BDM (against its definition computed here from pybdm's decomposition), and
the errors for alphabets without a CTM table."""
import json
from collections import Counter
from pathlib import Path

import numpy as np
import pytest

import kcomplexity as kc
from kcomplexity.errors import CTMError, InputError, SpecError
from kcomplexity.analysis.delta import delta_spec
from kcomplexity.coders.ctm import load_table

from pybdm import BDM, PartitionIgnore, PartitionRecursive, PerturbationExperiment

pytestmark = pytest.mark.filterwarnings("ignore")  # pybdm's pkg_resources and missing-block warnings
PARTITIONS = {"ignore": PartitionIgnore, "recursive": PartitionRecursive}
TOL = 1e-9
DATA = Path(__file__).resolve().parents[1] / "data"


def pybdm_perturbation(x, ndim, metric="bdm", partition="ignore", nsymbols=2, idx=None, values=None):
    """pybdm's experiment; with ``values``, cell by cell: its ``run`` returns integers (truncated) when
    the first perturbation is a no-op (apply_along_axis takes the dtype of the first result)."""
    kw = {"min_length": 2} if partition == "recursive" else {}
    ref = BDM(ndim=ndim, nsymbols=nsymbols, partition=PARTITIONS[partition], **kw)
    experiment = PerturbationExperiment(ref, x.astype(int), metric=metric)
    if values is None:
        return experiment.run(idx)
    return np.array([experiment.perturb(tuple(np.atleast_1d(i)), v) for i, v in zip(idx, values)], float)


@pytest.mark.parametrize("shape", [(203,), (12,), (37, 29), (64, 64)])
@pytest.mark.parametrize("metric", ["bdm", "ent"])
@pytest.mark.parametrize("partition", ["ignore", "recursive"])
def test_perturbation_equals_pybdm_on_every_cell(rng, shape, metric, partition):
    x = rng.integers(0, 2, shape).astype(np.uint8)
    ours = kc.perturbation(x, len(shape), metric=metric, partition=partition)
    assert ours.shape == x.shape
    ref = pybdm_perturbation(x, len(shape), metric, partition)
    np.testing.assert_allclose(ours.reshape(-1), ref, rtol=0, atol=TOL)
    if partition == "ignore":   # cells in the dropped remainder change nothing
        side = 12 if len(shape) == 1 else 4
        outside = np.ones(shape, bool)
        outside[tuple(slice(0, n - n % side) for n in shape)] = False
        assert np.all(ours[outside] == 0)


def test_perturbation_on_repetitive_data_where_counts_matter(rng):
    """Few distinct blocks with large counts exercise the log2 terms (a flip to an existing block)."""
    tile = rng.integers(0, 2, (4, 4))
    x = np.tile(tile, (10, 10)).astype(np.uint8)
    x[5, 5] ^= 1
    ours = kc.perturbation(x, 2)
    np.testing.assert_allclose(ours.reshape(-1), pybdm_perturbation(x, 2), rtol=0, atol=TOL)
    assert ours[5, 5] < 0 < ours[0, 0]  # undoing the defect simplifies; a new defect costs


def test_perturbation_idx_and_values_as_in_pybdm(rng):
    x = rng.integers(0, 2, (20, 24)).astype(np.uint8)
    idx = np.array([[0, 0], [3, 7], [19, 23], [3, 7], [17, 2]])
    values = np.array([1, 0, -1, 1, -1])
    ours = kc.perturbation(x, 2, idx=idx, values=values)
    np.testing.assert_allclose(ours, pybdm_perturbation(x, 2, idx=idx, values=values), rtol=0, atol=TOL)
    assert ours.shape == (5,)
    unchanged = x[tuple(idx.T)] == values
    assert unchanged.any() and np.all(ours[unchanged] == 0)


def test_perturbation_four_symbols_against_pybdm_and_direct_difference(rng):
    x = rng.integers(0, 4, 60).astype(np.uint8)
    idx, values = np.arange(0, 60, 5), rng.integers(0, 4, 12)
    ours = kc.perturbation(x, 1, nsymbols=4, idx=idx, values=values)
    np.testing.assert_allclose(ours, pybdm_perturbation(x, 1, nsymbols=4, idx=idx, values=values),
                               rtol=0, atol=TOL)
    random = kc.perturbation(x, 1, nsymbols=4, seed=3)      # a random other symbol per cell
    assert np.array_equal(random, kc.perturbation(x, 1, nsymbols=4, seed=3))
    for i in range(0, 48, 7):   # every value is BDM(changed) - BDM(x) for the symbol the seed drew
        changed = [kc.bdm(np.where(np.arange(60) == i, v, x), nsymbols=4) - kc.bdm(x, nsymbols=4)
                   for v in range(4) if v != x[i]]
        assert min(abs(c - random[i]) for c in changed) < TOL


def test_perturbation_in_chunks_equals_one_pass(rng, monkeypatch):
    from kcomplexity.coders import bdm_extras

    x = rng.integers(0, 2, (30, 41)).astype(np.uint8)
    whole = kc.perturbation(x, 2, partition="recursive")
    monkeypatch.setattr(bdm_extras, "_CHUNK_CELLS", 37)
    np.testing.assert_array_equal(kc.perturbation(x, 2, partition="recursive"), whole)


def test_perturbation_rejects_bad_arguments():
    x = np.ones((8, 8), np.uint8)
    with pytest.raises(SpecError, match="'bdm' or 'ent'"):
        kc.perturbation(x, 2, metric="bdm2")
    with pytest.raises(SpecError, match="disjoint"):
        kc.perturbation(x, 2, partition="correlated")
    with pytest.raises(InputError, match=r"shape \(n, 2\)"):
        kc.perturbation(x, 2, idx=[1, 2])
    with pytest.raises(InputError, match="outside"):
        kc.perturbation(x, 2, idx=[[8, 0]])
    with pytest.raises(InputError, match="symbol < 2"):
        kc.perturbation(x, 2, idx=[[1, 1]], values=[2])


# ---------------------------------------------------------------- conditional BDM
def conditional_by_definition(x, y, ndim):
    """BDM(x|y) from pybdm's decomposition: CTM of x's blocks absent from y + log2 n_x where counts differ."""
    ref = BDM(ndim=ndim)
    cx = Counter(ref.lookup(ref.decompose(x.astype(int))))
    cy = Counter(key for key, _ in ref.lookup(ref.decompose(y.astype(int))))
    return sum((cmx if cy[key] == 0 else 0.0) + (np.log2(n) if cy[key] != n else 0.0)
               for (key, cmx), n in cx.items())


def test_conditional_of_identical_inputs_is_zero(rng):
    x = rng.integers(0, 2, (40, 36)).astype(np.uint8)
    assert kc.bdm_conditional(x, x, ndim=2) == 0.0
    assert kc.bdm_conditional(x, x.copy(), ndim=2) == 0.0


def test_conditional_given_disjoint_blocks_is_bdm(rng):
    x, y = rng.integers(0, 2, (2, 1200)).astype(np.uint8)
    x[::12], y[::12] = 0, 1            # every block of x starts with 0, every block of y with 1
    assert kc.bdm_conditional(x, y) == pytest.approx(kc.bdm(x), rel=1e-12)
    assert kc.bdm_conditional(x, np.ones(5, np.uint8)) == pytest.approx(kc.bdm(x), rel=1e-12)  # y: no block


def test_conditional_hand_computed_case():
    zeros, ones = np.zeros(12, np.uint8), np.ones(12, np.uint8)
    x = np.concatenate([zeros, ones, ones])       # blocks A, B, B
    y = ones                                      # block B once
    table = load_table(1, 2)[12]
    assert table.codes[0] == 0
    ctm_a = table.ctm[0]                          # CTM('000000000000')
    # A is absent from y: CTM(A) + log2 1; B is present but 2 != 1 times: log2 2 = 1
    assert kc.bdm_conditional(x, y) == pytest.approx(ctm_a + 1.0, rel=1e-12)
    assert kc.bdm_conditional(y, x) == 0.0        # B is in x; counts 1 != 2 cost log2 1 = 0
    assert kc.bdm_conditional(np.concatenate([ones, ones]), x) == 0.0   # B twice in both


@pytest.mark.parametrize("ndim,shape", [(1, (600,)), (2, (48, 52))])
def test_conditional_equals_definition_on_related_inputs(rng, ndim, shape):
    x = rng.integers(0, 2, shape).astype(np.uint8)
    y = x.copy()
    y.reshape(-1)[rng.choice(x.size, x.size // 40, replace=False)] ^= 1   # a checkpoint-like small change
    ours = kc.bdm_conditional(x, y, ndim=ndim)
    assert ours == pytest.approx(conditional_by_definition(x, y, ndim), rel=1e-12)
    assert 0 < ours < kc.bdm(x, ndim=ndim)


def test_delta_rows_of_bdm_estimators_are_conditional_bdm_beside_the_xor_bound():
    df = kc.analyse(DATA / "mlp_baseline", ["raw|zstd-3", "bitplanes8|bdm2d", "sign|bdm"], delta=True,
                    cache=False, min_ndim=2)
    rows = {spec: df[df.estimator == spec].set_index(["step", "tensor"]) for spec in df.estimator.unique()}
    cond, xor = rows["delta:bitplanes8|bdm2d"], rows["delta:raw|zstd-3"]
    assert sorted(cond.index) == sorted(xor.index) == sorted(rows["delta:sign|bdm"].index)
    assert sorted(set(cond.index.get_level_values("step"))) == list(range(1, 9))   # none for step 0
    assert not cond.lossless.any() and xor.lossless.all()
    # BDM(x|y) <= BDM(x) term by term, so every conditional row is below its plain row
    assert (cond.bits < rows["bitplanes8|bdm2d"].bits.loc[cond.index]).all()
    assert (rows["delta:sign|bdm"].bits < rows["sign|bdm"].bits.loc[cond.index]).all()

    w5, w4 = (kc.load(DATA / "mlp_baseline" / f"epoch_000{e}.safetensors")["3.weight"] for e in (5, 4))
    planes = [[(kc.encodings.Quantize(8).codes(w) >> i) & 1 for w in (w5, w4)] for i in range(8)]
    per_plane = [kc.bdm_conditional(now, before, ndim=2) for now, before in planes]
    row = cond.loc[(5, "3.weight")]
    assert row.bits == pytest.approx(64 + sum(per_plane), rel=1e-12)     # + scale and offset of w_t
    assert row.plane_7 == pytest.approx(per_plane[7], rel=1e-12)
    # 1,365 sign blocks: whole-form sign|bdm is 0.85x its chunked form there (skewed), so the row is chunked
    sign_row = rows["delta:sign|bdm"].loc[(5, "3.weight")]
    assert json.loads(sign_row.details)["form"] == "bdm-chunk1200"
    signs = kc.bdm_conditional((w5 > 0).reshape(-1).astype(np.uint8), (w4 > 0).reshape(-1).astype(np.uint8),
                               tile=1200)
    assert sign_row.bits == pytest.approx(signs, rel=1e-12)


def test_delta_spec_names_conditional_bdm_rows():
    assert delta_spec("bitplanes8|bdm2d") == "delta:bitplanes8|bdm2d"
    with pytest.raises(SpecError, match="or a BDM one"):
        delta_spec("q8|zstd-3")


# ---------------------------------------------------------------- alphabets without a CTM table
@pytest.mark.parametrize("call", [
    lambda: kc.bdm(np.zeros(24, np.uint8), nsymbols=3),
    lambda: kc.bdm(np.zeros(24, np.uint8), nsymbols=7),
    lambda: kc.bdm(np.zeros(24, np.uint8), nsymbols=10),
    lambda: kc.bdm(np.zeros((8, 8), np.uint8), ndim=2, nsymbols=4),
    lambda: kc.perturbation(np.zeros(24, np.uint8), nsymbols=16),
    lambda: kc.bdm_conditional(np.zeros(24, np.uint8), np.zeros(24, np.uint8), nsymbols=256),
    lambda: kc.estimate(np.linspace(0, 1, 100), "q3|bdm"),
    lambda: kc.estimate(np.linspace(0, 1, 100), "q8|bdm"),
])
def test_missing_alphabet_names_the_tables_and_the_fix(call):
    with pytest.raises(SpecError) as caught:
        call()
    message = str(caught.value)
    assert "no CTM table" in message and "2, 4, 5, 6, 9 symbols" in message and "2-D binary" in message
    assert "'bitplanesB|bdm2d'" in message and "'q2|bdm'" in message


def test_load_table_names_the_alphabets():
    with pytest.raises(CTMError, match="over 10 symbols.*2, 4, 5, 6, 9 symbols.*bitplanes"):
        load_table(1, 10)


# ---------------------------------------------------------------- per-weight maps and their heatmap
def test_perturbation_map_is_the_perturbation_of_the_chosen_bit_plane(rng):
    w = rng.standard_normal((40, 3, 2, 2)).astype(np.float32)
    codes = kc.encodings.Quantize(8).codes(w.reshape(40, -1))
    msb = ((codes >> 7) & 1).astype(np.uint8)
    values = kc.perturbation_map(w)                  # bitplanes8|bdm2d-tile64, most significant plane
    assert values.shape == (40, 12)
    np.testing.assert_array_equal(values, kc.perturbation(msb, ndim=2))
    for r, c in [(0, 0), (17, 5), (39, 11)]:        # each value: BDM with that bit flipped - BDM
        flipped = msb.copy()
        flipped[r, c] ^= 1
        assert values[r, c] == pytest.approx(kc.bdm(flipped, 2) - kc.bdm(msb, 2), abs=TOL)
    lsb = kc.perturbation_map(w, "bitplanes4|bdm2d", plane=0)
    np.testing.assert_array_equal(lsb, kc.perturbation((kc.encodings.Quantize(4).codes(w.reshape(40, -1)) & 1)
                                                       .astype(np.uint8), ndim=2))


def test_perturbation_map_of_a_1d_coder_has_the_tensor_shape(rng):
    w = rng.standard_normal((30, 20))
    values = kc.perturbation_map(w, "sign|bdm")
    assert values.shape == w.shape
    np.testing.assert_array_equal(values.reshape(-1), kc.perturbation((w > 0).reshape(-1).astype(np.uint8)))


@pytest.mark.parametrize("spec,plane,match", [("raw|zstd-3", None, "BDM estimator"),
                                              ("bitplanes8|bdm2d", 8, "planes 0..7"),
                                              ("bitplanes8-tiled|bdm2d", None, "one bit per weight"),
                                              ("q3|bdm", None, "over 8 symbols")])
def test_perturbation_map_rejects_what_it_cannot_map(rng, spec, plane, match):
    with pytest.raises(SpecError, match=match):
        kc.perturbation_map(rng.standard_normal((16, 16)), spec, plane=plane)


def test_perturbation_heatmap_draws_the_map_on_a_symmetric_scale(rng):
    from kcomplexity import plot

    values = kc.perturbation_map(rng.standard_normal((32, 24)))
    fig = plot.perturbation_heatmap(values, title="MSB")
    ax = fig.axes[0]
    image = ax.get_images()[0]
    np.testing.assert_array_equal(image.get_array(), values)
    limit = np.abs(values).max()
    assert image.get_clim() == (-limit, limit) and ax.get_title() == "MSB"
    assert "bits" in fig.axes[1].get_ylabel()
    with pytest.raises(InputError, match="2-D map"):
        plot.perturbation_heatmap(np.zeros((2, 2, 2)))


def test_tiled_conditional_is_the_sum_over_tiles():
    rng = np.random.default_rng(5)
    x, y = rng.integers(0, 2, (40, 36)), rng.integers(0, 2, (40, 36))
    y[:16] = x[:16]
    by_hand = sum(kc.bdm_conditional(x[r:r + 16, c:c + 16], y[r:r + 16, c:c + 16], 2)
                  for r in range(0, 40, 16) for c in range(0, 36, 16) if min(x[r:r + 16, c:c + 16].shape) >= 4)
    assert kc.bdm_conditional(x, y, 2, tile=16) == pytest.approx(by_hand, rel=1e-12)
    assert kc.bdm_conditional(x, x, 2, tile=16) == 0


def test_tiled_perturbation_map_flips_within_each_tile():
    from kcomplexity.analysis.perturbation import _stream

    w = np.random.default_rng(6).standard_normal((24, 20)).astype(np.float32)
    pipeline = kc.parse("bitplanes8|bdm2d-tile8")
    plane = _stream(pipeline, w, 7).data
    got = kc.perturbation_map(w, "bitplanes8|bdm2d-tile8")
    for r in range(0, 24, 8):
        for c in range(0, 20, 8):
            part = plane[r:r + 8, c:c + 8]
            want = kc.perturbation(part, 2) if min(part.shape) >= 4 else np.zeros(part.shape)
            np.testing.assert_allclose(got[r:r + 8, c:c + 8], want, rtol=1e-12, atol=1e-12)


def test_perturbation_equals_brute_force_where_pybdms_experiment_does_not(rng):
    """2-D recursive on a ragged shape: pybdm's PerturbationExperiment re-cuts the slice around a cell and
    disagrees with pybdm's own BDM differences; ours equals BDM(x with the cell flipped) - BDM(x), as pybdm's
    BDM computes it. The ignore partition agrees with both."""
    x = rng.integers(0, 2, (10, 7)).astype(np.uint8)
    flips = [np.where(np.arange(x.size).reshape(x.shape) == i, 1 - x, x) for i in range(x.size)]
    for partition in ("recursive", "ignore"):
        kw = {"min_length": 2} if partition == "recursive" else {}
        reference = BDM(ndim=2, partition=PARTITIONS[partition], **kw)
        brute = np.array([reference.bdm(f.astype(int)) for f in flips]) - reference.bdm(x.astype(int))
        ours = kc.perturbation(x, 2, partition=partition).reshape(-1)
        np.testing.assert_allclose(ours, brute, rtol=0, atol=TOL)
        gap = np.abs(pybdm_perturbation(x, 2, partition=partition) - brute).max()
        assert gap > 10 if partition == "recursive" else gap < TOL


def test_conditional_delta_rows_on_saturated_planes_are_tiled(rng):
    """Two independent random 1024x1024 bit matrices share no structure: the whole form's
    BDM(x|y) counts chance block matches as known (about 0.38 of BDM(x)); the delta row
    switches to the size-stable tiled form (about 0.996) and says so."""
    from kcomplexity.analysis.delta import ConditionalBDMDelta
    from kcomplexity.io import ModelStream
    x, y = (rng.integers(0, 2, (1024, 1024)).astype(np.float32) for _ in range(2))
    whole = kc.bdm_conditional(x.astype(np.uint8), y.astype(np.uint8), ndim=2) / kc.bdm(x.astype(np.uint8), ndim=2)
    assert 0.3 < whole < 0.45  # the whole form stays available by name, and is fooled
    row = ConditionalBDMDelta().estimate(kc.parse("bitplanes1|bdm2d"), ModelStream({"w": x}), ModelStream({"w": y}))
    assert row.details["form"] == "bdm2d-tile64" and "plane_0 (skewed)" in row.details["form_reason"]
    alone = kc.estimate(x, "bitplanes1|bdm2d-tile64").details["bdm"]
    assert 0.98 < row.details["bdm_conditional"] / alone <= 1.0
    small = ConditionalBDMDelta().estimate(kc.parse("bitplanes1|bdm2d"), ModelStream({"w": x[:64, :64]}),
                                           ModelStream({"w": y[:64, :64]}))
    assert "form" not in small.details  # one tile: the whole form is the size-stable form


def test_regime_check_flags_a_skewed_plane_below_saturation():
    """Issue 17's plane: 768x768 with p(1) = 0.05 has saturation 0.56, yet its whole-form BDM
    is about 0.11x the tiled form's: out of regime, with one warning and both numbers."""
    x = (np.random.default_rng(0).random((768, 768)) < 0.05).astype(np.float32)
    with pytest.warns(kc.errors.BDMSaturationWarning, match="skewed on 1 of 1") as caught:
        est = kc.estimate(x, "bitplanes1|bdm2d")
    assert len(caught) == 1
    d = est.details
    assert d["saturation"]["plane_0"] == pytest.approx(36864 / 65536)
    assert d["regime"] == {"plane_0": "skewed"}
    tiled = kc.estimate(x, "bitplanes1|bdm2d-tile64")
    assert d["size_stable_bits"]["plane_0"] == pytest.approx(tiled.details["bdm"], rel=1e-12)
    assert 0.09 < d["bdm"] / tiled.details["bdm"] < 0.14
    assert tiled.details["regime"] == {"plane_0": "ok"}
    fair = (np.random.default_rng(1).random((768, 768)) < 0.5).astype(np.float32)
    small = kc.estimate(fair[:256, :256], "bitplanes1|bdm2d").details  # 4,096 blocks: few chance repeats
    assert small["regime"] == {"plane_0": "ok"} and abs(small["bdm"] / small["size_stable_bits"]["plane_0"] - 1) < 0.1
