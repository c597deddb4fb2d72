"""The tiny study's report and neuron browser: content, size bound, and headless Chromium at page and phone widths."""

from __future__ import annotations

import json
import re
import shutil
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pytest

from salscope.report.browser import thumbnail_files
from salscope.study.stages.common import encoder_layers
from salscope.study.config import build_config

CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
                 "--no-first-run", "--disable-sync"]
#: A thumbnail never takes more than one 4 KiB file-system block (measured on OSIE below).
THUMB_BYTES = 4096
#: Everything else in a standard report (figures, gallery, tables, pages): measured ~3 MB, bounded generously.
REST_BYTES = 12 * 2**20


def _stage(out: Path, name: str) -> dict:
    [path] = list((out / "stages").glob(f"{name}-*/stage.json"))
    return json.loads(path.read_text())["results"]


def _data(study) -> dict:
    return json.loads((study["index"].parent / "neurons.html").read_text().split('id="neuron-data">', 1)[1]
                      .split("</script>", 1)[0])


def _best(scores: list) -> int:
    vals = [-np.inf if v is None else v for v in scores]
    return int(np.argmax(vals)) if np.isfinite(max(vals)) else -1


# -- without a browser ----------------------------------------------------------------------------------------
def test_browser_data_is_in_the_report_and_every_thumbnail_is_there(study):
    report = study["index"].parent
    data = _data(study)
    neurons = _stage(study["out"], "neurons")
    assert [r["key"] for r in data["roles"]] == ["pretrained", "saliency", "scene"]
    assert [lay["name"] for lay in data["layers"]] == neurons["layers"]
    assert data["n_images"] == neurons["n_images"] == 3
    assert len(data["units"]) == sum(lay["scored"] for lay in data["layers"]) > 500
    files = thumbnail_files(data)
    assert len(files) == sum(len(u["regions"]) for u in data["units"]) * 3
    assert all((report / "neurons" / f).is_file() for f in files)
    # the channel the finding links to is the largest person-head gain among the deepest layer's channels
    gain = neurons["browser"]["largest_gain"]
    head = data["categories"].index("person head")
    deepest = len(data["layers"]) - 1
    deltas = {u["channel"]: u["scores"]["saliency"][head] - u["scores"]["pretrained"][head] for u in data["units"]
              if u["layer"] == deepest and None not in (u["scores"]["saliency"][head], u["scores"]["pretrained"][head])}
    assert gain["channel"] == max(deltas, key=deltas.get) and gain["layer"] == data["layers"][deepest]["name"]
    assert gain["gain"] == pytest.approx(deltas[gain["channel"]], abs=2e-3)


def test_standard_report_stays_under_50_mb(study):
    """Thumbnails of OSIE images stay under one block each; the standard study's count times that fits in 50 MB."""
    report = study["index"].parent
    data = _data(study)
    sizes = [(report / "neurons" / f).stat().st_size for f in thumbnail_files(data)]
    assert max(sizes) < THUMB_BYTES and np.mean(sizes) < 2500
    standard = build_config(preset="standard")
    layers = encoder_layers(SimpleNamespace(config=standard), list(standard.neurons.layers), 3)
    from salscope.models.backbones import get_backbone

    channels = {f.name: f.channels for f in get_backbone(standard.train.backbone, weights=None).feature_info}
    n_thumbs = sum(channels[lay] for lay in layers) * standard.neurons.browser_images * 3   # pretrained, II, III
    assert n_thumbs == 704 * 4 * 3
    assert n_thumbs * THUMB_BYTES + REST_BYTES < 50 * 2**20
    # the rest of the tiny report is far below its bound (its pages and tables grow with channels, not images)
    rest = sum(p.stat().st_size for p in report.rglob("*") if p.is_file() and "thumbs" not in p.parts)
    assert rest < REST_BYTES / 3


def test_figures_have_real_captions_and_finding_2_plots_what_its_caption_says(study):
    page = study["index"].read_text()
    captions = re.findall(r"<figcaption>(.*?)</figcaption>", page, flags=re.S)
    figures = re.findall(r"<figure>", page)
    assert len(captions) == len(figures) >= 10
    for caption in captions:
        text = re.sub(r"<a [^>]*>.*?</a>", "", caption)      # the PDF/SVG links carry file names
        assert len(text) > 40 and "__" not in text and not text.lower().startswith("fig"), caption
    neurons = _stage(study["out"], "neurons")
    [fig] = [f for f in neurons["figures_bias"] if f["path"].endswith("before_after.png")]
    assert "Top-10 mean region NSS" in fig["caption"]
    plotted = json.loads(Path(fig["path"]).with_suffix(".json").read_text())
    assert plotted["metric"] == "top_k_mean"
    deepest = neurons["layers"][-1]
    for model, values in zip(plotted["models"], plotted["values"]):
        for cat, value in zip(plotted["categories"], values):
            row = [r for r in neurons["per_category"] if (r["model"], r["layer"], r["category"]) == (model, deepest, cat)]
            if row and value is not None:
                assert value == pytest.approx(row[0]["topk_mean"], abs=1e-9)
    # the layer-change bars are drawn at page width, one row per layer, whatever the number of layers
    from PIL import Image

    [change] = [f for f in _stage(study["out"], "compare")["figures"] if f["path"].endswith("layer_change_bars.png")]
    assert Image.open(change["path"]).size[0] <= 900


def test_every_finding_says_what_this_run_can_and_cannot_show(study):
    page = study["index"].read_text()
    scopes = re.findall(r'<p class="scope">(.*?)</p>', page, flags=re.S)
    assert len(scopes) == 4
    train = _stage(study["out"], "train")
    steps = train["setups"]["saliency"]["epochs"] * -(-len(train["setups"]["saliency"]["train_ids"]) // 4)
    assert f"II {steps} steps" in scopes[1] and "held out" in scopes[1] and "3 annotated" in scopes[1]
    assert "4 OSIE test images" in scopes[2] and "5 generated arrays" in scopes[2]
    assert "CKA on 8 OSIE test images" in scopes[3]
    assert all("It can show" in s and "cannot show" in s for s in scopes)
    # table of contents: one entry per section, and the browser; long tables folded
    toc = page.split('<nav class="toc"', 1)[1].split("</nav>", 1)[0]
    for anchor in ("training", "gallery", "encoded", "bias", "natural", "task", "run"):
        assert f'href="#{anchor}"' in toc and f'id="{anchor}"' in page
    assert 'href="neurons.html"' in toc
    assert "<details><summary>Pretrained encoder per layer and category" in page


# -- in Chromium ----------------------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def chromium():
    path = shutil.which("chromium") or shutil.which("chromium-browser")
    if path is None:
        pytest.skip("chromium not installed (make test installs Debian's chromium package)")
    sync_api = pytest.importorskip("playwright.sync_api")
    with sync_api.sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=path, args=CHROMIUM_ARGS)
        yield browser
        browser.close()


def _page(chromium, width: int, errors: list[str]):
    page = chromium.new_page(viewport={"width": width, "height": 900})
    page.on("console", lambda msg: errors.append(msg.text) if msg.type == "error" else None)
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    page.on("requestfailed", lambda req: errors.append(f"failed: {req.url}"))
    return page


_LOAD_ALL = "() => Promise.all([...document.images].map(i => { i.loading = 'eager'; return i.decode(); }))"
_IMAGES = "(sel) => [...document.querySelectorAll(sel)].map(i => [i.getAttribute('src'), i.naturalWidth, i.alt])"
_OVERFLOW = "() => document.documentElement.scrollWidth - document.documentElement.clientWidth"


def test_report_at_page_and_narrow_width(study, chromium, tmp_path):
    """1400 and 700 px: every image (figures, both galleries) loads, the page never scrolls sideways."""
    errors: list[str] = []
    for width in (1400, 700):
        page = _page(chromium, width, errors)
        page.goto(study["index"].as_uri())
        page.evaluate(_LOAD_ALL)
        images = page.evaluate(_IMAGES, "img")
        natural = page.evaluate(_IMAGES, "#gallery-natural img")
        popout = page.evaluate(_IMAGES, "#gallery-popout img")
        assert page.evaluate(_OVERFLOW) <= 0, f"the page scrolls sideways at {width} px"
        # a wide table scrolls inside its own box instead of being cut
        assert page.evaluate("() => [...document.querySelectorAll('.scroll')].some(d => d.scrollWidth > d.clientWidth)")
        page.screenshot(path=str(tmp_path / f"report_{width}.png"), full_page=True)
        page.close()
        assert all(w > 0 and alt for _, w, alt in images), [i for i in images if not i[1]]
        assert len(natural) == 2 * (3 + 6) and len(popout) >= 5 * (2 + 4)   # images × (image, fixations, density, models)
    assert errors == []
    assert (tmp_path / "report_700.png").stat().st_size > 50_000


def test_neuron_browser_filter_open_deep_link(study, chromium, tmp_path):
    """Filter by a category, sort, open a channel, follow a deep link: no console error, no missing image."""
    data = _data(study)
    page_url = (study["index"].parent / "neurons.html").as_uri()
    cats = data["categories"]
    head = cats.index("person head")
    errors: list[str] = []
    page = _page(chromium, 1280, errors)
    page.goto(page_url)
    page.wait_for_selector("body[data-ready='1']")
    assert page.evaluate("() => performance.now()") < 2000        # parsed and drawn in under 2 s
    assert page.locator("#units-body tr").count() == len(data["units"])
    # filter: channels whose best category (pretrained) is person head
    page.select_option("#f-cat", label="person head")
    expected = [u for u in data["units"] if _best(u["scores"]["pretrained"]) == head]
    rows = page.locator("#units-body tr")
    assert rows.count() == len(expected) > 0
    assert set(page.locator("#units-body tr td:nth-child(3)").all_inner_texts()) == {"person head"}
    # sort by the change to set-up II, largest first: the first row is the largest person-head gain among them
    page.locator("#units-head th[data-key='d:saliency'] button").click()
    top = max(expected, key=lambda u: u["scores"]["saliency"][head] - u["scores"]["pretrained"][head])
    first = rows.nth(0).locator("td").nth(1).inner_text()
    assert int(first) == top["channel"]
    # open it: its panel with the bar chart and one thumbnail per region and encoder, all loaded
    rows.nth(0).locator("a").click()
    page.wait_for_selector("#panel:not([hidden]) .thumbs img")
    layer = data["layers"][top["layer"]]["name"]
    assert page.locator("#panel-title").inner_text() == f"{layer} · channel {top['channel']}"
    assert page.url.endswith(f"#{layer}/{top['channel']}")
    assert page.locator("#panel svg.bars rect").count() >= len(cats)
    page.evaluate(_LOAD_ALL)
    thumbs = page.evaluate(_IMAGES, "#panel img")
    assert len(thumbs) == 3 * len(top["regions"]) and all(w > 0 for _, w, _ in thumbs), thumbs
    page.screenshot(path=str(tmp_path / "browser_1280.png"))
    page.close()
    # a deep link from outside: the channel with the largest person-head gain, opened straight away on a phone
    gain = _stage(study["out"], "neurons")["browser"]["largest_gain"]
    page = _page(chromium, 390, errors)
    page.goto(f"{page_url}#{gain['layer']}/{gain['channel']}")
    page.wait_for_selector("#panel:not([hidden]) .thumbs img")
    assert page.locator("#panel-title").inner_text() == f"{gain['layer']} · channel {gain['channel']}"
    page.evaluate(_LOAD_ALL)
    assert all(w > 0 for _, w, _ in page.evaluate(_IMAGES, "img"))
    assert page.evaluate(_OVERFLOW) <= 0, "the browser scrolls sideways on a phone"
    page.screenshot(path=str(tmp_path / "browser_390.png"))
    # a channel that is not analysed says so instead of failing
    page.evaluate("() => { location.hash = 'block15/99999'; }")
    page.wait_for_function("() => document.getElementById('panel').textContent.includes('No such analysed channel')")
    page.close()
    assert errors == []


def test_largest_head_gain_is_one_click_from_the_findings_table(study, chromium):
    gain = _stage(study["out"], "neurons")["browser"]["largest_gain"]
    errors: list[str] = []
    page = _page(chromium, 1280, errors)
    page.goto(study["index"].as_uri())
    link = page.locator("#findings a", has_text="largest person head gain")
    assert link.count() == 1
    link.click()
    page.wait_for_selector("#panel:not([hidden])")
    assert page.url.endswith(f"neurons.html#{gain['layer']}/{gain['channel']}")
    assert page.locator("#panel-title").inner_text() == f"{gain['layer']} · channel {gain['channel']}"
    page.close()
    assert errors == []
