"""Shared helpers for benchmark scripts: machine description and BENCHMARKS.md sections."""

from __future__ import annotations

import os
import platform
import re
import tempfile
from pathlib import Path

BENCHMARKS_MD = Path(__file__).resolve().parent.parent / "BENCHMARKS.md"
HEADER = (
    "# Benchmarks\n\n"
    "Every figure here was measured by a script in `benchmarks/` that runs loopml and the "
    "baseline or peer side by side in one run. Machines are shared and noisy: compare the "
    "ratios, not the absolute times.\n"
)


def machine_info() -> str:
    import sklearn

    return (
        f"Measured {__import__('datetime').date.today()} on {os.cpu_count()} cores, "
        f"Python {platform.python_version()}, scikit-learn {sklearn.__version__}, "
        f"{platform.system()} {platform.machine()}."
    )


def write_section(title: str, body: str) -> None:
    """Replace (or append) the ``## title`` section of BENCHMARKS.md, atomically."""
    text = BENCHMARKS_MD.read_text() if BENCHMARKS_MD.exists() else HEADER
    section = f"## {title}\n\n{body.strip()}\n"
    pattern = re.compile(rf"^## {re.escape(title)}\n.*?(?=^## |\Z)", re.S | re.M)
    if pattern.search(text):
        text = pattern.sub(lambda _: section + "\n", text).rstrip() + "\n"
    else:
        text = text.rstrip() + "\n\n" + section
    fd, tmp = tempfile.mkstemp(dir=BENCHMARKS_MD.parent, prefix=".BENCHMARKS-")
    with os.fdopen(fd, "w") as fh:
        fh.write(text)
    os.replace(tmp, BENCHMARKS_MD)
