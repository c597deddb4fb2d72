"""Building blocks shared by Itti-Koch and GBVS, following Harel's MATLAB GBVS package.

Each function re-implements one piece of the original package (named in its
docstring) from its documented behaviour: MATLAB-style bicubic ``imresize``,
the SaliencyToolbox 6-tap Gaussian subsampling (``mySubsample``), the DKL
colour transform (``rgb2dkl``), Gabor filters (``makeGaborFilterGBVS``),
replicate-border convolution (``myconv2``), border attenuation, the
Itti-Koch ``maxNormalizeStd`` operator and the GBVS Markov-chain activation
(``graphsalapply``).

References
----------
J. Harel, C. Koch, P. Perona, "Graph-Based Visual Saliency", NIPS 2006; the
GBVS MATLAB package (readme revision 7/24/2012), files ``gbvs.m``,
``util/getFeatureMaps.m``, ``algsrc/graphsalapply.m``,
``saltoolbox/mySubsample.cc``, ``util/rgb2dkl.m``, ``saltoolbox/makeGaborFilterGBVS.m``.
D. Walther, C. Koch, "Modeling attention to salient proto-objects", Neural
Networks 19 (2006) — the SaliencyToolbox routines GBVS reuses.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache

import cv2
import numpy as np

from salscope.metrics.resize import imresize, resize_matrix  # noqa: F401 (MATLAB imresize, shared with the metrics)

# ---------------------------------------------------------------------------------------------
# MATLAB-style resizing (salscope.metrics.resize: imresize(..., normalize=False) is Octave's) and scaling


def is_flat(a: np.ndarray) -> bool:
    """True when a map is constant up to rounding: range ≤ 1e-12 × max(1, |values|).

    Such maps (a uniform image's Gabor energy is ~1e-16, not 0) carry no
    contrast; scaling them to [0, 1] would amplify rounding noise into structure.
    """
    lo, hi = float(np.min(a)), float(np.max(a))
    return not (hi - lo > 1e-12 * max(1.0, abs(hi), abs(lo)))


def mat2gray(a: np.ndarray, out: bool = False) -> np.ndarray:
    """Scale to [0, 1] by min and max (MATLAB ``mat2gray``); a flat map gives zeros, never NaN.

    ``out=True`` rescales a float64 array in place (large output maps).
    """
    a = np.asarray(a, dtype=np.float64)
    res = a if out else a.copy()
    if is_flat(a):
        res[...] = 0.0
        return res
    lo, hi = float(a.min()), float(a.max())
    res -= lo
    res /= hi - lo
    return res


# ---------------------------------------------------------------------------------------------
# Pyramid: SaliencyToolbox 6-tap subsampling (mySubsample.cc)

_TAPS = np.array([1.0, 5.0, 10.0, 10.0, 5.0, 1.0])


def _decimate(a: np.ndarray, axis: int) -> np.ndarray:
    """Low-pass with [1 5 10 10 5 1]/32 and keep every other sample along ``axis`` (``lowPass6*Dec*``).

    Output ``k`` weighs inputs ``2k-2 .. 2k+3``; taps falling outside the signal
    are dropped and the rest renormalised (the /26 and /31 edge kernels of the
    original). Length 3 uses [1 2 1]/4, length 2 uses [1 1]/2, as the original.
    Arithmetic in float64, result stored as float32 like the mex file.
    """
    x = np.moveaxis(np.asarray(a, dtype=np.float64), axis, -1)
    n = x.shape[-1]
    if n == 2:
        out = 0.5 * (x[..., 0:1] + x[..., 1:2])
    elif n == 3:
        out = 0.25 * x[..., 0:1] + 0.5 * x[..., 1:2] + 0.25 * x[..., 2:3]
    else:
        m = n // 2
        right = max(0, 2 * m + 4 - (n + 2))
        xp = np.pad(x, [(0, 0)] * (x.ndim - 1) + [(2, right)])
        valid = np.pad(np.ones(n), (2, right))
        out = np.zeros(x.shape[:-1] + (m,))
        norm = np.zeros(m)
        for j, tap in enumerate(_TAPS):
            out += tap * xp[..., j:j + 2 * m:2]
            norm += tap * valid[j:j + 2 * m:2]
        out /= norm
    return np.moveaxis(out.astype(np.float32), -1, axis)


def subsample(a: np.ndarray) -> np.ndarray:
    """Halve a map with a 6×6 separable Gaussian-like kernel (``mySubsample``).

    Maps whose height or width is 10 or less come back unchanged, as in the
    original. Computed in float32 like the original mex file, returned as float64.
    """
    h, w = a.shape
    if h <= 10 or w <= 10:
        return np.array(a, dtype=np.float64)
    # float32 storage between passes, float64 arithmetic within (as the mex file's C promotions)
    a32 = np.asarray(a, dtype=np.float32)
    return _decimate(_decimate(a32, axis=1), axis=0).astype(np.float64)


# ---------------------------------------------------------------------------------------------
# Colour: DKL (rgb2dkl.m)

# Monitor gamma lookup table of GBVS's rgb2dkl.m: 256 entries per gun, piecewise linear
# between every fifth entry (1, 6, ..., 256); these are those 52 knots. Interpolating
# them reproduces the table to its printed precision (5 significant digits).
_DKL_LUT_KNOTS = np.array([
    [0.024935, 0.0076954, 0.042291], [0.02513, 0.0079158, 0.042566], [0.025649, 0.0082966, 0.042841],
    [0.026136, 0.0088978, 0.043392], [0.026623, 0.0096994, 0.043943], [0.027597, 0.010802, 0.044934],
    [0.028896, 0.011764, 0.046366], [0.029935, 0.013287, 0.047797], [0.031623, 0.01517, 0.050441],
    [0.034286, 0.017856, 0.053414], [0.037662, 0.022044, 0.058811], [0.042468, 0.028056, 0.064978],
    [0.049416, 0.036072, 0.074119], [0.058442, 0.046493, 0.085903], [0.068182, 0.057715, 0.096366],
    [0.07987, 0.069739, 0.10914], [0.091558, 0.082766, 0.12225], [0.1039, 0.096994, 0.13767],
    [0.11883, 0.11343, 0.15529], [0.13506, 0.13106, 0.17401], [0.15325, 0.1507, 0.19493],
    [0.17338, 0.17315, 0.21806], [0.19675, 0.19719, 0.24229], [0.22078, 0.22244, 0.26872],
    [0.2474, 0.2505, 0.29626], [0.27532, 0.28056, 0.32599], [0.30649, 0.31263, 0.35793],
    [0.33701, 0.34469, 0.38767], [0.36818, 0.37675, 0.4174], [0.3987, 0.40882, 0.44604],
    [0.42987, 0.44088, 0.47577], [0.46169, 0.47094, 0.5033], [0.49286, 0.501, 0.52863],
    [0.51883, 0.53106, 0.55507], [0.54675, 0.55912, 0.57819], [0.57208, 0.58517, 0.60242],
    [0.59545, 0.60922, 0.62225], [0.62143, 0.63327, 0.64648], [0.64351, 0.65731, 0.6685],
    [0.66883, 0.67735, 0.68943], [0.68831, 0.69739, 0.71035], [0.70779, 0.72144, 0.72907],
    [0.72727, 0.73948, 0.7511], [0.75325, 0.75952, 0.77093], [0.77273, 0.78156, 0.79626],
    [0.7987, 0.80762, 0.82159], [0.83117, 0.83367, 0.84802], [0.85714, 0.85972, 0.87225],
    [0.88961, 0.89178, 0.90198], [0.92208, 0.92585, 0.93943], [0.95455, 0.96192, 0.96696],
    [1.0, 1.0, 1.0],
])
DKL_LUT = np.stack([np.interp(np.arange(256), np.arange(0, 256, 5), _DKL_LUT_KNOTS[:, c])
                    for c in range(3)], axis=1)
# Cone excitations of the adapting white, RGB->LMS matrix, and DKL axis scalings of rgb2dkl.m.
_LMS0 = np.array([34.918538957799996, 19.314796676499999, 0.585610818500000])
_RGB2LMS = np.array([[18.32535, 44.60077, 7.46216],
                     [4.09544, 28.20135, 6.66066],
                     [0.02114, 0.10325, 1.05258]])
_DKL_SCALE = np.array([0.5774, 2.7525, 0.4526])


def _lms2dkl_matrix() -> np.ndarray:
    l0, m0, s0 = _LMS0
    fac = 1.0 / (l0 + m0)
    r = np.sqrt(l0 * l0 + m0 * m0)
    return np.array([[np.sqrt(3.0) * fac, np.sqrt(3.0) * fac, 0.0],
                     [r / l0 * fac, -r / m0 * fac, 0.0],
                     [-fac, -fac, (l0 + m0) / s0 * fac]])


_LMS2DKL = _lms2dkl_matrix()


def rgb2dkl(r: np.ndarray, g: np.ndarray, b: np.ndarray) -> np.ndarray:
    """DKL (luminance, L−M, S−(L+M)) channels of an RGB image in [0, 1] (GBVS ``rgb2dkl.m``).

    Each gun goes through the monitor gamma table at index ``ceil(255 v)``
    (clipped to 1..256), then to LMS cone excitations minus the adapting white,
    then to the three DKL axes, each scaled to unit range. Returns ``H×W×3``.

    References
    ----------
    A. M. Derrington, J. Krauskopf, P. Lennie, "Chromatic mechanisms in lateral
    geniculate nucleus of macaque", J. Physiol. 357 (1984).
    """
    lin = []
    for c, v in enumerate((r, g, b)):
        idx = np.clip(np.ceil(np.asarray(v, dtype=np.float64) * 255.0), 1, 256).astype(np.int64) - 1
        lin.append(DKL_LUT[idx, c])
    lin_arr = np.stack(lin, axis=-1)
    lms = lin_arr @ _RGB2LMS.T - _LMS0
    return (lms @ _LMS2DKL.T) * _DKL_SCALE


# ---------------------------------------------------------------------------------------------
# Filters


@lru_cache(maxsize=64)
def gabor_filter(angle: float, phase: float, stddev: float = 2.0, elongation: float = 2.0,
                 filter_size: int = -1, filter_period: float = np.pi) -> np.ndarray:
    """Zero-mean, unit-energy Gabor kernel (``makeGaborFilterGBVS``).

    ``cos(ω·major + ψ) · exp(−major²/(2σ²) − minor²/(2(eσ)²))`` with ω = 2π/period,
    σ = ``stddev`` along the carrier, ``e`` = ``elongation``; half size
    ``ceil(max(σ, eσ)·√10)`` when ``filter_size`` is −1 (27×27 by default).
    """
    minor_std = stddev * elongation
    half = int(np.ceil(max(minor_std, stddev) * np.sqrt(10.0))) if filter_size < 0 else int(filter_size // 2)
    psi = np.deg2rad(phase)
    th = np.deg2rad(angle)
    omega = 2.0 * np.pi / filter_period
    co, si = np.cos(th), -np.sin(th)
    v = np.arange(-half, half + 1, dtype=np.float64)
    rows, cols = np.meshgrid(v, v, indexing="ij")
    major = rows * co + cols * si
    minor = rows * si - cols * co
    k = np.cos(omega * major + psi) * np.exp(-major ** 2 / (2 * stddev ** 2) - minor ** 2 / (2 * minor_std ** 2))
    k = k - k.mean()
    k = k / np.sqrt(np.sum(k * k))
    k.setflags(write=False)
    return k


def conv2_replicate(a: np.ndarray, kernel: np.ndarray) -> np.ndarray:
    """2-D convolution, output the size of ``a``, edges replicated (GBVS ``myconv2``)."""
    # filter2D correlates; flipping the (odd-sized) kernel makes it a convolution.
    k = np.ascontiguousarray(kernel[::-1, ::-1], dtype=np.float64)
    return cv2.filter2D(np.asarray(a, dtype=np.float64), cv2.CV_64F, k, borderType=cv2.BORDER_REPLICATE)


def gauss_kernel(std: float, nstds: float = 2.0) -> np.ndarray:
    """Normalised 1-D Gaussian of half width ``round(std·nstds)`` (GBVS ``mygausskernel``)."""
    half = int(np.round(std * nstds))
    x = np.arange(-half, half + 1, dtype=np.float64)
    k = np.exp(-x * x / (2.0 * std * std))
    return k / k.sum()


def attenuate_borders(a: np.ndarray, border: int) -> np.ndarray:
    """Linearly attenuate a ``border``-wide frame to zero (``attenuateBordersGBVS``).

    The k-th row/column from each edge (k = 1..b) is multiplied by k/(b+1); ``b``
    shrinks to half the map's height or width when the map is too small.
    """
    out = np.array(a, dtype=np.float64)
    h, w = out.shape
    b = int(border)
    if 2 * b > h:
        b = h // 2
    if 2 * b > w:
        b = w // 2
    if b < 1:
        return out
    coeffs = np.arange(1, b + 1) / (b + 1.0)
    out[:b, :] *= coeffs[:, None]
    out[h - np.arange(1, b + 1), :] *= coeffs[:, None]
    out[:, :b] *= coeffs[None, :]
    out[:, w - np.arange(1, b + 1)] *= coeffs[None, :]
    return out


def local_maxima(data: np.ndarray, thresh: float) -> tuple[float, int]:
    """Mean and number of interior 4-neighbour local maxima ≥ ``thresh`` (``mexLocalMaximaGBVS``)."""
    if data.shape[0] < 3 or data.shape[1] < 3:
        return 0.0, 0
    c = data[1:-1, 1:-1]
    is_max = ((c >= data[:-2, 1:-1]) & (c >= data[2:, 1:-1]) & (c >= data[1:-1, :-2])
              & (c >= data[1:-1, 2:]) & (c >= thresh))
    n = int(is_max.sum())
    return (float(c[is_max].mean()) if n else 0.0), n


def max_normalize_std(data: np.ndarray, m: float = 10.0) -> np.ndarray:
    """Itti-Koch N(·): scale to [0, M], multiply by (M − mean of local maxima)² (``maxNormalizeStdGBVS``).

    Local maxima are counted above M/10. One maximum: factor M²; none: factor 1.

    References
    ----------
    L. Itti, C. Koch, E. Niebur, "A model of saliency-based visual attention for
    rapid scene analysis", IEEE PAMI 20(11), 1998, section 2.
    """
    d = mat2gray(data) * m
    avg, num = local_maxima(d, m / 10.0)
    if num > 1:
        return d * (m - avg) ** 2
    if num == 1:
        return d * m ** 2
    return d


# ---------------------------------------------------------------------------------------------
# GBVS graph


@dataclass(frozen=True, eq=False)
class GraphFrame:
    """Squared distances between the nodes (pixels) of a fully connected lattice (``graphsalinit``).

    Non-cyclic boundaries and a single resolution (``multilevels = []``, the default).
    Nodes are the map's pixels in row-major order.
    """

    shape: tuple[int, int]
    dist2: np.ndarray

    @classmethod
    @lru_cache(maxsize=4)  # 768 nodes: 4.7 MB per distance matrix
    def for_shape(cls, shape: tuple[int, int]) -> "GraphFrame":
        h, w = shape
        rr, cc = np.meshgrid(np.arange(h), np.arange(w), indexing="ij")
        r, c = rr.ravel().astype(np.float64), cc.ravel().astype(np.float64)
        d2 = (r[:, None] - r[None, :]) ** 2 + (c[:, None] - c[None, :]) ** 2
        d2.setflags(write=False)
        return cls((h, w), d2)

    def weights(self, sigma_frac: float) -> np.ndarray:
        """Gaussian distance weights exp(−d²/(2σ²)), σ = ``sigma_frac`` × mean map side."""
        return _distance_weights(self, float(sigma_frac))

    def degree(self, sigma_frac: float) -> np.ndarray:
        """Summed distance weight of each node: the bias the lattice borders give the chain."""
        return self.weights(sigma_frac).sum(axis=0).reshape(self.shape)


@lru_cache(maxsize=4)
def _distance_weights(frame: GraphFrame, sigma_frac: float) -> np.ndarray:
    sig = sigma_frac * (frame.shape[0] + frame.shape[1]) / 2.0
    w = np.exp(-frame.dist2 / (2.0 * sig * sig))
    w.setflags(write=False)
    return w


def principal_eigenvector(markov: np.ndarray, tol: float, max_iter: int = 10000) -> np.ndarray:
    """Equilibrium distribution of a column-stochastic matrix by power iteration (``principalEigenvectorRaw``).

    Starts from the uniform vector and stops when the L2 change of one step is
    at most ``tol``, as the original; the result is normalised to sum to one.
    """
    n = markov.shape[0]
    v = np.full(n, 1.0 / n)
    for _ in range(max_iter):
        new = markov @ v
        df = float(np.linalg.norm(v - new))
        s = float(new.sum())
        if not (s >= 0 and np.isfinite(s)):
            break
        v = new
        if df <= tol:
            break
    total = v.sum()
    return v / total if total > 0 else np.full(n, 1.0 / n)


def graph_activation(a: np.ndarray, frame: GraphFrame, sigma_frac: float, tol: float,
                     algtype: int = 2, num_iters: int = 1) -> np.ndarray:
    """GBVS Markov-chain activation/normalisation of a map (``graphsalapply``).

    Edge weight from node j to node i: ``w_ij = exp(−d²_ij/(2σ²)) · f(a)`` with
    ``f = |a_i − a_j|`` (``algtype`` 2, activation) or ``f = a_i`` (``algtype`` 1,
    mass concentration, normalisation type 2); columns are normalised to sum to
    one and the chain's equilibrium distribution is the new map (repeated
    ``num_iters`` times). A map without any dissimilarity (constant) has no
    well-defined chain; it gets an all-zero activation instead of the original's NaN
    ("constant" up to rounding, see :func:`is_flat`).
    """
    w = frame.weights(sigma_frac)
    v = np.asarray(a, dtype=np.float64).ravel()
    if algtype == 2 and is_flat(v):
        return np.zeros(frame.shape)
    for _ in range(int(num_iters)):
        if algtype == 2:
            mm = w * np.abs(v[:, None] - v[None, :])
        elif algtype == 1:
            mm = w * v[:, None]
        else:
            raise ValueError(f"algtype {algtype} is not supported")
        col = mm.sum(axis=0)
        if not np.all(col > 0):
            if np.all(col <= 0):
                return np.zeros(frame.shape)
            col = np.where(col > 0, col, 1.0)
        mm /= col[None, :]
        v = principal_eigenvector(mm, tol)
    return v.reshape(frame.shape)
