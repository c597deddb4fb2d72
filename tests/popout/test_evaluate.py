"""Evaluating models on a pop-out set: a colour-contrast model, tables, figures, CLI."""

from __future__ import annotations

import csv
import json

import numpy as np
import pytest
from skimage.color import rgb2lab

from salscope.analysis.popout.scoring import evaluate_popout, resolve_model, score_search_array, write_popout_results
from salscope.cli import main
from salscope.data.popout import LEVELS, generate_benchmark, load_popout_set
from salscope.errors import AnalysisError
from salscope.models.base import SaliencyModel
from salscope.models.registry import register_model


class ColourContrast(SaliencyModel):
    """Chroma × hue distance from the image's mean colour (CIELAB): a pure colour-contrast model.

    ``s(p) = C*(p) · |∠(a*b*(p)) − ∠(mean a*b*)|``. The achromatic background adds nothing to the
    mean chromaticity, so the mean hue is the distractors' hue; anti-aliased edges keep their item's hue.
    """

    name = "colour_contrast"

    def __init__(self, center_prior: bool = False):
        self.center_prior = center_prior

    def saliency_map(self, image):
        lab = rgb2lab(image)
        a, b = lab[..., 1], lab[..., 2]
        mean_hue = np.arctan2(b.mean(), a.mean())
        dhue = np.abs(np.angle(np.exp(1j * (np.arctan2(b, a) - mean_hue))))
        return np.hypot(a, b) * dhue


class WrongSize(SaliencyModel):
    name = "wrong_size"

    def saliency_map(self, image):
        return np.zeros((image.shape[0] // 2, image.shape[1]))


@register_model("test_colour_contrast", center_prior_switch=True)
def _factory(center_prior: bool = True):
    return ColourContrast(center_prior=center_prior)


@register_model("test_no_switch")
def _factory_no_switch():
    return ColourContrast(center_prior=False)


@pytest.fixture(scope="module")
def quick_set(tmp_path_factory):
    out = tmp_path_factory.mktemp("popout_quick")
    generate_benchmark(out, preset="quick", seed=0)
    return out


def test_colour_contrast_finds_colour_targets_but_not_conjunctions(quick_set):
    res = evaluate_popout([ColourContrast()], quick_set, dimensions=["colour", "conjunction"])
    assert {r["dimension"] for r in res.per_image} == {"colour", "conjunction"}
    assert len(res.per_image) == 16
    colour = [r for r in res.summary if r["dimension"] == "colour"]
    assert [r["level"] for r in colour] == [0, 1, 2, 3]
    for r in colour:  # every colour target, at every level and set size, is the first fixation
        assert r["fraction_found"] == 1.0 and r["fraction_first"] == 1.0 and r["mean_fixations"] == 1.0
        assert r["mean_gsi"] > 0.5 and r["median_msr_target"] > 1.0
    conj = [r for r in res.per_image if r["dimension"] == "conjunction"]
    assert np.mean([r["found_first"] for r in conj]) <= 0.25
    assert np.mean([r["n_fixations"] for r in conj]) >= 5.0
    assert np.mean([r["gsi"] for r in conj]) < 0.1
    overall = res.overall()[0]
    assert overall["fraction_first"] == 1.0 and overall["conjunction_fraction_found"] is not None
    assert overall["conjunction_fraction_found"] >= 0.0


def test_scores_match_the_metrics_and_standard_metrics(quick_set):
    import salscope.metrics as sm
    from salscope.metrics.popout import fixations_to_find, fixations_to_find_item, global_saliency_index, target_rank

    pset = load_popout_set(quick_set)
    arr = pset[0]
    model = ColourContrast()
    smap = model.saliency_map(arr.image)
    row = score_search_array(smap, arr, hit="ink")
    search = fixations_to_find(smap, arr.target_mask, arr.ior_radius)
    assert row["n_fixations"] == search.n_fixations and row["found"] == search.found
    centres, _, target = arr.items()
    item = fixations_to_find_item(smap, centres, target)
    row_item = score_search_array(smap, arr)  # hit="item" is the default
    assert row_item["n_fixations"] == item.n_fixations and row_item["found_first"] == (item.n_fixations == 1)
    assert row_item["target_rank"] == row["target_rank"] == target_rank(smap, centres, target)[0]
    assert row["gsi"] == pytest.approx(global_saliency_index(smap, arr.target_mask, arr.distractor_mask))
    tx, ty = arr.target_xy
    assert row["nss"] == pytest.approx(sm.nss(smap, np.array([tx]), np.array([ty])))
    z = (smap - smap.mean()) / smap.std()
    assert row["nss"] == pytest.approx(z[int(np.floor(ty + 0.5)), int(np.floor(tx + 0.5))])
    assert row["auc_judd"] == pytest.approx(sm.auc_judd(smap, np.array([tx]), np.array([ty])))
    assert 0.5 < row["auc_judd"] <= 1.0          # the colour-contrast map ranks the target above most pixels


def test_models_are_built_without_centre_prior():
    assert resolve_model("test_colour_contrast").center_prior is False
    assert resolve_model("test_no_switch").center_prior is False
    m = ColourContrast()
    assert resolve_model(m) is m


def test_bad_evaluations_raise(quick_set, tmp_path):
    with pytest.raises(AnalysisError, match="models is empty"):
        evaluate_popout([], quick_set)
    with pytest.raises(AnalysisError, match="does not match the search array"):
        evaluate_popout([WrongSize()], quick_set, spread_images=1)
    with pytest.raises(AnalysisError, match="dimensions.*unknown"):
        evaluate_popout([ColourContrast()], quick_set, dimensions=["motion"])


def test_write_results_and_cli(quick_set, tmp_path, capsys):
    rc = main(["popout", "evaluate", "--model", "test_colour_contrast", "--set", str(quick_set), "--out", str(tmp_path / "ev")])
    assert rc == 0
    out = capsys.readouterr().out
    assert "test_colour_contrast: found" in out
    ev = tmp_path / "ev"
    rows = list(csv.DictReader((ev / "per_image.csv").open()))
    assert len(rows) == 48
    summary = json.loads((ev / "summary.json").read_text(), parse_constant=lambda c: pytest.fail(f"non-JSON {c}"))
    assert summary["models"] == [{"name": "test_colour_contrast", "kind": "other", "center_prior": False}]
    assert len(summary["summary"]) == sum(len(v) for v in LEVELS.values())
    assert {r["dimension"] for r in summary["by_dimension"]} == set(LEVELS)
    md = (ev / "summary.md").read_text()
    assert "| test_colour_contrast | 1.00 · 1.00 · 1.0 ·" in md  # colour: always found first
    assert "## conjunction" in md
    for dim in LEVELS:
        png = ev / f"fig_{dim}.png"
        assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    # max_images keeps every dimension
    res = evaluate_popout(["test_colour_contrast"], quick_set, spread_images=12)
    assert len(res.per_image) == 12 and len({r["dimension"] for r in res.per_image}) == 6
    paths = write_popout_results(res, tmp_path / "ev2")
    assert paths["summary_md"].is_file()


def test_cli_generate_and_errors(tmp_path, capsys):
    assert main(["popout", "generate", "--out", str(tmp_path / "set"), "--preset", "quick", "--seed", "1"]) == 0
    assert "48 search arrays" in capsys.readouterr().out
    assert len(load_popout_set(tmp_path / "set")) == 48
    assert main(["popout", "generate", "--out", str(tmp_path / "x"), "--preset", "huge"]) == 2
    assert "preset 'huge' is unknown" in capsys.readouterr().err
    assert main(["popout", "evaluate", "--model", "no_such_model", "--set", str(tmp_path / "set"), "--out", str(tmp_path / "e")]) == 2
    assert "unknown model 'no_such_model'" in capsys.readouterr().err
    assert main(["popout", "evaluate", "--model", "test_colour_contrast", "--set", str(tmp_path), "--out", str(tmp_path / "e")]) == 2
    assert "index.json not found" in capsys.readouterr().err


@register_model("test_prior_only")
def _factory_prior_only(center_prior: bool = True):
    from salscope.errors import ModelError

    if not center_prior:
        raise ModelError("test_prior_only is nothing but a centre prior; center_prior=False is not meaningful")
    return ColourContrast(center_prior=True)


def test_prior_only_models_are_evaluated_with_a_note(quick_set):
    res = evaluate_popout(["test_prior_only"], quick_set, spread_images=6)
    assert res.models == [{"name": "test_prior_only", "kind": "other", "center_prior": True}]
    assert any("could not be switched off" in n for n in res.notes)


def test_example_figure_and_montage(quick_set):
    import matplotlib.pyplot as plt

    from salscope.analysis.popout.figures import example_figure, montage

    fig = example_figure(set_size=9, image_size=(64, 64), item_size=8.0, jitter=1.0)
    assert len(fig.axes) == 24 and fig.axes[0].get_ylabel() == "colour"
    assert fig.axes[3].get_title() == "L3: 180"
    plt.close(fig)
    pset = load_popout_set(quick_set)
    tiles = [pset[i] for i in range(3)]
    img = montage(tiles, columns=2, gap=4)
    assert img.shape == (256 * 2 + 4, 256 * 2 + 4, 3)
    assert np.array_equal(img[:256, 260:], tiles[1].image)
    assert np.all(img[260:, 260:] == 255)


def test_results_round_trip_through_files(quick_set, tmp_path):
    from salscope.analysis.popout.results import load_popout_results

    res = evaluate_popout([ColourContrast(), "test_no_switch"], quick_set, spread_images=12)
    write_popout_results(res, tmp_path / "r")
    back = load_popout_results(tmp_path / "r")
    assert back.models == res.models and back.max_fixations == res.max_fixations
    assert len(back.summary) == len(res.summary)
    for a, b in zip(res.summary, back.summary):
        assert a.keys() == b.keys()
        for k in a:
            if isinstance(a[k], float):
                assert b[k] == pytest.approx(a[k], rel=1e-12), k
            else:
                assert a[k] == b[k], k
    assert back.markdown() == res.markdown()
    with pytest.raises(AnalysisError, match="cannot read pop-out results"):
        load_popout_results(tmp_path / "missing")
