"""RunningHistogram: exact merges, bounded quantile error, exact counts at bin edges, resumable state."""

from __future__ import annotations

import io

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from salscope.analysis.neurons.runningstats import RunningHistogram, RunningMinMax
from salscope.errors import AnalysisError


def _stream(seed: int, n_chunks: int = 6, channels: int = 4):
    # Ranges that grow and drift between chunks, to force doubling and sliding.
    rng = np.random.default_rng(seed)
    chunks = []
    for i in range(n_chunks):
        scale = 10.0 ** rng.uniform(-2, 2)
        shift = rng.normal(0, 3 * scale)
        v = rng.normal(shift, scale, (channels, int(rng.integers(1, 300))))
        v[0] = np.maximum(v[0], 0)  # a ReLU-like channel with a point mass at 0
        chunks.append(v)
    return chunks


@settings(max_examples=25, deadline=None)
@given(st.integers(0, 10_000), st.sampled_from([16, 64, 256]))
def test_quantile_within_one_bin_of_order_statistic(seed, bins):
    chunks = _stream(seed)
    h = RunningHistogram(4, bins=bins)
    for v in chunks:
        h.add(torch.from_numpy(v))
    allv = np.concatenate(chunks, 1)
    assert h.counts.sum().item() == allv.size  # merges never lose a value
    np.testing.assert_array_equal(h.min.numpy(), allv.min(1))
    np.testing.assert_array_equal(h.max.numpy(), allv.max(1))
    width = h.width.numpy()
    assert (width <= 4 * (allv.max(1) - allv.min(1)) / bins).all()
    for q in (0.0, 0.5, 0.995, 1.0):
        exact = np.quantile(allv, q, axis=1, method="inverted_cdf")
        assert np.all(np.abs(h.quantile(q).numpy() - exact) <= width * (1 + 1e-12))


@settings(max_examples=25, deadline=None)
@given(st.integers(0, 10_000))
def test_count_above_is_exact_at_bin_edges(seed):
    chunks = _stream(seed)
    labels_rng = np.random.default_rng(seed + 1)
    h = RunningHistogram(4, bins=64, n_labels=3)
    labs = []
    for v in chunks:
        lab = labels_rng.integers(0, 3, v.shape[1])
        labs.append(lab)
        h.add(torch.from_numpy(v), torch.from_numpy(lab))
    allv, alll = np.concatenate(chunks, 1), np.concatenate(labs)
    edges = h.edges().numpy()
    for j in (1, 17, 40, 63):
        t = edges[:, j]
        got = h.count_above(torch.from_numpy(t)).numpy()
        want = np.stack([[(allv[c][alll == k] >= t[c]).sum() for k in range(3)] for c in range(4)])
        want = np.where((t >= allv.max(1))[:, None], 0, want)
        np.testing.assert_array_equal(got, want)


def test_state_dict_resumes_exactly():
    chunks = _stream(7, n_chunks=8)
    whole = RunningHistogram(4, bins=32, n_labels=2)
    first = RunningHistogram(4, bins=32, n_labels=2)
    for i, v in enumerate(chunks):
        lab = torch.full((v.shape[1],), i % 2)
        whole.add(torch.from_numpy(v), lab)
        if i < 4:
            first.add(torch.from_numpy(v), lab)
    buf = io.BytesIO()
    state = first.state_dict()
    np.savez(buf, **{k: v for k, v in state.items() if k != "minmax"}, **{f"mm_{k}": v for k, v in state["minmax"].items()})
    buf.seek(0)
    z = np.load(buf, allow_pickle=False)
    restored = {k: z[k] for k in z.files if not k.startswith("mm_")}
    restored["minmax"] = {k[3:]: z[k] for k in z.files if k.startswith("mm_")}
    restored = {k: (v.item() if getattr(v, "ndim", 1) == 0 else v) for k, v in restored.items()}
    restored["minmax"] = {k: (v.item() if v.ndim == 0 else v) for k, v in restored["minmax"].items()}
    resumed = RunningHistogram(1).load_state_dict(restored)
    for i, v in enumerate(chunks[4:], start=4):
        resumed.add(torch.from_numpy(v), torch.full((v.shape[1],), i % 2))
    for name in ("counts", "exponent", "offset"):
        assert torch.equal(getattr(resumed, name), getattr(whole, name))
    assert torch.equal(resumed.quantile(0.995), whole.quantile(0.995))


def test_bad_input_raises():
    h = RunningHistogram(3, bins=16)
    with pytest.raises(AnalysisError, match=r"expected shape \(3, n\)"):
        h.add(torch.zeros(2, 5))
    with pytest.raises(AnalysisError, match="NaN/Inf"):
        h.add(torch.tensor([[0.0, float("nan")]] * 3))
    with pytest.raises(AnalysisError, match="labels must lie"):
        h.add(torch.zeros(3, 2), torch.tensor([0, 1]))
    with pytest.raises(AnalysisError, match="even number"):
        RunningHistogram(3, bins=7)
    with pytest.raises(AnalysisError, match="version"):
        RunningMinMax(3).load_state_dict({"version": 99})
    with pytest.raises(AnalysisError, match=r"q=1.5"):
        h.quantile(1.5)


def test_constant_channel_has_finite_grid():
    h = RunningHistogram(2, bins=16)
    h.add(torch.tensor([[0.0] * 5, [3.0] * 5]))
    h.add(torch.tensor([[0.0] * 5, [3.0] * 5]))
    assert torch.isfinite(h.width).all()
    np.testing.assert_array_equal(h.quantile(0.5).numpy(), [0.0, 3.0])
