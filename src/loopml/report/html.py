"""Self-contained HTML pages: sections of cards, alerts, tables and Plotly figures.

A page is a list of :class:`Section` objects rendered by :func:`render_page`
through Jinja2 templates. plotly.js is inlined once per page (never a CDN), so a
report opens offline, from a file, years later. Figures are stored as JSON next
to an empty ``<div>`` and drawn when they scroll into view or when their
collapsed panel opens: a page with a hundred charts opens at once, and a chart
inside a closed panel gets its real width when drawn.

Examples
--------
>>> from loopml.report import Card, Section, Table, render_page
>>> page = render_page(
...     "Demo",
...     [Section("Numbers", cards=[Card("Rows", 150)], tables=[Table(["a"], [[1]])])],
... )
>>> page.startswith("<!doctype html>")
True
"""

from __future__ import annotations

import contextvars
import itertools
import json
import math
import re
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime
from functools import cache
from pathlib import Path
from typing import Any, Literal

import jinja2
import numpy as np
import pandas as pd
from markupsafe import Markup

import loopml

__all__ = [
    "Alert",
    "Card",
    "Section",
    "Table",
    "Tone",
    "badge",
    "embed_figure",
    "format_value",
    "render_page",
    "write_html",
    "write_text_atomic",
]

Tone = Literal["neutral", "accent", "info", "good", "warning", "danger"]
_TONES = ("neutral", "accent", "info", "good", "warning", "danger")
#: Plotly config shared by every figure: no logo, no lasso/select tools.
PLOTLY_CONFIG: dict[str, Any] = {
    "responsive": True,
    "displaylogo": False,
    "modeBarButtonsToRemove": ["lasso2d", "select2d", "autoScale2d"],
}


@dataclass
class Card:
    """A headline number: label above, value large, optional detail below."""

    label: str
    value: Any
    detail: str | None = None
    tone: Tone = "neutral"


@dataclass
class Alert:
    """A callout; *title* is shown as a badge (e.g. the kind of warning)."""

    message: str
    title: str | None = None
    tone: Tone = "warning"
    target: str | None = None  # id of an element the alert links to


@dataclass
class Table:
    """Rows of cells under a header. Cells are formatted with :func:`format_value`.

    Cells that are :class:`markupsafe.Markup` (e.g. from :func:`badge`) are kept as HTML.
    *align* gives each column's alignment (``"left"`` or ``"right"``); by default numbers
    are right-aligned and everything else left-aligned.
    """

    columns: list[str]
    rows: list[list[Any]]
    caption: str | None = None
    align: list[str] | None = None

    def alignments(self) -> list[str]:
        """Each column's alignment: *align* if given, else right for all-number columns."""
        if self.align is not None:
            return list(self.align)
        out = []
        for j in range(len(self.columns)):
            cells = [r[j] for r in self.rows if j < len(r) and r[j] is not None]
            numeric = bool(cells) and all(_is_number(c) for c in cells)
            out.append("right" if numeric else "left")
        return out

    @classmethod
    def from_frame(
        cls, df: pd.DataFrame, *, index: bool = False, caption: str | None = None
    ) -> Table:
        frame = df.reset_index() if index else df
        rows = [list(r) for r in frame.itertuples(index=False, name=None)]
        return cls([str(c) for c in frame.columns], rows, caption)

    @classmethod
    def from_records(
        cls,
        records: Sequence[Mapping[str, Any]],
        *,
        columns: Sequence[str] | None = None,
        caption: str | None = None,
    ) -> Table:
        if columns is None:
            seen: dict[str, None] = {}
            for rec in records:
                seen.update(dict.fromkeys(rec))
            columns = list(seen)
        rows = [[rec.get(c) for c in columns] for rec in records]
        return cls(list(columns), rows, caption)


@dataclass
class Section:
    """One part of a page.

    Parameters
    ----------
    title : str
        Heading; top-level sections are listed in the table of contents.
    body : str, optional
        Trusted HTML shown under the heading (escape user text with :func:`markupsafe.escape`).
    text : str, optional
        Plain text shown under the heading (escaped).
    cards, alerts, tables, figures : lists
        Headline numbers, callouts, tables (:class:`Table`, DataFrame or list of dicts)
        and Plotly figures (``plotly.graph_objects.Figure`` or a ``{"data", "layout"}`` dict).
    children : list of Section
        Subsections; collapsible children render as expandable panels.
    collapsible, open : bool
        Render as a ``<details>`` panel (closed unless *open*).
    summary : str, optional
        Short text on the panel's header line, next to the *badges*.
    figure_columns : int
        Figures side by side on wide screens.
    stack : bool
        Figures full width, tables below them. By default, when a section has both, the
        tables sit in a narrow column left of the figures.
    filter : bool
        Show a search box that filters the collapsible children by title.
    """

    title: str
    body: str | None = None
    text: str | None = None
    cards: list[Card] = field(default_factory=list)
    alerts: list[Alert] = field(default_factory=list)
    tables: list[Any] = field(default_factory=list)
    figures: list[Any] = field(default_factory=list)
    children: list[Section] = field(default_factory=list)
    collapsible: bool = False
    open: bool = False
    summary: str | None = None
    badges: list[Markup] = field(default_factory=list)
    figure_columns: int = 1
    stack: bool = False
    filter: bool = False
    id: str | None = None


def badge(text: str, tone: Tone = "neutral") -> Markup:
    """A small coloured label, usable in table cells, panel headers and bodies."""
    if tone not in _TONES:
        raise ValueError(f"badge tone must be one of {', '.join(_TONES)}; got {tone!r}.")
    return Markup('<span class="lm-badge lm-{}">{}</span>').format(tone, text)


def format_value(value: Any, digits: int = 4) -> str:
    """Human-readable cell text: ints with thousands separators, floats to *digits* significant."""
    if value is None:
        return "—"
    if isinstance(value, Markup):
        return value
    if isinstance(value, bool | np.bool_):
        return str(bool(value))
    if isinstance(value, int | np.integer):
        return f"{int(value):,}"
    if isinstance(value, float | np.floating):
        v = float(value)
        if math.isnan(v):
            return "—"
        if math.isinf(v):
            return "∞" if v > 0 else "-∞"
        if v != 0 and (abs(v) >= 1e9 or abs(v) < 10 ** -(digits - 1)):
            return f"{v:.{digits - 1}e}"
        if v == int(v):
            return f"{int(v):,}"
        return f"{v:,.{digits}g}" if abs(v) < 1000 else f"{v:,.1f}"
    if isinstance(value, datetime | date | pd.Timestamp):
        return value.isoformat()
    return str(value)


def _is_number(value: Any) -> bool:
    return isinstance(value, int | float | np.integer | np.floating) and not isinstance(
        value, bool | np.bool_
    )


# -- figures ------------------------------------------------------------------------

# Figure ids restart on every page, so the same report renders to the same bytes.
_ids: contextvars.ContextVar[Iterator[int] | None] = contextvars.ContextVar(
    "loopml_report_figure_ids", default=None
)
_loose_ids = itertools.count()  # figures embedded outside render_page


def embed_figure(fig: Any, *, height: int | None = None) -> Markup:
    """HTML for one figure: an empty div plus its JSON spec, drawn lazily by the page script.

    *fig* is a ``plotly.graph_objects.Figure`` or a plain ``{"data": [...], "layout": {...}}``
    dict. The page must come from :func:`render_page`, which inlines plotly.js once.
    """
    spec = _figure_json(fig)
    if height is None:
        height = _layout_height(fig)
    uid = f"lm-fig-{next(_ids.get() or _loose_ids)}"
    # "</" inside a <script> element would end it early.
    spec = spec.replace("</", "<\\/").replace("<!--", "<\\!--")
    return Markup(
        '<div class="lm-plot" id="{uid}" data-spec="{uid}-spec" style="min-height:{h}px"></div>'
        '<script type="application/json" id="{uid}-spec">{spec}</script>'
    ).format(uid=uid, h=height, spec=Markup(spec))


def _figure_json(fig: Any) -> str:
    if isinstance(fig, Mapping):
        from plotly.utils import PlotlyJSONEncoder

        payload = {"data": list(fig.get("data", [])), "layout": dict(fig.get("layout", {}))}
        return json.dumps(payload, cls=PlotlyJSONEncoder, separators=(",", ":"))
    to_json = getattr(fig, "to_json", None)
    if to_json is None:
        raise TypeError(
            f"A report figure must be a plotly Figure or a dict with 'data' and 'layout'; "
            f"got {type(fig).__name__}."
        )
    return str(to_json(validate=False, pretty=False))


def _layout_height(fig: Any) -> int:
    layout = fig.get("layout", {}) if isinstance(fig, Mapping) else fig.layout
    height = layout.get("height") if isinstance(layout, Mapping) else layout.height
    return int(height) if height else 450


# -- page -----------------------------------------------------------------------------


@cache
def _env() -> jinja2.Environment:
    env = jinja2.Environment(
        loader=jinja2.PackageLoader("loopml.report", "templates"),
        autoescape=jinja2.select_autoescape(default=True, default_for_string=True),
        trim_blocks=True,
        lstrip_blocks=True,
        undefined=jinja2.StrictUndefined,
    )
    env.filters["fmt"] = format_value
    env.filters["figure"] = embed_figure
    return env


@cache
def _plotly_js() -> Markup:
    from plotly.offline import get_plotlyjs

    # A literal "</script>" inside the bundle would close the tag early.
    return Markup(get_plotlyjs().replace("</script>", "<\\/script>"))


def render_page(
    title: str,
    sections: Sequence[Section],
    *,
    subtitle: str | None = None,
    footer: str | None = None,
) -> str:
    """Render *sections* as one self-contained HTML page (plotly.js inlined once, offline).

    Parameters
    ----------
    title : str
        Page title and main heading.
    sections : list of Section
        The page's content, in order; each top-level section gets a table-of-contents entry.
    subtitle : str, optional
        A line under the heading (e.g. what the data is and when it was read).
    footer : str, optional
        Plain text at the bottom; the loopml version is always added.
    """
    used: set[str] = set()
    prepared = [_prepare(s, used, depth=0) for s in sections]
    has_figures = any(_has_figures(s) for s in sections)
    template = _env().get_template("page.html.j2")
    token = _ids.set(itertools.count())
    try:
        return template.render(
            title=title,
            subtitle=subtitle,
            footer=footer,
            sections=prepared,
            plotly_js=_plotly_js() if has_figures else None,
            plotly_config=Markup(json.dumps(PLOTLY_CONFIG)),
            version=loopml.__version__,
        )
    finally:
        _ids.reset(token)


def _has_figures(section: Section) -> bool:
    return bool(section.figures) or any(_has_figures(c) for c in section.children)


def _prepare(section: Section, used: set[str], depth: int) -> dict[str, Any]:
    sid = _unique_id(section.id or _slug(section.title), used)
    return {
        "id": sid,
        "title": section.title,
        "depth": depth,
        "body": Markup(section.body) if section.body else None,
        "text": section.text,
        "cards": section.cards,
        "alerts": section.alerts,
        "tables": [_as_table(t) for t in section.tables],
        "figures": section.figures,
        "children": [_prepare(c, used, depth + 1) for c in section.children],
        "collapsible": section.collapsible,
        "open": section.open,
        "summary": section.summary,
        "badges": section.badges,
        "figure_columns": max(1, section.figure_columns),
        "stack": section.stack,
        "filter": section.filter,
        "has_panels": any(c.collapsible for c in section.children),
    }


def _as_table(table: Any) -> Table:
    if isinstance(table, Table):
        return table
    if isinstance(table, pd.DataFrame):
        return Table.from_frame(table)
    if isinstance(table, Sequence) and all(isinstance(r, Mapping) for r in table):
        return Table.from_records(table)
    raise TypeError(
        f"A report table must be a Table, a DataFrame or a list of dicts; got {type(table).__name__}."
    )


def _slug(text: str) -> str:
    slug = re.sub(r"[^a-z0-9]+", "-", text.lower()).strip("-")
    return slug or "section"


def _unique_id(base: str, used: set[str]) -> str:
    candidate, n = base, 2
    while candidate in used:
        candidate = f"{base}-{n}"
        n += 1
    used.add(candidate)
    return candidate


# -- writing ------------------------------------------------------------------------------


def write_text_atomic(path: str | Path, text: str) -> Path:
    """Write *text* (UTF-8) to *path* via a temp file in the same directory and ``os.replace``.

    Readers never see a half-written file; on failure the temp file is removed and any
    existing file at *path* is left as it was. Missing parent directories are created.
    """
    from loopml._fs import atomic_write_text

    return atomic_write_text(path, text)


def write_html(path: str | Path, html: str) -> Path:
    """Write a rendered page atomically; returns the path written."""
    return write_text_atomic(path, html)
