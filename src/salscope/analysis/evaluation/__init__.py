"""Score saliency models on a data set: per-image values, a summary table, best/worst examples.

A *model* is any spec of :mod:`salscope.models.factory` — a registered name
(``"center_bias"``, ``"gbvs"`` …), ``ckpt:PATH``, ``maps:DIR`` (saliency maps
named by image id), ``FILE.py:FACTORY``, ``LABEL=SPEC``, the inter-observer
baseline (``"inter_observer"``) — or a :class:`~salscope.models.base.SaliencyModel`.
Every metric comes from :mod:`salscope.metrics` in the chosen convention; the
metric list and labels from :mod:`salscope.metrics.catalogue`.

Where things live: :mod:`~.sources` (what is scored), :mod:`~.gold` (gold
maps), :mod:`~.scoring` (one image's job, in this process or in workers),
:mod:`~.run` (:func:`evaluate`), :mod:`~.results` (:class:`EvaluationResult`),
:mod:`~.figures` (best/worst examples); statistics between models in
:mod:`salscope.analysis.evaluation.paired`.

Conventions of the evaluation itself
------------------------------------
- Gold maps for CC/KLD/SIM/EMD: ``"tuebingen"`` uses the empirical density
  (fixation counts blurred by a Gaussian of ``gold_sigma_deg`` = 1° of visual
  angle, constant borders, normalised — identical to
  :meth:`salscope.data.Fixations.density`); ``"mit"`` uses the MIT benchmark's
  ``antonioGaussian(fixation map, fc=8)`` (FFT round-off below zero set to 0).
- sAUC negatives: the fixations of every *other* image of the evaluated split,
  mapped to this image's grid (``x' = (x + 0.5) W / W_other - 0.5``).
- Information gain: against ``baseline`` (default the registry's
  ``center_bias``) in bits per fixation, for models with a log-density of
  their own; a model giving only saliency maps gets it only through the
  conversion named by ``map_density`` (else NaN and a line in ``notes``).
- Random metrics (MIT AUC-Borji, MIT sAUC): image ``i`` draws from
  ``default_rng(SeedSequence([seed, i]))`` (:func:`salscope.metrics.image_rng`).
- EMD is scored on grids shrunk 32× (as ``EMD.m``).
- Inter-observer: for each subject, the density of the *other* subjects'
  fixations (same Gaussian, mixed with 0.1 % uniform so that log-densities stay
  finite) predicts that subject's fixations; per-fixation values are pooled
  over subjects, map metrics compare with that subject's own gold map and are
  averaged over subjects.
"""

from salscope.analysis.evaluation.figures import write_examples
from salscope.analysis.evaluation.gold import gaussian_density
from salscope.analysis.evaluation.results import EvaluationResult
from salscope.analysis.evaluation.run import evaluate
from salscope.analysis.evaluation.scoring import EMD_DOWNSIZE, MAP_DENSITIES
from salscope.analysis.evaluation.sources import InterObserver, ModelSource, has_log_density, resolve_model, resolve_models
from salscope.metrics.catalogue import DEFAULT_METRICS, FIXATION_METRICS, LOWER_IS_BETTER, METRICS
from salscope.models.factory import INTER_OBSERVER

__all__ = ["DEFAULT_METRICS", "EMD_DOWNSIZE", "FIXATION_METRICS", "INTER_OBSERVER", "LOWER_IS_BETTER", "MAP_DENSITIES",
           "METRICS", "EvaluationResult", "InterObserver", "ModelSource", "evaluate", "gaussian_density",
           "has_log_density", "resolve_model", "resolve_models", "write_examples"]
