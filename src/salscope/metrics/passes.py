"""The pixel sums of NSS, CC, KLD and SIM, taken in cache-sized chunks in one sweep over the maps.

A 600×800 float64 map is 3.8 MB: each whole-map numpy temporary
(centred map, floored map, ratio, densities …) is a round trip to main
memory, and on a busy machine those trips, not the arithmetic, set the speed.
:func:`pixel_sums` walks the map (and the gold map) in chunks of
:data:`CHUNK` pixels, computes every requested per-pixel term into three
small reused buffers while they sit in the CPU cache, and adds up the
chunk's sums. Element-wise results are the same bits as on whole maps; only
the order of the sums differs (a sum of per-chunk sums, ~1e-16 relative).

The numpy metrics (:func:`~salscope.metrics.nss`, :func:`~salscope.metrics.cc`,
:func:`~salscope.metrics.kld`, :func:`~salscope.metrics.sim`) and
:func:`~salscope.metrics.suite.tuebingen_suite` all call this one kernel, so
they give the same bits.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

#: Pixels per chunk: three float64 buffers and two input slices stay within a core's L2 cache.
CHUNK = 1 << 15


@dataclass(frozen=True)
class Affine:
    """A map seen as ``(m - shift) / divide + add`` element-wise, or a constant ``fill`` (``divide=None``).

    ``shift=None`` skips the subtraction, ``divide=1.0`` the division, ``add=0.0``
    the addition: each step the whole-map formula skips is skipped here too,
    so the values have the same bits as the whole-map arrays.
    """

    shift: Any = None
    divide: Any = 1.0
    add: float = 0.0
    fill: float = 0.0
    #: the sum of the transformed map when the caller knows it (then not summed again)
    total: Any = None

    def apply(self, m: np.ndarray, out: np.ndarray) -> np.ndarray:
        """The transformed chunk ``m``: written into ``out``, or ``m`` itself when nothing is to be done."""
        if self.divide is None:
            out.fill(self.fill)
            return out
        src = m
        if self.shift is not None:
            np.subtract(src, self.shift, out=out)
            src = out
        if self.divide != 1.0:
            np.divide(src, self.divide, out=out)
            src = out
        if self.add:
            np.add(src, self.add, out=out)
            src = out
        return src


def floored_affine(low: Any, floor: float, total: Any = None, n: int = 0) -> Affine:
    """pysaliency's KLD operand before normalisation: ``m - low + floor`` when ``low < 0``, else ``m + floor``.

    For a non-negative map with known sum ``total`` over ``n`` pixels the floored
    sum is taken as ``total + n * floor`` (the two agree to rounding, ~1e-16
    relative: no cancellation without the shift); a shifted map is summed.
    """
    if low < 0:
        return Affine(shift=low, add=floor)
    return Affine(add=floor, total=None if total is None else total + n * floor)


def density_affine(m: np.ndarray, low: Any, total: Any) -> Affine:
    """:func:`salscope.metrics._common.to_density` (no floor) of ``m`` with known minimum and sum.

    ``m / sum`` for a non-negative map (``m`` itself when the sum is exactly 1),
    ``(m - min) / sum(m - min)`` for one with negatives, uniform ``1/n`` when
    that sum is 0.
    """
    if low < 0:
        shifted_total = (m - low).sum()
        if shifted_total == 0:
            return Affine(divide=None, fill=1.0 / m.size)
        return Affine(shift=low, divide=shifted_total)
    if total == 0:
        return Affine(divide=None, fill=1.0 / m.size)
    return Affine(divide=total)


def pixel_sums(
    s: np.ndarray,
    g: np.ndarray | None = None,
    *,
    s_mean: Any = None,
    g_mean: Any = None,
    kld: tuple[Affine, Affine] | None = None,
    sim: tuple[Affine, Affine] | None = None,
    chunk: int = CHUNK,
) -> dict[str, float]:
    """Sums over the pixels of flat maps ``s`` and ``g``, in one chunked sweep.

    Returns the keys asked for:

    - ``s_mean``: ``"ss" = sum (s - s_mean)^2`` (NSS, CC);
    - ``g_mean`` too: ``"gg" = sum (g - g_mean)^2`` and ``"sg" = sum (s - s_mean)(g - g_mean)`` (CC);
    - ``kld = (A, B)``: with ``a = A(s)``, ``b = B(g)`` the floored maps,
      ``"a" = sum a``, ``"b" = sum b``, ``"blog" = sum b log(b / a)`` (KLD);
    - ``sim = (P, Q)``: ``"sim" = sum min(P(s), Q(g))`` (SIM, the densities); for two plain
      ``m / total`` densities taken as ``(1 / T) sum min(s, g T / G)`` (the same to ~1e-16).
    """
    n = s.size
    c = max(1, min(int(chunk), n))
    x1, x2, x3 = np.empty(c), np.empty(c), np.empty(c)
    ss = gg = sg = big_a = big_b = blog = inter = 0.0
    # two plain ``m / total`` densities: sum min(s / T, g / G) = (1 / T) sum min(s, g * (T / G)),
    # one multiplication per pixel instead of two divisions
    ratio = None
    if sim is not None and all(d.shift is None and d.divide is not None and not d.add for d in sim):
        ratio = sim[0].divide / sim[1].divide
    for i in range(0, n, c):
        sc = s[i : i + c]
        m = sc.size
        gc = g[i : i + c] if g is not None else None
        a1, a2, a3 = (x1, x2, x3) if m == c else (x1[:m], x2[:m], x3[:m])
        if s_mean is not None:
            np.subtract(sc, s_mean, out=a1)
            ss += float(np.dot(a1, a1))
            if g_mean is not None:
                np.subtract(gc, g_mean, out=a2)
                gg += float(np.dot(a2, a2))
                sg += float(np.dot(a1, a2))
        if kld is not None:
            a = kld[0].apply(sc, a1)
            b = kld[1].apply(gc, a2)
            if kld[0].total is None:
                big_a += float(np.add.reduce(a))
            if kld[1].total is None:
                big_b += float(np.add.reduce(b))
            np.divide(b, a, out=a3)
            np.log(a3, out=a3)
            blog += float(np.dot(b, a3))
        if ratio is not None:
            if ratio != 1.0:  # g * 1.0 is g
                gc = np.multiply(gc, ratio, out=a3)
            np.minimum(sc, gc, out=a3)
            inter += float(np.add.reduce(a3))
        elif sim is not None:
            p = sim[0].apply(sc, a1)
            q = sim[1].apply(gc, a2)
            np.minimum(p, q, out=a3)
            inter += float(np.add.reduce(a3))
    out: dict[str, float] = {}
    if s_mean is not None:
        out["ss"] = ss
        if g_mean is not None:
            out.update(gg=gg, sg=sg)
    if kld is not None:
        out.update(a=big_a if kld[0].total is None else float(kld[0].total),
                   b=big_b if kld[1].total is None else float(kld[1].total), blog=blog)
    if sim is not None:
        out["sim"] = inter / sim[0].divide if ratio is not None else inter
    return out
