"""MATLAB-compatible map resizing and blurring used by the ``"mit"`` convention.

:func:`imresize` is MATLAB's bicubic ``imresize`` (what every cvzoya metric calls
before scoring); :func:`antonio_gaussian` is the frequency-domain Gaussian blur
the MIT benchmark uses to make continuous fixation maps.
"""

from __future__ import annotations

import math
from functools import lru_cache
from typing import Any, Sequence

import numpy as np

from salscope.errors import MetricError


def _cubic(x: np.ndarray) -> np.ndarray:
    """Keys' cubic convolution kernel with a = -0.5 (MATLAB/Octave ``imresize`` 'bicubic')."""
    ax = np.abs(x)
    ax2, ax3 = ax * ax, ax * ax * ax
    return (1.5 * ax3 - 2.5 * ax2 + 1) * (ax <= 1) + (-0.5 * ax3 + 2.5 * ax2 - 4 * ax + 2) * ((ax > 1) & (ax <= 2))


@lru_cache(maxsize=256)
def resize_matrix(
    in_length: int,
    out_length: int,
    scale: float | None = None,
    antialias: bool = True,
    normalize: bool = True,
) -> np.ndarray:
    """The ``out_length × in_length`` matrix of MATLAB's 1-D bicubic ``imresize`` (``contributions``).

    Output sample ``x`` (1-based) maps to input position ``u = x/s + (1 - 1/s)/2``
    with ``s = scale`` (default ``out_length / in_length``). When shrinking
    (``s < 1``) and ``antialias`` the kernel is stretched by ``1/s`` (MATLAB's
    default antialiasing). Out-of-range taps are folded back by symmetric
    (mirror) padding, as MATLAB's ``contributions`` does. MATLAB normalises each
    row of weights to sum to one (``normalize=True``); Octave's image package
    (2.14) does not, which matters only when shrinking by a non-power-of-two
    factor (row sums 0.984–1.016 for 37 → 24 px). The matrix is cached and
    read-only.
    """
    scale = out_length / in_length if scale is None else float(scale)
    width = 4.0
    if scale < 1 and antialias:
        kernel = lambda x: scale * _cubic(scale * x)  # noqa: E731
        width = width / scale
    else:
        kernel = _cubic
    x = np.arange(1, out_length + 1, dtype=np.float64)
    u = x / scale + 0.5 * (1 - 1 / scale)
    left = np.floor(u - width / 2)
    taps = int(math.ceil(width)) + 2
    idx = left[:, None] + np.arange(taps)[None, :]
    w = kernel(u[:, None] - idx)
    if normalize:
        w = w / w.sum(axis=1, keepdims=True)
    mirror = np.concatenate([np.arange(in_length), np.arange(in_length - 1, -1, -1)])
    idx = mirror[np.mod(idx.astype(np.int64) - 1, 2 * in_length)]
    mat = np.zeros((out_length, in_length))
    np.add.at(mat, (np.repeat(np.arange(out_length), taps), idx.ravel()), w.ravel())
    mat.setflags(write=False)
    return mat


_BLOCK = 1024  # rows/columns per matrix product: temporaries stay 1024 × side


def imresize(
    image: Any,
    output_shape: Sequence[int] | float | None = None,
    *,
    scale: float | None = None,
    antialias: bool = True,
    normalize: bool = True,
) -> np.ndarray:
    """Resize a 2-D map or ``H×W×C`` image like MATLAB's ``imresize`` (bicubic, antialiased when shrinking).

    Separable Keys cubic kernel (a = -0.5); output pixel ``x`` (1-based) samples
    input position ``u = x / scale + (1 - 1 / scale) / 2``; when shrinking, the
    kernel is widened by ``1 / scale``; weights are normalised to sum 1
    (``normalize=False``: Octave's unnormalised weights); borders are mirrored
    (symmetric padding). ``output_shape`` is ``(rows, cols)`` (each axis uses
    ``scale = out / in``) or a scale factor, which may also be given as
    ``scale=`` (size ``ceil(scale * in)``, both axes use ``scale``, as MATLAB).
    An axis whose length and scale are unchanged is not resampled. Computed as
    ``R @ image @ C.T`` with the matrices of :func:`resize_matrix`, in blocks
    of 1024 rows/columns; integer images (uint8) are not copied to float64 whole.

    Enlarging reproduces GNU Octave's ``imresize`` to rounding (checked on the
    MIT reference vectors); shrinking follows MATLAB (Octave does not
    renormalise the antialiased weights).

    References
    ----------
    MATLAB ``imresize`` (Image Processing Toolbox), ``contributions`` and
    ``cubic`` sub-functions; Keys, R. "Cubic convolution interpolation for
    digital image processing", IEEE TASSP 29 (1981).
    """
    arr = np.asarray(image)
    if not (np.issubdtype(arr.dtype, np.floating) or np.issubdtype(arr.dtype, np.integer)):
        arr = arr.astype(np.float64)
    if arr.ndim not in (2, 3):
        raise MetricError(f"imresize: expected a 2-D map or an H×W×C image, got shape {arr.shape}")
    if scale is None and output_shape is not None and np.isscalar(output_shape):
        scale, output_shape = float(output_shape), None  # type: ignore[arg-type]
    h, w = arr.shape[:2]
    if output_shape is None:
        if scale is None or not scale > 0:
            raise MetricError(f"imresize: scale must be positive, got {scale!r}")
        rows, cols = int(math.ceil(scale * h)), int(math.ceil(scale * w))
        sy = sx = float(scale)
    else:
        rows, cols = (int(v) for v in output_shape)
        if rows < 1 or cols < 1:
            raise MetricError(f"imresize: output shape must be positive, got {(rows, cols)}")
        sy, sx = rows / h, cols / w
    flat = arr.reshape(h, w, -1)
    if (rows, sy) != (h, 1.0):
        my = resize_matrix(h, rows, sy, antialias, normalize)
        tmp = np.empty((rows, w, flat.shape[2]))
        for c in range(flat.shape[2]):
            for j in range(0, w, _BLOCK):
                tmp[:, j : j + _BLOCK, c] = my @ flat[:, j : j + _BLOCK, c]
        flat = tmp
    if (cols, sx) != (w, 1.0):
        mx = resize_matrix(w, cols, sx, antialias, normalize)
        tmp = np.empty((rows, cols, flat.shape[2]))
        for c in range(flat.shape[2]):
            for i in range(0, rows, _BLOCK):
                tmp[i : i + _BLOCK, :, c] = flat[i : i + _BLOCK, :, c] @ mx.T
        flat = tmp
    return np.array(flat, dtype=np.float64).reshape((rows, cols) + arr.shape[2:])


def antonio_gaussian(image: Any, fc: float = 8.0) -> np.ndarray:
    """Low-pass a map with the MIT benchmark's frequency-domain Gaussian.

    ``n = 2^ceil(log2(m + m mod 2))`` with ``m = max(H, W)``; transfer function
    ``exp(-(fx² + fy²) / s²)``, ``s = fc / sqrt(log 2)`` on the ``n × n``
    frequency grid; the map is zero-padded to ``n × n`` (bottom/right), filtered
    by FFT (circular), and cropped back. ``fc = 8`` cycles per image is about
    one degree of visual angle in the MIT benchmark.

    References
    ----------
    cvzoya/saliency ``code_forMetrics/antonioGaussian.m`` (A. Torralba).
    """
    img = np.asarray(image, dtype=np.float64)
    if img.ndim != 2:
        raise MetricError(f"antonio_gaussian: expected a 2-D map, got shape {img.shape}")
    m = max(img.shape)
    n = int(2 ** math.ceil(math.log2(m + m % 2)))
    f = np.arange(n) - n / 2
    fx, fy = np.meshgrid(f, f)
    s = fc / math.sqrt(math.log(2))
    gf = np.fft.fftshift(np.exp(-(fx**2 + fy**2) / s**2))
    out = np.real(np.fft.ifft2(np.fft.fft2(img, s=(n, n)) * gf))
    return out[: img.shape[0], : img.shape[1]]
