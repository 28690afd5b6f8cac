"""Open run reports in headless Chromium: every plot is drawn and the console stays clean.

Skipped when no Chromium is installed (``scripts/chromium.sh`` installs it on Debian).
Reports draw a plot when it scrolls into view, and every plot (collapsed panels
opened) before printing. Headless Chromium cannot scroll from the command line and
its very tall windows draw unreliably, so the page under test is the report plus
one line that fires the page's own ``beforeprint`` handler.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
from pathlib import Path

import pytest

from loopml.learn.supervised import train
from loopml.report.run import render_run_report
from loopml.store import Store

pytestmark = [pytest.mark.browser, pytest.mark.slow]

_NAMES = ("chromium", "chromium-browser", "google-chrome", "google-chrome-stable")


def _chromium() -> str | None:
    explicit = os.environ.get("LOOPML_CHROMIUM")
    if explicit:
        return explicit
    return next((p for p in map(shutil.which, _NAMES) if p), None)


CHROMIUM = _chromium()
needs_chromium = pytest.mark.skipif(
    CHROMIUM is None, reason="no Chromium binary (run scripts/chromium.sh as root to install it)"
)


_DRAW_ALL = '<script>window.dispatchEvent(new Event("beforeprint"));</script>'


def _open(page: Path, profile: Path, *, draw_all: bool = True) -> tuple[str, list[str]]:
    """The DOM after scripts ran, and the page's console messages."""
    assert CHROMIUM is not None
    if draw_all:
        html = page.read_text()
        page = page.with_name(f"{page.stem}.draw-all.html")
        page.write_text(html.replace("</body>", f"{_DRAW_ALL}</body>", 1))
    cmd = [
        CHROMIUM,
        "--headless",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        "--no-first-run",
        f"--user-data-dir={profile}",
        "--enable-logging=stderr",
        "--v=0",
        "--window-size=1400,1000",
        "--virtual-time-budget=5000",
        "--dump-dom",
        page.resolve().as_uri(),
    ]
    done = subprocess.run(cmd, capture_output=True, text=True, timeout=120, check=False)
    assert done.returncode == 0, done.stderr[-2000:]
    console = [line for line in done.stderr.splitlines() if ":CONSOLE" in line]
    return done.stdout, console


def _errors(console: list[str]) -> list[str]:
    return [line for line in console if re.search(r"uncaught|error", line, re.IGNORECASE)]


def _undrawn(html: str, dom: str) -> list[str]:
    """Ids of figure divs without the SVG plotly draws into each figure."""
    ids = re.findall(r'<div class="lm-plot" id="(lm-fig-\d+)"', html)
    assert ids, "the report has no figures"
    starts = [(m.group(1), m.start()) for m in re.finditer(r'<div [^>]*id="(lm-fig-\d+)"', dom)]
    found = {fid for fid, _ in starts}
    missing = [fid for fid in ids if fid not in found]
    bounds = [pos for _, pos in starts] + [len(dom)]
    for (fid, start), end in zip(starts, bounds[1:], strict=True):
        block = dom[start:end]
        if "plot-container" not in block or 'class="main-svg"' not in block:
            missing.append(fid)
    return missing


@needs_chromium
def test_console_errors_are_detected(tmp_path: Path) -> None:
    """The checks below would notice a broken page."""
    page = tmp_path / "broken.html"
    page.write_text(
        '<!doctype html><div class="lm-plot" id="lm-fig-0"></div>'
        "<script>console.error('boom'); notAFunction();</script>"
    )
    dom, console = _open(page, tmp_path / "profile", draw_all=False)
    assert any("boom" in line for line in _errors(console))
    assert any("Uncaught ReferenceError" in line for line in _errors(console))
    assert _undrawn(page.read_text(), dom) == ["lm-fig-0"]


@needs_chromium
@pytest.mark.parametrize(
    ("source", "models", "diagnosis"),
    [("builtin:breast_cancer", ["logreg"], True), ("builtin:diabetes", ["ridge"], False)],
)
def test_run_report_draws_every_plot(
    tmp_path: Path, source: str, models: list[str], diagnosis: bool
) -> None:
    store = Store.in_memory()
    try:
        run = train(source, store=store, models=models)
        page = render_run_report(
            store,
            run.run_id,
            path=tmp_path / "report.html",
            kpis=["r2 >= 0.1", "recall >= 0.5"],
            diagnosis=diagnosis,
        )
    finally:
        store.close()
    html = page.read_text()
    dom, console = _open(page, tmp_path / "profile")
    assert _errors(console) == [], console
    assert _undrawn(html, dom) == []
    n = html.count('class="lm-plot"')
    assert dom.count('data-drawn="1"') == n >= (12 if diagnosis else 6)
