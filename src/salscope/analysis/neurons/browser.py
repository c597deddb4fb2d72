"""What the report's neuron browser shows: every scored channel, its scores in each encoder, and thumbnails.

:func:`browser_data` reads the neuron analyses of several encoders over the same
annotated images (the pretrained encoder first, then set-ups II and III, or the
models of ``salscope dissect``) and writes one folder::

    data.json                          one entry per channel scored in some encoder
    thumbs/<layer>/<channel>-<k>-<role>.jpg

Per channel and encoder: the region NSS of every category (the
:meth:`~salscope.analysis.neurons.NeuronResults.category_scores` table), the
Network Dissection IoU of every category, and ``fires`` — the number of images
in which some activation of the channel exceeds its Network Dissection
threshold (the value exceeded by the top 0.5 % of its activations over the data
set). The best category is the argmax of the region NSS.

Thumbnails, the paper's style (Fig. 3): the image is shown only where the
channel's map, upsampled and z-scored over the image, exceeds T
(:func:`~salscope.analysis.neurons.figures.fire_opacity`), black elsewhere; the
annotated region the image was chosen for is outlined. Each channel gets
``n_images`` images, each encoder's best-scoring region in turn (pretrained's
best, II's best, III's best, pretrained's second, ..., one region per image), and
every encoder is drawn on those same images, so a row per encoder shows how
fine-tuning changed what the channel fires on (the paper's Fig. 5).

Cost: one forward pass per encoder over the annotated images and
``channels × n_images × encoders`` small JPEGs (128 px, quality 70: 0.5–2 KB each
on OSIE, mostly black); the activation maps never outlive their batch.

References
----------
He et al., "Understanding and Visualizing Deep Visual Saliency Models", CVPR
2019, Figs. 3 and 5; Bau et al., "Network Dissection", CVPR 2017 (the unit
pages of NetDissect's report).
"""

from __future__ import annotations

import io
import shutil
from pathlib import Path
from typing import Any, Mapping, Sequence

import numpy as np
import torch
import torch.nn.functional as F
from PIL import Image

from salscope.analysis.neurons.capture import iter_batches, layer_activations, to_input
from salscope.analysis.neurons.dissection import resize_mask_nearest
from salscope.analysis.neurons.figures import fire_opacity
from salscope.analysis.neurons.analysis import NeuronResults
from salscope.errors import AnalysisError
from salscope.io import replace_folder, write_json
from salscope.names import slug

BROWSER_SCHEMA = 1
DEFAULT_IMAGES = 4
THUMB_SIZE = 128        # longest side of a thumbnail, pixels
JPEG_QUALITY = 70
OUTLINE = (255, 214, 0)  # the annotated region's outline
#: Relative path of one thumbnail inside the browser folder (the page's script builds the same).
THUMB_PATTERN = "thumbs/{layer}/{channel}-{k}-{role}.jpg"


def thumb_path(layer_slug: str, channel: int, k: int, role_slug: str) -> str:
    """Relative path of channel ``channel``'s ``k``-th thumbnail for one encoder (see :data:`THUMB_PATTERN`)."""
    return THUMB_PATTERN.format(layer=layer_slug, channel=int(channel), k=int(k), role=role_slug)


def _r3(value: Any) -> float | None:
    v = float(value)
    return round(v, 3) if np.isfinite(v) else None


def _check_same(results: Mapping[str, NeuronResults], reference: str) -> list[str]:
    if reference not in results:
        raise AnalysisError(f"reference {reference!r} is not among the neuron results: {list(results)}")
    ref = results[reference]
    key = [(r["image_id"], r["instance"]) for r in ref.regions]
    for name, res in results.items():
        if [(r["image_id"], r["instance"]) for r in res.regions] != key or res.categories != ref.categories:
            raise AnalysisError(f"neuron results {name!r} and {reference!r} were computed on different images or "
                                "regions; analyse every encoder on the same data set, regions and --max-images")
    return [lay for lay in ref.layer_names if all(lay in res.layers for res in results.values())]


def pick_regions(region_scores: Sequence[np.ndarray], region_image: Sequence[str], channel: int, n: int) -> list[int]:
    """Regions to show for ``channel``: each table's best region in turn, one region per image, ``n`` at most.

    ``region_scores``: one ``(R, C)`` table per encoder (NaN = unscored). Round
    robin over the encoders: the first encoder's best region, the second's best,
    ..., then each one's second best, skipping regions without a score and
    images already chosen.
    """
    orders = []
    for s in region_scores:
        col = np.asarray(s[:, channel], dtype=np.float64)
        ok = np.flatnonzero(np.isfinite(col))
        orders.append(list(ok[np.argsort(-col[ok], kind="stable")]))
    picked: list[int] = []
    images: set[str] = set()
    pos = [0] * len(orders)
    while len(picked) < n and any(p < len(o) for p, o in zip(pos, orders)):
        for e, order in enumerate(orders):
            while pos[e] < len(order) and region_image[order[pos[e]]] in images:
                pos[e] += 1
            if pos[e] < len(order) and len(picked) < n:
                r = int(order[pos[e]])
                picked.append(r)
                images.add(region_image[r])
                pos[e] += 1
    return picked


def largest_gain(results: Mapping[str, NeuronResults], reference: str, model: str, layer: str,
                 category: str) -> dict[str, Any] | None:
    """The channel of ``layer`` whose ``category`` region NSS rose most from ``reference`` to ``model``.

    Over the channels scored in both; ``{layer, channel, category, model,
    before, after, gain}`` or ``None`` when the category is not analysed or no
    channel is scored in both.
    """
    ref, other = results[reference], results[model]
    if category not in ref.categories:
        return None
    k = ref.categories.index(category)
    before = ref.category_scores(layer).scores[k]
    after = other.category_scores(layer).scores[k]
    gain = np.where(np.isfinite(before) & np.isfinite(after), after - before, -np.inf)
    if not np.isfinite(gain).any():
        return None
    c = int(np.argmax(gain))
    return {"layer": layer, "channel": c, "category": category, "model": model, "reference": reference,
            "before": float(before[c]), "after": float(after[c]), "gain": float(gain[c])}


def _outline(mask: np.ndarray) -> np.ndarray:
    """Pixels of ``mask`` with a 4-neighbour outside the mask (a one-pixel contour)."""
    inner = mask.copy()
    inner[1:] &= mask[:-1]
    inner[:-1] &= mask[1:]
    inner[:, 1:] &= mask[:, :-1]
    inner[:, :-1] &= mask[:, 1:]
    return mask & ~inner


def _small(image: np.ndarray, size: int) -> np.ndarray:
    h, w = image.shape[:2]
    scale = size / max(h, w)
    th, tw = max(1, round(h * scale)), max(1, round(w * scale))
    return np.asarray(Image.fromarray(image).resize((tw, th), Image.BILINEAR))


def _jpeg(pixels: np.ndarray, quality: int) -> bytes:
    buf = io.BytesIO()
    Image.fromarray(pixels).save(buf, format="JPEG", quality=quality, optimize=True)
    return buf.getvalue()


def masked_thumbnail(small: np.ndarray, alpha: np.ndarray, outline: np.ndarray | None) -> np.ndarray:
    """``small`` (h, w, 3) times the opacity ``alpha`` (h, w; :func:`fire_opacity`), the region outlined."""
    out = (small.astype(np.float32) * alpha[..., None]).astype(np.uint8)
    if outline is not None:
        out[outline] = OUTLINE
    return out


def browser_data(results: Mapping[str, NeuronResults], models: Mapping[str, Any], dataset: Any,
                 regions: Mapping[str, Any], out_dir: str | Path, *, reference: str | None = None,
                 labels: Mapping[str, str] | None = None, n_images: int = DEFAULT_IMAGES,
                 thumb_size: int = THUMB_SIZE, quality: int = JPEG_QUALITY, batch_size: int = 8,
                 device: Any = None) -> dict[str, Any]:
    """Write ``out_dir/data.json`` and ``out_dir/thumbs/`` for the neuron browser; return the data.

    ``results`` and ``models``: the same keys (the encoders' roles, e.g.
    ``pretrained``, ``saliency``, ``scene``), analysed over the same regions;
    ``reference`` (default the first) is the one the others' changes are taken
    against. ``labels`` names the roles on the page. ``dataset`` and
    ``regions`` are what the analyses ran on. The folder is built beside
    ``out_dir`` and renamed into place, so a killed run leaves the old folder or
    the new one.
    """
    names = list(results)
    if not names:
        raise AnalysisError("browser_data: no neuron results given")
    if set(models) != set(names):
        raise AnalysisError(f"browser_data: models {sorted(models)} and results {sorted(names)} must have the same keys")
    if n_images < 1:
        raise AnalysisError(f"n_images={n_images}: show at least one image per channel")
    reference = reference or names[0]
    names = [reference] + [n for n in names if n != reference]
    layers = _check_same(results, reference)
    ref = results[reference]
    cats = list(ref.categories)
    region_image = [str(r["image_id"]) for r in ref.regions]
    role_slugs = {n: slug(n) for n in names}
    layer_slugs = {lay: slug(lay) for lay in layers}
    threshold = float(ref.settings.get("threshold", 1.5))

    units: list[dict[str, Any]] = []
    needs: dict[str, dict[str, list[tuple[int, int, int]]]] = {lay: {} for lay in layers}   # layer → image → (c, k, r)
    scores = {lay: {n: results[n].category_scores(lay).scores for n in names} for lay in layers}
    for li, lay in enumerate(layers):
        tables = [results[n].layer(lay).region_scores for n in names]
        scored = np.logical_or.reduce([results[n].layer(lay).fires for n in names])
        for c in np.flatnonzero(scored).tolist():
            picked = pick_regions(tables, region_image, c, n_images)
            unit: dict[str, Any] = {
                "layer": li, "channel": c,
                "scores": {n: [_r3(v) for v in scores[lay][n][:, c]] for n in names},
                "iou": {n: (None if results[n].layer(lay).dissection is None else
                            [_r3(v) for v in results[n].layer(lay).dissection.iou[c]]) for n in names},
                "fires": {n: None for n in names},
                "regions": [{"image": region_image[r], "category": ref.regions[r]["category"],
                             "instance": int(ref.regions[r]["instance"]),
                             "scores": {n: _r3(results[n].layer(lay).region_scores[r, c]) for n in names}}
                            for r in picked],
            }
            for k, r in enumerate(picked):
                needs[lay].setdefault(region_image[r], []).append((c, k, r))
            units.append(unit)
    unit_at = {(u["layer"], u["channel"]): u for u in units}

    out_dir = Path(out_dir)
    partial = out_dir.with_name(f".{out_dir.name}.partial")
    shutil.rmtree(partial, ignore_errors=True)
    (partial / "thumbs").mkdir(parents=True)
    for lay in layers:
        (partial / "thumbs" / layer_slugs[lay]).mkdir()
    ids = list(dict.fromkeys(region_image))
    fires = {n: {lay: np.zeros(results[n].layer(lay).channels, dtype=np.int64) for lay in layers} for n in names}
    smalls: dict[str, np.ndarray] = {}
    outlines: dict[int, np.ndarray] = {}
    try:
        for n in names:
            model = models[n].eval()
            if device is not None:
                model = model.to(device)
            size = results[n].settings.get("input_size")
            thr = {lay: (None if results[n].layer(lay).dissection is None else
                         torch.as_tensor(results[n].layer(lay).dissection.threshold, dtype=torch.float32))
                   for lay in layers}
            # equal input sizes batch; without a fixed input size every image goes alone
            for batch in iter_batches(range(len(ids)), batch_size if size else 1):
                images = [dataset.stimuli[dataset.stimuli.index(ids[i])] for i in batch]
                x = to_input(model, images, size)
                feats = layer_activations(model, x.to(device) if device is not None else x, layers)
                for b, i in enumerate(batch):
                    image_id = ids[i]
                    if image_id not in smalls:
                        smalls[image_id] = _small(images[b], thumb_size)
                    small = smalls[image_id]
                    for lay in layers:
                        act = feats[lay][b].detach().float().cpu()
                        if thr[lay] is not None:
                            fires[n][lay] += (act.flatten(1).amax(1) > thr[lay]).numpy()
                        todo = needs[lay].get(image_id)
                        if not todo:
                            continue
                        chans = torch.as_tensor([c for c, _, _ in todo])
                        up = F.interpolate(act[chans][None], size=small.shape[:2], mode="bilinear",
                                           align_corners=False)[0].numpy()
                        for (c, k, r), alpha in zip(todo, fire_opacity(up, threshold)):
                            if r not in outlines:
                                outlines[r] = _region_outline(regions, ref.regions[r], small.shape[:2])
                            pixels = masked_thumbnail(small, alpha, outlines[r])
                            dest = partial / thumb_path(layer_slugs[lay], c, k, role_slugs[n])
                            dest.write_bytes(_jpeg(pixels, quality))
                del feats, x
        for n in names:
            for li, lay in enumerate(layers):
                if results[n].layer(lay).dissection is None:
                    continue
                for c, count in enumerate(fires[n][lay].tolist()):
                    if (li, c) in unit_at:
                        unit_at[(li, c)]["fires"][n] = int(count)
        thumb_h, thumb_w = next(iter(smalls.values())).shape[:2] if smalls else (thumb_size, thumb_size)
        data = {
            "kind": "salscope.neuron_browser", "browser_schema": BROWSER_SCHEMA, "categories": cats,
            "threshold": threshold, "top_k": int(ref.settings.get("top_k", 10)),
            "roles": [{"key": n, "label": (labels or {}).get(n, n), "slug": role_slugs[n]} for n in names],
            "reference": reference,
            "layers": [{"name": lay, "slug": layer_slugs[lay], "channels": int(ref.layer(lay).channels),
                        "scored": int(sum(1 for u in units if u["layer"] == li))} for li, lay in enumerate(layers)],
            "n_images": len(ids), "n_regions": len(region_image), "images_per_channel": int(n_images),
            "thumb": {"pattern": THUMB_PATTERN, "width": int(thumb_w), "height": int(thumb_h), "quality": int(quality)},
            "units": units,
        }
        write_json(partial / "data.json", data)
        replace_folder(partial, out_dir)
    finally:
        shutil.rmtree(partial, ignore_errors=True)
    return data


def _region_outline(regions: Mapping[str, Any], row: Mapping[str, Any], size: tuple[int, int]) -> np.ndarray | None:
    for region in regions[row["image_id"]]:
        if int(region.instance) == int(row["instance"]):
            return _outline(resize_mask_nearest(np.asarray(region.mask, dtype=bool), size))
    return None

