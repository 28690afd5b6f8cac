"""Search spaces: named hyperparameter ranges and choices, and their command-line syntax.

A space is a plain ``dict[str, Param]``. Each :class:`Float`, :class:`Int` or
:class:`Choice` knows its Optuna distribution, how to suggest a value in a trial,
whether a value lies inside it, and (for grid search) its finite list of values.

On the command line a parameter is ``NAME=VALUES``:

- ``C=0.1,1,10`` or ``kernel=rbf,linear``: a choice among listed values;
- ``alpha=0.001:10:log``: a float range sampled on a log scale;
- ``max_depth=2:12``: an integer range.

Examples
--------
>>> parse_param("C=0.1,1,10")
('C', Choice(values=(0.1, 1, 10)))
>>> parse_param("alpha=0.001:10:log")
('alpha', Float(low=0.001, high=10.0, log=True))
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from loopml.exceptions import DataError

if TYPE_CHECKING:
    import optuna
    from optuna.distributions import BaseDistribution

__all__ = [
    "Choice",
    "Float",
    "Int",
    "Param",
    "Space",
    "as_param",
    "contains",
    "distributions",
    "grid_of",
    "parse_param",
    "parse_params",
    "parse_value",
    "suggest",
]

#: Integer ranges with at most this many values may be enumerated by grid search.
MAX_GRID_INT_VALUES = 64


@dataclass(frozen=True)
class Float:
    """A float range ``[low, high]``, sampled uniformly or on a log scale."""

    low: float
    high: float
    log: bool = False

    def __post_init__(self) -> None:
        if not self.low <= self.high:
            raise DataError(
                f"A float range needs low <= high; got low={self.low}, high={self.high}."
            )
        if self.log and self.low <= 0:
            raise DataError(f"A log-scale range needs low > 0; got low={self.low}.")

    def distribution(self) -> BaseDistribution:
        from optuna.distributions import FloatDistribution

        return FloatDistribution(self.low, self.high, log=self.log)

    def suggest(self, trial: optuna.Trial, name: str) -> float:
        return trial.suggest_float(name, self.low, self.high, log=self.log)

    def contains(self, value: Any) -> bool:
        return _is_number(value) and self.low <= float(value) <= self.high

    def grid(self, name: str) -> list[Any]:
        raise DataError(
            f"Grid search needs a list of values for '{name}', but it is a float range "
            f"{self.low}:{self.high}{':log' if self.log else ''}. Give values like "
            f"{name}={_example_values(self)}, or use --search random or --search bayes."
        )


@dataclass(frozen=True)
class Int:
    """An integer range ``[low, high]``, sampled uniformly or on a log scale."""

    low: int
    high: int
    log: bool = False

    def __post_init__(self) -> None:
        if not self.low <= self.high:
            raise DataError(
                f"An integer range needs low <= high; got low={self.low}, high={self.high}."
            )
        if self.log and self.low <= 0:
            raise DataError(f"A log-scale range needs low > 0; got low={self.low}.")

    def distribution(self) -> BaseDistribution:
        from optuna.distributions import IntDistribution

        return IntDistribution(self.low, self.high, log=self.log)

    def suggest(self, trial: optuna.Trial, name: str) -> int:
        return trial.suggest_int(name, self.low, self.high, log=self.log)

    def contains(self, value: Any) -> bool:
        return (
            _is_number(value) and float(value).is_integer() and self.low <= int(value) <= self.high
        )

    def grid(self, name: str) -> list[Any]:
        n = self.high - self.low + 1
        if n > MAX_GRID_INT_VALUES:
            raise DataError(
                f"Grid search over '{name}={self.low}:{self.high}' would try {n} values "
                f"(at most {MAX_GRID_INT_VALUES}). List the values to try, e.g. "
                f"{name}={_example_values(self)}, or use --search random or --search bayes."
            )
        return list(range(self.low, self.high + 1))


@dataclass(frozen=True)
class Choice:
    """One value among a few (strings, numbers, booleans or None)."""

    values: tuple[Any, ...]

    def __init__(self, values: Iterable[Any]) -> None:
        vals = tuple(values)
        if not vals:
            raise DataError("A choice needs at least one value.")
        for v in vals:
            if v is not None and not isinstance(v, str | int | float | bool):
                raise DataError(
                    f"Choice values must be strings, numbers, booleans or None; got {v!r} "
                    f"({type(v).__name__})."
                )
        object.__setattr__(self, "values", vals)

    def distribution(self) -> BaseDistribution:
        from optuna.distributions import CategoricalDistribution

        return CategoricalDistribution(self.values)

    def suggest(self, trial: optuna.Trial, name: str) -> Any:
        return trial.suggest_categorical(name, self.values)

    def contains(self, value: Any) -> bool:
        return any(_same(value, v) for v in self.values)

    def grid(self, name: str) -> list[Any]:
        return list(self.values)


Param = Float | Int | Choice
Space = dict[str, Param]


def _same(a: Any, b: Any) -> bool:
    if isinstance(a, bool) or isinstance(b, bool):
        return a is b
    if _is_number(a) and _is_number(b):
        return float(a) == float(b)
    return bool(a == b) and type(a) is type(b)


def _is_number(v: Any) -> bool:
    import numbers

    return isinstance(v, numbers.Real) and not isinstance(v, bool) and math.isfinite(float(v))


def _example_values(p: Float | Int) -> str:
    if p.log:
        lo, hi = math.log10(p.low), math.log10(p.high)
        pts = [10 ** (lo + (hi - lo) * i / 2) for i in range(3)]
    else:
        pts = [p.low + (p.high - p.low) * i / 2 for i in range(3)]
    if isinstance(p, Int):
        return ",".join(str(round(x)) for x in pts)
    return ",".join(f"{x:.3g}" for x in pts)


# -- parsing ---------------------------------------------------------------------------


def parse_value(text: str) -> Any:
    """``"10"`` → 10, ``"0.1"`` → 0.1, ``"true"`` → True, ``"none"`` → None, else the text."""
    t = text.strip()
    low = t.lower()
    if low in ("none", "null"):
        return None
    if low == "true":
        return True
    if low == "false":
        return False
    try:
        return int(t)
    except ValueError:
        pass
    try:
        value = float(t)
    except ValueError:
        return t
    return value if math.isfinite(value) else t


def parse_param(text: str) -> tuple[str, Param]:
    """Parse ``NAME=a,b,c`` (choice), ``NAME=low:high`` or ``NAME=low:high:log`` (range)."""
    name, sep, rest = text.partition("=")
    name = name.strip()
    if not sep or not name or not rest.strip():
        raise DataError(
            f"--param must look like NAME=VALUES (e.g. C=0.1,1,10, kernel=rbf,linear or "
            f"alpha=0.001:10:log); got {text!r}."
        )
    return name, _parse_values(name, rest.strip())


def _parse_values(name: str, rest: str) -> Param:
    parts = rest.split(":")
    if len(parts) in (2, 3) and "," not in rest:
        lo, hi = parse_value(parts[0]), parse_value(parts[1])
        scale = parts[2].strip().lower() if len(parts) == 3 else ""
        if _is_number(lo) and _is_number(hi):
            if scale not in ("", "log", "linear"):
                raise DataError(
                    f"--param {name}={rest}: the third part must be 'log' or 'linear'; "
                    f"got {parts[2]!r}."
                )
            log = scale == "log"
            if isinstance(lo, int) and isinstance(hi, int):
                return Int(lo, hi, log=log)
            return Float(float(lo), float(hi), log=log)
    values = [parse_value(v) for v in rest.split(",") if v.strip()]
    if not values:
        raise DataError(f"--param {name}= lists no values; give e.g. {name}=0.1,1,10.")
    return Choice(values)


def as_param(name: str, value: Any) -> Param:
    """A :data:`Param` from a Param, a list of values, a single value or CLI text."""
    if isinstance(value, Float | Int | Choice):
        return value
    if isinstance(value, str):
        return _parse_values(name, value)
    if isinstance(value, Sequence):
        return Choice(value)
    return Choice([value])


def parse_params(specs: Mapping[str, Any] | Iterable[str] | None) -> Space:
    """A space from ``{"C": [0.1, 1], "alpha": Float(...)}`` or ``["C=0.1,1", ...]``."""
    if specs is None:
        return {}
    if isinstance(specs, Mapping):
        return {str(k): as_param(str(k), v) for k, v in specs.items()}
    space: Space = {}
    for text in specs:
        name, param = parse_param(text)
        if name in space:
            raise DataError(f"--param {name} is given twice; give each parameter once.")
        space[name] = param
    return space


# -- use --------------------------------------------------------------------------------


def distributions(space: Mapping[str, Param]) -> dict[str, BaseDistribution]:
    """The Optuna distribution of each parameter."""
    return {k: p.distribution() for k, p in space.items()}


def suggest(trial: optuna.Trial, space: Mapping[str, Param]) -> dict[str, Any]:
    """Ask *trial* for one value per parameter of *space*."""
    return {k: p.suggest(trial, k) for k, p in space.items()}


def grid_of(space: Mapping[str, Param]) -> dict[str, list[Any]]:
    """The finite values of every parameter (for grid search); ranges must be small ints."""
    out: dict[str, list[Any]] = {}
    for k, p in space.items():
        out[k] = p.grid(k)
    return out


def contains(space: Mapping[str, Param], params: Mapping[str, Any]) -> dict[str, Any]:
    """The entries of *params* that are parameters of *space* and lie inside it."""
    return {k: v for k, v in params.items() if k in space and space[k].contains(v)}
