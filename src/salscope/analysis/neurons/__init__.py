"""Which channels respond to which salient regions: region NSS, Network Dissection, their nulls, the browser.

Where things live: :mod:`~.analysis` (:func:`analyse_neurons`, :class:`NeuronResults`,
:func:`compare_neurons`, :func:`fig5_channel`), :mod:`~.capture` (one pass over
the annotated images), :mod:`~.region_nss` and :mod:`~.dissection` (the two
scores), :mod:`~.runningstats` (streaming quantiles), :mod:`~.stats`
(permutation nulls, Holm, bootstrap, cross-fitting, selectivity),
:mod:`~.evidence` (finding 1's table), :mod:`~.figures`, :mod:`~.browser` (the
neuron browser's data and thumbnails) and :mod:`~.report` (``dissect --report``).
"""

from salscope.analysis.neurons.analysis import (
    LayerNeurons,
    NeuronComparison,
    NeuronResults,
    analyse_neurons,
    compare_neurons,
    fig5_channel,
)

__all__ = ["LayerNeurons", "NeuronComparison", "NeuronResults", "analyse_neurons", "compare_neurons", "fig5_channel"]
