"""Context-model coder ``ctx``: static models per context, chosen per stream, range coded.

Each stream is coded as symbol groups, one static model per context value (merged when
rare), the histograms sent as ``entropy`` sends its histogram. Contexts come only from
what a decoder already has, so the streams of one encoding decode in the order below:

- ``fields`` exponent: the rounded mean exponent of its row (``Stream.rows``), sent per row,
  or its row's plus its column's mean in half exponents (``rowcol``), both sent;
- sign and ``mantissa_0``: the exponent;
- ``mantissa_i`` (i >= 1): the exponent, or whether the 5 low bits of ``mantissa_{i-1}``
  are all zero, or its row's shared trailing zero bits (``row_tz``): values of a narrower
  float inside a wider one (fp16 or bf16 in fp32);
- a raw byte stream: the byte's position in its value (a byte split without an encoding);
- any other symbol stream: no context (order 0).

For every stream the coder prices each candidate context and merge threshold (contexts
with fewer symbols than the threshold share one model) from the joint counts and keeps
the cheapest, order 0 included (the counts: ``context_counts``, shared between the streams
of one value and never expanded to a context per symbol). A stream of 32 symbols or more may
be split: its top bits coded in the context, its low bits given the top bits (``split_parts``).
``bits`` counts the choice, the histograms, the side values and the range code of the quantised models (``PRECISION``-bit frequencies, the
ones the decoder rebuilds from the histograms) plus ``ALLOWANCE_BITS`` per symbol and
``FLUSH_BITS`` per stream for the range coder's truncation and flush (the proven bounds of
``rangecode.coding_overhead``), so that it is at least the real stream's length.
``roundtrip`` writes that stream and decodes it.
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from typing import cast

import numpy as np

from ..arrays import histogram
from ..encodings import Stream
from .base import Coded, Coder
from .context_counts import SharedCounts, joint_counts
from .entropy import histogram_bits
from .rangecode import (PRECISION, STATE_BITS, WORD_BITS, _model, _range_coder, decode_kt, encode_kt, read_histogram,
                        write_histogram)

# the range coder's proven overheads (``rangecode.coding_overhead``): the static models are
# already quantised here, so per symbol only the truncation remains, per stream the flush
ALLOWANCE_BITS = -math.log2(1 - 2.0 ** (PRECISION - (STATE_BITS - WORD_BITS)))
FLUSH_BITS = STATE_BITS + WORD_BITS
THRESHOLDS = tuple(4 ** j for j in range(12))  # a context keeps its own model from this many symbols
THRESHOLD_COLUMN = np.array(THRESHOLDS)[:, None]
CHOICE_BITS = 3 + 4 + 1 + 4  # the context candidate, its threshold, the split flag and the low part's threshold
SPLIT_HIGH_BITS = 3       # a split codes a symbol's top bits in context, then its low bits given them
LOW_ZERO_MASK = 31        # mantissa_{i-1} & mask == 0 marks a narrower float's value
KT_MAX = 1 << 14          # the adaptive code is tried on groups of at most this many symbols,
KT_STREAM = 1 << 16       # in streams of at most this many (its decoder goes symbol by symbol)
KT_ALPHABET = 1 << 12     # and alphabets of at most this size (its model quantisation stays in the allowance)


@dataclass
class Plan:
    """How one stream is coded: ``context`` (candidate name), ``values`` (the context value of
    every symbol; None for order 0, and for a side context, whose values ``side_context`` builds
    from ``sides`` when the stream is written), ``threshold`` (index into THRESHOLDS), ``bits``, and
    ``sides`` (the per-row and per-column values a side context sends); ``split``: None, or the
    threshold of the low bits' models when the symbol is split (``split_parts``)."""
    context: str
    values: np.ndarray | None
    threshold: int
    bits: float
    sides: list[np.ndarray] | None = None
    split: int | None = None


@dataclass
class ContextCoded(Coded):
    """``Coded`` with the plan ``roundtrip`` follows."""
    plan: Plan | None = None


# ---------------------------------------------------------------- models and their cost
def quantize(counts: np.ndarray) -> np.ndarray:
    """``PRECISION``-bit frequencies of the symbols with count > 0 (each >= 1, summing to
    2^PRECISION), a function of the counts only; rows of a 2-D array each on their own."""
    c = np.atleast_2d(np.asarray(counts, np.int64))
    present = c > 0
    n = c.sum(axis=1, keepdims=True)
    free = (1 << PRECISION) - present.sum(axis=1, keepdims=True)
    f = np.where(present, 1 + (c.astype(np.uint64) * free.astype(np.uint64) // np.maximum(n, 1).astype(np.uint64))
                 .astype(np.int64), 0)
    f[np.arange(len(c)), c.argmax(axis=1)] += (1 << PRECISION) - f.sum(axis=1)
    return f.reshape(np.shape(counts))


def model_bits(counts: np.ndarray) -> np.ndarray:
    """Code length of each row of ``counts`` under its quantised model, 0 for rows with one symbol."""
    c = np.atleast_2d(np.asarray(counts, np.int64))
    f = quantize(c)  # >= 1 where taken: no log of 0
    bits = np.where(c > 0, c * (PRECISION - np.log2(np.maximum(f, 1))), 0.0).sum(axis=1)
    return np.where((c > 0).sum(axis=1) > 1, bits, 0.0)


def kt_bits(counts: np.ndarray) -> np.ndarray:
    """Each row's adaptive Krichevsky-Trofimov code length over the whole alphabet, in bits
    (``motif``'s ``kt_bits`` row by row; no histogram to send): sum_j log2(j + k/2) over
    j < n, less sum_i sum_j log2(j + 1/2) over j < c_i. Rows of at most ``KT_MAX`` symbols."""
    c = np.atleast_2d(np.asarray(counts, np.int64))
    k, n = c.shape[1], c.sum(axis=1)
    top = int(n.max()) if c.size else 0
    steps = np.arange(top + 1, dtype=np.float64)
    total = np.concatenate([[0.0], np.cumsum(np.log2(steps[:-1] + k / 2))]) if top else np.zeros(1)
    each = np.concatenate([[0.0], np.cumsum(np.log2(steps[:-1] + 0.5))]) if top else np.zeros(1)
    return total[n] - each[c].sum(axis=1)


def static_bits(counts: np.ndarray, n: int) -> np.ndarray:
    """Each row's static code: its quantised model's bits plus its histogram (``n``: the stream's length)."""
    return model_bits(counts) + np.where(counts.any(axis=1), histogram_bits(counts, counts.shape[1], n), 0)


def adaptive(counts: np.ndarray, n: int) -> np.ndarray:
    """Which rows the adaptive code takes: small groups (up to ``KT_MAX`` symbols, alphabets up to
    ``KT_ALPHABET``) where it is shorter than the static code."""
    c = np.atleast_2d(counts)
    if c.shape[1] > KT_ALPHABET or n > KT_STREAM:
        return np.zeros(len(c), bool)
    small = (c.sum(axis=1) <= KT_MAX) & ((c > 0).sum(axis=1) > 1)
    if not small.any():
        return np.zeros(len(c), bool)
    return small & (kt_bits(np.where(small[:, None], c, 0)) < static_bits(c, n))


def _group_bits(counts: np.ndarray, alphabet: int, n: int) -> np.ndarray:
    """Each row's code, truncation allowance, model flag and histogram (nothing for an empty row):
    the static model with its histogram, or the adaptive code where ``adaptive`` picks it."""
    coded = (counts > 0).sum(axis=1) > 1
    bits, kt = static_bits(counts, n), adaptive(counts, n)
    k = counts.shape[1]  # the adaptive models are float, quantised by the coder: its proven cost
    quantisation = -math.log2(1 - k / (1 << PRECISION)) - math.log2(1 - 2.0 ** -25)
    if kt.any():
        bits[kt] = kt_bits(counts[kt]) + quantisation * counts[kt].sum(axis=1)
    return np.where(counts.any(axis=1), 1 + bits + np.where(coded, ALLOWANCE_BITS * counts.sum(axis=1), 0.0), 0.0)


def _flush_bits(counts: np.ndarray) -> int:
    """``FLUSH_BITS`` when some row of ``counts`` is range coded (has two symbols or more)."""
    return FLUSH_BITS if ((counts > 0).sum(axis=1) > 1).any() else 0


def group_map(sizes: np.ndarray, threshold: int) -> np.ndarray:
    """Context value -> model index: values with at least ``THRESHOLDS[threshold]`` symbols keep
    a model each (in value order), the rest share the last."""
    keep = sizes >= THRESHOLDS[threshold]
    return np.where(keep, np.cumsum(keep) - 1, keep.sum())


def best_threshold(joint: np.ndarray, alphabet: int, n: int) -> tuple[int, float]:
    """The cheapest merge of the context values of ``joint``: (threshold index, bits)."""
    return best_thresholds([joint], alphabet, n)[0]


def best_thresholds(joints: list[np.ndarray], alphabet: int, n: int) -> list[tuple[int, float]]:
    """``best_threshold`` of each of ``joints`` (one stream's candidates), all priced in one
    ``_group_bits`` call: the context values of each distinct joint, and the merged group of
    each threshold that keeps a new set of them (the kept sets are nested) and merges any."""
    found: dict[bytes, int] = {}
    parts: list[tuple[np.ndarray, list[int], list[int]]] = []
    groups, which = [], []
    for joint in joints:
        joint = joint[joint.any(axis=1)]  # an empty context value is never kept (every threshold is >= 1): no bits
        key = joint.tobytes() + bytes(str(joint.shape), "ascii")
        if key not in found:
            keeps = joint.sum(axis=1) >= THRESHOLD_COLUMN  # per threshold, the values kept
            n_kept = keeps.sum(axis=1).tolist()
            new = [i for i in range(len(THRESHOLDS)) if i == 0 or n_kept[i] != n_kept[i - 1]]
            merging = [i for i in new if n_kept[i] < len(joint)]  # a merged group of none costs nothing
            found[key] = len(parts)
            parts.append((keeps, new, merging))
            groups += [joint, (~keeps[merging]).astype(np.int64) @ joint]
        which.append(found[key])
    rows = np.concatenate(groups)
    all_bits, all_coded = _group_bits(rows, alphabet, n), (rows > 0).sum(axis=1) > 1
    results, at = [], 0
    for keeps, new, merging in parts:
        k = keeps.shape[1]
        per_value, kept_coded = all_bits[at:at + k], (keeps & all_coded[at:at + k]).any(axis=1).tolist()
        rest = dict(zip(merging, zip(all_bits[at + k:].tolist(), all_coded[at + k:].tolist())))
        best = (0, math.inf)
        for i in new:
            rest_bits, rest_coded = rest.get(i, (0.0, False))
            bits = np.add.reduce(per_value[keeps[i]]) + rest_bits + (FLUSH_BITS if rest_coded or kept_coded[i] else 0)
            if bits < best[1]:
                best = (i, float(bits))
        results.append(best)
        at += k + len(merging)
    return [results[w] for w in which]


# ---------------------------------------------------------------- contexts
def _field_role(name: str) -> tuple[str, str]:
    """(prefix, field) of a ``fields`` stream name such as ``"float32.mantissa_1"``."""
    prefix, _, field = name.rpartition(".")
    return (prefix + "." if prefix else ""), field


def _run_means(values: np.ndarray, rows, scale: int, axis: int) -> list[np.ndarray]:
    """Per run of ``rows`` ((count, length) blocks), the rounded mean of ``values`` times ``scale``
    along ``axis``: over each row (1) or each column (0)."""
    out, start = [], 0
    top = (1 << 8 * values.dtype.itemsize) - 1 if values.dtype.kind in "ui" else 1 << 62  # a bound on any value
    for count, length in rows:
        block = values[start:start + count * length].reshape(count, length)
        size = block.shape[axis]
        wide = np.uint32 if size * top * scale + size // 2 < 1 << 32 else np.uint64  # exact either way; 32 bits sum faster
        out.append((block.sum(axis=axis, dtype=wide) * wide(scale) + size // 2) // max(size, 1))
        start += count * length
    return out


def row_means(values: np.ndarray, rows, scale: int = 1) -> np.ndarray:
    """The rounded mean of ``values`` times ``scale`` over each row of ``rows`` ((count, length) runs)."""
    out = _run_means(values, rows, scale, axis=1)
    return np.concatenate(out).astype(np.int64 if scale > 1 else values.dtype) if out else np.zeros(0, values.dtype)


def column_means(values: np.ndarray, rows, scale: int = 1) -> np.ndarray:
    """The rounded mean of ``values`` times ``scale`` over each column of each run, runs in order."""
    out = _run_means(values, rows, scale, axis=0)
    return np.concatenate(out).astype(np.int64) if out else np.zeros(0, np.int64)


def expand_rows(per_row: np.ndarray, rows) -> np.ndarray:
    """Each row's value repeated over its length."""
    lengths = np.concatenate([np.full(count, length, np.int64) for count, length in rows])
    return np.repeat(per_row, lengths)


def expand_columns(per_column: np.ndarray, rows) -> np.ndarray:
    """Each run's column values repeated over its rows."""
    out, start = [], 0
    for count, length in rows:
        out.append(np.tile(per_column[start:start + length], count))
        start += length
    return np.concatenate(out)


def stream_rows(stream: Stream) -> tuple[tuple[int, int], ...]:
    """The stream's (count, length) row runs, or one row when unknown."""
    n = stream.array.size
    rows = tuple((c, l) for c, l in (stream.rows or ()) if c * l)
    return rows if sum(c * l for c, l in rows) == n else ((1, n),)


def row_trailing_zeros(values: np.ndarray, rows, width: int) -> np.ndarray:
    """The trailing zero bits all values of each row share (``width`` for an all-zero row):
    rows of a narrower float inside a wider one have their low mantissa bits all zero."""
    out, start = [], 0
    for count, length in rows:
        either = np.bitwise_or.reduce(values[start:start + count * length].reshape(count, length), axis=1)
        either = either.astype(np.int64)
        lowest = either & -either
        out.append(np.where(either == 0, width, np.log2(np.maximum(lowest, 1))).astype(np.uint8))
        start += count * length
    return np.concatenate(out) if out else np.zeros(0, np.uint8)


SIDE_SCALE = 2     # row and column means in half exponents


def side_alphabets(name: str, alphabet: int) -> list[int]:
    """The alphabets of the per-row (and per-column) values a side context sends."""
    if name == "row":
        return [alphabet]
    if name == "rowcol":
        return [SIDE_SCALE * alphabet] * 2
    return [max(1, math.ceil(math.log2(alphabet))) + 1]  # row_tz


def side_values(name: str, symbols: np.ndarray, rows, alphabet: int) -> list[np.ndarray]:
    """The per-row (and per-column) values of a side context, sent before the stream."""
    if name == "row":
        return [row_means(symbols, rows)]
    if name == "rowcol":
        return [row_means(symbols, rows, SIDE_SCALE), column_means(symbols, rows, SIDE_SCALE)]
    return [row_trailing_zeros(symbols, rows, side_alphabets(name, alphabet)[0] - 1)]


def side_size(name: str, alphabet: int) -> int:
    """How many context values a side context gives: its side alphabet, twice that for "rowcol" (a sum of two)."""
    return (2 if name == "rowcol" else 1) * side_alphabets(name, alphabet)[0]


def side_context(name: str, sides: list[np.ndarray], rows, alphabet: int) -> tuple[np.ndarray, int]:
    """Each symbol's context value from the side values, and the number of values: the row's,
    or for "rowcol" the sum of its row's and column's means (a scale that multiplies)."""
    n_values = side_size(name, alphabet)
    narrow = [side.astype(np.uint16 if n_values <= 1 << 16 else np.uint32) for side in sides]
    if name == "rowcol":
        return expand_rows(narrow[0], rows) + expand_columns(narrow[1], rows), n_values
    return expand_rows(narrow[0], rows), n_values


def has_columns(rows) -> bool:
    """Whether the row runs form matrices (at least two rows of at least two values)."""
    return bool(rows) and all(count > 1 and length > 1 for count, length in rows)


def candidates(stream: Stream, decoded: dict[str, np.ndarray], alphabet: int) -> dict:
    """Context name -> (per-symbol context values, number of values) a decoder can rebuild
    from ``decoded`` (the streams before this one, by name); side contexts ("row", "rowcol",
    "row_tz") map to None: their per-row (per-column) values are sent with the stream."""
    prefix, field = _field_role(stream.name)
    exponent = decoded.get(prefix + "exponent")
    out: dict = {}
    if field == "exponent":
        out["row"] = None
        if has_columns(stream.rows):
            out["rowcol"] = None
    if field in ("sign",) or field.startswith("mantissa_"):
        if exponent is not None:
            out["exponent"] = (exponent, int(exponent.max()) + 1 if exponent.size else 1)
    if field.startswith("mantissa_"):
        out["row_tz"] = None
        before = decoded.get(f"{prefix}mantissa_{int(field.split('_')[1]) - 1}")
        if before is not None:
            out["low_zero"] = (((before & LOW_ZERO_MASK) == 0).astype(np.uint8), 2)
    return out


def symbols_and_alphabet(stream: Stream) -> tuple[np.ndarray, int, np.ndarray | None]:
    """(symbols, alphabet, byte-position context or None): raw streams as their bytes."""
    if stream.nsymbols is not None:
        return stream.array.reshape(-1), stream.nsymbols, None
    raw = np.ascontiguousarray(stream.array.reshape(-1))
    size = raw.dtype.itemsize
    data = raw.view(np.uint8)
    position = None if size == 1 else np.tile(np.arange(size, dtype=np.uint8), raw.size)
    return data, 256, position


def split_parts(symbols: np.ndarray, alphabet: int) -> tuple[np.ndarray, np.ndarray, int]:
    """A symbol's top ``SPLIT_HIGH_BITS`` bits and its low bits, and the low bits' alphabet."""
    low = alphabet >> SPLIT_HIGH_BITS
    return symbols // low, symbols % low, low


def splittable(alphabet: int) -> bool:
    """Whether a split can pay: alphabets that are powers of two of at least 32 symbols, where
    per-context models of the top bits cost far fewer histogram bits than of the whole symbol."""
    return alphabet >= 32 and alphabet & (alphabet - 1) == 0


def side_joint(name: str, sides: list[np.ndarray], rows, symbols: np.ndarray, alphabet: int,
               shared: SharedCounts) -> np.ndarray:
    """The joint counts of a side context (the per-symbol values ``side_context`` builds) without
    building its values: the row's value ("row", "row_tz") or the row's plus the column's
    ("rowcol"); any other side context through its values."""
    if name in ("row", "row_tz", "rowcol"):
        columns = sides[1] if name == "rowcol" else None
        return shared.side_joint(sides[0], columns, rows, symbols, side_size(name, alphabet), alphabet)
    values, n_values = side_context(name, sides, rows, alphabet)
    return shared.joint(values, symbols, n_values, alphabet)


def plan(stream: Stream, decoded: dict[str, np.ndarray], shared: SharedCounts | None = None) -> Plan:
    """The cheapest way to code ``stream`` given the streams a decoder has before it: a context,
    its merge threshold, and whether the symbols are split (top bits in context, low bits given
    the top bits), all priced from joint counts (``shared``: counts shared with the other streams
    of the same ``code_all``)."""
    shared = shared or SharedCounts()
    symbols, alphabet, position = symbols_and_alphabet(stream)
    n = symbols.size
    options: dict = {}
    if position is not None:
        options["byte"] = (position, int(position.max()) + 1)
    options.update(candidates(stream, decoded, alphabet) if stream.nsymbols is not None else {})
    options["none"] = (None, 1)  # last: its counts are the marginal of any other's
    # per candidate: (name, values, joint counts, side bits, side values)
    tried: list[tuple[str, np.ndarray | None, np.ndarray, float, list[np.ndarray] | None]] = []
    marginal = None
    for name, option in options.items():
        sides, side = None, 0.0
        if option is None:  # a side context
            rows = stream_rows(stream)
            sides = side_values(name, symbols, rows, alphabet)
            if all(per.min() == per.max() for per in sides):  # one context value: order 0 plus the side
                continue                                          # values (> 0 bits), never the best
            for per, n_values in zip(sides, side_alphabets(name, alphabet)):
                counts = joint_counts(None, per, 1, n_values)
                side += _group_bits(counts, n_values, len(per)).sum() + _flush_bits(counts)
            values, joint = None, side_joint(name, sides, rows, symbols, alphabet, shared)  # values: if chosen
        else:
            values, n_values = option
            joint = (marginal if name == "none" and marginal is not None
                     else shared.joint(values, symbols, n_values, alphabet))
        marginal = joint.sum(axis=0, keepdims=True)
        tried.append((name, values, joint, side, sides))
    assert marginal is not None  # order 0 ("none") is always tried
    best = None
    whole = best_thresholds([t[2] for t in tried], alphabet, n)
    if splittable(alphabet):  # the top bits in context, then the low bits given the top bits (the same for all)
        low = alphabet >> SPLIT_HIGH_BITS
        high = best_thresholds([t[2].reshape(len(t[2]), -1, low).sum(axis=2) for t in tried], alphabet // low, n)
        low_part = best_threshold(marginal.reshape(-1, low), low, n)
    for k, (name, values, _, side, sides) in enumerate(tried):
        for split in (False, True) if splittable(alphabet) else (False,):
            if split:
                threshold, bits = high[k]
                bits, split_threshold = bits + low_part[1], low_part[0]
            else:
                (threshold, bits), split_threshold = whole[k], None
            bits += side + CHOICE_BITS
            if best is None or bits < best.bits:
                best = Plan(name, values, threshold, float(bits), sides, split_threshold)
    assert best is not None  # order 0 ("none") is always a candidate
    return best


def decode_order(names: list[str]) -> list[str]:
    """Streams in the order their contexts need: exponents, then signs, then mantissa planes by index."""
    def key(name):
        field = _field_role(name)[1]
        rank = {"exponent": 0, "sign": 1}.get(field)
        return (rank if rank is not None else 2 + int(field.split("_")[1]) if field.startswith("mantissa_") else 99)
    return sorted(names, key=key)


# ---------------------------------------------------------------- the real stream
def _group_order(group_of: np.ndarray) -> np.ndarray | slice:
    """Positions sorted by group, in order within each group (all of them for one group)."""
    return slice(None) if not group_of.any() else np.argsort(group_of, kind="stable")


def _pieces(order, sizes):
    """(group index, positions of its symbols) of each non-empty group, in group order."""
    start = 0
    for group, size in enumerate(sizes):
        if size:
            yield group, (order[start:start + size] if isinstance(order, np.ndarray) else slice(start, start + size))
        start += size


def _encode_groups(encoder, symbols: np.ndarray, group_of: np.ndarray, alphabet: int, n: int) -> list:
    """Range-code ``symbols`` group by group (static model each); returns the histogram bit arrays."""
    tables = []
    for _, where in _pieces(_group_order(group_of), np.bincount(group_of, minlength=1)):
        piece = symbols[where]
        counts = histogram(piece, alphabet)
        if adaptive(counts[None], n)[0]:
            tables.append(np.ones(1, np.uint8))
            encode_kt(piece.astype(np.int64), alphabet, encoder)
            continue
        present = np.flatnonzero(counts)
        tables.append(np.concatenate([[0], write_histogram(present, counts[present], alphabet, n)]).astype(np.uint8))
        if len(present) > 1:
            ranks = np.zeros(alphabet, np.int32)
            ranks[present] = np.arange(len(present), dtype=np.int32)
            encoder.encode(ranks[piece], _model((quantize(counts[present]) - 1).astype(np.float64)))
    return tables


def _decode_groups(decoder, tables, group_of: np.ndarray, alphabet: int, n: int) -> np.ndarray:
    """Invert ``_encode_groups`` given the same group of every position."""
    out, pending = np.zeros(group_of.size, np.int64), iter(tables)
    sizes = np.bincount(group_of, minlength=1)
    for group, where in _pieces(_group_order(group_of), sizes):
        table, size = next(pending), int(sizes[group])
        if table[0]:  # adaptive: as many symbols as the group has positions
            out[where] = decode_kt(None, alphabet, size, decoder)
            continue
        present, counts = read_histogram(table[1:], alphabet, n)
        ranks = (decoder.decode(_model((quantize(counts) - 1).astype(np.float64)), size)
                 if len(present) > 1 else np.zeros(size, np.int64))
        out[where] = present.astype(np.int64)[ranks]
    return out


def _group_of(values: np.ndarray | None, threshold: int, n: int) -> np.ndarray:
    """The model index of every symbol (all 0 without a context)."""
    if values is None:
        return np.zeros(n, np.uint8)
    return group_map(np.bincount(values.reshape(-1)), threshold).astype(np.uint16)[values]  # radix-sortable


class Context(Coder):
    """Static context models per stream (see the module doc); ``fields|ctx`` codes each IEEE
    field given the exponent, the row's scale or a narrower-float flag."""
    family, pattern = "ctx", "ctx"
    lossless = True

    def code(self, stream: Stream) -> Coded:
        return self.code_all([stream])[stream.name]

    def code_all(self, streams: list[Stream]) -> dict[str, Coded]:
        by_name = {s.name: s for s in streams}
        decoded: dict[str, np.ndarray] = {}
        out = {}
        order = decode_order(list(by_name))
        shared = SharedCounts([by_name[name] for name in order])
        for name in order:
            stream = by_name[name]
            p = plan(stream, decoded, shared)
            decoded[name] = stream.array.reshape(-1)
            out[name] = ContextCoded(p.bits, {"context": {name: p.context}, "split": {name: p.split is not None}}, plan=p)
        return {s.name: out[s.name] for s in streams}

    def roundtrip(self, stream: Stream, coded: Coded) -> tuple[np.ndarray, float]:
        return self.roundtrip_all([stream], {stream.name: coded})[stream.name]

    def roundtrip_all(self, streams: list[Stream], coded: dict[str, Coded]) -> dict[str, tuple[np.ndarray, float]]:
        """Write each stream's real code, then decode them in context order from the words,
        histograms and the streams decoded before (never from the input)."""
        by_name = {s.name: s for s in streams}
        decoded: dict[str, np.ndarray] = {}
        out = {}
        for name in decode_order(list(by_name)):
            stream, p = by_name[name], cast(ContextCoded, coded[name]).plan
            if coded[name].stored:  # the pipeline reads it verbatim; later streams may use it as context
                decoded[name] = stream.array.reshape(-1)
                continue
            assert p is not None  # code_all plans every stream it does not store
            words, tables, side_tables = self._write(stream, p)
            data, real = self._read(stream, p, words, tables, side_tables, decoded)
            decoded[name] = data.reshape(-1)
            out[name] = (data, real)
        return out

    @staticmethod
    def _write(stream: Stream, p: Plan):
        symbols, alphabet, _ = symbols_and_alphabet(stream)
        encoder = _range_coder().RangeEncoder()
        side_tables = []
        for values, n_values in zip(p.sides or (), side_alphabets(p.context, alphabet)):
            side_tables += _encode_groups(encoder, values, np.zeros(values.size, np.int64), n_values, values.size)
        context = p.values if p.sides is None else side_context(p.context, p.sides, stream_rows(stream), alphabet)[0]
        group_of = _group_of(context, p.threshold, symbols.size)
        if p.split is None:
            tables = _encode_groups(encoder, symbols, group_of, alphabet, symbols.size)
        else:
            high, low, low_alphabet = split_parts(symbols, alphabet)
            tables = _encode_groups(encoder, high, group_of, alphabet // low_alphabet, symbols.size)
            tables += _encode_groups(encoder, low, _group_of(high, p.split, symbols.size), low_alphabet, symbols.size)
        return encoder.get_compressed(), tables, side_tables

    @staticmethod
    def _read(stream: Stream, p: Plan, words, tables, side_tables, decoded) -> tuple[np.ndarray, float]:
        """Decode one stream given the streams decoded before it; its shape, dtype and row runs
        are known to the decoder, and of the plan only the choice (context, threshold) is read."""
        _, alphabet, position = symbols_and_alphabet(stream)
        n = stream.array.size * (1 if stream.nsymbols is not None else stream.array.dtype.itemsize)
        decoder = _range_coder().RangeDecoder(words)
        option = candidates(stream, decoded, alphabet).get(p.context) if stream.nsymbols is not None else None
        values = position if p.context == "byte" else option[0] if option else None
        if p.sides is not None:  # a side context: its per-row (per-column) values come first, from the stream
            rows, pending = stream_rows(stream), iter(side_tables)
            sizes = [sum(c for c, _ in rows), sum(l for _, l in rows)]
            sides = [_decode_groups(decoder, [next(pending)], np.zeros(size, np.int64), n_values, size)
                     for size, n_values in zip(sizes, side_alphabets(p.context, alphabet))]
            values = side_context(p.context, sides, rows, alphabet)[0]
        if p.split is None:
            symbols = _decode_groups(decoder, tables, _group_of(values, p.threshold, n), alphabet, n)
        else:
            pending, low_alphabet = iter(tables), alphabet >> SPLIT_HIGH_BITS
            high = _decode_groups(decoder, pending, _group_of(values, p.threshold, n), alphabet // low_alphabet, n)
            symbols = high * low_alphabet + _decode_groups(decoder, pending, _group_of(high, p.split, n), low_alphabet, n)
        real = CHOICE_BITS + sum(len(t) for t in (*tables, *side_tables)) + 32 * len(words)
        if stream.nsymbols is None:
            data = symbols.astype(np.uint8).view(stream.array.dtype.newbyteorder("<"))
        else:
            data = symbols.astype(stream.array.dtype)
        return data.reshape(stream.array.shape), real
