"""What a catalogue entry is: :class:`ModelSpec`, the task kinds and the cost classes."""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from loopml.data.schema import Task
from loopml.exceptions import DataError
from loopml.tune.space import Param, contains

__all__ = ["CLASSIFICATION", "COST_ORDER", "REGRESSION", "Factory", "ModelSpec", "task_kind"]

CLASSIFICATION = "classification"
REGRESSION = "regression"
#: Cost classes, cheapest first: the AutoML search tries cheap families first.
COST_ORDER = ("cheap", "medium", "expensive")

Factory = Callable[[dict[str, Any], int, int], Any]


@dataclass(frozen=True)
class ModelSpec:
    """One model family for one task kind.

    Parameters
    ----------
    name : str
        Catalogue name, e.g. ``"svm_rbf"``.
    task : {"classification", "regression"}
    factory : callable
        ``factory(params, seed, n_jobs)`` → an unfitted estimator. It must be
        picklable (a module-level function or an instance of a module-level
        class), because candidates are fitted in worker processes.
    space : dict of Param
        Hyperparameters Bayesian and random search explore.
    grid : dict of lists
        Values grid search tries by default (every combination).
    portfolio : tuple of dicts
        Known-good configurations, best first; the AutoML search tries them before tuning.
    scale, dense : bool
        Needs standardised inputs / a dense matrix.
    proba : bool
        The classifier has ``predict_proba``.
    scale_target : bool
        Regression only: fit on a standardised target (``TransformedTargetRegressor``).
    cost : {"cheap", "medium", "expensive"}
        Orders the search; expensive families come last.
    max_rows : int, optional
        The AutoML search skips this family on more training rows (e.g. kernel SVMs).
    staged : {"lightgbm", "xgboost", "hgb", "mlp"}, optional
        Supports early stopping on validation rows (and reports progress while fitting).
    """

    name: str
    task: str
    factory: Factory = field(repr=False)
    space: Mapping[str, Param] = field(default_factory=dict, repr=False)
    grid: Mapping[str, Sequence[Any]] = field(default_factory=dict, repr=False)
    portfolio: tuple[dict[str, Any], ...] = ({},)
    scale: bool = True
    dense: bool = False
    proba: bool = True
    scale_target: bool = False
    cost: str = "medium"
    max_rows: int | None = None
    staged: str | None = None
    description: str = ""
    aliases: tuple[str, ...] = ()
    builtin: bool = True

    def build(
        self, params: Mapping[str, Any] | None = None, *, seed: int = 0, n_jobs: int = 1
    ) -> Any:
        """An unfitted estimator for *params* (regression targets standardised if needed)."""
        estimator = self.factory(dict(params or {}), seed, n_jobs)
        if self.scale_target and self.task == REGRESSION:
            from sklearn.compose import TransformedTargetRegressor
            from sklearn.preprocessing import StandardScaler

            return TransformedTargetRegressor(regressor=estimator, transformer=StandardScaler())
        return estimator

    def check_params(self, params: Mapping[str, Any]) -> None:
        """Raise a :class:`DataError` naming the parameter when *params* cannot build the model."""
        base = self.factory({}, 0, 1)
        if hasattr(base, "get_params"):
            known = set(base.get_params(deep=True)) | set(self.space)
            known |= _DERIVED.get(self.name, set())
            unknown = [k for k in params if k not in known]
            if unknown:
                raise DataError(
                    f"Model '{self.name}' has no parameter {', '.join(map(repr, unknown))}. "
                    f"Searchable parameters: {', '.join(self.space) or 'none'}; "
                    f"estimator parameters: {', '.join(sorted(base.get_params(deep=False)))}."
                )
        try:
            self.factory(dict(params), 0, 1)
        except (TypeError, ValueError) as exc:
            raise DataError(
                f"Model '{self.name}' cannot be built with {dict(params)}: {exc}"
            ) from None

    def seeds(self) -> list[dict[str, Any]]:
        """The portfolio configurations restricted to :attr:`space` (to seed a study)."""
        return [contains(self.space, cfg) for cfg in self.portfolio]


#: Parameters the catalogue's factories translate (not estimator parameters themselves).
_DERIVED: dict[str, set[str]] = {"mlp": {"layers", "width", "epochs"}}


def task_kind(task: Task | str) -> str:
    """``"classification"`` for binary/multiclass tasks, ``"regression"`` for regression."""
    t = str(task)
    if t in (CLASSIFICATION, "binary", "multiclass"):
        return CLASSIFICATION
    if t == REGRESSION:
        return REGRESSION
    raise DataError(f"The model catalogue covers classification and regression; got task '{t}'.")
