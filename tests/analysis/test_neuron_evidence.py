"""Finding 1's rule on neuron results: a planted detector is encoded; noise, shuffled labels and a detector that a
random network has as well are not."""

from __future__ import annotations

import numpy as np

from salscope.analysis.neurons.evidence import encoding_table
from salscope.analysis.neurons.analysis import LayerNeurons, NeuronResults

CATS = ["person head", "text", "other"]
N_IMG, N_CH = 40, 32


def _results(name: str, seed: int, planted: dict[str, float] | None = None, labels: list[str] | None = None):
    rng = np.random.default_rng(seed)
    regions = [{"image_id": f"i{i}", "instance": k + 1, "category": c, "n_fixations": 5}
               for i in range(N_IMG) for k, c in enumerate(CATS)]
    if labels is not None:
        regions = [{**r, "category": c} for r, c in zip(regions, labels)]
    scores = rng.normal(0, 0.5, (len(regions), N_CH))
    for cat, value in (planted or {}).items():     # channel 0 responds to ``cat`` (by the true labels)
        true = [c for _ in range(N_IMG) for c in CATS]
        scores[[j for j, c in enumerate(true) if c == cat], 0] += value
    fires = np.ones(N_CH, bool)
    layer = LayerNeurons("l", scores, fires, scores.min(0), scores.max(0), None)
    return NeuronResults(name, CATS, regions, {"l": layer}, {"top_k": 3, "threshold": 1.5})


def _encoded(rows):
    return {r["category"] for r in rows if r["encoded"]}


RANDOMS = [_results(f"random{s}", 100 + s) for s in range(3)]


def test_planted_detector_is_encoded_and_only_it():
    rows, nulls = encoding_table(_results("pretrained", 0, {"person head": 3.0}), RANDOMS, ["l"], top_k=3, n_perm=500)
    assert _encoded(rows) == {"person head"}
    head = next(r for r in rows if r["category"] == "person head")
    assert head["p_holm"] < 0.01 and head["top_k_excess"] > head["random_excess_max"]
    assert nulls["l"].null_top_k.shape == (500, 3)


def test_noise_encodes_nothing():
    for seed in range(5):
        rows, _ = encoding_table(_results("pretrained", seed), RANDOMS, ["l"], top_k=3, n_perm=300, seed=seed)
        assert _encoded(rows) == set()


def test_shuffled_labels_encode_nothing():
    rng = np.random.default_rng(1)
    labels = list(rng.permutation([c for _ in range(N_IMG) for c in CATS]))
    rows, _ = encoding_table(_results("pretrained", 0, {"person head": 3.0}, labels=labels), [], ["l"], top_k=3,
                             n_perm=500)
    assert _encoded(rows) == set()


def test_a_detector_random_networks_have_too_is_not_credited():
    """Beating the label null is not enough: a random network with the same detector (e.g. a colour) is the reference."""
    pre = _results("pretrained", 0, {"person head": 3.0})
    randoms = [_results(f"random{s}", 100 + s, {"person head": 3.2}) for s in range(3)]
    rows, _ = encoding_table(pre, randoms, ["l"], top_k=3, n_perm=500)
    head = next(r for r in rows if r["category"] == "person head")
    assert head["p_holm"] < 0.01 and not head["encoded"]
