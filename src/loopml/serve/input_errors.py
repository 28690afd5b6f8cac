"""Request errors in FastAPI's 422 shape, ``{"detail": [{"type", "loc", "msg", "input"}]}``.

Shared by :mod:`loopml.serve.inputs` (rows and columns), the jobs API and the
endpoint: :func:`error` makes one entry of the ``detail`` list, :class:`InputError`
carries the list (and the HTTP status) to the route, and :class:`Collector` gathers
the entries of a whole batch, up to :data:`MAX_ERRORS`, so that one answer names
every bad field and row without growing with the payload.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import orjson

__all__ = ["MAX_ERRORS", "Collector", "InputError", "Loc", "describe", "error", "json_invalid"]

#: Errors listed in one response at most; the rest are summarised in a last entry.
MAX_ERRORS = 100
#: Where an error is: ``("body", "rows", 3, "age")`` is field ``age`` of row 3.
Loc = tuple[str | int, ...]


def error(loc: Sequence[str | int], type_: str, msg: str, value: Any = None) -> dict[str, Any]:
    """One entry of a FastAPI-style 422 ``detail`` list."""
    out: dict[str, Any] = {"type": type_, "loc": list(loc), "msg": msg}
    if value is not None:
        out["input"] = _short(value)
    return out


def _short(value: Any) -> Any:
    """The offending value, shortened so an error never echoes a huge payload back."""
    if isinstance(value, str) and len(value) > 200:
        return value[:200] + "..."
    if isinstance(value, dict | list):
        text = orjson.dumps(value, default=str).decode()
        return value if len(text) <= 200 else text[:200] + "..."
    return value


def describe(errors: Sequence[dict[str, Any]], limit: int | None = None) -> str:
    """The errors as ``loc: msg`` text joined by ``"; "``: all, or the first *limit*."""
    shown = [f"{'.'.join(map(str, e['loc']))}: {e['msg']}" for e in errors[:limit]]
    more = len(errors) - len(shown)
    return "; ".join(shown) + (f"; and {more} more" if more > 0 else "")


class InputError(Exception):
    """The request cannot be used; ``errors`` is FastAPI's ``detail`` list."""

    def __init__(self, errors: list[dict[str, Any]], status_code: int = 422) -> None:
        super().__init__(describe(errors))
        self.errors = errors
        self.status_code = status_code
        #: The main kind of problem, for metrics (``missing``, ``json_invalid``...).
        self.kind = errors[0]["type"] if errors else "invalid"

    @classmethod
    def at(cls, loc: Sequence[str | int], type_: str, msg: str, value: Any = None) -> InputError:
        """The error of a request with one problem, :func:`error`'s entry."""
        return cls([error(loc, type_, msg, value)])


def json_invalid(exc: orjson.JSONDecodeError) -> InputError:
    """The error of a body that is not JSON, as FastAPI words it."""
    return InputError(
        [
            {
                "type": "json_invalid",
                "loc": ["body", int(getattr(exc, "pos", 0) or 0)],
                "msg": "JSON decode error",
                "input": {},
                "ctx": {"error": str(exc).split(":", 1)[0]},
            }
        ]
    )


class Collector:
    """Gathers errors up to :data:`MAX_ERRORS`, counting the rest."""

    def __init__(self) -> None:
        self.errors: list[dict[str, Any]] = []
        self.dropped = 0

    def add(self, loc: Loc, type_: str, msg: str, value: Any = None) -> None:
        if len(self.errors) < MAX_ERRORS:
            self.errors.append(error(loc, type_, msg, value))
        else:
            self.dropped += 1

    def raise_if_any(self) -> None:
        if not self.errors:
            return
        if self.dropped:
            self.errors.append(
                error(
                    ["body"],
                    "too_many_errors",
                    f"{self.dropped} more error(s) not listed; fix the ones above first.",
                )
            )
        raise InputError(self.errors)
