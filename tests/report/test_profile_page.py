from __future__ import annotations

import json
import re

import numpy as np
import pandas as pd
import pytest
from plotly.offline import get_plotlyjs

from loopml.data.profile import profile


def _specs(html: str) -> list[dict[str, object]]:
    raw = re.findall(r'<script type="application/json" id="[^"]+">(.*?)</script>', html, re.S)
    return [json.loads(r) for r in raw]


def _leaky_frame(n: int = 400) -> pd.DataFrame:
    rng = np.random.default_rng(0)
    y = rng.integers(0, 2, n)
    return pd.DataFrame(
        {
            "leak": y + rng.normal(0, 0.01, n),
            "x": rng.normal(size=n),
            "city": rng.choice(["a", "b", "c"], n),
            "y": np.where(y == 1, "yes", "no"),
        }
    )


def test_page_layout_warnings_first_then_target_columns_correlations() -> None:
    html = profile(_leaky_frame(), target="y", name="churn").to_html()
    order = [
        html.index(f'<section class="lm-section lm-depth-0" id="{s}"')
        for s in ("overview", "warnings", "target", "columns", "correlations")
    ]
    assert order == sorted(order)
    assert "Data profile: churn" in html
    warnings = html[order[1] : order[2]]
    assert (
        "lm-alert lm-danger" in warnings and "Possible leakage: column &#39;leak&#39;" in warnings
    )
    assert 'href="#col-0-leak"' in warnings
    assert '<details class="lm-panel" id="col-0-leak"' in html


def test_page_is_offline_and_carries_only_binned_data() -> None:
    n = 50_000
    rng = np.random.default_rng(1)
    df = pd.DataFrame({"a": rng.normal(size=n), "b": rng.exponential(size=n)})
    html = profile(df).to_html()
    assert html.count(get_plotlyjs()[:200]) == 1
    assert not re.search(r"<script[^>]*\bsrc\s*=", html)
    assert len(html) - len(get_plotlyjs()) < 150_000  # 100k values would not fit
    for spec in _specs(html):
        for trace in spec["data"]:  # type: ignore[attr-defined]
            if trace["type"] == "bar":
                assert len(trace["y"] if "y" in trace else trace["x"]) <= 60


def test_correlation_heatmap_toggles_pearson_spearman() -> None:
    html = profile("builtin:wine", target="target").to_html()
    heatmaps = [s for s in _specs(html) if s["data"][0]["type"] == "heatmap"]  # type: ignore[index]
    names = [[t["name"] for t in h["data"]] for h in heatmaps]  # type: ignore[attr-defined]
    assert ["Pearson", "Spearman"] in names
    assert "Numeric vs categorical: correlation ratio" in html


def test_many_warnings_of_one_kind_are_folded() -> None:
    html = profile("builtin:digits", target="target").to_html()
    assert re.search(r"\d+ columns: &#39;pixel_", html)
    assert 'class="lm-filter"' in html  # 65 column panels get a search box


def test_sampled_profile_says_so() -> None:
    rng = np.random.default_rng(2)
    df = pd.DataFrame({"a": rng.normal(size=1000), "b": rng.normal(size=1000)})
    html = profile(df, max_rows=100).to_html()
    assert "random sample of 100 of 1,000 rows" in html


@pytest.mark.slow
def test_a_million_rows_are_sampled_for_correlations(tmp_path: object) -> None:
    rng = np.random.default_rng(3)
    n = 1_000_000
    data: dict[str, object] = {f"x{i}": rng.normal(size=n) for i in range(16)}
    data["city"] = rng.choice([f"c{i}" for i in range(100)], n)
    data["plan"] = rng.choice(["basic", "pro"], n)
    data["count"] = rng.poisson(3, n)
    data["y"] = rng.integers(0, 2, n)
    p = profile(pd.DataFrame(data), target="y")
    assert p.n_rows == n and p.sample_rows == 200_000
    assert p.column("city")["unique"] == 100 and p.column("x0")["count"] == n
    assert sum(p.column("x0")["histogram"]["counts"]) == n
    assert len(p.to_html()) - len(get_plotlyjs()) < 400_000
