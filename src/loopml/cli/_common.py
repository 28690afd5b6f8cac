"""Shared CLI plumbing: consoles, the --store option, and error handling."""

from __future__ import annotations

import json
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING, Annotated, Any

import typer

if TYPE_CHECKING:
    from rich.console import Console

    from loopml.store import Store

StoreOption = Annotated[
    str | None,
    typer.Option(
        "--store",
        help="Store database URL (default: $LOOPML_STORE_URL, else SQLite in ./.loopml/).",
        envvar="LOOPML_STORE_URL",
        show_envvar=False,
    ),
]
QuietOption = Annotated[bool, typer.Option("--quiet", "-q", help="Print only errors.")]
JsonOption = Annotated[bool, typer.Option("--json", help="Print a JSON result for scripts.")]


def console(stderr: bool = False) -> Console:
    from rich.console import Console

    return Console(stderr=stderr, highlight=False, soft_wrap=False)


def open_store(url: str | None) -> Store:
    from loopml.store import Store

    return Store(url)


def print_json(data: Any) -> None:
    sys.stdout.write(json.dumps(data, indent=2, default=str) + "\n")


@contextmanager
def handle_errors() -> Iterator[None]:
    """Turn loopml errors into a message on stderr and exit code 1 (130 on Ctrl-C)."""
    from loopml.exceptions import LoopmlError

    try:
        yield
    except LoopmlError as exc:
        from rich.markup import escape

        err = console(stderr=True)
        err.print(f"[bold red]Error:[/] {escape(str(exc))}", markup=True, highlight=False)
        raise typer.Exit(1) from None
    except KeyboardInterrupt:
        console(stderr=True).print("[yellow]Interrupted.[/]")
        raise typer.Exit(130) from None


def fmt_score(value: Any, digits: int = 4) -> str:
    if value is None:
        return "-"
    try:
        number = float(value)
        return "-" if number != number else f"{number:.{digits}f}"
    except (TypeError, ValueError):
        return str(value)


def command(func: Callable[..., Any]) -> Callable[..., Any]:
    """Wrap a command body in :func:`handle_errors`."""
    import functools

    @functools.wraps(func)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        with handle_errors():
            return func(*args, **kwargs)

    return wrapper
