"""Errors raised by loopml.

Every error a user can cause derives from :class:`LoopmlError`. Subclasses also
derive from the built-in exception a caller would expect (``ValueError``,
``KeyError``, ``FileNotFoundError``), so existing ``except`` clauses keep working.
Messages say what went wrong, where (file, column, field), what was expected,
what was found, and how to fix it.
"""

from __future__ import annotations

__all__ = [
    "DataError",
    "LoopmlError",
    "MissingDependencyError",
    "ModelNotFoundError",
    "RunNotFoundError",
    "SchemaMismatchError",
    "StoreError",
]


class LoopmlError(Exception):
    """Base class of every error loopml raises on purpose."""


class DataError(LoopmlError, ValueError):
    """The input data cannot be used as given (empty, malformed, wrong target...)."""


class SchemaMismatchError(DataError):
    """Data given at predict time does not match the schema seen at training."""


class ModelNotFoundError(LoopmlError, LookupError):
    """A model reference (``name``, ``name@3``, ``name@production``) matches nothing."""


class RunNotFoundError(LoopmlError, LookupError):
    """A run id matches no run in the store."""


class StoreError(LoopmlError, RuntimeError):
    """The store cannot be opened or is inconsistent."""


class MissingDependencyError(LoopmlError, ImportError):
    """An optional part of loopml needs a package that is not installed."""


def require(module: str, extra: str, feature: str) -> None:
    """Raise :class:`MissingDependencyError` with the install command if *module* is absent."""
    import importlib.util

    if importlib.util.find_spec(module) is None:
        raise MissingDependencyError(
            f"{feature} needs the package '{module}', which is not installed. "
            f"Install it with: pip install 'loopml[{extra}]'"
        )
