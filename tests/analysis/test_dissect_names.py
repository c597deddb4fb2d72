"""Category/model names with ``$`` or ``../`` (issue 19, item 8): dissect succeeds, every file stays in --out.

Runs ``salscope dissect`` through its CLI on the planted data set (tests/analysis/conftest.py) with
the data loader, region loader and encoder loader swapped for the planted ones.
"""

from __future__ import annotations

import json

import pytest

from salscope.cli import main
from salscope.models.factory import parse_spec
from salscope.names import MAX_LEN, plain_text, slug

NAMES = {"person head": "a$b", "text": "../evil", "object": "$\\foo$"}  # the last one is bad mathtext


@pytest.fixture()
def hostile(planted, planted_model, swapped_model, monkeypatch):
    import salscope.cli.dissect as dissect
    import salscope.data as data
    from salscope.data.regions import Region, Regions

    ds, regions = planted
    renamed = {i: Regions(r.image_id, [Region(x.instance, NAMES[x.category], x.code, x.mask) for x in r.instances],
                          r.shape) for i, r in regions.items()}
    monkeypatch.setattr(data, "load_dataset", lambda name, data_dir=None: ds)
    monkeypatch.setattr(dissect, "_load_regions", lambda spec, stimuli, data_dir: renamed)
    # spec ".." is a model whose label would be the parent folder; it is the "fine-tuned" swapped encoder
    def fake(specs, weights):
        return [(parse_spec(planted_model, label=s), swapped_model if s == ".." else planted_model) for s in specs]

    monkeypatch.setattr(dissect, "_encoders", fake)
    return ds


def test_dissect_with_dollar_and_dotdot_names_stays_inside_out(hostile, tmp_path, capsys):
    out = tmp_path / "out"
    rc = main(["dissect", "--model", "planted", "--model", "..", "--layers", "conv", "--max-images", "6", "--out", str(out),
               "--input-size", "80x64", "--mask-size", "40x32", "--batch-size", "4",
               "--figure-categories", ",".join(NAMES.values())])
    assert rc == 0, capsys.readouterr().err
    # nothing outside --out: tmp_path holds only out/
    assert [p.name for p in tmp_path.iterdir()] == ["out"]
    assert not list(tmp_path.parent.glob("evil*")) and not list(tmp_path.glob("*.json"))
    written = [p for p in out.rglob("*") if p.is_file()]
    assert all(out in p.resolve().parents for p in written)
    ref, other = out / "planted", out / slug("..")
    assert other.name == f"_-{other.name[-8:]}" and (other / "results.json").is_file()
    for cat in NAMES.values():
        assert (ref / f"masked_conv_{slug(cat)}.png").is_file(), cat
        assert (other / f"masked_conv_{slug(cat)}.png").is_file(), cat
    heat = json.loads((ref / "counts_heatmap.json").read_text())
    assert sorted(heat["categories"]) == sorted(NAMES.values())  # the data file keeps the real names
    masked = json.loads((ref / f"masked_conv_{slug('../evil')}.json").read_text())
    assert masked["category"] == "../evil"
    # the swapped model's channel 0 turned from person-head ("a$b") into text ("../evil"): a comparison figure
    assert (out / "bars_conv.png").is_file() and list(out.glob("channel_*_*.png"))


def test_slug_and_plain_text():
    assert slug("person head") == "person_head" and slug("conv5_3") == "conv5_3" and slug("v1.2-x") == "v1.2-x"
    for name in ("../evil", "..", ".", "", "a/b", "a\\b", "a$b", ".hidden", "x" * 300, "a\x00b", "/etc/passwd"):
        s = slug(name)
        assert "/" not in s and "\\" not in s and not s.startswith(".") and 0 < len(s) <= MAX_LEN, (name, s)
        assert s != name
    assert slug("a/b") != slug("a_b") and slug("a$b") != slug("a%b")  # changed names keep a hash suffix
    assert slug("a$b") == slug("a$b")  # deterministic
    assert plain_text("cost $5 and $\\foo$") == "cost \\$5 and \\$\\foo\\$"


def test_plain_text_draws_bad_mathtext_literally(tmp_path):
    import matplotlib

    matplotlib.use("Agg", force=False)
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots()
    ax.set_title(plain_text("$\\foo$"))
    fig.savefig(tmp_path / "t.png")  # raw "$\foo$" raises ValueError (unknown symbol) here
    assert ax.title.get_text() == "\\$\\foo\\$"
    plt.close(fig)
