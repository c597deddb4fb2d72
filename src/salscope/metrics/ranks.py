"""Rank a few query values among many map values without sorting the map.

The rank metrics (AUC, shuffled AUC, AUC-Judd) only need, for each of the
``k`` fixated values ``q``, the counts ``#{s < q}`` and ``#{s <= q}`` over the
``N`` pixels (or over the other images' fixations). Sorting the map costs
``O(N log N)``; :class:`ValueRanks` gets the same integers in ``O(N)`` passes:

1. a monotone bucket index ``b(s) = trunc((s - min) * c)`` for every pixel,
   ``B`` buckets spanning the map's range (IEEE rounding of a subtraction and
   of a multiplication by ``c > 0`` is monotone, so ``b(s) < b(q)`` implies
   ``s < q`` and ``b(s) > b(q)`` implies ``s > q``; a query outside the range
   is clipped into the first or last bucket, which keeps that true);
2. one ``bincount`` of the buckets; the pixels in buckets holding no query
   are counted from its cumulative sum;
3. the few pixels sharing a bucket with a query are compared with the
   queries exactly.

The counts are the same integers as ``np.searchsorted(np.sort(s), q)``
(``side="left"`` and ``"right"``), so every AUC computed from them has the
same bits as the sort-based one (tested against it on ties, constant maps,
integer maps and extreme ranges).
"""

from __future__ import annotations

from typing import Any, Callable

import numpy as np

from salscope.metrics.passes import CHUNK

#: Number of buckets spanning the range of the queries.
BUCKETS = 1 << 16


class ValueRanks:
    """Counts of values below / at most each query, for the full array or any gathered subset of it.

    ``ValueRanks(values, queries)`` buckets ``values`` (flat float64) once;
    :meth:`counts` returns ``(less, less_equal)`` per query — with
    ``index=`` over ``values[index]`` (a multiset: repeated indices count
    repeatedly), reusing the buckets.

    Parameters
    ----------
    values : (N,) float64 array
        Finite values (the flat saliency map).
    queries : (k,) float64 array
        The values to rank (e.g. the map at the fixations); any finite floats.
    buckets : int
        Number of buckets ``B``.
    low : float, optional
        ``values.min()`` when the caller already has it (it must be the minimum).
    """

    def __init__(self, values: np.ndarray, queries: np.ndarray, buckets: int = BUCKETS, low: Any = None):
        self.values = values
        queries = np.asarray(queries, dtype=np.float64).ravel()
        self.unique, self._where = np.unique(queries, return_inverse=True)
        self._scale = None
        if self.unique.size > 1 and values.size:
            self._lo = values.min() if low is None else low
            span = values.max() - self._lo
            scale = (buckets - 1) / span if span > 0 else np.inf
            if np.isfinite(span) and np.isfinite(scale) and scale > 0:
                self._scale = scale
        if self._scale is not None:
            u_buckets = self._bucket_queries(self.unique, buckets)
            self._query_buckets = u_buckets
            self._top = buckets
            self._holds_query = np.zeros(self._top, dtype=bool)
            self._holds_query[u_buckets] = True
            # one query per bucket allows a linear exact step
            self._single = bool(np.all(np.diff(u_buckets) > 0))
            self._idx, self._near = self._bucket_all(values)

    def _bucket_queries(self, q: np.ndarray, buckets: int) -> np.ndarray:
        """The values' bucket function on the queries, clipped into ``[0, buckets - 1]`` (queries may lie outside the values)."""
        t = np.subtract(q, self._lo)
        t *= self._scale
        np.clip(t, 0.0, buckets - 0.5, out=t)
        return t.astype(np.intp)

    def _bucket_all(self, values: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Bucket of every value, and the positions of those sharing a bucket with a query, chunk by chunk (in cache)."""
        n = values.size
        idx = np.empty(n, dtype=np.intp)  # bincount and take work on intp without a converted copy
        c = max(1, min(CHUNK, n))
        work = np.empty(c)
        near = []
        lo, scale = self._lo, self._scale
        for i in range(0, n, c):
            part = idx[i : i + c]
            # (v - min) * scale lies in [0, buckets - 1] for every value (rounding is monotone and cannot
            # pass (max - min) * scale), so it is cast straight to the bucket, no clip needed
            t = np.subtract(values[i : i + c], lo, out=work[: part.size])
            np.multiply(t, scale, out=part, casting="unsafe")
            hits = np.flatnonzero(self._holds_query.take(part))
            if hits.size:
                near.append(hits + i)
        return idx, (np.concatenate(near) if near else np.zeros(0, dtype=np.intp))

    def counts(self, index: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray]:
        """``(#{v < q}, #{v <= q})`` for every query ``q`` (in the order given), over ``values[index]`` or all values."""
        less, less_equal = self._unique_counts(index)
        return less[self._where], less_equal[self._where]

    def _unique_counts(self, index: np.ndarray | None) -> tuple[np.ndarray, np.ndarray]:
        u = self.unique
        if self._scale is None:  # one distinct query (or an extreme range): direct comparisons
            v = self.values if index is None else self.values[index]
            if u.size == 1:
                less = np.count_nonzero(v < u[0])
                return np.array([less]), np.array([less + np.count_nonzero(v == u[0])])
            return _from_ranks(np.zeros(u.size, np.int64), np.searchsorted(u, v, side="right"), np.searchsorted(u, v, side="left"))
        idx = self._idx if index is None else self._idx.take(index)
        qb = self._query_buckets
        hist = np.bincount(idx, minlength=self._top)
        # values in buckets below the query's, less those in query buckets (counted exactly below)
        in_query = hist[qb] * np.r_[True, qb[1:] != qb[:-1]]  # each query bucket once (qb is sorted)
        earlier = np.concatenate([[0], np.cumsum(in_query)])[np.searchsorted(qb, qb, side="left")]
        below = (np.cumsum(hist)[qb] - hist[qb]) - earlier
        near = self._near if index is None else np.flatnonzero(self._holds_query.take(idx))
        sv = self.values[near if index is None else index[near]]
        if self._single:
            # each such pixel shares its bucket with exactly one query j: all queries before j are below it,
            # all after above it, so its rank among the queries is j plus one comparison
            j = np.searchsorted(self._query_buckets, idx[near])
            q = u[j]
            right, left = j + (sv >= q), j + (sv > q)
        else:
            right, left = np.searchsorted(u, sv, side="right"), np.searchsorted(u, sv, side="left")
        return _from_ranks(below, right, left)


def _from_ranks(below: np.ndarray, right: np.ndarray, left: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Per query ``u_j``: ``below_j`` plus the values with ``#{u <= v} <= j`` (v < u_j) and ``#{u < v} <= j`` (v <= u_j)."""
    k = below.size
    less = below + np.cumsum(np.bincount(right, minlength=k + 1))[:k]
    less_equal = below + np.cumsum(np.bincount(left, minlength=k + 1))[:k]
    return less, less_equal


def rank_counts(values: np.ndarray, queries: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """``(#{v < q}, #{v <= q})`` per query: ``np.searchsorted(np.sort(values), queries, side="left"/"right")`` without the sort."""
    return ValueRanks(np.asarray(values, dtype=np.float64).ravel(), queries).counts()


class SortedRanks:
    """:class:`ValueRanks`' interface over a sorted array (a map already sorted for an earlier image).

    ``sorted_subset(index)`` returns ``np.sort(values[index])`` (the caller may cache it).
    """

    def __init__(self, sorted_values: np.ndarray, queries: np.ndarray, sorted_subset: Callable[[np.ndarray], np.ndarray]):
        self.sorted_values, self.queries, self.sorted_subset = sorted_values, queries, sorted_subset

    def counts(self, index: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray]:
        """``(#{v < q}, #{v <= q})`` per query, over all values or ``values[index]``."""
        s = self.sorted_values if index is None else self.sorted_subset(index)
        return np.searchsorted(s, self.queries, side="left"), np.searchsorted(s, self.queries, side="right")
