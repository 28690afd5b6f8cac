from __future__ import annotations

import json
import re
from pathlib import Path

import pandas as pd
import pytest
from markupsafe import Markup
from plotly.offline import get_plotlyjs

from loopml.report import (
    Alert,
    Card,
    Section,
    Table,
    badge,
    figures,
    format_value,
    render_page,
    write_html,
    write_text_atomic,
)


def _page(n_figures: int = 3) -> str:
    figs = [figures.bar(["a", "b"], [i, i + 1]) for i in range(n_figures)]
    return render_page(
        "Demo report",
        [
            Section(
                "Overview", cards=[Card("Rows", 1500), Card("Share", "12%", "of rows", "warning")]
            ),
            Section(
                "Warnings", alerts=[Alert("Column 'x' leaks.", "leakage", "danger", "x-panel")]
            ),
            Section(
                "Details",
                figures=figs[:1],
                tables=[pd.DataFrame({"name": ["a", "b"], "value": [1.5, 2]})],
                children=[
                    Section("x", id="x-panel", collapsible=True, figures=figs[1:], summary="more"),
                    Section("Plain child", tables=[[{"k": 1, "v": "one"}, {"k": 2, "w": "two"}]]),
                ],
            ),
        ],
        subtitle="a subtitle",
        footer="footer text",
    )


def _bundle_head() -> str:
    return get_plotlyjs()[:200]


def test_plotly_js_is_inlined_exactly_once_and_offline() -> None:
    html = _page(n_figures=5)
    assert html.count(_bundle_head()) == 1
    assert not re.search(r"<script[^>]*\bsrc\s*=", html, flags=re.IGNORECASE)
    assert not re.search(r"<link[^>]*\bhref\s*=\s*[\"']?https?:", html, flags=re.IGNORECASE)
    assert html.count('class="lm-plot"') == 5


def test_page_without_figures_has_no_plotly() -> None:
    html = render_page("No charts", [Section("Numbers", cards=[Card("Rows", 3)])])
    assert _bundle_head() not in html
    assert len(html) < 50_000


def test_figure_specs_are_valid_json_and_script_safe() -> None:
    fig = figures.bar(["</script><b>x</b>", "b"], [1, 2], title="<!-- sneaky")
    html = render_page("T", [Section("S", figures=[fig])])
    specs = re.findall(r'<script type="application/json" id="[^"]+">(.*?)</script>', html, re.S)
    assert len(specs) == 1
    spec = json.loads(specs[0])
    assert spec["data"][0]["x"][0] == "</script><b>x</b>"
    assert "<!--" not in specs[0]
    # The house template replaces plotly's default one (~7 KB per figure).
    assert len(specs[0]) < 2500


def test_dict_figures_are_accepted() -> None:
    html = render_page("T", [Section("S", figures=[{"data": [{"type": "bar", "y": [1]}]}])])
    assert '"type":"bar"' in html


def test_bad_figure_and_table_types_are_clear_errors() -> None:
    with pytest.raises(TypeError, match="report figure must be a plotly Figure or a dict"):
        render_page("T", [Section("S", figures=[object()])])
    with pytest.raises(TypeError, match="report table must be a Table, a DataFrame or a list"):
        render_page("T", [Section("S", tables=["nope"])])


def test_structure_toc_cards_alerts_tables_panels() -> None:
    html = _page()
    assert html.startswith("<!doctype html>")
    assert "<title>Demo report</title>" in html
    for anchor in ('href="#overview"', 'href="#warnings"', 'href="#details"'):
        assert anchor in html
    assert 'href="#plain-child"' not in html  # sections with panels do not list children
    assert "lm-card-value" in html and "1,500" in html
    assert 'class="lm-badge lm-danger">leakage' in html and 'href="#x-panel"' in html
    assert '<details class="lm-panel" id="x-panel"' in html
    assert "<th>name</th>" in html and '<td class="num">1.5</td>' in html
    assert "<td>one</td>" in html and "<th>w</th>" in html
    assert "footer text" in html and "a subtitle" in html


def test_rendering_is_deterministic() -> None:
    assert _page() == _page()


def test_text_is_escaped_and_markup_kept() -> None:
    html = render_page(
        "<b>title</b>",
        [
            Section(
                "<i>s</i>",
                text="1 < 2 & <script>",
                tables=[Table(["a"], [[badge("ok", "good")], ["<u>raw</u>"]])],
            )
        ],
    )
    assert "<b>title</b>" not in html and "&lt;b&gt;title&lt;/b&gt;" in html
    assert "1 &lt; 2 &amp; &lt;script&gt;" in html
    assert '<span class="lm-badge lm-good">ok</span>' in html
    assert "&lt;u&gt;raw&lt;/u&gt;" in html


def test_duplicate_section_titles_get_unique_ids() -> None:
    html = render_page("T", [Section("Same"), Section("Same"), Section("Same")])
    assert 'id="same"' in html and 'id="same-2"' in html and 'id="same-3"' in html


def test_badge_rejects_unknown_tone() -> None:
    with pytest.raises(ValueError, match=r"badge tone must be one of .*got 'loud'"):
        badge("x", "loud")  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("value", "text"),
    [
        (None, "—"),
        (True, "True"),
        (588_600.5, "588,600.5"),
        (2.5e12, "2.500e+12"),
        (1234567, "1,234,567"),
        (0.123456, "0.1235"),
        (12.0, "12"),
        (1234.5678, "1,234.6"),
        (3.2e-7, "3.200e-07"),
        (float("nan"), "—"),
        (float("inf"), "∞"),
        ("text", "text"),
    ],
)
def test_format_value(value: object, text: str) -> None:
    assert format_value(value) == text


def test_format_value_keeps_markup() -> None:
    m = Markup("<b>x</b>")
    assert format_value(m) is m


def test_table_alignment() -> None:
    t = Table(["name", "n", "mixed"], [["a", 1, 2], ["b", 2.5, "x"], ["c", None, 3]])
    assert t.alignments() == ["left", "right", "left"]
    assert Table(["a"], [[1]], align=["left"]).alignments() == ["left"]


def test_write_html_is_atomic(tmp_path: Path) -> None:
    target = tmp_path / "sub" / "page.html"
    assert write_html(target, "<p>one</p>") == target
    write_html(target, "<p>two</p>")
    assert target.read_text(encoding="utf-8") == "<p>two</p>"
    assert [p.name for p in target.parent.iterdir()] == ["page.html"]


def test_failed_write_leaves_old_file_and_no_temp(tmp_path: Path) -> None:
    target = tmp_path / "page.html"
    target.write_text("old", encoding="utf-8")

    with pytest.raises(TypeError, match="write"):
        write_text_atomic(target, 42)  # type: ignore[arg-type]
    assert target.read_text(encoding="utf-8") == "old"
    assert [p.name for p in tmp_path.iterdir()] == ["page.html"]
