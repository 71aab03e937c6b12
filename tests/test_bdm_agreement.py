"""kcomplexity.bdm / block_entropy agree with pybdm 0.1.0 (the reference) to 1e-9 relative.

pybdm's own tables are used for 2 and 4 symbols and 2-D. Unpickling the 5, 6 and 9
symbol tables takes pybdm ~45 s, so the randomised sweep runs pybdm's own algorithm
over a read-only view of our converted arrays (``TableView``) for those; one test per
alphabet then checks against pybdm with its own tables, end to end.
"""
import math

import numpy as np
import pytest
from hypothesis import given, settings, strategies as st

import kcomplexity as kc
from kcomplexity.coders.ctm import load_table

from pybdm import BDM, PartitionCorrelated, PartitionIgnore, PartitionRecursive

pytestmark = pytest.mark.filterwarnings("ignore")  # pybdm warns once per missing block

PARTITIONS = {"ignore": PartitionIgnore, "recursive": PartitionRecursive, "correlated": PartitionCorrelated}
REL = 1e-9


class TableView:
    """pybdm's {key string: CTM} for one shape, backed by our arrays; items() in pybdm's
    order (CTM descending), produced lazily."""

    def __init__(self, shape_table, size):
        self.t, self.size = shape_table, size
        self.order = np.argsort(-shape_table.ctm, kind="stable")

    def _key(self, code):
        digits = np.base_repr(int(code), self.t.nsymbols) if code else "0"
        return digits.rjust(self.size, "0")

    def __getitem__(self, key):
        code = np.int64(int(key, self.t.nsymbols))
        pos = np.searchsorted(self.t.codes, code)
        if pos == len(self.t.codes) or self.t.codes[pos] != code:
            raise KeyError(key)
        return float(self.t.ctm[pos])

    def items(self):
        return ((self._key(self.t.codes[i]), float(self.t.ctm[i])) for i in self.order)

    def values(self):
        return self.t.ctm[self.order]


def reference(ndim, nsymbols, partition, **kw):
    ref = BDM(ndim=ndim, nsymbols=nsymbols, partition=PARTITIONS[partition], **kw) if nsymbols in (2, 4) else None
    if ref is None:
        ref = BDM(ndim=1, nsymbols=2, partition=PARTITIONS[partition], **kw)
        table = load_table(1, nsymbols)
        ref.nsymbols = nsymbols
        ref._ctm = {(s,): TableView(t, s) for s, t in table.shapes.items()}
        ref._ctm_missing = {(s,): t.max_ctm + 1 for s, t in table.shapes.items()}
    return ref


def biased(rng, k, shape):
    """Symbols with a skewed distribution, so blocks repeat and imputation is rare."""
    p = np.array([0.7 ** i for i in range(k)])
    return rng.choice(k, size=shape, p=p / p.sum())


def check(ours, theirs):
    assert ours == pytest.approx(theirs, rel=REL, abs=1e-12)


@pytest.mark.parametrize("nsymbols", [2, 4, 5, 6, 9])
@pytest.mark.parametrize("partition", ["ignore", "recursive", "correlated"])
def test_1d_bdm_and_entropy_agree(nsymbols, partition, rng):
    ref = reference(1, nsymbols, partition)
    for n in [12, 13, 23, 26, 60, 131, 300]:
        x = biased(rng, nsymbols, n)
        check(kc.bdm(x, 1, nsymbols, partition=partition), ref.bdm(x))
        check(kc.block_entropy(x, 1, nsymbols, partition=partition), ref.ent(x))
        if partition != "correlated" and n % 12 != 1:  # see test_bdm.py for those two
            check(kc.bdm(x, 1, nsymbols, partition=partition, normalized=True), min(ref.nbdm(x), 1.0))
        if partition == "ignore" and n >= 24:
            check(kc.block_entropy(x, 1, nsymbols, normalized=True), ref.nent(x))


@pytest.mark.parametrize("partition", ["ignore", "recursive", "correlated"])
def test_2d_binary_bdm_and_entropy_agree(partition, rng):
    ref = BDM(ndim=2, partition=PARTITIONS[partition])
    for shape in [(4, 4), (4, 7), (5, 9), (11, 6), (16, 16), (19, 23)]:
        x = biased(rng, 2, shape)
        check(kc.bdm(x, 2, partition=partition), ref.bdm(x))
        check(kc.block_entropy(x, 2, partition=partition), ref.ent(x))
        if partition == "ignore":
            check(kc.bdm(x, 2, normalized=True), ref.nbdm(x))
            if shape[0] * shape[1] >= 32:
                check(kc.block_entropy(x, 2, normalized=True), ref.nent(x))


@settings(max_examples=40, deadline=None)
@given(seed=st.integers(0, 2**32 - 1), n=st.integers(12, 200), block=st.integers(2, 12),
       shift=st.integers(1, 5), partition=st.sampled_from(sorted(PARTITIONS)), k=st.sampled_from([2, 4]))
def test_random_1d_blocks_and_shifts_agree(seed, n, block, shift, partition, k):
    x = biased(np.random.default_rng(seed), k, n)
    kw = {"shift": shift} if partition == "correlated" else {}
    ref = BDM(ndim=1, nsymbols=k, shape=(block,), partition=PARTITIONS[partition], **kw)
    check(kc.bdm(x, 1, k, block=block, partition=partition, shift=shift), ref.bdm(x))
    check(kc.block_entropy(x, 1, k, block=block, partition=partition, shift=shift), ref.ent(x))


@settings(max_examples=25, deadline=None)
@given(seed=st.integers(0, 2**32 - 1), rows=st.integers(4, 30), cols=st.integers(4, 30),
       block=st.integers(2, 4), shift=st.integers(1, 3), partition=st.sampled_from(sorted(PARTITIONS)))
def test_random_2d_shapes_agree(seed, rows, cols, block, shift, partition):
    x = biased(np.random.default_rng(seed), 2, (rows, cols))
    kw = {"shift": shift} if partition == "correlated" else {}
    ref = BDM(ndim=2, shape=(block, block), partition=PARTITIONS[partition], **kw)
    check(kc.bdm(x, 2, block=block, partition=partition, shift=shift), ref.bdm(x))
    check(kc.block_entropy(x, 2, block=block, partition=partition, shift=shift), ref.ent(x))


def test_large_input_agrees_and_normalises_past_the_table(rng):
    """More blocks than raw length-6 binary strings (64): pybdm's max BDM cycles the table."""
    x = rng.integers(0, 2, 6 * 500)
    ref = BDM(ndim=1, shape=(6,))
    check(kc.bdm(x, block=6), ref.bdm(x))
    check(kc.bdm(x, block=6, normalized=True), ref.nbdm(x))
    assert math.isfinite(kc.block_entropy(x, block=6, normalized=True))


@pytest.mark.parametrize("nsymbols", [5, 6, 9])
def test_large_alphabets_agree_with_pybdms_own_tables(nsymbols, rng):
    """The end-to-end check for the partial tables: pybdm unpickles its own 5/6/9-symbol
    tables (10-25 s each, once per session) and both sides score the same inputs."""
    for partition in ("ignore", "recursive"):
        ref = BDM(ndim=1, nsymbols=nsymbols, partition=PARTITIONS[partition])
        for n in [12, 37, 300, 1000]:
            x = biased(rng, nsymbols, n)
            check(kc.bdm(x, 1, nsymbols, partition=partition), ref.bdm(x))
            check(kc.block_entropy(x, 1, nsymbols, partition=partition), ref.ent(x))
