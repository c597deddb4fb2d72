"""MATLAB-compatible map resizing and blurring used by the ``"mit"`` convention.

:func:`imresize` is MATLAB's bicubic ``imresize`` (what every cvzoya metric calls
before scoring); :func:`antonio_gaussian` is the frequency-domain Gaussian blur
the MIT benchmark uses to make continuous fixation maps.
"""

from __future__ import annotations

import math
from typing import Any, Sequence

import numpy as np

from salscope.errors import MetricError


def _cubic(x: np.ndarray) -> np.ndarray:
    ax = np.abs(x)
    ax2, ax3 = ax * ax, ax * ax * ax
    return (1.5 * ax3 - 2.5 * ax2 + 1) * (ax <= 1) + (-0.5 * ax3 + 2.5 * ax2 - 4 * ax + 2) * ((ax > 1) & (ax <= 2))


def _weights(in_length: int, out_length: int, scale: float, antialiasing: bool = True) -> np.ndarray:
    """The ``out_length × in_length`` interpolation matrix of MATLAB's ``contributions``."""
    width = 4.0
    if scale < 1 and antialiasing:
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
    w = w / w.sum(axis=1, keepdims=True)
    mirror = np.concatenate([np.arange(in_length), np.arange(in_length - 1, -1, -1)])
    idx = mirror[np.mod(idx.astype(np.int64) - 1, 2 * in_length)]
    mat = np.zeros((out_length, in_length))
    np.add.at(mat, (np.repeat(np.arange(out_length), taps), idx.ravel()), w.ravel())
    return mat


def imresize(image: Any, output_shape: Sequence[int] | float) -> np.ndarray:
    """Resize a 2-D map like MATLAB's ``imresize`` (bicubic, antialiased when shrinking).

    Separable Keys cubic kernel (a = -0.5); output pixel ``x`` (1-based) samples
    input position ``u = x / scale + (1 - 1 / scale) / 2``; when shrinking, the
    kernel is widened by ``1 / scale``; weights are normalised to sum 1;
    borders are mirrored (symmetric padding). ``output_shape`` is ``(rows,
    cols)`` or a scale factor (size ``ceil(scale * in)``, as MATLAB).

    Enlarging reproduces GNU Octave's ``imresize`` to rounding (checked on the
    MIT reference vectors); shrinking follows MATLAB (Octave does not
    renormalise the antialiased weights).

    References
    ----------
    MATLAB ``imresize`` (Image Processing Toolbox), ``contributions`` and
    ``cubic`` sub-functions; Keys, R. "Cubic convolution interpolation for
    digital image processing", IEEE TASSP 29 (1981).
    """
    img = np.asarray(image, dtype=np.float64)
    if img.ndim != 2:
        raise MetricError(f"imresize: expected a 2-D map, got shape {img.shape}")
    if np.isscalar(output_shape):
        scale = float(output_shape)
        if scale <= 0:
            raise MetricError(f"imresize: scale must be positive, got {scale}")
        rows, cols = (int(math.ceil(scale * n)) for n in img.shape)
        scales = (scale, scale)
    else:
        rows, cols = (int(v) for v in output_shape)
        if rows < 1 or cols < 1:
            raise MetricError(f"imresize: output shape must be positive, got {(rows, cols)}")
        scales = (rows / img.shape[0], cols / img.shape[1])
    if (rows, cols) == img.shape:
        return img.copy()
    wr = _weights(img.shape[0], rows, scales[0])
    wc = _weights(img.shape[1], cols, scales[1])
    return wr @ img @ wc.T


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
