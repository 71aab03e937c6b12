"""The counting behind ``ctx`` (``context``): joint counts of a context and a stream, computed
without building more than a chunk of keys at a time, and shared between the streams of one
value (``SharedCounts``): one histogram of a float's 16-bit words gives the joint counts of its
sign, exponent and top mantissa plane, and of a side context (a value per row, or per row plus
per column) counted in the same pass.
"""
from __future__ import annotations

import math
from collections.abc import Iterable

import numpy as np

from ..encodings import Stream
from ..arrays import add_histogram, histogram

CHUNK = 1 << 18            # symbols counted at once (their intp copy in bincount stays in cache)


def joint_counts(context: np.ndarray | None, symbols: np.ndarray, n_context: int, alphabet: int) -> np.ndarray:
    """Counts of (context value, symbol) pairs as an (n_context, alphabet) matrix: one bincount
    of context x alphabet + symbol, built a chunk at a time in the narrowest key type."""
    if context is None:
        return histogram(symbols, alphabet)[None]
    cells = n_context * alphabet
    key_type = _key_type(cells)
    out, buffer = np.zeros(cells, np.int64), np.empty(min(CHUNK, symbols.size), key_type)
    for start in range(0, symbols.size, CHUNK):
        key = buffer[:min(CHUNK, symbols.size - start)]
        np.multiply(context[start:start + CHUNK], key_type(alphabet), out=key, casting="unsafe")
        np.add(key, symbols[start:start + CHUNK], out=key, casting="unsafe")
        add_histogram(key, out)
    return out.reshape(n_context, alphabet)


def _key_type(cells: int):
    return np.uint16 if cells <= 1 << 16 else np.uint32 if cells <= 1 << 32 else np.uint64


def row_pieces(rows):
    """Pieces of at most ``CHUNK`` symbols of the runs of ``rows``, whole rows (or pieces of a
    long one) at a time: (run, (rows, columns) slices of the run, first row and first column of
    the run among all runs); a run is (start, count, length)."""
    start = first = column = 0
    for count, length in rows:
        step = max(1, CHUNK // max(length, 1))  # rows per piece
        for r in range(0, count, step):
            for c in range(0, length, CHUNK):  # more than one piece only for a row longer than CHUNK
                yield (start, count, length), (slice(r, min(r + step, count)), slice(c, min(c + CHUNK, length))), \
                    first, column
        start, first, column = start + count * length, first + count, column + length


def _piece(values: np.ndarray, run, where) -> np.ndarray:
    start, count, length = run
    return values[start:start + count * length].reshape(count, length)[where]


def side_offsets(row_values: np.ndarray, column_values: np.ndarray | None, step: int, key_type):
    """(lowest context value, span of the values, per-row and per-column key offsets: ``step`` per
    value above the lowest; None without columns) of the context "the row's value (plus the column's)"."""
    terms = [row_values] if column_values is None else [row_values, column_values]
    low = sum(int(t.min()) for t in terms)
    offsets = [((t.astype(np.int64) - int(t.min())) * step).astype(key_type) for t in terms]
    return low, side_span(row_values, column_values), offsets[0], offsets[1] if len(offsets) > 1 else None


def side_span(row_values: np.ndarray, column_values: np.ndarray | None) -> int:
    """How many context values "the row's value (plus the column's)" spans."""
    terms = [row_values] if column_values is None else [row_values, column_values]
    return sum(int(t.max()) - int(t.min()) for t in terms) + 1


def _add_offsets(key: np.ndarray, row_offsets, column_offsets, where, first: int, column: int) -> None:
    """Add each row's (and column's) offset to the keys of one piece (``row_pieces``)."""
    rows, columns = where
    np.add(key, row_offsets[first + rows.start:first + rows.stop, None], out=key)
    if column_offsets is not None:
        np.add(key, column_offsets[column + columns.start:column + columns.stop], out=key)


def side_joint_counts(row_values: np.ndarray, column_values: np.ndarray | None, rows, symbols: np.ndarray,
                      n_values: int, alphabet: int) -> np.ndarray:
    """``joint_counts`` of the context "the row's value (plus the column's)", one value per row
    (per column) of each run of ``rows``, without expanding it: keys built by adding each
    row's (and column's) offset to its symbols, a piece at a time (``row_pieces``), over the
    span of context values that occur."""
    key_type = _key_type(side_span(row_values, column_values) * alphabet)
    low, span, row_offsets, column_offsets = side_offsets(row_values, column_values, alphabet, key_type)
    counts, buffer = np.zeros(span * alphabet, np.int64), np.empty(min(CHUNK, symbols.size), key_type)
    for run, where, first, column in row_pieces(rows):
        piece = _piece(symbols, run, where)
        key = buffer[:piece.size].reshape(piece.shape)
        np.copyto(key, piece, casting="unsafe")
        _add_offsets(key, row_offsets, column_offsets, where, first, column)
        add_histogram(key, counts)
    out = np.zeros((n_values, alphabet), np.int64)
    out[low:low + span] = counts.reshape(span, alphabet)
    return out


FUSED_CELLS = 1 << 16  # streams whose alphabets multiply to at most this many cells are counted together
MAX_KEYED_SPAN = 4     # a side context of at most this many values may be counted in the fused pass by key


class SharedCounts:
    """Counts shared by the streams of one ``code_all``: the streams of one symbol per value
    whose alphabets multiply to at most ``FUSED_CELLS`` (a float's sign, exponent and top
    mantissa plane; every field of a 16-bit float) are counted together in one pass, their
    joint histogram built on first use (from the 16-bit words they were cut from when they
    share them: ``Stream.source``); the joint counts of any two of them (one the context of
    the other) and each one's marginal are then sums over it. Other pairs: ``joint_counts``."""

    def __init__(self, streams: Iterable[Stream] = ()):
        self.arrays: list[np.ndarray] = []
        self.sizes: list[int] = []
        sources, cells = [], 1
        for s in streams:
            if s.data is None or s.nsymbols is None or cells * s.nsymbols > FUSED_CELLS:
                continue
            if self.arrays and s.data.size != self.arrays[0].size:
                continue
            self.arrays.append(s.data.reshape(-1))
            self.sizes.append(s.nsymbols)
            sources.append(s.source)
            cells *= s.nsymbols
        if len(self.arrays) < 2 or self.arrays[0].size < cells:  # too small to pay for the full histogram
            self.arrays, self.sizes, sources = [], [], []
        self._counts: np.ndarray | None = None
        self._layouts = [self._layout(a) for a in self.arrays]
        self.words, self._word_axes = self._common_words(sources)
        self.columns = [self.words] if self.words is not None else self.arrays  # what a pass reads

    @staticmethod
    def _layout(a: np.ndarray) -> tuple:
        return a.__array_interface__["data"][0], a.dtype, a.shape, a.strides

    def _axis(self, a: np.ndarray | None) -> int | None:
        """Which fused stream ``a`` is (the same memory, read the same way), or None."""
        if a is None or not self.arrays:
            return None
        layout = self._layout(a)
        return next((i for i, b in enumerate(self._layouts) if b == layout), None)

    def _common_words(self, sources: list) -> tuple[np.ndarray | None, list]:
        """The 16-bit words all fused streams were cut from, as disjoint fields, and the axes of
        their histogram from the top bit down ((size, fused stream or None for bits no stream
        holds)); (None, []) when they have none in common."""
        if not sources or any(s is None for s in sources) or \
                len({self._layout(words) for words, _ in sources}) != 1:
            return None, []
        axes: list[tuple[int, int | None]] = []
        top = 16
        for i in sorted(range(len(sources)), key=lambda i: -sources[i][1]):
            shift, width = sources[i][1], self.sizes[i].bit_length() - 1
            if self.sizes[i] != 1 << width or shift + width > top or sources[i][0].size != self.arrays[i].size:
                return None, []
            axes += [(1 << (top - shift - width), None)] if top > shift + width else []
            axes.append((1 << width, i))
            top = shift
        return sources[0][0], axes + ([(1 << top, None)] if top else [])

    @property
    def cells(self) -> int:
        """The fused key's range: the 16-bit words, or the product of the streams' alphabets."""
        return 1 << 16 if self.words is not None else math.prod(self.sizes)

    def _fused_key(self, pieces: list[np.ndarray], key: np.ndarray) -> None:
        """Write the fused key of aligned pieces of ``columns`` into ``key`` (a buffer of their shape)."""
        np.copyto(key, pieces[0], casting="unsafe")
        for a, size in zip(pieces[1:], self.sizes[1:]):  # without words: the streams in mixed radix
            np.multiply(key, key.dtype.type(size), out=key)
            np.add(key, a, out=key, casting="unsafe")

    def _fields(self, counts: np.ndarray) -> np.ndarray:
        """Histograms of the fused key (last axis) -> the fused streams' joint histograms (one axis each)."""
        lead = counts.shape[:-1]
        if self.words is None:
            return counts.reshape(*lead, *self.sizes)
        counts = counts.reshape(*lead, *[size for size, _ in self._word_axes])
        counts = counts.sum(axis=tuple(len(lead) + k for k, (_, i) in enumerate(self._word_axes) if i is None))
        held = [i for _, i in self._word_axes if i is not None]
        return counts.transpose(*range(len(lead)), *(len(lead) + k for k in np.argsort(held)))

    def _count(self, pieces: list[np.ndarray]) -> np.ndarray:
        """The fused streams' joint histogram (flat) of aligned 1-D pieces of ``columns``."""
        key_type, size = _key_type(self.cells), pieces[0].size
        out, buffer = np.zeros(self.cells, np.int64), np.empty(min(CHUNK, size), key_type)
        for start in range(0, size, CHUNK):
            key = buffer[:min(CHUNK, size - start)]
            self._fused_key([p[start:start + CHUNK] for p in pieces], key)
            add_histogram(key, out)
        return out

    def counts(self) -> np.ndarray:
        """The joint histogram of the fused streams, one axis each, in their order."""
        if self._counts is None:
            self._counts = np.ascontiguousarray(self._fields(self._count(self.columns)))
        return self._counts

    def side_joint(self, row_values: np.ndarray, column_values: np.ndarray | None, rows, symbols: np.ndarray,
                   n_values: int, alphabet: int) -> np.ndarray:
        """``side_joint_counts``; when ``symbols`` is fused and not yet counted, in the same pass as
        the fused histogram, one histogram per context value (while these cost less than a pass):
        rows of one value taken together, or with columns, each piece's keys offset by its value."""
        j = self._axis(symbols)
        if j is None or self.sizes[j] != alphabet or self._counts is not None:
            return side_joint_counts(row_values, column_values, rows, symbols, n_values, alphabet)
        low: np.ndarray | slice
        if column_values is None and len(values := np.unique(row_values)) * self.cells <= symbols.size:
            grouped, low = self._grouped_by_rows(row_values, values, rows), values
        elif (span := side_span(row_values, column_values)) <= MAX_KEYED_SPAN and span * self.cells <= symbols.size:
            grouped, low = self._keyed(row_values, column_values, rows)
        else:
            return side_joint_counts(row_values, column_values, rows, symbols, n_values, alphabet)
        grouped = self._fields(grouped)
        self._counts = np.ascontiguousarray(grouped.sum(axis=0))
        out = np.zeros((n_values, alphabet), np.int64)
        out[low] = grouped.sum(axis=tuple(k + 1 for k in range(len(self.sizes)) if k != j))
        return out

    def _grouped_by_rows(self, row_values: np.ndarray, values: np.ndarray, rows) -> np.ndarray:
        """Histograms of the fused key, one per row value (``values``): its rows gathered a piece at a time."""
        grouped = np.zeros((len(values), self.cells), np.int64)
        group = np.searchsorted(values, row_values)
        start = first = 0
        for count, length in rows:
            blocks = [a[start:start + count * length].reshape(count, length) for a in self.columns]
            order = np.argsort(group[first:first + count], kind="stable")
            bounds = np.searchsorted(group[first:first + count][order], np.arange(len(values) + 1))
            step = max(1, CHUNK // max(length, 1))  # rows per piece
            for g in range(len(values)):
                members = order[bounds[g]:bounds[g + 1]]
                for r in range(0, len(members), step):
                    for c in range(0, length, CHUNK):  # more than one piece only for a row longer than CHUNK
                        grouped[g] += self._count([b[members[r:r + step], c:c + CHUNK].reshape(-1) for b in blocks])
            start, first = start + count * length, first + count
        return grouped

    def _keyed(self, row_values: np.ndarray, column_values: np.ndarray | None, rows) -> tuple[np.ndarray, slice]:
        """Histograms of the fused key, one per value of "the row's value (plus the column's)", each
        piece's keys offset by its value times ``cells``; and the values' slice."""
        key_type = _key_type(side_span(row_values, column_values) * self.cells)
        low, span, row_offsets, column_offsets = side_offsets(row_values, column_values, self.cells, key_type)
        counts, buffer = np.zeros(span * self.cells, np.int64), np.empty(min(CHUNK, self.arrays[0].size), key_type)
        for run, where, first, column in row_pieces(rows):
            pieces = [_piece(a, run, where) for a in self.columns]
            key = buffer[:pieces[0].size].reshape(pieces[0].shape)
            self._fused_key(pieces, key)
            _add_offsets(key, row_offsets, column_offsets, where, first, column)
            add_histogram(key, counts)
        return counts.reshape(span, self.cells), slice(low, low + span)

    def joint(self, context: np.ndarray | None, symbols: np.ndarray, n_context: int, alphabet: int) -> np.ndarray:
        """``joint_counts(context, symbols, n_context, alphabet)``, from the fused histogram when it holds both."""
        i, j = self._axis(context), self._axis(symbols)
        if j is None or self.sizes[j] != alphabet or (context is not None and (i is None or i == j)):
            return joint_counts(context, symbols, n_context, alphabet)
        counts = self.counts()
        if i is None:  # the marginal
            return counts.sum(axis=tuple(k for k in range(counts.ndim) if k != j))[None]
        pair = counts.sum(axis=tuple(k for k in range(counts.ndim) if k not in (i, j)))
        pair = pair if i < j else pair.T
        if n_context > self.sizes[i] or pair[n_context:].any():  # a context of other values than its stream's
            return joint_counts(context, symbols, n_context, alphabet)
        return np.ascontiguousarray(pair[:n_context])
