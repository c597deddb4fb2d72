"""Evidence figures draw any interval, also one that does not contain its point estimate, and plain-text names."""

from __future__ import annotations

from salscope.study import figures as sf


def test_interval_bars_with_point_outside_interval_and_dollar_names(tmp_path):
    rows = [{"name": "a$b", "v": 0.5, "lo": 0.6, "hi": 0.9}, {"name": "$\\foo$", "v": -0.1, "lo": None, "hi": None},
            {"name": "c", "v": None, "lo": None, "hi": None}]
    path = sf.interval_bars(rows, tmp_path / "bars.png", label="name", value="v", lo="lo", hi="hi", xlabel="x", title="t")
    assert path.stat().st_size > 1000
    null = sf.null_histograms([{"title": "x$y", "null": [0.1, 0.2, float("nan")], "observed": 0.5, "random": [0.3],
                                "p": 0.01}], tmp_path / "null.png")
    boot = sf.bootstrap_histogram([0.1, 0.2, 0.3], (0.1, 0.3), 0.2, tmp_path / "boot.png", xlabel="d", title="$")
    assert null.stat().st_size > 1000 and boot.stat().st_size > 1000
