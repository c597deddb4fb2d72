"""Centred kernel alignment (CKA) between layer representations, in one shot or streamed.

CKA compares two representations ``X`` (n×p) and ``Y`` (n×q) of the same n
probe images through their Gram matrices ``K = X Xᵀ``, ``L = Y Yᵀ``::

    CKA(K, L) = HSIC(K, L) / sqrt(HSIC(K, K) · HSIC(L, L))

with two HSIC estimators:

* biased (Gretton et al. 2005): ``HSIC_b = tr(K H L H) / (n − 1)²``,
  ``H = I − 11ᵀ/n``. For the linear kernel ``tr(KHLH) = ‖X̃ᵀỸ‖²_F`` with
  column-centred X̃, Ỹ.
* debiased (Song et al. 2012, used by Nguyen et al. 2021)::

      HSIC_u = [tr(K̃L̃) + 1ᵀK̃1·1ᵀL̃1 / ((n−1)(n−2)) − 2/(n−2)·1ᵀK̃L̃1] / (n(n−3))

  where K̃, L̃ are K, L with zeroed diagonals; needs n ≥ 4. It removes the
  positive bias that biased CKA has when the feature dimension is large
  compared with n (biased CKA of independent random features is far from 0).

Layer activations ``B×C×h×w`` become vectors in one of two documented ways
(:func:`feature_vectors`): ``"pool"`` — the spatial mean per channel (C values;
invariant to where things are, what Network-Dissection-style channel analyses
look at) — or ``"flatten"`` — all C·h·w values (sensitive to spatial layout;
Kornblith et al.'s default for conv layers).

Streaming, so any number of probe images fits in memory:

* :class:`StreamingLinearCKA` — exact. For the linear kernel every term of both
  estimators is a function of feature-space sums that add over images:
  ``n, Σx, XᵀY, Σ‖x_i‖², Σ‖x_i‖²‖y_i‖², Σ‖x_i‖² y_i`` …; e.g.
  ``1ᵀK̃L̃1 = Sxᵀ(XᵀY)Sy − (Σa_i y_i)·Sy − (Σb_i x_i)·Sx + Σa_i b_i`` with
  ``a_i = ‖x_i‖², b_i = ‖y_i‖², Sx = Σx_i``. The result equals the one-shot
  value to round-off for any batching. Memory O((Σp)²): meant for pooled
  vectors (p ≤ a few thousand).
* :class:`MinibatchCKA` — for flattened activations (p up to 10⁵–10⁶): the
  debiased HSIC is computed on each minibatch's Gram matrices and averaged,
  ``CKA = mean_b HSIC_u(K_b, L_b) / sqrt(mean_b HSIC_u(K_b,K_b) · mean_b HSIC_u(L_b,L_b))``
  (Nguyen et al. 2021, §3.1). Memory O(batch²); it is an unbiased estimator of
  the same population quantity, not the full-data value; each batch needs ≥ 4 images.
  It keeps each batch's Gram matrices, so :meth:`MinibatchCKA.bootstrap`
  resamples *images* (within their batches), not the handful of batch values.

Geometry (:func:`gram_geometry`): scale each centred Gram matrix to unit
Frobenius norm, ``K̂ = K_c / ‖K_c‖``; then ``CKA(a, b) = ⟨K̂_a, K̂_b⟩``. Biased:
``K_c = H K H``; debiased: ``K_c`` = the U-centred K (Székely & Rizzo 2014:
``K̃_ij − row_i/(n−2) − col_j/(n−2) + sum/((n−1)(n−2))`` off the diagonal, 0 on
it), for which ``⟨Ũ(K), Ũ(L)⟩ / (n(n−3))`` *is* Song et al.'s unbiased HSIC, so
the inner product is exactly the debiased CKA. Changes from a reference,
``D_m = K̂_m − K̂_ref``, are vectors in that space: their lengths say how far a
model moved and ``cos(D_a, D_b)`` whether two models moved the same way.

Modules: :mod:`~salscope.analysis.representation.similarity.kernels` (feature vectors, Gram
matrices, HSIC, one-shot CKA), :mod:`~salscope.analysis.representation.similarity.streaming`
(:class:`StreamingLinearCKA`, :class:`MinibatchCKA`),
:mod:`~salscope.analysis.representation.similarity.geometry` (:func:`gram_geometry`),
:mod:`~salscope.analysis.representation.similarity.bootstrap` (:func:`bootstrap_cka`,
:func:`percentile_ci`).

References
----------
S. Kornblith, M. Norouzi, H. Lee, G. Hinton. Similarity of Neural Network
Representations Revisited. ICML 2019 (linear and RBF CKA, RBF bandwidth =
fraction of the median distance).
L. Song, A. Smola, A. Gretton, J. Bedo, K. Borgwardt. Feature Selection via
Dependence Maximization. JMLR 13, 2012 (unbiased HSIC).
T. Nguyen, M. Raghu, S. Kornblith. Do Wide and Deep Networks Learn the Same
Things? ICLR 2021 (minibatch CKA).
G. J. Székely, M. L. Rizzo. Partial distance correlation with methods for
dissimilarities. Ann. Statist. 42(6), 2014 (U-centred matrices, §2.1).
"""

from salscope.analysis.representation.similarity.bootstrap import bootstrap_cka, percentile_ci
from salscope.analysis.representation.similarity.geometry import GramGeometry, gram_geometry, unit_gram
from salscope.analysis.representation.similarity.kernels import (
    ArrayLike,
    cka,
    feature_vectors,
    gram_linear,
    gram_rbf,
    hsic,
    linear_cka,
    rbf_cka,
)
from salscope.analysis.representation.similarity.streaming import (
    MinibatchCKA,
    StreamingLinearCKA,
    minibatch_cka,
)

__all__ = [
    "ArrayLike", "GramGeometry", "MinibatchCKA", "StreamingLinearCKA", "bootstrap_cka", "cka", "feature_vectors",
    "gram_geometry", "gram_linear", "gram_rbf", "hsic", "linear_cka", "minibatch_cka", "percentile_ci", "rbf_cka",
    "unit_gram",
]
