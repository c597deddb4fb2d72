"""Every result object: to_pandas round trip, to_csv, tables for papers, a short repr (issue 20, item 6)."""

from __future__ import annotations

import csv
import math

import numpy as np
import pytest
from PIL import Image

from salscope.analysis.representation.compare import compare_features
from salscope.analysis.neurons.dissection import DissectionResult
from salscope.analysis.evaluation import evaluate
from salscope.analysis.neurons.analysis import LayerNeurons, NeuronResults, compare_neurons
from salscope.analysis.popout.scoring import PopoutResults, evaluate_popout
from salscope.analysis.tabular import REPR_WIDTH
from salscope.data import Dataset, Fixations, Stimuli
from salscope.data.popout import generate_benchmark
from salscope.errors import AnalysisError
from salscope.models.base import SaliencyModel


class Ramp(SaliencyModel):
    name = "ramp_model_with_a_rather_long_name_for_the_repr"

    def saliency_map(self, image):
        h, w = image.shape[:2]
        yy, xx = np.mgrid[0:h, 0:w]
        return (xx + 0.5 * yy + 1.0).astype(np.float64)


class Redness(SaliencyModel):
    name = "redness"
    center_prior = False

    def saliency_map(self, image):
        img = image.astype(np.float64)
        return img[..., 0] - 0.5 * (img[..., 1] + img[..., 2])


@pytest.fixture(scope="module")
def evaluation(tmp_path_factory):
    folder = tmp_path_factory.mktemp("toy")
    paths = []
    for k in range(3):
        p = folder / f"im{k}.png"
        Image.fromarray(np.full((24, 32, 3), 60 * k, np.uint8)).save(p)
        paths.append(p)
    rng = np.random.default_rng(0)
    n = np.repeat([0, 1, 2], 10)
    ds = Dataset("toy", Stimuli(paths), Fixations(rng.uniform(0, 31, n.size), rng.uniform(0, 23, n.size), n), {"ppd": 2.0})
    return evaluate([Ramp(), "center_bias"], ds, metrics=["auc", "nss", "cc"], baseline="center_bias")


@pytest.fixture(scope="module")
def popout(tmp_path_factory):
    folder = tmp_path_factory.mktemp("popout")
    generate_benchmark(folder, preset="quick", seed=0)
    return evaluate_popout([Redness()], folder, dimensions=["colour"], max_images=4)


def _neurons(name: str, shift: float) -> NeuronResults:
    """Two layers, 3 categories, 6 regions, 8 channels; channel 2 answers to 'face', more so with ``shift``."""
    rng = np.random.default_rng(1)
    cats = ["face", "text", "person head"]
    regions = [{"category": cats[i % 3], "image_id": f"im{i // 2}", "instance": i % 2, "n_fixations": 3 + i}
               for i in range(6)]
    layers = {}
    for layer in ("conv4_3", "conv5_3"):
        scores = rng.normal(0, 0.5, (6, 8))
        scores[[0, 3], 2] += 1.0 + shift   # pre: below T = 1.5, saliency: above it
        fires = np.ones(8, bool)
        fires[7] = False
        scores[:, 7] = np.nan
        iou = rng.uniform(0, 0.1, (8, 3))
        diss = DissectionResult(iou, np.ones(8), iou * 10, np.full((8, 3), 10.0), np.full(3, 5.0), np.ones(8, bool))
        layers[layer] = LayerNeurons(layer, scores, fires, np.zeros(8), np.ones(8), diss)
    return NeuronResults(name, cats, regions, layers, {"top_k": 2, "threshold": 1.5})


def _results(evaluation, popout):
    pre, sal = _neurons("pre", 0.0), _neurons("saliency", 1.5)
    rng = np.random.default_rng(2)
    feats = {m: {"a": rng.normal(size=(12, 5)), "b": rng.normal(size=(12, 7))} for m in ("pre", "sal", "scene")}
    comp = compare_features(feats, {m: [str(i) for i in range(12)] for m in feats}, n_boot=20, seed=0)
    return {"evaluation": evaluation, "popout": popout, "comparison": comp, "neurons": pre,
            "neuron_comparison": compare_neurons({"pre": pre, "saliency": sal})}


def _same(a, b) -> bool:
    if a is None or (isinstance(a, float) and math.isnan(a)):
        return b is None or (isinstance(b, float) and math.isnan(b))
    if isinstance(a, float) or isinstance(b, float):
        return float(a) == float(b)
    return a == b


def test_to_pandas_round_trip_of_every_result_and_table(evaluation, popout):
    pytest.importorskip("pandas")
    for kind, res in _results(evaluation, popout).items():
        for name in res.tables():
            columns, rows = res.table(name)
            assert rows, (kind, name)
            df = res.to_pandas(name)
            assert list(df.columns) == columns and len(df) == len(rows), (kind, name)
            back = df.astype(object).where(df.notna(), None).to_dict("records")
            for got, want in zip(back, rows):
                assert all(_same(want.get(c), got[c]) for c in columns), (kind, name, want, got)
    # the main tables are the objects' own rows
    assert evaluation.to_pandas()["nss"].tolist() == [r["nss"] for r in evaluation.rows]
    assert popout.to_pandas()["target_rank"].tolist() == [r["target_rank"] for r in popout.per_image]
    summary = evaluation.to_pandas("summary").set_index("model")
    assert summary.loc["center_bias", "auc"] == evaluation.summary()["center_bias"]["auc"]


def test_to_csv_writes_the_table_atomically(evaluation, popout, tmp_path):
    for kind, res in _results(evaluation, popout).items():
        path = res.to_csv(tmp_path / kind / "table.csv")
        columns, rows = res.table()
        with open(path, newline="") as fh:
            read = list(csv.DictReader(fh))
        assert list(read[0]) == columns and len(read) == len(rows), kind
        first = {c: rows[0].get(c) for c in columns}
        assert all(read[0][c] == ("" if v is None else str(v)) for c, v in first.items()), kind
        assert [p.name for p in path.parent.iterdir()] == ["table.csv"]   # no temporary file left behind


def test_repr_is_one_short_line_with_shape_and_columns(evaluation, popout):
    for kind, res in _results(evaluation, popout).items():
        text = repr(res)
        columns, rows = res.table()
        assert "\n" not in text and len(text) <= REPR_WIDTH, (kind, text)
        assert text.startswith(f"{type(res).__name__}({res.tables()[0]}: {len(rows)} rows × {len(columns)} columns ["), text
        assert columns[0] in text
    assert repr(evaluation) == ("EvaluationResult(per_image: 6 rows × 7 columns [model, image_index, image_id, "
                                "n_fixations, auc, nss, cc]; tables summary)")
    assert "…" in repr(popout) and repr(popout).endswith("; tables summary, overall, by_dimension)")


def test_unknown_table_and_missing_pandas_say_what_to_do(evaluation, monkeypatch):
    with pytest.raises(AnalysisError, match=r"EvaluationResult has no table 'nope'; its tables: per_image, summary"):
        evaluation.to_csv("x.csv", table="nope")
    import builtins

    real_import = builtins.__import__

    def no_pandas(name, *args, **kwargs):
        if name == "pandas":
            raise ImportError("no pandas here")
        return real_import(name, *args, **kwargs)

    monkeypatch.setattr(builtins, "__import__", no_pandas)
    with pytest.raises(AnalysisError, match=r"to_pandas\(\) needs pandas.*pip install pandas"):
        evaluation.to_pandas()


def test_write_tables_gives_latex_with_one_cell_per_column(evaluation, tmp_path):
    paths = evaluation.write_tables(tmp_path / "summary", ["tex", "md"], table="summary", caption="toy_set: 3 images")
    tex = paths["tex"].read_text()
    assert r"\begin{tabular}{lrrr}" in tex and r"\caption{toy\_set: 3 images}" in tex
    body = tex.split(r"\midrule")[1].split(r"\bottomrule")[0].strip().splitlines()
    assert len(body) == 2 and all(line.count(" & ") == 3 for line in body)
    assert body[0].startswith(r"ramp\_model\_with\_a\_rather\_long\_name")
    md = paths["md"].read_text()
    assert Ramp.name in md and f"{evaluation.summary()['center_bias']['nss']:.4g}" in md


def test_popout_results_loaded_from_rows_are_tabular_too():
    res = PopoutResults(per_image=[], summary=[], models=[], set_dir="x")
    text = "PopoutResults(per_image: 0 rows × 17 columns [model, name, dimension, level, level_value, set_size, found, …]; " \
           "tables summary, overall, by_dimension)"
    assert repr(res) == text and len(text) + len(", found_first") > REPR_WIDTH   # one more column would not fit
