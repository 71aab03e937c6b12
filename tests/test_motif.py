"""The motif-S coder: exact two-part bits, decoder round trip, honest bounds."""
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import kcomplexity as kc
from kcomplexity.coders.entropy import entropy_bits, histogram_bits
from kcomplexity.coders.rangecode import coding_overhead
from kcomplexity.coders.motif import (HEADER_BITS, INDEX_CHOICE_BITS, Motif, dictionary_frame, dictionary_from_frame,
                                     index_frame, index_from_frame, kt_bits)
from kcomplexity.encodings import Stream
from kcomplexity.errors import SpecError
from kcomplexity.variants import momos


def test_spec_parses_and_prints():
    assert kc.parse("motif-4").spec == "raw|motif-4"
    assert kc.parse("motif8").coder == Motif(8)
    assert kc.parse("q8|motif-2").coder.size == 2
    assert kc.parse("motif").coder.size == 4
    with pytest.raises(SpecError, match="motif-S"):
        kc.parse("motif-x")
    with pytest.raises(SpecError, match="block size"):
        Motif(0)


def test_known_value_one_repeated_block():
    x = np.tile(np.array([1, 2, 3, 4], np.float32), 100)
    est = kc.estimate(x, "motif-4")
    # 1 stored-mode flag bit + header + flag bit and one block of 4 float32 (smaller than its lzma frame)
    # + the choice bits and the cheapest index code (zero entropy + histogram of one symbol, KT, or lzma)
    index = min(histogram_bits(np.array([100]), 1), kt_bits([100]), 8 * len(index_frame(np.zeros(100, int), 1)))
    assert est.bits == 1 + HEADER_BITS + 1 + 4 * 32 + INDEX_CHOICE_BITS + index
    assert est.details["distinct_blocks"] == 1 and est.details["stored_streams"] == 0


def test_bits_formula_with_padding():
    x = np.array([0, 1, 0, 1, 5, 5, 0, 1, 7], np.int16)  # blocks (0,1) (0,1) (5,5) (0,1) (7,0pad)
    coded = Motif(2).code(Stream("raw", x))
    counts = np.array([3, 1, 1])
    static = coding_overhead(5, 3, entropy_bits(counts), 3 / 5)  # the range coder's proven excess
    index = min(entropy_bits(counts) + histogram_bits(counts, 3) + static, kt_bits(counts) + coding_overhead(5, 3),
                8 * len(index_frame(np.array([0, 0, 1, 0, 2]), 3)))
    expected = HEADER_BITS + 1 + 3 * 2 * 16 + INDEX_CHOICE_BITS + index
    assert coded.details["padding"] == 1 and coded.details["distinct_blocks"] == 3
    assert coded.bits == pytest.approx(expected)
    assert kc.estimate(x, "raw|motif-2").bits == pytest.approx(1 + min(expected, 9 * 16))  # stored-mode flag


@settings(max_examples=40, deadline=None)
@given(values=st.lists(st.integers(-3, 3), min_size=1, max_size=60), size=st.integers(1, 7),
       dtype=st.sampled_from([np.float32, np.float16, np.int8, np.float64]))
def test_decoder_round_trip(values, size, dtype):
    x = np.array(values, dtype)
    coder = Motif(size)
    mosaic = coder.split(x)
    np.testing.assert_array_equal(coder.join(mosaic), x)
    assert len(np.unique(mosaic.dictionary, axis=0)) == len(mosaic.dictionary)  # dictionary holds distinct blocks
    assert mosaic.indices.max() < len(mosaic.dictionary) and mosaic.padding == (-len(x)) % size
    frame = dictionary_frame(mosaic.dictionary)
    back = dictionary_from_frame(frame, mosaic.dictionary.shape, mosaic.dictionary.dtype)
    np.testing.assert_array_equal(back, mosaic.dictionary)
    n_distinct = len(mosaic.dictionary)
    np.testing.assert_array_equal(index_from_frame(index_frame(mosaic.indices, n_distinct), n_distinct),
                                  mosaic.indices)


def test_index_frame_wins_on_a_mosaic_cut_at_another_block_size():
    x = np.random.default_rng(1).normal(size=40_000).astype(np.float32)
    projected = momos({"x": x}, s=8, capacity=0.01).weights["x"]
    coded = Motif(4).code(Stream("raw", projected))
    mosaic = Motif(4).split(projected)
    frame_bits = 8 * len(index_frame(mosaic.indices, len(mosaic.dictionary)))
    assert coded.details["index_bits"] == INDEX_CHOICE_BITS + frame_bits
    assert frame_bits < kt_bits(np.bincount(mosaic.indices))


def test_kt_bits_known_values():
    # one symbol: the KT code of "aaa" over 1 symbol costs nothing; "ab" over 2 symbols: 1/2 * 1/4 -> 3 bits
    assert kt_bits([3]) == pytest.approx(0.0, abs=1e-12)
    assert kt_bits([1, 1]) == pytest.approx(3.0)
    # "aab": 1/2 * 3/4 * 1/6 -> log2(16) = 4 bits
    assert kt_bits([2, 1]) == pytest.approx(4.0)


def test_random_data_is_not_compressed():
    x = np.random.default_rng(0).normal(size=40_000).astype(np.float32)
    est = kc.estimate(x, "motif-4")
    assert est.details["stored_streams"] == 1 and est.bits >= est.raw_bits
    assert est.bits <= est.raw_bits + 1


def test_mosaic_far_below_byte_compressors():
    x = np.random.default_rng(0).normal(size=100_000).astype(np.float32)
    projected = momos({"x": x}, s=4, capacity=0.01).weights["x"]
    motif = kc.estimate(projected, "motif-4").bits
    compressors = kc.estimate(projected, ["raw|gzip-9", "raw|bz2-9", "raw|lzma-9", "raw|zstd-19"])
    assert motif < 0.9 * min(e.bits for e in compressors)
    coded = Motif(4).code(Stream("raw", projected))
    assert coded.details["dictionary_bits"] < 250 * 4 * 32  # the lzma-coded dictionary won
    # and it cannot beat the entropy of the arrangement itself
    assert motif >= entropy_bits(np.unique(projected.reshape(-1, 4), axis=0, return_counts=True)[1])


def test_symbol_streams_use_their_symbol_width():
    codes = np.tile(np.arange(16, dtype=np.uint8), 50)  # q4-like symbols: 4 bits each
    coded = Motif(16).code(Stream("q4", codes, 16))
    assert coded.details["dictionary_bits"] == 1 + 16 * 4 and coded.details["distinct_blocks"] == 1
