"""Tests that can fail for the neuron findings: permutation nulls, Holm, image bootstrap, cross-fitting, AUC.

The neuron analysis summarises one layer's region-NSS table ``S`` (``R``
region instances × ``C`` channels, NaN for skipped channels and for regions
without fixations) per category ``k`` by the *instance* aggregation::

    A[k, c]   = mean_{r in k, S[r, c] finite} S[r, c]
    top_k[k]  = mean of the k largest A[k, :]           (k = 10)
    count[k]  = #{c : A[k, c] > T}                        (T = 1.5)

This module asks of those numbers what a reader would:

- :func:`permutation_null` — would a random relabelling of the same region
  instances give as much? (category labels shuffled across regions; Good 2005,
  Phipson & Smyth 2010). ``count_excess`` = observed − null mean is fair across
  categories with very different numbers of instances.
- :func:`holm` / :func:`holm_reject` — family-wise error over categories or
  channels (Holm 1979).
- :func:`bootstrap_gain` — finding 2's "gain after fine-tuning" with intervals
  from resampling annotated *images* (Efron & Tibshirani 1993).
- :func:`cross_fitted` — the winner's curse: channels chosen on one half of the
  images, scored on the other (Kriegeskorte et al. 2009).
- :func:`selectivity` — "above T" is not "selective": the AUC of a channel on a
  category's regions against the other salient regions of the same images
  (Bykov et al. 2023).

Every statistic reduces to the same kernel, weighted category means
``(W @ S0) / (W @ valid)`` with ``S0`` the table with NaN set to 0. For a
permutation ``W`` is the ``K × R`` one-hot of the shuffled labels, taken ``chunk``
permutations at a time (memory ``O(chunk × K × (R + C))``). A bootstrap resample
or a cross-fitting half only re-weights whole images, so the table is first
summed per (image, category), ``G`` (``I × K × C``), and a batch of image weights
``M`` (``B × I``: multiplicities, or a 0/1 half) gives every table at once as
``M @ G``. Nothing of size ``B × R × C`` is built. All randomness comes from
``numpy.random.default_rng(seed)`` through uniform doubles drawn in order, so the
numbers do not depend on ``chunk``. ``bench/neuron_stats_speed.py`` times them.

One module per statistic: :mod:`~salscope.analysis.neurons.stats.permutation`,
:mod:`~salscope.analysis.neurons.stats.holm`, :mod:`~salscope.analysis.neurons.stats.bootstrap`,
:mod:`~salscope.analysis.neurons.stats.cross_fit`, :mod:`~salscope.analysis.neurons.stats.selectivity`;
the input checks, the weighted-means kernel, :func:`top_k_and_count` and
:func:`category_means` are shared (``_tables``).

References
----------
He, S. et al. "Understanding and Visualizing Deep Visual Saliency Models", CVPR 2019, Sec. 4.
Good, P. I. *Permutation, Parametric and Bootstrap Tests of Hypotheses*, 3rd ed., Springer 2005.
Phipson, B., Smyth, G. K. "Permutation P-values Should Never Be Zero", Stat. Appl. Genet. Mol. Biol. 9 (2010).
Holm, S. "A Simple Sequentially Rejective Multiple Test Procedure", Scand. J. Statist. 6 (1979).
Efron, B., Tibshirani, R. J. *An Introduction to the Bootstrap*, Chapman & Hall 1993.
Kriegeskorte, N. et al. "Circular analysis in systems neuroscience: the dangers of double dipping",
Nat. Neurosci. 12 (2009).
Bykov, K. et al. "Labeling Neural Representations with Inverse Recognition", NeurIPS 2023.
"""

from salscope.analysis.neurons.stats._tables import (
    DEFAULT_CHUNK,
    DEFAULT_THRESHOLD,
    DEFAULT_TOP_K,
    category_means,
    top_k_and_count,
)
from salscope.analysis.neurons.stats.bootstrap import GainBootstrap, bootstrap_gain
from salscope.analysis.neurons.stats.cross_fit import CrossFit, cross_fitted
from salscope.analysis.neurons.stats.holm import holm, holm_reject
from salscope.analysis.neurons.stats.permutation import PermutationNull, permutation_null
from salscope.analysis.neurons.stats.selectivity import Selectivity, selectivity

__all__ = [
    "DEFAULT_CHUNK", "DEFAULT_THRESHOLD", "DEFAULT_TOP_K",
    "CrossFit", "GainBootstrap", "PermutationNull", "Selectivity", "bootstrap_gain", "category_means",
    "cross_fitted", "holm", "holm_reject", "permutation_null", "selectivity", "top_k_and_count",
]
