"""salscope.analysis.evaluation on a toy data set (exact values) and on a few OSIE images."""

from __future__ import annotations

import json

import numpy as np
import pytest
from PIL import Image

import salscope.metrics as M
from salscope.analysis.evaluation import evaluate, gaussian_density, write_examples
from salscope.data import Dataset, Fixations, Stimuli
from salscope.errors import AnalysisError, MetricError, ModelError
from salscope.models.base import SaliencyModel
from salscope.models.precomputed import PrecomputedMaps

H, W = 30, 40


class Ramp(SaliencyModel):
    """Saliency rising to the right and downwards (deterministic, image-independent)."""

    name = "ramp"

    def saliency_map(self, image):
        h, w = image.shape[:2]
        yy, xx = np.mgrid[0:h, 0:w]
        return (xx + 0.5 * yy + 1.0).astype(np.float64)


class Flat(SaliencyModel):
    name = "flat"

    def saliency_map(self, image):
        return np.ones(image.shape[:2])


@pytest.fixture
def toy(tmp_path):
    paths = []
    for k in range(4):
        p = tmp_path / "img" / f"im{k}.png"
        p.parent.mkdir(exist_ok=True)
        Image.fromarray(np.full((H, W, 3), 40 * k, np.uint8)).save(p)
        paths.append(p)
    rng = np.random.default_rng(1)
    n = np.repeat([0, 1, 3], 12)  # image 2 has no fixations
    x = rng.uniform(0, W - 1, n.size)
    y = rng.uniform(0, H - 1, n.size)
    subject = np.tile(np.repeat([0, 1, 2], 4), 3)
    return Dataset("toy", Stimuli(paths), Fixations(x, y, n, subject=subject), {"ppd": 3.0})


def test_gaussian_density_equals_fixations_density(toy):
    f = toy.fixations.for_image(1)
    expected = toy.fixations.density(1, (H, W), sigma_px=3.0)
    np.testing.assert_allclose(gaussian_density(f.row, f.col, (H, W), 3.0), expected, rtol=0, atol=1e-15)


def test_per_image_values_are_the_metrics_of_each_image(toy):
    # Ramp and Flat give plain maps: IG only through the stated conversion (maps read as densities)
    result = evaluate([Ramp()], toy, metrics=["auc", "sauc", "nss", "cc", "ig"], baseline=Flat(), map_density="normalize")
    assert result.n_images == 3 and result.skipped_images == ["im2"]
    smap = Ramp().saliency_map(np.zeros((H, W, 3)))
    f = toy.fixations
    for row in result.rows:
        i = row["image_index"]
        sel = f.n == i
        assert row["nss"] == pytest.approx(M.nss(smap, f.x[sel], f.y[sel]), abs=1e-12)
        assert row["auc"] == pytest.approx(M.auc(smap, f.x[sel], f.y[sel]), abs=1e-12)
        assert row["sauc"] == pytest.approx(M.shuffled_auc(smap, f.x[sel], f.y[sel], f.x[~sel], f.y[~sel]), abs=1e-12)
        gold = f.density(i, (H, W), sigma_px=3.0)
        assert row["cc"] == pytest.approx(M.cc(smap, gold), abs=1e-12)
        logd = np.log(smap / smap.sum())
        assert row["ig"] == pytest.approx(
            M.information_gain(logd, np.full((H, W), -np.log(H * W)), f.x[sel], f.y[sel]), abs=1e-9
        )
    # fixation averaging pools fixations; image averaging averages image means (equal counts here -> equal)
    pooled = np.concatenate([M.nss(smap, f.x[f.n == i], f.y[f.n == i], per_fixation=True) for i in (0, 1, 3)])
    assert result.summary()["ramp"]["nss"] == pytest.approx(pooled.mean(), abs=1e-12)


def test_fixation_and_image_averaging_differ_with_unequal_counts(toy):
    keep = ~((toy.fixations.n == 0) & (np.arange(len(toy.fixations)) % 12 >= 3))  # image 0 keeps 3 fixations
    ds = Dataset("toy", toy.stimuli, toy.fixations[keep], toy.meta)
    by_fix = evaluate([Ramp()], ds, metrics=["nss"], average="fixation").summary()["ramp"]["nss"]
    by_img = evaluate([Ramp()], ds, metrics=["nss"], average="image").summary()["ramp"]["nss"]
    smap = Ramp().saliency_map(np.zeros((H, W, 3)))
    f = ds.fixations
    per = [M.nss(smap, f.x[f.n == i], f.y[f.n == i], per_fixation=True) for i in (0, 1, 3)]
    assert by_fix == pytest.approx(M.average(per, "fixation"), abs=1e-12)
    assert by_img == pytest.approx(M.average(per, "image"), abs=1e-12)
    assert abs(by_fix - by_img) > 1e-3


def test_map_folder_matches_the_model_and_resizes_only_under_mit(toy, tmp_path):
    folder = tmp_path / "ramp_maps"
    folder.mkdir()
    smap = Ramp().saliency_map(np.zeros((H, W, 3)))
    for image_id in toy.ids:
        np.save(folder / f"{image_id}.npy", smap)
    metrics = ["auc", "auc_judd", "nss", "cc", "kld", "sim"]
    a = evaluate([Ramp()], toy, metrics=metrics).summary()["ramp"]
    b = evaluate([folder], toy, metrics=metrics).summary()["ramp_maps"]
    assert a == pytest.approx(b, abs=1e-12)
    small = tmp_path / "small_maps"
    small.mkdir()
    for image_id in toy.ids:
        Image.fromarray((smap[::2, ::2] * 4).astype(np.uint8)).save(small / f"{image_id}.png")
    with pytest.raises(MetricError, match="convention='mit'"):
        evaluate([small], toy, metrics=["nss"])
    mit = evaluate([small], toy, metrics=["nss"], convention="mit").summary()["small_maps"]["nss"]
    assert mit == pytest.approx(evaluate([Ramp()], toy, metrics=["nss"], convention="mit").summary()["ramp"]["nss"], abs=0.05)


def test_missing_map_and_bad_options_are_errors(toy, tmp_path):
    folder = tmp_path / "few"
    folder.mkdir()
    np.save(folder / "im0.npy", np.ones((H, W)))
    with pytest.raises(ModelError, match="no map for image 'im1'"):
        evaluate([PrecomputedMaps(folder)], toy, metrics=["nss"])
    with pytest.raises(MetricError, match="unknown metric"):
        evaluate([Ramp()], toy, metrics=["nss", "accuracy"])
    with pytest.raises(MetricError, match="no fixations"):
        evaluate([Ramp()], toy, metrics=["nss"], skip_empty=False)
    with pytest.raises(ModelError, match="unknown model"):
        evaluate(["no_such_model"], toy, metrics=["nss"])


def test_inter_observer_is_leave_one_subject_out(toy):
    result = evaluate(["inter_observer"], toy, metrics=["nss"], max_images=1)
    f = toy.fixations.for_image(0)
    values = []
    for s in (0, 1, 2):
        held = f.subject == s
        dens = gaussian_density(f.row[~held], f.col[~held], (H, W), 3.0)
        dens = 0.999 * dens + 0.001 / (H * W)
        values.append(M.nss(dens, f.x[held], f.y[held], per_fixation=True))
    assert result.rows[0]["nss"] == pytest.approx(np.concatenate(values).mean(), abs=1e-12)


def test_outputs_are_written(toy, tmp_path):
    result = evaluate([Ramp(), Flat()], toy, metrics=["auc", "nss", "kld"])
    paths = result.write(tmp_path / "out")
    csv_lines = paths["per_image"].read_text().splitlines()
    assert csv_lines[0] == "model,image_index,image_id,n_fixations,auc,nss,kld"
    assert len(csv_lines) == 1 + 2 * 3
    summary = json.loads(paths["summary_json"].read_text())
    assert summary["schema_version"] == 1
    assert summary["summary"]["flat"]["auc"] == 0.5 and summary["summary"]["flat"]["nss"] == 0.0
    assert summary["skipped_images"] == ["im2"]
    md = paths["summary_md"].read_text()
    assert md.startswith("| model | AUC | NSS | KLD ↓ |") and "| flat | 0.5000 | 0.0000 |" in md
    figs = write_examples(result, [Ramp()], toy, tmp_path / "out", k=1)
    assert [p.name for p in figs] == ["examples_ramp.png"] and figs[0].stat().st_size > 1000


def test_osie_inter_observer_beats_center_bias(osie):
    test = osie.split("test")
    result = evaluate(["center_bias", "inter_observer"], test, metrics=["auc", "sauc", "nss", "ig"], max_images=2)
    summ = result.summary()
    assert result.n_images == 2
    assert summ["inter_observer"]["nss"] > summ["center_bias"]["nss"] + 1.0
    assert summ["inter_observer"]["sauc"] > 0.75 > summ["center_bias"]["sauc"]
    assert summ["center_bias"]["ig"] == pytest.approx(0.0, abs=1e-12)  # the baseline against itself
    assert summ["inter_observer"]["ig"] > 0.5


def test_workers_give_the_rows_of_one_process(toy):
    metrics = ["auc", "sauc", "auc_judd", "nss", "cc", "kld", "sim", "ig"]
    one = evaluate([Ramp(), "inter_observer"], toy, metrics=metrics, baseline=Flat(), map_density="normalize")
    two = evaluate([Ramp(), "inter_observer"], toy, metrics=metrics, baseline=Flat(), map_density="normalize", workers=2)
    assert len(one.rows) == 6 and one.skipped_images == ["im2"]
    assert two.rows == one.rows  # same order, bit-identical values
    assert two.skipped_images == one.skipped_images and two.n_images == one.n_images == 3
    assert two.summary() == one.summary()


@pytest.mark.parametrize("workers", [0, -1, 1.5, True])
def test_bad_worker_count_is_an_error(toy, workers):
    with pytest.raises(AnalysisError, match="workers="):
        evaluate([Ramp()], toy, metrics=["nss"], workers=workers)


def test_errors_in_a_worker_reach_the_caller(toy):
    with pytest.raises(MetricError, match="no fixations"):
        evaluate([Ramp()], toy, metrics=["nss"], skip_empty=False, workers=2)


class Buffer(SaliencyModel):
    """Refills one array per image (a different map each time): must not be taken for a repeated map."""

    name = "buffer"

    def __init__(self):
        self.buf = np.zeros((H, W))
        self.calls = 0

    def saliency_map(self, image):
        self.calls += 1
        yy, xx = np.mgrid[0:H, 0:W]
        self.buf[:] = np.sin(xx * self.calls) + yy
        return self.buf


def test_reused_map_statistics_give_the_same_rows(toy):
    metrics = ["auc", "sauc", "auc_judd", "nss", "cc", "kld", "sim"]
    reused = evaluate([Ramp(), Buffer()], toy, metrics=metrics)
    fresh = evaluate([Ramp(), Buffer()], toy, metrics=metrics, reuse_maps=False)
    assert reused.rows == fresh.rows
    buf = [r for r in fresh.rows if r["model"] == "buffer"]
    # the buffer's maps differ per image, so its scores differ (a stale cache would repeat image 0's statistics)
    assert len({r["nss"] for r in buf}) == 3
    f = toy.fixations
    for row, calls in zip(buf, (1, 2, 3)):
        yy, xx = np.mgrid[0:H, 0:W]
        smap = np.sin(xx * calls) + yy
        sel = f.n == row["image_index"]
        assert row["nss"] == M.nss(smap, f.x[sel], f.y[sel])
        assert row["auc_judd"] == M.auc_judd(smap, f.x[sel], f.y[sel])


def test_registered_name_wins_over_a_same_named_folder(tmp_path, monkeypatch):
    from salscope.analysis.evaluation import ModelSource, resolve_model

    (tmp_path / "center_bias").mkdir()
    np.save(tmp_path / "center_bias" / "im0.npy", np.ones((H, W)))
    monkeypatch.chdir(tmp_path)
    assert isinstance(resolve_model("center_bias"), ModelSource)          # the registry's model
    assert isinstance(resolve_model("./center_bias"), PrecomputedMaps)       # the folder, written as a path
