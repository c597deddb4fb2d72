"""ICA filters for AIM and SUN: FastICA in numpy, patch sampling, and the shipped filter files.

The learned filters live in ``salscope/resources/ica/`` (``aim_21x21.npz``,
``sun_11x11.npz``); :func:`learn_filter_bank` regenerates them and
``resources/ica/README.md`` records the exact command, image set, seed and counts.
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import Callable, Sequence

import numpy as np
from scipy.optimize import brentq
from scipy.special import gammaln

from salscope.errors import ModelError
from salscope.metrics.resize import imresize

FILTER_FILES = {"aim": "aim_21x21.npz", "sun": "sun_11x11.npz"}
# Shipped as package data (pyproject: resources/**/*).
RESOURCE_DIR = Path(__file__).resolve().parents[2] / "resources" / "ica"


def _sym_decorrelate(w: np.ndarray) -> np.ndarray:
    """Symmetric decorrelation ``W ← (W Wᵀ)^{-1/2} W``."""
    vals, vecs = np.linalg.eigh(w @ w.T)
    vals = np.maximum(vals, np.finfo(np.float64).tiny)
    return (vecs * (1.0 / np.sqrt(vals))) @ vecs.T @ w


def fastica(
    x: np.ndarray,
    n_components: int,
    *,
    seed: int = 0,
    max_iter: int = 400,
    tol: float = 1e-5,
    alpha: float = 1.0,
) -> dict[str, np.ndarray]:
    """Independent components of ``x`` (``n_samples × n_features``) by symmetric FastICA.

    Algorithm (Hyvärinen 1999): centre, PCA-whiten to ``n_components`` dimensions
    ``z = V (x - μ)``; start from a random orthogonal ``W`` (``seed``) and iterate the
    fixed point ``W ← E[g(Wz) zᵀ] - diag(E[g'(Wz)]) W`` with the log-cosh contrast
    ``g(u) = tanh(αu)``, followed by symmetric decorrelation, until
    ``max |1 - |diag(W_new Wᵀ)|| < tol``.

    Returns
    -------
    dict with ``unmixing`` (``n_components × n_features``: sources = unmixing @ (x - mean)),
    ``mixing`` (``n_features × n_components``), ``mean``, ``explained_variance`` (fraction kept
    by the whitening), ``n_iter`` and ``converged`` (0/1).

    References
    ----------
    A. Hyvärinen, "Fast and Robust Fixed-Point Algorithms for Independent Component
    Analysis", IEEE Trans. Neural Networks 10(3), 1999 (symmetric approach, log cosh).
    """
    x = np.asarray(x, dtype=np.float64)
    if x.ndim != 2 or x.shape[0] < 2:
        raise ModelError(f"fastica: x must be n_samples × n_features with n_samples >= 2, got {x.shape}")
    n, d = x.shape
    if not 1 <= n_components <= d:
        raise ModelError(f"fastica: n_components must be in 1..{d}, got {n_components}")
    mean = x.mean(axis=0)
    xc = x - mean
    cov = xc.T @ xc / n
    vals, vecs = np.linalg.eigh(cov)
    order = np.argsort(vals)[::-1][:n_components]
    vals, vecs = vals[order], vecs[:, order]
    if vals[-1] <= 0:
        raise ModelError("fastica: the data have fewer than n_components non-degenerate dimensions")
    whiten = (vecs / np.sqrt(vals)).T  # n_components × d
    dewhiten = vecs * np.sqrt(vals)  # d × n_components
    z = xc @ whiten.T  # n × k
    rng = np.random.default_rng(seed)
    w = _sym_decorrelate(rng.standard_normal((n_components, n_components)))
    converged, it = 0, 0
    for it in range(1, max_iter + 1):
        u = z @ w.T
        g = np.tanh(alpha * u)
        g_prime = alpha * (1.0 - g * g)
        w_new = _sym_decorrelate(g.T @ z / n - g_prime.mean(axis=0)[:, None] * w)
        change = float(np.max(np.abs(np.abs(np.einsum("ij,ij->i", w_new, w)) - 1.0)))
        w = w_new
        if change < tol:
            converged = 1
            break
    return {
        "unmixing": w @ whiten,
        "mixing": dewhiten @ w.T,
        "mean": mean,
        "explained_variance": np.array(vals.sum() / np.trace(cov)),
        "n_iter": np.array(it),
        "converged": np.array(converged),
    }


def sample_patches(images: Sequence[np.ndarray], size: int, n_patches: int, *, seed: int = 0) -> np.ndarray:
    """``n_patches`` random ``size×size×3`` patches (rows, flattened) from float RGB images.

    Patches are spread over the images in proportion to their number of valid positions;
    positions are drawn uniformly with ``np.random.default_rng(seed)``.
    """
    rng = np.random.default_rng(seed)
    valid = np.array([(im.shape[0] - size + 1) * (im.shape[1] - size + 1) for im in images], dtype=np.float64)
    if np.any(valid <= 0):
        raise ModelError(f"sample_patches: every image must be at least {size}×{size}")
    which = rng.choice(len(images), size=n_patches, p=valid / valid.sum())
    out = np.empty((n_patches, size * size * 3), dtype=np.float64)
    offsets = np.arange(size)
    for k, im in enumerate(images):
        sel = np.nonzero(which == k)[0]
        if sel.size == 0:
            continue
        rows = rng.integers(0, im.shape[0] - size + 1, size=sel.size)
        cols = rng.integers(0, im.shape[1] - size + 1, size=sel.size)
        patches = im[(rows[:, None] + offsets)[:, :, None], (cols[:, None] + offsets)[:, None, :]]
        out[sel] = patches.reshape(sel.size, -1)
    return out


def fit_generalized_gaussian(values: np.ndarray) -> tuple[float, float]:
    """Scale σ and shape θ of a zero-mean generalised Gaussian by moment matching.

    ``p(x) = θ / (2σΓ(1/θ)) · exp(-|x/σ|^θ)``; θ solves
    ``(E|x|)² / E[x²] = Γ(2/θ)² / (Γ(1/θ) Γ(3/θ))`` and ``σ = (θ · E|x|^θ)^{1/θ}``.
    """
    v = np.asarray(values, dtype=np.float64).ravel()
    m1, m2 = float(np.mean(np.abs(v))), float(np.mean(v * v))
    if not m2 > 0:
        raise ModelError("fit_generalized_gaussian: values are all zero")
    target = m1 * m1 / m2

    def ratio(theta: float) -> float:
        return math.exp(2 * gammaln(2 / theta) - gammaln(1 / theta) - gammaln(3 / theta)) - target

    lo, hi = 0.05, 20.0
    theta = hi if ratio(hi) < 0 else (lo if ratio(lo) > 0 else brentq(ratio, lo, hi, xtol=1e-10))
    sigma = (theta * float(np.mean(np.abs(v) ** theta))) ** (1.0 / theta)
    return sigma, theta


def training_images() -> tuple[list[str], list[np.ndarray]]:
    """The documented training set: scikit-image's bundled colour photographs, float RGB in [0, 1].

    astronaut, chelsea (cat), coffee, rocket, and both views of stereo_motorcycle; all
    ship inside the scikit-image wheel (no download). Needs scikit-image (a test extra).
    """
    try:
        from skimage import data  # noqa: PLC0415 (optional, only for re-learning)
    except ImportError as exc:  # pragma: no cover - scikit-image is a test dependency
        raise ModelError("learning ICA filters needs scikit-image: pip install scikit-image") from exc
    left, right, _ = data.stereo_motorcycle()
    named = [
        ("astronaut", data.astronaut()),
        ("chelsea", data.chelsea()),
        ("coffee", data.coffee()),
        ("rocket", data.rocket()),
        ("stereo_motorcycle_left", left),
        ("stereo_motorcycle_right", right),
    ]
    return [n for n, _ in named], [np.asarray(im[:, :, :3], dtype=np.float64) / 255.0 for _, im in named]


# Configurations of the shipped files; README.md in resources/ica quotes them.
CONFIGS = {
    "aim": {"patch_size": 21, "n_patches": 30000, "variance": 0.99, "max_components": 150, "seed": 0,
            "tol": 1e-4, "max_iter": 1000},
    "sun": {"patch_size": 11, "n_patches": 50000, "variance": 0.999, "max_components": 120, "seed": 1,
            "tol": 1e-5, "max_iter": 400, "remove_dc": True},
}


def learn_filter_bank(
    kind: str,
    *,
    images: tuple[list[str], list[np.ndarray]] | None = None,
    progress: Callable[[str], None] | None = None,
    **overrides,
) -> dict[str, np.ndarray]:
    """Learn the ICA filter bank for ``kind`` ('aim' or 'sun') with :data:`CONFIGS` (or ``overrides``).

    Patches (``patch_size²×3``, RGB in [0, 1]) from :func:`training_images`, PCA keeping
    the fewest components that explain ``variance`` of it (at most ``max_components``),
    then :func:`fastica` (``tol``, ``max_iter``). With ``remove_dc`` (SUN) each patch's
    mean is subtracted first, as the paper's 11·11·3 - 1 = 362 features imply. For SUN each filter's response on the training patches is fitted
    by a generalised Gaussian (:func:`fit_generalized_gaussian`).
    """
    if kind not in CONFIGS:
        raise ModelError(f"learn_filter_bank: kind must be 'aim' or 'sun', got {kind!r}")
    cfg = {**CONFIGS[kind], **overrides}
    names, imgs = images if images is not None else training_images()
    size = int(cfg["patch_size"])
    x = sample_patches(imgs, size, int(cfg["n_patches"]), seed=int(cfg["seed"]))
    if cfg.get("remove_dc", False):
        # SUN's 362 = 11·11·3 - 1 features: each patch's mean (its DC) is removed, so every
        # learned filter is orthogonal to a constant patch.
        x = x - x.mean(axis=1, keepdims=True)
    xc = x - x.mean(axis=0)
    vals = np.linalg.eigvalsh(xc.T @ xc / len(x))[::-1]
    frac = np.cumsum(vals) / vals.sum()
    k = int(min(np.searchsorted(frac, float(cfg["variance"])) + 1, int(cfg["max_components"])))
    if progress:
        progress(f"{kind}: {len(x)} patches of {size}×{size}×3, {k} components")
    res = fastica(x, k, seed=int(cfg["seed"]), tol=float(cfg["tol"]), max_iter=int(cfg["max_iter"]))
    out = {
        "filters": res["unmixing"].reshape(k, size, size, 3).astype(np.float32),
        "mean": res["mean"].reshape(size, size, 3).astype(np.float32),
        "explained_variance": res["explained_variance"],
        "n_iter": res["n_iter"],
        "converged": res["converged"],
        "seed": np.array(int(cfg["seed"])),
        "n_patches": np.array(int(cfg["n_patches"])),
        "images": np.array(names),
    }
    if kind == "sun":
        responses = (x - res["mean"]) @ out["filters"].reshape(k, -1).astype(np.float64).T
        fits = np.array([fit_generalized_gaussian(responses[:, i]) for i in range(k)])
        out["ggd_sigma"], out["ggd_theta"] = fits[:, 0], fits[:, 1]
    return out


def load_filter_bank(kind: str, path: str | Path | None = None) -> dict[str, np.ndarray]:
    """The shipped ICA filter bank for 'aim' or 'sun' (or the ``.npz`` at ``path``).

    ``filters`` is ``K × p × p × 3`` (float32, applied by correlation to RGB in [0, 1]),
    ``mean`` the ``p × p × 3`` training mean patch; SUN files add ``ggd_sigma``, ``ggd_theta``.
    """
    if kind not in FILTER_FILES:
        raise ModelError(f"load_filter_bank: kind must be 'aim' or 'sun', got {kind!r}")
    if path is None:
        p = RESOURCE_DIR / FILTER_FILES[kind]
        if not p.is_file():
            raise ModelError(f"ICA filter file {p} is missing; regenerate it with scripts/learn_ica.py")
    else:
        p = Path(path)
        if not p.is_file():
            raise ModelError(f"filters: {p} does not exist; give an .npz made by scripts/learn_ica.py")
    with np.load(p) as data:
        bank = {key: data[key] for key in data.files}
    f = bank.get("filters")
    if f is None or f.ndim != 4 or f.shape[1] != f.shape[2] or f.shape[3] != 3 or f.shape[1] % 2 == 0:
        raise ModelError(f"ICA filter file for {kind!r}: 'filters' must be K×p×p×3 with odd p")
    if kind == "sun" and not {"ggd_sigma", "ggd_theta"} <= set(bank):
        raise ModelError("ICA filter file for 'sun' lacks ggd_sigma/ggd_theta")
    return bank


def prepare_image(rgb: np.ndarray, scale: float, max_dim: int, patch_size: int) -> np.ndarray:
    """RGB uint8 → float in [0, 1], resized by ``scale`` (MATLAB bicubic), longer side at most ``max_dim``.

    An image whose shorter side would fall below ``patch_size`` is enlarged so that it
    equals ``patch_size`` (one valid patch position at least).
    """
    h, w = rgb.shape[:2]
    factor = min(float(scale), float(max_dim) / max(h, w))
    out_h, out_w = max(1, math.ceil(factor * h)), max(1, math.ceil(factor * w))
    short = min(out_h, out_w)
    if short < patch_size:
        out_h, out_w = math.ceil(out_h * patch_size / short), math.ceil(out_w * patch_size / short)
        out_h, out_w = max(out_h, patch_size), max(out_w, patch_size)
    if (out_h, out_w) == (h, w):
        return rgb.astype(np.float64) / 255.0
    return imresize(rgb, output_shape=(out_h, out_w)) / 255.0  # uint8 in: no full-size float copy


def valid_responses(image: np.ndarray, filters: np.ndarray, chunk: int = 16):
    """Yield ``(start, responses)`` of ``filters`` (``K×p×p×3``) correlated with ``image`` (``H×W×3``).

    ``responses[k, i, j] = Σ filters[start + k] * image[i:i+p, j:j+p]`` ('valid' region,
    ``(H-p+1) × (W-p+1)``), computed by FFT (in the dtype of ``image``: float32 halves the time) in chunks of ``chunk`` filters.
    """
    import scipy.fft as sfft  # noqa: PLC0415

    h, w = image.shape[:2]
    p = filters.shape[1]
    fh, fw = sfft.next_fast_len(h, real=True), sfft.next_fast_len(w, real=True)
    # Channel-first layouts: FFTs over contiguous trailing axes are several times faster.
    image_f = sfft.rfft2(np.moveaxis(image, 2, 0), s=(fh, fw), axes=(1, 2))  # 3 × fh × fw'
    flipped = np.ascontiguousarray(np.moveaxis(filters[:, ::-1, ::-1, :], 3, 1), dtype=image.dtype)
    for start in range(0, filters.shape[0], chunk):
        filt_f = sfft.rfft2(flipped[start : start + chunk], s=(fh, fw), axes=(2, 3))  # k × 3 × fh × fw'
        prod = filt_f[:, 0] * image_f[0]
        for c in range(1, image_f.shape[0]):
            prod += filt_f[:, c] * image_f[c]
        full = sfft.irfft2(prod, s=(fh, fw), axes=(1, 2))
        # Circular = linear convolution on rows/cols p-1..H-1: exactly the valid region.
        yield start, full[:, p - 1 : h, p - 1 : w]


def valid_map_to_image(valid: np.ndarray, prepared_shape: tuple[int, ...], patch_size: int,
                       out_shape: tuple[int, int]) -> np.ndarray:
    """Map over the 'valid' patch positions → ``out_shape`` map: pad with its minimum, resize (MATLAB bicubic).

    ``valid`` (``(H-p+1) × (W-p+1)`` on the prepared ``H × W`` image) is placed at
    offset ``(p-1)/2``, the border filled with ``min(valid)``, and the ``H × W``
    result resized to ``out_shape``. A flat map (range ≤ 1e-12 × max(1, max |v|))
    gives zeros. Shared by AIM and SUN.
    """
    if np.ptp(valid) <= 1e-12 * max(1.0, float(np.abs(valid).max())):
        return np.zeros(tuple(out_shape))
    half = (patch_size - 1) // 2
    full = np.full(tuple(prepared_shape[:2]), valid.min())
    full[half : half + valid.shape[0], half : half + valid.shape[1]] = valid
    return imresize(full, output_shape=out_shape)
