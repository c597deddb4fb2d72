"""Centre bias: an anisotropic Gaussian on the image, stated or fitted to fixations.

The density of a fixation at pixel (row, col) of an ``H×W`` image is a Gaussian
sampled at pixel centres and normalised over the image:

    p(r, c) = g_x(c) g_y(r) / (Σ_c' g_x(c') Σ_r' g_y(r'))
    g_x(c) = exp(−(c − x0)² / (2 (σ_x W)²)),  x0 = μ_x W − 1/2   (likewise y with H)

σ and μ are fractions of the image's width and height, so one model serves
every image size. Because the density factorises, the maximum-likelihood σ_x
depends only on the fixations' columns and σ_y only on their rows; each is a
1-D bounded optimisation of the exact discretised log-likelihood.

References
----------
T. Judd, K. Ehinger, F. Durand, A. Torralba, "Learning to predict where humans
look", ICCV 2009 (centre prior); B. W. Tatler, "The central fixation bias in
scene viewing", J. Vision 7(14), 2007; M. Kümmerer, T. Wallis, M. Bethge,
"Information-theoretic model comparison unifies saliency metrics", PNAS 2015
(centre-bias baseline fitted by likelihood, scores in bits/fixation).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, ClassVar, Sequence

import numpy as np
from scipy.optimize import minimize, minimize_scalar

from salscope.errors import ModelError
from salscope.models.base import SaliencyModel, as_rgb_image
from salscope.models.registry import register_model

_SIGMA_BOUNDS = (0.01, 5.0)


def _log_axis(length: int, sigma: float, mu: float) -> np.ndarray:
    """Normalised log-density of one axis at the pixel centres 0..length-1."""
    x = np.arange(length, dtype=np.float64)
    s = sigma * length
    lg = -((x - (mu * length - 0.5)) ** 2) / (2.0 * s * s)
    m = lg.max()
    return lg - (m + np.log(np.exp(lg - m).sum()))


def _axis_nll(sigma: float, mu: float, pos: np.ndarray, lengths: np.ndarray) -> float:
    """Negative log-likelihood of integer positions ``pos`` on axes of ``lengths`` (grouped by length)."""
    total = 0.0
    for length in np.unique(lengths):
        sel = lengths == length
        total -= _log_axis(int(length), sigma, mu)[pos[sel]].sum()
    return total


def _fit_axis(pos: np.ndarray, lengths: np.ndarray, fit_mean: bool) -> tuple[float, float]:
    """Maximum-likelihood (σ, μ) of one axis, σ and μ as fractions of the axis length."""
    if not fit_mean:
        res = minimize_scalar(lambda ls: _axis_nll(np.exp(ls), 0.5, pos, lengths),
                              bounds=np.log(_SIGMA_BOUNDS), method="bounded", options={"xatol": 1e-6})
        return float(np.exp(res.x)), 0.5
    frac = (pos + 0.5) / lengths
    x0 = np.array([np.log(np.clip(frac.std(), *_SIGMA_BOUNDS)), frac.mean()])
    res = minimize(lambda p: _axis_nll(np.exp(p[0]), p[1], pos, lengths), x0, method="Nelder-Mead",
                   options={"xatol": 1e-7, "fatol": 1e-9, "maxiter": 2000})
    return float(np.clip(np.exp(res.x[0]), *_SIGMA_BOUNDS)), float(res.x[1])


@dataclass
class CenterBias(SaliencyModel):
    """Anisotropic Gaussian centre bias with σ and centre as fractions of the image size.

    Parameters
    ----------
    sigma_x, sigma_y : float
        Standard deviations as fractions of the image width and height
        (default 0.2 each, a stated prior; :meth:`fit` estimates them).
    mu_x, mu_y : float
        Centre as fractions of width and height (0.5, 0.5 = image centre).
    cv : dict or None
        Cross-validation record left by :meth:`fit` (per-fold σ and held-out
        information gain over a uniform density, bits per fixation).

    References
    ----------
    T. Judd et al., ICCV 2009; M. Kümmerer et al., PNAS 2015.
    """

    kind: ClassVar[str] = "baseline"

    name: ClassVar[str] = "center_bias"

    sigma_x: float = 0.2
    sigma_y: float = 0.2
    mu_x: float = 0.5
    mu_y: float = 0.5
    center_prior: bool = True
    cv: dict[str, Any] | None = field(default=None, repr=False, compare=False)

    def __post_init__(self) -> None:
        for arg in ("sigma_x", "sigma_y"):
            v = float(getattr(self, arg))
            if not (np.isfinite(v) and v > 0):
                raise ModelError(f"CenterBias: {arg} must be a positive fraction of the image size, got {v}")
        for arg in ("mu_x", "mu_y"):
            if not np.isfinite(float(getattr(self, arg))):
                raise ModelError(f"CenterBias: {arg} must be finite, got {getattr(self, arg)}")
        if not self.center_prior:
            raise ModelError("CenterBias is nothing but a centre prior; center_prior=False is not meaningful "
                             "(use a uniform baseline instead)")

    # -- maps ----------------------------------------------------------------------------------

    def log_density_for_shape(self, shape: tuple[int, int]) -> np.ndarray:
        """Exact log-density (natural log, sums to one in probability) on an ``H×W`` pixel grid."""
        h, w = int(shape[0]), int(shape[1])
        if h < 1 or w < 1:
            raise ModelError(f"CenterBias: shape must be positive, got {shape}")
        return _log_axis(h, self.sigma_y, self.mu_y)[:, None] + _log_axis(w, self.sigma_x, self.mu_x)[None, :]

    def saliency_map(self, image: np.ndarray) -> np.ndarray:
        """The centre-bias density on ``image``'s pixel grid (sums to one)."""
        h, w = as_rgb_image(image).shape[:2]
        return np.exp(self.log_density_for_shape((h, w)))

    def log_density(self, image: np.ndarray) -> np.ndarray:
        """Log of the centre-bias density on ``image``'s pixel grid (exact, no floor)."""
        h, w = as_rgb_image(image).shape[:2]
        return self.log_density_for_shape((h, w))

    def log_likelihood(self, cols: np.ndarray, rows: np.ndarray, sizes: np.ndarray) -> np.ndarray:
        """Log-density (nats) at integer pixels ``(rows, cols)`` of images with ``sizes`` (N×2: H, W)."""
        sizes = np.asarray(sizes, dtype=np.int64).reshape(-1, 2)
        out = np.empty(len(cols))
        for (h, w) in np.unique(sizes, axis=0):
            sel = (sizes[:, 0] == h) & (sizes[:, 1] == w)
            out[sel] = (_log_axis(int(h), self.sigma_y, self.mu_y)[rows[sel]]
                        + _log_axis(int(w), self.sigma_x, self.mu_x)[cols[sel]])
        return out

    # -- fitting -------------------------------------------------------------------------------

    @classmethod
    def fit(cls, dataset, *, folds: int = 5, seed: int = 0, fit_mean: bool = False) -> "CenterBias":
        """Maximum-likelihood centre bias of a :class:`~salscope.data.Dataset`'s fixations, cross-validated.

        Images are split into ``folds`` groups (random with ``seed``); σ is fitted
        on the other folds and scored on each held-out fold as information gain
        over a uniform density (bits per fixation). The returned model is fitted
        on all images; its ``cv`` attribute holds the per-fold figures.
        """
        fx = dataset.fixations
        sizes = dataset.stimuli.sizes
        return cls.fit_fixations(fx.x, fx.y, fx.n, sizes, folds=folds, seed=seed, fit_mean=fit_mean)

    @classmethod
    def fit_fixations(cls, x: np.ndarray, y: np.ndarray, n: np.ndarray, sizes: Sequence[tuple[int, int]], *,
                      folds: int = 5, seed: int = 0, fit_mean: bool = False) -> "CenterBias":
        """Like :meth:`fit` from flat arrays: 0-based ``x`` (column), ``y`` (row), image index ``n``, ``sizes`` (H, W)."""
        x = np.asarray(x, dtype=np.float64).ravel()
        y = np.asarray(y, dtype=np.float64).ravel()
        n = np.asarray(n, dtype=np.int64).ravel()
        size_arr = np.asarray(sizes, dtype=np.int64).reshape(-1, 2)
        if not (x.size == y.size == n.size) or x.size == 0:
            raise ModelError(f"CenterBias.fit: x, y, n must be equal-length and non-empty, got "
                             f"{x.size}, {y.size}, {n.size}")
        if n.min() < 0 or n.max() >= len(size_arr):
            raise ModelError(f"CenterBias.fit: image indices n must lie in 0..{len(size_arr) - 1}")
        cols = np.floor(x + 0.5).astype(np.int64)
        rows = np.floor(y + 0.5).astype(np.int64)
        hs, ws = size_arr[n, 0], size_arr[n, 1]
        inside = (cols >= 0) & (cols < ws) & (rows >= 0) & (rows < hs)
        if not inside.all():
            raise ModelError(f"CenterBias.fit: {int((~inside).sum())} fixations lie outside their image; "
                             f"check the coordinates are 0-based pixels (x = column, y = row)")
        folds = int(folds)
        if folds < 2 or folds > len(np.unique(n)):
            raise ModelError(f"CenterBias.fit: folds must lie in 2..{len(np.unique(n))} (number of images), "
                             f"got {folds}")

        def _fit(sel: np.ndarray) -> "CenterBias":
            sx, mx = _fit_axis(cols[sel], ws[sel], fit_mean)
            sy, my = _fit_axis(rows[sel], hs[sel], fit_mean)
            return cls(sigma_x=sx, sigma_y=sy, mu_x=mx, mu_y=my)

        images = np.unique(n)
        perm = np.random.default_rng(seed).permutation(images)
        fold_of = np.empty(int(images.max()) + 1, dtype=np.int64)
        fold_of[perm] = np.arange(perm.size) % folds
        record: dict[str, Any] = {"folds": folds, "seed": int(seed), "fit_mean": bool(fit_mean),
                                  "sigma_x": [], "sigma_y": [], "mu_x": [], "mu_y": [], "heldout_ig_bits": []}
        for k in range(folds):
            test = fold_of[n] == k
            model = _fit(~test)
            ll = model.log_likelihood(cols[test], rows[test], np.stack([hs[test], ws[test]], axis=1))
            ig = (ll + np.log(hs[test] * ws[test].astype(np.float64))) / np.log(2.0)
            record["sigma_x"].append(model.sigma_x)
            record["sigma_y"].append(model.sigma_y)
            record["mu_x"].append(model.mu_x)
            record["mu_y"].append(model.mu_y)
            record["heldout_ig_bits"].append(float(ig.mean()))
        record["mean_heldout_ig_bits"] = float(np.mean(record["heldout_ig_bits"]))
        final = _fit(np.ones(n.size, dtype=bool))
        final.cv = record
        return final


@register_model("center_bias", kind="baseline")
def _make_center_bias(**kwargs) -> CenterBias:
    return CenterBias(**kwargs)


__all__ = ["CenterBias"]
