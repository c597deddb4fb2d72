"""Training losses for saliency decoders, built on the metric kernels of :mod:`salscope.metrics`.

Every term calls the torch twin of a metric (one NSS in the code base):

============  ==========================================  ==========================
term          loss                                        target
============  ==========================================  ==========================
``nss``       ``-NSS(s, F)``  (the paper's loss)          fixation map ``F``
``cc``        ``-CC(s, D)``                               fixation density ``D``
``kl``        ``KL(D ‖ s)``                               fixation density ``D``
``nll``       ``-mean log q(fixations)`` per fixation     fixation map ``F`` (counts)
============  ==========================================  ==========================

``s`` is the model's saliency map; for a log-density decoder ``s = exp(log q)``
(a density), and for a saliency-map decoder ``log q = log(s / sum s + ε)``.
A spec like ``"nss"`` or ``"nss:1,cc:0.5"`` gives a weighted sum.

References
----------
He et al., CVPR 2019 (−NSS loss, ``SenHe/uavdvsm``); Kümmerer et al., DeepGaze II
(2016) (log-likelihood training); Bylinskii et al., "What do different evaluation
metrics tell us about saliency models?", TPAMI 2019 (NSS, CC, KL definitions).
"""

from __future__ import annotations

from typing import Mapping

import torch

from salscope.errors import ConfigError

LOSS_TERMS = ("nss", "cc", "kl", "nll")
_EPS = 1e-12


def parse_loss(spec: str | Mapping[str, float]) -> dict[str, float]:
    """``"nss:1,cc:0.5"`` → ``{"nss": 1.0, "cc": 0.5}``; :class:`ConfigError` on unknown terms."""
    if isinstance(spec, Mapping):
        items = list(spec.items())
    else:
        items = []
        for part in str(spec).split(","):
            part = part.strip()
            if not part:
                continue
            name, _, weight = part.partition(":")
            try:
                items.append((name.strip(), float(weight) if weight else 1.0))
            except ValueError:
                raise ConfigError(f"--loss: weight {weight!r} of term {name!r} is not a number (write e.g. nss:1,cc:0.5)") from None
    terms = {}
    for name, weight in items:
        if name not in LOSS_TERMS:
            raise ConfigError(f"--loss: unknown term {name!r}; valid terms: {', '.join(LOSS_TERMS)} (e.g. nss:1,cc:0.5)")
        terms[name] = float(weight)
    if not terms:
        raise ConfigError(f"--loss: no terms given; use one or more of {', '.join(LOSS_TERMS)}")
    return terms


def _as_density(pred: torch.Tensor, output: str) -> torch.Tensor:
    if output == "log_density":
        return pred.exp()
    s = pred.clamp_min(0)
    return s / s.flatten(1).sum(1).clamp_min(_EPS).view(-1, 1, 1)


def _as_log_density(pred: torch.Tensor, output: str) -> torch.Tensor:
    if output == "log_density":
        return pred
    return torch.log(_as_density(pred, output) + _EPS)


class SaliencyLoss(torch.nn.Module):
    """Weighted sum of saliency loss terms, ``L = Σ_t w_t L_t`` (see the module table).

    ``forward(pred, fixation_map, density=None)`` returns ``(total, {term: value})``;
    ``output`` says whether ``pred`` is a ``"saliency"`` map or a ``"log_density"``.
    """

    def __init__(self, terms: str | Mapping[str, float], output: str):
        super().__init__()
        self.terms = parse_loss(terms)
        self.output = output

    @property
    def needs_density(self) -> bool:
        return any(t in self.terms for t in ("cc", "kl"))

    def forward(self, pred: torch.Tensor, fixation_map: torch.Tensor,
                density: torch.Tensor | None = None) -> tuple[torch.Tensor, dict[str, torch.Tensor]]:
        from salscope import metrics  # noqa: PLC0415 (metrics floor, loaded on use)

        parts: dict[str, torch.Tensor] = {}
        if "nss" in self.terms:
            s = pred.exp() if self.output == "log_density" else pred
            parts["nss"] = -metrics.nss_torch(s, fixation_map)
        if "cc" in self.terms:
            parts["cc"] = -metrics.cc_torch(_as_density(pred, self.output), density)
        if "kl" in self.terms:
            parts["kl"] = metrics.kld_torch(_as_density(pred, self.output), density)
        if "nll" in self.terms:
            parts["nll"] = metrics.nll_torch(_as_log_density(pred, self.output), fixation_map)
        total = sum(self.terms[k] * v for k, v in parts.items())
        return total, parts
