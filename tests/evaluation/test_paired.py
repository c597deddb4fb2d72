"""Paired statistics between models (issue 20, item 3): a planted difference, none, Holm by hand, mean intervals."""

from __future__ import annotations

import numpy as np
import pytest
from PIL import Image
from scipy import stats

from salscope.analysis.evaluation import evaluate
from salscope.analysis.intervals import bootstrap_mean
from salscope.analysis.evaluation.paired import COLUMNS, add_statistics, holm, mean_intervals, paired_statistics, wilcoxon_p
from salscope.data import Dataset, Fixations, Stimuli
from salscope.errors import AnalysisError
from salscope.models.base import SaliencyModel

H, W, N_IMAGES = 24, 32, 8


class Blob(SaliencyModel):
    """Saliency = the image's brightness: the planted blob every subject looked at (better by construction)."""

    name = "blob"

    def saliency_map(self, image):
        return image.mean(axis=2).astype(np.float64) + 1.0


class Ramp(SaliencyModel):
    """An image-independent ramp that ignores the blob."""

    def __init__(self, name: str = "ramp"):
        self.name = name

    def saliency_map(self, image):
        yy, xx = np.mgrid[0:image.shape[0], 0:image.shape[1]]
        return (xx + 0.5 * yy + 1.0).astype(np.float64)


class Noise(SaliencyModel):
    """A random map drawn from the image's own content and a seed: knows nothing of the fixations."""

    def __init__(self, name: str, seed: int):
        self.name, self.seed = name, seed

    def saliency_map(self, image):
        rng = np.random.default_rng([self.seed, int(image.sum())])
        return rng.random(image.shape[:2]) + 0.1


@pytest.fixture
def blobs(tmp_path):
    """8 grey images with one bright 5×5 blob each; 6–13 fixations per image, all inside the blob."""
    rng = np.random.default_rng(3)
    paths, xs, ys, ns = [], [], [], []
    for k in range(N_IMAGES):
        img = np.full((H, W, 3), 20 + k, np.uint8)
        r0, c0 = int(rng.integers(2, H - 7)), int(rng.integers(2, W - 7))
        img[r0:r0 + 5, c0:c0 + 5] = 230
        p = tmp_path / f"b{k}.png"
        Image.fromarray(img).save(p)
        paths.append(p)
        n = 6 + k
        xs += rng.uniform(c0, c0 + 4, n).tolist()
        ys += rng.uniform(r0, r0 + 4, n).tolist()
        ns += [k] * n
    return Dataset("blobs", Stimuli(paths), Fixations(xs, ys, ns), {"ppd": 2.0})


def _row(stats_, metric, a, b):
    (row,) = [r for r in stats_.rows if (r["metric"], r["model_a"], r["model_b"]) == (metric, a, b)]
    return row


def test_holm_against_a_hand_computation():
    # sorted: 0.005 (x4 = 0.02), 0.01 (x3 = 0.03), 0.03 (x2 = 0.06), 0.04 (x1 = 0.04 -> max so far 0.06)
    np.testing.assert_allclose(holm([0.01, 0.04, 0.03, 0.005, np.nan]), [0.03, 0.06, 0.06, 0.02, np.nan])
    # monotone step-down and clipping at 1: 0.5 x2 = 1.0, then max(1.0, 0.6) = 1.0
    np.testing.assert_allclose(holm([0.6, 0.5]), [1.0, 1.0])
    np.testing.assert_allclose(holm([0.01, 0.02, 0.025]), [0.03, 0.04, 0.04])
    assert holm([]).size == 0
    with pytest.raises(AnalysisError, match=r"\[0, 1\]"):
        holm([0.5, 1.5])


def test_a_planted_difference_is_found_on_every_image(blobs):
    result = evaluate([Blob(), Ramp()], blobs, metrics=["nss", "kld"])
    st = paired_statistics(result, n_boot=2000, seed=4)
    per = {(r["model"], r["image_index"]): r for r in result.rows}
    for metric in ("nss", "kld"):
        row = _row(st, metric, "blob", "ramp")
        d = np.array([per["blob", i][metric] - per["ramp", i][metric] for i in range(N_IMAGES)])
        assert np.all(d > 0) if metric == "nss" else np.all(d < 0)  # better on every image, by construction
        assert row["difference"] == pytest.approx(d.mean(), abs=1e-12)
        assert row["better"] == "blob" and row["n_images"] == N_IMAGES
        assert row["ci_lo"] <= row["difference"] <= row["ci_hi"]
        assert (row["ci_lo"] > 0) if metric == "nss" else (row["ci_hi"] < 0)  # the interval excludes 0
        # exact signed-rank null: all 8 differences of one sign -> p = 2 / 2^8; Holm over 2 tests doubles it
        assert row["wilcoxon_method"] == "exact" and row["p"] == pytest.approx(2 / 2**8, rel=1e-12)
        assert row["p_holm"] == pytest.approx(2 * 2 / 2**8, rel=1e-12) and row["significant"]
    assert list(st.rows[0]) == list(COLUMNS)
    text = st.to_markdown()
    assert "blob" in text and "Holm correction over all 2 pairs × metrics" in text
    assert "Only 8 image(s): with fewer than 10 a bootstrap interval is too narrow" in text


def test_identical_models_show_no_difference(blobs):
    result = evaluate([Ramp("a"), Ramp("b")], blobs, metrics=["nss", "cc"])
    st = paired_statistics(result, n_boot=500, seed=0)
    for row in st.rows:
        assert row["difference"] == 0 and row["ci_lo"] == 0 and row["ci_hi"] == 0  # the interval covers 0
        assert row["better"] == "tie" and row["p"] == 1.0 and row["p_holm"] == 1.0 and not row["significant"]
        assert row["wilcoxon_method"] == "no non-zero difference"


def test_exchangeable_models_show_no_difference(blobs):
    # two random maps, neither informed by the fixations: their per-image differences are symmetric about 0
    result = evaluate([Noise("n1", 1), Noise("n2", 2)], blobs, metrics=["nss", "cc"])
    st = paired_statistics(result, n_boot=1000, seed=0)
    for row in st.rows:
        assert row["ci_lo"] < 0 < row["ci_hi"]
        assert row["p"] > 0.2 and row["p_holm"] >= row["p"] and not row["significant"]


def test_statistics_are_seeded_and_deterministic(blobs):
    result = evaluate([Blob(), Ramp(), Noise("n", 5)], blobs, metrics=["nss", "auc"])
    one, two = paired_statistics(result, seed=7), paired_statistics(result, seed=7)
    assert one.rows == two.rows and one.intervals == two.intervals
    other = paired_statistics(result, seed=8)
    assert [r["ci_lo"] for r in other.rows] != [r["ci_lo"] for r in one.rows]
    assert [r["p"] for r in other.rows] == [r["p"] for r in one.rows]  # the test itself draws nothing
    # Holm over the whole family: 3 pairs × 2 metrics
    np.testing.assert_allclose([r["p_holm"] for r in one.rows], holm([r["p"] for r in one.rows]))


def test_mean_intervals_recompute_the_summary(blobs):
    # image k has 6 + k fixations: pooled (fixation) and per-image means differ
    fix = evaluate([Ramp()], blobs, metrics=["nss", "cc"], average="fixation")
    img = evaluate([Ramp()], blobs, metrics=["nss", "cc"], average="image")
    for result in (fix, img):
        iv = mean_intervals(result, n_boot=800, seed=2)["ramp"]
        summ = result.summary()["ramp"]
        for metric in ("nss", "cc"):
            assert iv[metric]["mean"] == pytest.approx(summ[metric], rel=1e-12)
            assert iv[metric]["lo"] <= iv[metric]["mean"] <= iv[metric]["hi"] and iv[metric]["n_images"] == N_IMAGES
    assert fix.summary()["ramp"]["nss"] != pytest.approx(img.summary()["ramp"]["nss"], rel=1e-6)
    # the pooled interval by hand: resampled images, means weighted by their fixation counts
    v = np.array([r["nss"] for r in fix.rows])
    w = np.array([r["n_fixations"] for r in fix.rows], dtype=float)
    idx = np.random.default_rng(2).integers(0, v.size, size=(800, v.size))
    lo, hi = np.percentile((w[idx] * v[idx]).sum(1) / w[idx].sum(1), [2.5, 97.5])
    got = mean_intervals(fix, n_boot=800, seed=2)["ramp"]["nss"]
    assert (got["lo"], got["hi"]) == pytest.approx((lo, hi), rel=1e-12)


def test_summary_json_gains_intervals_and_keeps_its_keys(blobs, tmp_path):
    result = evaluate([Blob(), Ramp()], blobs, metrics=["nss"])
    before = set(result.to_json())
    st = add_statistics(result, n_boot=100, seed=0)
    after = result.to_json()
    assert before < set(after) and after["mean_intervals"] == st.intervals
    assert after["mean_intervals_method"]["n_boot"] == 100
    paths = st.write(tmp_path)
    assert paths["paired_csv"].read_text().splitlines()[0] == ",".join(COLUMNS)
    assert '"correction": "holm"' in paths["paired_json"].read_text()


def test_wilcoxon_p_names_its_method():
    assert wilcoxon_p(np.arange(1.0, 9.0)) == (pytest.approx(2 / 2**8), "exact")
    tied = np.r_[np.arange(1.0, 9.0), -3.0, 0.0]  # a tie in |d| and a zero (dropped)
    p, method = wilcoxon_p(tied)
    assert method == "approx" and p == pytest.approx(stats.wilcoxon(tied[tied != 0], method="approx").pvalue)
    assert wilcoxon_p([np.nan])[1] == ""


def test_bad_levels_are_errors(blobs):
    result = evaluate([Ramp("a"), Ramp("b")], blobs, metrics=["nss"])
    with pytest.raises(AnalysisError, match="level"):
        paired_statistics(result, level=95)
    with pytest.raises(AnalysisError, match="alpha"):
        paired_statistics(result, alpha=0)
    with pytest.raises(AnalysisError, match="n_boot"):
        bootstrap_mean([1.0, 2.0], n_boot=-1)
