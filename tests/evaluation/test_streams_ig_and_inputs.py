"""Issue 18 item 9 and issue 19: per-image random streams, the IG rule, map-folder files, empty data sets, JSON."""

from __future__ import annotations

import json
import math

import numpy as np
import pytest
from PIL import Image

import salscope.metrics as M
from salscope.analysis.evaluation import evaluate, has_log_density
from salscope.models.precomputed import PrecomputedMaps
from salscope.data import Dataset, Fixations, Stimuli
from salscope.errors import DataError, MetricError, SalscopeError
from salscope.io import json_safe, write_json
from salscope.models.base import SaliencyModel, log_density_from_map

H, W = 20, 30


class Ramp(SaliencyModel):
    """A plain saliency-map model (no density of its own)."""

    name = "ramp"

    def saliency_map(self, image):
        yy, xx = np.mgrid[0:H, 0:W]
        return (xx + 0.5 * yy + 1.0).astype(np.float64)


class Gauss(SaliencyModel):
    """A probabilistic model: overrides log_density."""

    name = "gauss"

    def saliency_map(self, image):
        return np.exp(self.log_density(image))

    def log_density(self, image):
        yy, xx = np.mgrid[0:H, 0:W]
        logd = -((xx - 20.0) ** 2 + (yy - 8.0) ** 2) / 60.0
        return logd - np.log(np.exp(logd).sum())


@pytest.fixture
def twins(tmp_path):
    """Five equal images with equal fixations: only the image index tells them apart."""
    paths = []
    for k in range(5):
        p = tmp_path / "img" / f"t{k}.png"
        p.parent.mkdir(exist_ok=True)
        Image.fromarray(np.full((H, W, 3), 100, np.uint8)).save(p)
        paths.append(p)
    rng = np.random.default_rng(3)
    x0, y0 = rng.uniform(0, W - 1, 15), rng.uniform(0, H - 1, 15)
    n = np.repeat(np.arange(5), 15)
    subject = np.tile(np.repeat([0, 1, 2], 5), 5)
    fix = Fixations(np.tile(x0, 5), np.tile(y0, 5), n, subject=subject)
    return Dataset("twins", Stimuli(paths), fix, {"ppd": 3.0})


# --------------------------------------------------------------------------- random streams (issue 18 item 9)


def test_image_rng_is_the_seed_sequence_of_seed_and_index():
    a = M.image_rng(7, 3).random(4)
    np.testing.assert_array_equal(a, np.random.default_rng(np.random.SeedSequence([7, 3])).random(4))
    assert not np.array_equal(a, M.image_rng(7, 4).random(4))
    with pytest.raises(MetricError, match="image_index"):
        M.image_rng(7, -1)


def test_mit_random_metrics_use_each_image_own_stream(twins):
    metrics = ["auc_borji", "sauc"]
    full = evaluate([Ramp()], twins, metrics=metrics, convention="mit", seed=11)
    smap = Ramp().saliency_map(None)
    f = twins.fixations
    for row in full.rows:
        k = row["image_index"]
        sel = f.n == k
        # the value of image k alone, from its own stream (seed, k)
        borji = M.auc_borji(smap, f.x[sel], f.y[sel], convention="mit", seed=M.image_rng(11, k))
        sauc = M.shuffled_auc(smap, f.x[sel], f.y[sel], f.x[~sel], f.y[~sel], convention="mit", seed=M.image_rng(11, k))
        assert row["auc_borji"] == borji and row["sauc"] == sauc
    # equal images, equal fixations: the scores differ only because each index has its own stream
    assert len({r["auc_borji"] for r in full.rows}) == 5
    # image 2 scores the same whether the images after it are scored or not, with or without workers
    prefix = evaluate([Ramp()], twins, metrics=["auc_borji"], convention="mit", seed=11, max_images=3)
    assert prefix.rows[2]["auc_borji"] == full.rows[2]["auc_borji"]
    alone = evaluate([Ramp()], twins, metrics=["auc_borji"], convention="mit", seed=11)
    assert [r["auc_borji"] for r in alone.rows] == [r["auc_borji"] for r in full.rows]  # metric list irrelevant
    two = evaluate([Ramp()], twins, metrics=metrics, convention="mit", seed=11, workers=2)
    assert two.rows == full.rows


# --------------------------------------------------------------------------- IG rule (issue 18 item 9)


def test_ig_only_for_models_with_a_density_unless_a_conversion_is_named(twins, tmp_path):
    folder = tmp_path / "ramp_maps"
    folder.mkdir()
    for image_id in twins.ids:
        np.save(folder / f"{image_id}.npy", Ramp().saliency_map(None))
    assert has_log_density(Gauss()) and not has_log_density(Ramp())
    result = evaluate([Gauss(), Ramp(), folder, "inter_observer"], twins, metrics=["nss", "ig"], max_images=2)
    summ = result.summary()
    f = twins.fixations
    sel = f.n == 0
    uniform_cb = M.information_gain(Gauss().log_density(None), _center_bias_logd(), f.x[sel], f.y[sel])
    assert result.rows[0]["ig"] == pytest.approx(uniform_cb, abs=1e-12)
    assert math.isnan(summ["ramp"]["ig"]) and math.isnan(summ["ramp_maps"]["ig"])
    assert np.isfinite(summ["inter_observer"]["ig"]) and np.isfinite(summ["ramp"]["nss"])
    assert len(result.notes) == 1 and "ramp, ramp_maps" in result.notes[0] and "map_density='normalize'" in result.notes[0]
    out = result.write(tmp_path / "out")
    text = out["summary_json"].read_text()
    assert "NaN" not in text
    doc = json.loads(text)
    assert doc["summary"]["ramp"]["ig"] is None and doc["notes"] == result.notes
    assert "n/a" in out["summary_md"].read_text() and "not computed for ramp" in out["summary_md"].read_text()
    # with the conversion named, the map is read as a density
    conv = evaluate([Ramp()], twins, metrics=["ig"], max_images=1, map_density="normalize")
    expected = M.information_gain(log_density_from_map(Ramp().saliency_map(None)), _center_bias_logd(), f.x[sel], f.y[sel])
    assert conv.rows[0]["ig"] == pytest.approx(expected, abs=1e-12) and "map_density='normalize'" in conv.notes[0]
    # a baseline without a density cannot anchor IG
    with pytest.raises(MetricError, match="baseline 'ramp'"):
        evaluate([Gauss()], twins, metrics=["ig"], baseline=Ramp())
    with pytest.raises(MetricError, match="map_density="):
        evaluate([Gauss()], twins, metrics=["ig"], map_density="softmax")


def _center_bias_logd():
    from salscope.models import get_model

    return get_model("center_bias").log_density(np.zeros((H, W, 3), np.uint8))


def test_mit_ig_converts_every_map_as_infogain_m(twins):
    result = evaluate([Ramp()], twins, metrics=["ig"], convention="mit", baseline=Gauss(), max_images=1)
    f = twins.fixations
    sel = f.n == 0
    expected = M.information_gain(Ramp().saliency_map(None), Gauss().saliency_map(None), f.x[sel], f.y[sel], convention="mit")
    assert result.rows[0]["ig"] == pytest.approx(expected, abs=1e-12)
    assert "InfoGain.m" in result.notes[0]


# --------------------------------------------------------------------------- map folder (issue 19)


def test_two_maps_for_one_image_is_an_error_naming_both(tmp_path):
    folder = tmp_path / "maps"
    folder.mkdir()
    np.save(folder / "1002.npy", np.ones((4, 4)))
    Image.fromarray(np.zeros((4, 4), np.uint8)).save(folder / "1002.png")
    with pytest.raises(DataError, match=r"1002.npy and 1002.png; keep one"):
        PrecomputedMaps(folder)


def test_float_tiff_map_keeps_its_negative_values(twins, tmp_path):
    folder = tmp_path / "tif_maps"
    folder.mkdir()
    yy, xx = np.mgrid[0:H, 0:W]
    smap = (xx - 15.0 + 0.25 * yy).astype(np.float32)  # negative on the left half
    for image_id in twins.ids:
        Image.fromarray(smap, mode="F").save(folder / f"{image_id}.tif")
    got, _ = PrecomputedMaps(folder).predict(twins, 0, None)
    np.testing.assert_array_equal(got, smap.astype(np.float64))
    row = evaluate([folder], twins, metrics=["nss"], max_images=1).rows[0]
    sel = twins.fixations.n == 0
    assert row["nss"] == pytest.approx(M.nss(smap.astype(np.float64), twins.fixations.x[sel], twins.fixations.y[sel]), abs=1e-12)


def _npy_object(path):
    np.save(path, np.array([{"a": 1}], dtype=object), allow_pickle=True)


def _npy_truncated(path):
    np.save(path, np.ones((H, W)))
    path.write_bytes(path.read_bytes()[:200])


def _npy_strings(path):
    np.save(path, np.array([["a", "b"], ["c", "d"]]))


def _npy_not_npy(path):
    path.write_bytes(b"this is not numpy")


def _png_truncated(path):
    Image.fromarray(np.zeros((H, W), np.uint8)).save(path.with_suffix(".png"))
    data = path.with_suffix(".png").read_bytes()
    path.with_suffix(".png").write_bytes(data[: len(data) // 2])


@pytest.mark.parametrize("make, name, fragment", [
    (_npy_object, "t0.npy", "pickled \\(object\\) array"),
    (_npy_truncated, "t0.npy", "truncated or not a .npy"),
    (_npy_strings, "t0.npy", "has dtype <U1"),
    (_npy_not_npy, "t0.npy", "not a .npy array \\(no NumPy header\\)"),
    (_png_truncated, "t0.png", "corrupt"),
])
def test_bad_map_files_are_data_errors_naming_the_file(twins, tmp_path, make, name, fragment):
    folder = tmp_path / "bad"
    folder.mkdir()
    make(folder / "t0.npy")
    before = (folder / name).read_bytes()
    with pytest.raises(SalscopeError, match=fragment) as err:
        evaluate([folder], twins, metrics=["nss"], max_images=1)
    assert isinstance(err.value, DataError) and str(folder / name) in str(err.value)
    assert (folder / name).read_bytes() == before


# --------------------------------------------------------------------------- no fixations, JSON (issue 19)


def test_a_data_set_without_fixations_is_an_error(twins):
    empty = Dataset("empty", twins.stimuli, Fixations([], [], []), twins.meta)
    with pytest.raises(MetricError, match="no fixations on any image of it"):
        evaluate(["center_bias"], empty, metrics=["nss"])
    late = Dataset("late", twins.stimuli, twins.fixations[twins.fixations.n == 4], twins.meta)
    with pytest.raises(MetricError, match="first 2 image"):
        evaluate(["center_bias"], late, metrics=["nss"], max_images=2)


def test_json_writer_writes_null_for_non_finite_values(tmp_path):
    payload = {"a": float("nan"), "b": [1.0, float("inf"), np.float32("-inf")], "c": np.array([0.5, np.nan]),
               "d": {np.int64(3): np.float64("nan")}, "e": 2}
    path = write_json(tmp_path / "x.json", payload)
    text = path.read_text()
    assert "NaN" not in text and "Infinity" not in text
    assert json.loads(text) == {"schema_version": 1, "a": None, "b": [1.0, None, None], "c": [0.5, None],
                                "d": {"3": None}, "e": 2}
    assert json_safe((1.0, float("nan"))) == [1.0, None]
