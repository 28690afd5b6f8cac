"""HTML reports: self-contained pages of cards, alerts, tables and Plotly figures.

Every loopml report (data profile, run, evaluation, drift) is a list of
:class:`Section` objects rendered by :func:`render_page` and written with
:func:`write_html`. Pages inline plotly.js once and never reach the network.

Examples
--------
>>> from loopml.report import Section, render_page, figures
>>> fig = figures.bar(["a", "b"], [3, 5], title="counts")
>>> html = render_page("Demo", [Section("Counts", figures=[fig])])
>>> html.count("<script type=\\"text/javascript\\">")
2
"""

from __future__ import annotations

from loopml.report import figures
from loopml.report.html import (
    Alert,
    Card,
    Section,
    Table,
    Tone,
    badge,
    embed_figure,
    format_value,
    render_page,
    write_html,
    write_text_atomic,
)

__all__ = [
    "Alert",
    "Card",
    "Section",
    "Table",
    "Tone",
    "badge",
    "embed_figure",
    "figures",
    "format_value",
    "render_page",
    "write_html",
    "write_text_atomic",
]
