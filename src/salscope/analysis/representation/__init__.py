"""How fine-tuning changed an encoder's representation: CKA, weight change, task vs domain.

Where things live: :mod:`~.similarity` (CKA estimators, streaming and
minibatch), :mod:`~.compare` (:func:`compare_models`, :class:`Comparison`),
:mod:`~.verdict` (finding 4's direction statistics and decision) and
:mod:`~.outputs` (:func:`write_comparison`, its figures).
"""

from salscope.analysis.representation.compare import Comparison, compare_models
from salscope.analysis.representation.outputs import write_comparison

__all__ = ["Comparison", "compare_models", "write_comparison"]
