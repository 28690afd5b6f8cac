"""The ``loopml`` command line: Typer + Rich, one module per command group.

Command modules import heavy libraries inside their functions, so that
``loopml --help`` stays fast.
"""

from __future__ import annotations

from loopml.cli.app import app, main

__all__ = ["app", "main"]
