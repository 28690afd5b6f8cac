"""What a supervised fit made: the stored model, its scores and the candidates compared.

:class:`FitResult` holds what every supervised kind of fit reports (plain, multi-label,
semi-supervised), so the CLI prints and the reports read any of them the same way;
:class:`TrainResult` is the one :func:`~loopml.learn.supervised.train` returns.
:func:`leaderboard` ranks the candidates and :func:`record_outcome` writes the scores,
the leaderboard and the winner to the run.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, cast

import pandas as pd

from loopml.bundle import ModelBundle
from loopml.data.schema import Schema, Task
from loopml.data.split import Split
from loopml.evaluate.scoring import Metric, get_metric
from loopml.learn.candidates import TrialResult, jsonable_params

if TYPE_CHECKING:
    from loopml.evaluate.runs import FitReport
    from loopml.store import RunHandle

__all__ = [
    "FitResult",
    "TrainResult",
    "best_trial",
    "board_records",
    "leaderboard",
    "record_outcome",
]


@dataclass
class FitResult:
    """The stored model version, its test and validation scores, and every candidate."""

    name: str
    version: int
    run_id: int
    schema: Schema
    split: dict[str, Any]
    metric: str
    trials: list[TrialResult]
    best: TrialResult
    metrics: dict[str, float | None]
    valid_metrics: dict[str, float | None]
    model: ModelBundle = field(repr=False)

    @property
    def ref(self) -> str:
        """The model reference, e.g. ``"churn@3"``."""
        return f"{self.name}@{self.version}"

    @property
    def leaderboard(self) -> pd.DataFrame:
        """Candidates ranked by validation score (best first); failed/pruned ones last."""
        return leaderboard(self.trials, self._selection_metric())

    def _selection_metric(self) -> Metric:
        """The metric the candidates were ranked by."""
        return get_metric(self.metric)


@dataclass
class TrainResult(FitResult):
    """What :func:`~loopml.learn.supervised.train` made: the stored model, its scores and
    how it was chosen."""

    notes: list[str] = field(default_factory=list)
    duration_s: float = 0.0
    validation: str = ""
    data_split: Split | None = field(default=None, repr=False)
    _diagnosis: Any = field(default=None, repr=False)

    @property
    def diagnosis(self) -> FitReport:
        """Fit diagnosis of the chosen model (over/underfitting, curves, bias-variance).

        Computed on first access, on this run's own train/validation rows.
        """
        if self._diagnosis is None:
            from loopml.evaluate.runs import diagnose_bundle, diagnose_split

            if self.data_split is not None:
                self._diagnosis = diagnose_split(self.model, self.data_split)
            else:
                self._diagnosis = diagnose_bundle(self.model)
        return cast("FitReport", self._diagnosis)

    @property
    def task(self) -> Task:
        return self.schema.task or Task.REGRESSION


def leaderboard(trials: Sequence[TrialResult], metric: Metric) -> pd.DataFrame:
    """Rank, model, validation score ± std, train score, fit time, predict time per 1k rows."""
    board = pd.DataFrame([t.row() for t in trials])
    if board.empty:
        return board
    board.insert(0, "trial", [t.number for t in trials])
    ok = board["valid_score"].notna() & (board["status"] == "complete")
    board = pd.concat(
        [
            board[ok].sort_values(
                ["valid_score", "trial"], ascending=[not metric.greater_is_better, True]
            ),
            board[~ok],
        ]
    ).reset_index(drop=True)
    board.insert(0, "rank", range(1, len(board) + 1))
    return board


def best_trial(trials: Sequence[TrialResult], metric: Metric) -> TrialResult:
    """The best of *trials* (which must hold one that is ok): the leaderboard's first."""
    from loopml.tune.automl import rank_key

    return min(trials, key=rank_key(metric))


def board_records(board: pd.DataFrame) -> list[dict[str, Any]]:
    """A leaderboard as JSON-ready rows (non-finite numbers as None) for the run record."""
    rows = []
    for rec in board.to_dict(orient="records"):
        rec["params"] = jsonable_params(dict(rec.get("params") or {}))
        rows.append(
            {
                str(k): (None if isinstance(v, float) and not math.isfinite(v) else v)
                for k, v in rec.items()
            }
        )
    return rows


def record_outcome(
    run: RunHandle,
    trials: Sequence[TrialResult],
    metric: Metric,
    best: TrialResult,
    valid_metrics: dict[str, float | None],
    test_metrics: dict[str, float | None],
    **info: Any,
) -> None:
    """Log the winner's validation and test metrics, then the leaderboard, the winner and
    *info* on the run."""
    run.log_metrics({k: v for k, v in valid_metrics.items() if v is not None}, prefix="valid_")
    run.log_metrics({k: v for k, v in test_metrics.items() if v is not None}, prefix="test_")
    run.set(
        leaderboard=board_records(leaderboard(trials, metric)),
        best={"model": best.model, "trial": best.number},
        **info,
    )
