"""The registry: catalogue entries by name and task kind, aliases, and the search's order."""

from __future__ import annotations

from loopml.data.schema import Task
from loopml.exceptions import DataError
from loopml.models.catalog._builtins import BUILTINS
from loopml.models.catalog._spec import CLASSIFICATION, COST_ORDER, ModelSpec, task_kind

__all__ = ["default_models", "get_model", "list_models", "model_names", "resolve_name"]

_REGISTRY: dict[tuple[str, str], ModelSpec] = {}
_ALIASES: dict[tuple[str, str], str] = {}

#: Tie-break order inside a cost class (strong, cheap families first).
_ORDER = {family.name: i for i, family in enumerate(BUILTINS)}


def _key(name: str) -> str:
    return name.strip().lower().replace("-", "_")


def _add(spec: ModelSpec) -> None:
    _REGISTRY[(spec.name, spec.task)] = spec
    for alias in spec.aliases:
        _ALIASES[(alias, spec.task)] = spec.name


def resolve_name(name: str, task: Task | str) -> str:
    """The catalogue name *name* (or an alias of it) refers to for *task*."""
    kind = task_kind(task)
    key = _key(name)
    if (key, kind) in _REGISTRY:
        return key
    alias = _ALIASES.get((key, kind))
    if alias is not None:
        return alias
    import difflib

    known = model_names(kind)
    close = difflib.get_close_matches(key, known + [a for a, k in _ALIASES if k == kind], n=1)
    hint = f" Did you mean '{close[0]}'?" if close else ""
    raise DataError(f"Unknown {kind} model '{name}'. Choose from: {', '.join(known)}.{hint}")


def get_model(name: str, task: Task | str) -> ModelSpec:
    """The :class:`ModelSpec` for *name* (catalogue name or alias) and *task*."""
    kind = task_kind(task)
    return _REGISTRY[(resolve_name(name, kind), kind)]


def list_models(task: Task | str | None = None) -> list[ModelSpec]:
    """Every registered family (for one task kind), cheapest first."""
    kind = task_kind(task) if task is not None else None
    specs = [s for (n, k), s in _REGISTRY.items() if kind is None or k == kind]
    return sorted(specs, key=lambda s: (COST_ORDER.index(s.cost), _ORDER.get(s.name, 99), s.name))


def model_names(task: Task | str | None = None) -> list[str]:
    """Catalogue names (for one task kind), cheapest first, without duplicates."""
    seen: dict[str, None] = {}
    for s in list_models(task):
        seen.setdefault(s.name, None)
    return list(seen)


def default_models(task: Task | str, n_rows: int, *, quick: bool = False) -> list[str]:
    """Families the search tries by default on *n_rows* training rows.

    ``quick`` (no time budget, no trial budget) keeps a small, fast set: a
    regularised linear model, a kernel SVM on small data, and gradient boosting.
    """
    kind = task_kind(task)
    if quick:
        names = (
            ["logreg", "svm_rbf", "random_forest", "hgb"]
            if kind == CLASSIFICATION
            else ["ridge", "svm_rbf", "random_forest", "hgb"]
        )
    else:
        names = [s.name for s in list_models(kind) if s.builtin]
    out = []
    for n in names:
        spec = _REGISTRY[(n, kind)]
        if spec.max_rows is None or n_rows <= spec.max_rows:
            out.append(n)
    return out


for _family in BUILTINS:
    for _spec in _family.specs():
        _add(_spec)
del _family, _spec
