"""Finding 4's task-vs-domain verdict: the statistics per layer, their bootstrap intervals, and the decision rule.

:func:`verdict_rows` turns one :class:`~salscope.analysis.representation.compare.Comparison`
(pretrained, saliency II, scene III and optionally replicate II′ in their roles)
into one row per layer; :func:`task_vs_domain_decision` decides each row. The
statistics and the rule are described in :mod:`salscope.analysis.representation.compare`.

References
----------
S. Kornblith et al. Similarity of Neural Network Representations Revisited. ICML 2019.
D. J. Schuirmann. A comparison of the two one-sided tests procedure and the
power approach for assessing the equivalence of average bioavailability.
J. Pharmacokinet. Biopharm. 15(6), 1987 (equivalence by interval inclusion).
D. Lakens. Equivalence tests: a practical primer for t tests, correlations, and
meta-analyses. Soc. Psychol. Personal. Sci. 8(4), 2017.
C. Spearman. The proof and measurement of association between two things.
Am. J. Psychol. 15, 1904 (correction for attenuation).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Mapping

import numpy as np

from salscope.analysis.representation.similarity import gram_geometry, gram_linear, percentile_ci

if TYPE_CHECKING:  # annotations only: compare imports this module
    from salscope.analysis.representation.compare import Comparison

ROLES = ("pretrained", "saliency", "scene")
REPLICATE = "replicate"  # optional fourth role: set-up II trained again with another seed (II′)
ALL_ROLES = (*ROLES, REPLICATE)
NO_REPLICATE_FLOOR = 0.05  # ‖ΔK̂‖ below which III "did not move" when no replicate gives the noise floor (CKA(pre, III) > 0.9987)


def verdict_statistics(cka: Any, geo: Any, replicate: bool) -> dict[str, np.ndarray]:
    """Every verdict statistic from ``cka(role, role)`` values and a :class:`GramGeometry` over the roles.

    Works on the point estimate (arrays of length 1) and on bootstrap replicates alike.
    """
    pre, sal, scene, rep = "pretrained", "saliency", "scene", REPLICATE
    out = {
        "change_saliency": 1 - cka(pre, sal),
        "change_scene": 1 - cka(pre, scene),
        "saliency_minus_scene": cka(pre, scene) - cka(pre, sal),
        "cka_saliency_scene": cka(sal, scene),
        "task_minus_domain": cka(pre, scene) - cka(sal, scene),  # kept for old readers; not a decision statistic
        "scene_closer_to_pre": cka(pre, scene) - cka(sal, scene),
        "move_saliency": geo.move(sal),
        "move_scene": geo.move(scene),
        "align_scene": geo.align(sal, scene),
    }
    if replicate:
        out.update({
            "move_replicate": geo.move(rep),
            "replicate_distance": geo.dist(sal, rep),
            "align_replicate": geo.align(sal, rep),
            "task_effect": geo.align(sal, rep) - geo.align(sal, scene),
            "cka_saliency_replicate": cka(sal, rep),
            "replicate_minus_scene": cka(sal, rep) - cka(sal, scene),
        })
        corrected = corrected_alignment(geo.align(sal, scene), geo.align(sal, rep), geo.dist(sal, rep), geo.move(scene))
        out["align_scene_corrected"] = corrected
        out["task_effect_corrected"] = 1.0 - corrected
    return out


def corrected_alignment(align_scene: Any, align_replicate: Any, replicate_distance: Any, move_scene: Any) -> np.ndarray:
    """cos(D_II, D_III) corrected for the attenuation that seed noise puts on both directions.

    Model: each fine-tuned model's Gram change is a signal plus its own seed
    noise of size σ (the same for II and III: same architecture, data and
    schedule). Two seeds of II give σ² = ‖K̂_II − K̂_II′‖² / 2 and II's
    reliability r_II = cos(D_II, D_II′); III's is r_III = 1 − σ² / ‖D_III‖².
    The signals' cosine is then cos(D_II, D_III) / √(r_II · r_III) (Spearman's
    correction for attenuation): 1 when III moved in II's direction however
    noisily or weakly, lower when its direction differs. NaN where a
    reliability is not positive (III's move cannot be told from seed noise).

    References
    ----------
    Spearman, C. "The proof and measurement of association between two things",
    Am. J. Psychol. 15 (1904).
    """
    a, r2 = np.asarray(align_scene, dtype=float), np.asarray(align_replicate, dtype=float)
    d, m = np.asarray(replicate_distance, dtype=float), np.asarray(move_scene, dtype=float)
    with np.errstate(divide="ignore", invalid="ignore"):
        r3 = 1.0 - (d * d / 2.0) / (m * m)
        ok = (r2 > 0) & (r3 > 0) & np.isfinite(a)
        return np.where(ok, a / np.sqrt(np.where(ok, r2 * r3, 1.0)), np.nan)


def verdict_rows(comp: Comparison, acc: Any, pooled: Mapping[str, np.ndarray], key: Mapping, n_boot: int,
             seed: int) -> list[dict[str, Any]]:
    roles = comp.roles
    present = list(roles)  # in ALL_ROLES order
    replicate = REPLICATE in roles
    n = len(comp.image_ids)
    draws = None
    if n_boot > 0:
        # Images are the resampled units in both modes; flatten mode keeps each image in its minibatch.
        draws = acc.resample(n_boot, seed) if comp.reduce == "flatten" else np.random.default_rng(seed).integers(0, n, size=(n_boot, n))

    rows = []
    for li, layer in enumerate(comp.layers):
        k = {r: key[(roles[r], layer)] for r in present}

        def point_cka(a: str, b: str) -> np.ndarray:
            ma, mb = roles[a], roles[b]
            m = comp.cka[(ma, mb)] if (ma, mb) in comp.cka else comp.cka[(mb, ma)].T
            return np.array([m[li, li]])

        grams = {r: gram_linear(pooled[k[r]]) for r in present}
        point = verdict_statistics(point_cka, gram_geometry(grams, "pretrained", debiased=comp.debiased), replicate)
        row: dict[str, Any] = {"layer": layer, **{name: float(v[0]) for name, v in point.items()}}
        if draws is not None:
            geo = gram_geometry(grams, "pretrained", draws=draws, debiased=comp.debiased)
            if comp.reduce == "flatten":
                pairs = [(k[a], k[b]) for i, a in enumerate(present) for b in present[i + 1:]]
                boot = acc.bootstrap(pairs, draws=draws)

                def boot_cka(a: str, b: str) -> np.ndarray:
                    return boot[(k[a], k[b])] if (k[a], k[b]) in boot else boot[(k[b], k[a])]
            else:
                boot_cka = geo.cka
            for name, values in verdict_statistics(boot_cka, geo, replicate).items():
                ci = percentile_ci(values)
                row[f"{name}_ci"] = list(ci) if ci is not None else None
        row["decision"], row["decision_reason"] = task_vs_domain_decision(row)
        rows.append(row)
    return rows


def task_vs_domain_decision(row: Mapping[str, Any], *, margin: float = 0.1,
                            floor: float = NO_REPLICATE_FLOOR) -> tuple[str, str]:
    """Decide finding 4 for one layer's verdict row: ``("reproduced" | "not reproduced" | "inconclusive", reason)``.

    The rule, applied in this order to the 95 % bootstrap intervals over images:

    1. *III did not move*: the upper bound of ``move_scene`` (‖K̂_III − K̂_pre‖) is
       at or below the noise floor — ``replicate_distance`` (‖K̂_II − K̂_II′‖, how
       far two seeds of the same training land apart) or, without a replicate,
       ``floor`` (0.05, i.e. CKA(pre, III) > 0.9987) → "not reproduced": there is
       no change of III to attribute to the domain or to the task.
    2. Without a replicate → "inconclusive": a direction can only be called
       task-specific against the spread of the same task's directions.
    With a replicate, rules 3–4 read ``task_effect_corrected`` = 1 −
    :func:`corrected_alignment` (III's alignment with II corrected for the
    attenuation by both models' seed noise, estimated from II vs II′), since a
    III that moved along II's direction but less, with its own seed noise, has
    a lower raw cosine than a replicate: the raw ``task_effect`` would credit
    that to the task. The raw ``task_effect`` is still reported.

    3. *Equivalence*: the upper bound of ``task_effect`` = cos(D_II, D_II′) −
       cos(D_II, D_III) is below ``margin`` → "not reproduced": III moved in
       II's direction as closely as a same-task replicate does, up to the
       margin (an equivalence test by interval inclusion, Schuirmann 1987 TOST;
       Lakens 2017; one-sided because III aligning *better* than a replicate
       is no evidence for the task either). It is checked before rule 4 so that
       a difference that is statistically above 0 but practically negligible
       (interval inside (0, margin)) does not count as the task's.
    4. ``task_effect`` interval entirely above 0 and ``replicate_minus_scene``
       (CKA(II, II′) − CKA(II, III)) interval entirely above 0 → "reproduced":
       a same-task replicate moves with II, and stays closer to II, better
       than the same-data scene model.
    5. Otherwise "inconclusive". Missing intervals (``n_boot=0``) or an
       alignment undefined on some resample (interval None) → "inconclusive".

    References: Kornblith et al. 2019 (CKA); Schuirmann 1987; Lakens 2017.
    """
    move = row.get("move_scene_ci")
    if move is None:
        return "inconclusive", "no bootstrap interval for move_scene (n_boot=0?); nothing can be decided"
    has_rep = "replicate_distance" in row
    noise = float(row["replicate_distance"]) if has_rep else float(floor)
    noise_name = "the replicate noise floor ‖K̂_II − K̂_II′‖" if has_rep else "the stated floor (no replicate)"
    if move[1] <= noise:
        return "not reproduced", (f"III's representation did not change beyond {noise_name}: move_scene ≤ {move[1]:.3g} ≤ "
                                  f"{noise:.3g}; nothing to attribute")
    if not has_rep:
        return "inconclusive", "no same-task replicate (II′): the direction of III's change cannot be judged against seed noise"
    rms = row.get("replicate_minus_scene_ci")
    raw = row.get("task_effect_ci")
    if raw is None:
        return "inconclusive", "task_effect has no interval (an alignment is undefined on some resample)"
    # Seed noise lowers III's raw alignment, so the raw task_effect errs towards the task: below the margin it
    # shows equivalence all the more. For "reproduced" the attenuation-corrected statistic must agree.
    if raw[1] < margin:
        return "not reproduced", (f"task_effect interval [{raw[0]:+.3f}, {raw[1]:+.3f}] lies below the margin "
                                  f"{margin:g}: III moved in the direction of a same-task replicate")
    te, name = raw, "task_effect"
    if "task_effect_corrected" in row:
        te, name = row.get("task_effect_corrected_ci"), "task_effect_corrected"
        if te is None:
            return "inconclusive", ("the attenuation-corrected task effect has no interval: on some resample III's move "
                                    "cannot be told from seed noise (its reliability is not positive)")
        if te[1] < margin:
            return "not reproduced", (f"{name} interval [{te[0]:+.3f}, {te[1]:+.3f}] lies below the margin {margin:g}: "
                                      "corrected for seed noise, III moved in the direction of a same-task replicate")
    if te[0] > 0 and rms is not None and rms[0] > 0:
        return "reproduced", (f"{name} [{te[0]:+.3f}, {te[1]:+.3f}] > 0 and replicate_minus_scene "
                              f"[{rms[0]:+.3f}, {rms[1]:+.3f}] > 0: II′ follows II, III does not")
    return "inconclusive", (f"{name} [{te[0]:+.3f}, {te[1]:+.3f}] straddles 0 or the margin {margin:g}, or "
                            "replicate_minus_scene does not exclude 0")
