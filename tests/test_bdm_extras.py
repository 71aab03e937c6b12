"""pybdm parity beyond BDM: the perturbation experiment (against pybdm's own), the coarse
conditional BDM (against its definition computed here from pybdm's decomposition), and
the errors for alphabets without a CTM table."""
from collections import Counter

import numpy as np
import pytest

import kcomplexity as kc
from kcomplexity.errors import CTMError, InputError, SpecError
from kcomplexity.coders.ctm import load_table

from pybdm import BDM, PartitionIgnore, PartitionRecursive, PerturbationExperiment

pytestmark = pytest.mark.filterwarnings("ignore")  # pybdm's pkg_resources and missing-block warnings
PARTITIONS = {"ignore": PartitionIgnore, "recursive": PartitionRecursive}
TOL = 1e-9


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
