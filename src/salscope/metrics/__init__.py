"""Saliency metrics in two conventions, and their torch twins for training losses.

Every numpy metric takes ``convention="tuebingen"`` (default; pysaliency and the
MIT/Tübingen benchmark) or ``"mit"`` (the legacy MATLAB code of the MIT
saliency benchmark, cvzoya/saliency). Fixations are 0-based ``(xs, ys)``
coordinates, x = column; the fixated pixel is ``floor(v + 0.5)``.

Torch twins (``nss_torch``, ``cc_torch``, ``kld_torch``, ``nll_torch``) share
their kernels with the numpy metrics: one NSS in the code base.
"""

from salscope.metrics._common import CONVENTIONS, average, fixations_from_map, image_rng, to_density, zscore
from salscope.metrics.auc import auc, auc_borji, auc_judd, shuffled_auc
from salscope.metrics.distribution import cc, cc_torch, kld, kld_torch, sim
from salscope.metrics.information import information_gain, log_likelihood, nll_torch
from salscope.metrics.emd import emd
from salscope.metrics.nss import nss, nss_torch
from salscope.metrics.resize import antonio_gaussian, imresize

__all__ = [
    "CONVENTIONS",
    "antonio_gaussian",
    "auc",
    "auc_borji",
    "auc_judd",
    "average",
    "cc",
    "cc_torch",
    "emd",
    "image_rng",
    "imresize",
    "fixations_from_map",
    "information_gain",
    "kld",
    "kld_torch",
    "log_likelihood",
    "nll_torch",
    "nss",
    "nss_torch",
    "shuffled_auc",
    "sim",
    "to_density",
    "zscore",
]
