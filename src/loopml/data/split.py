"""Train / validation / test splits: stratified, time-ordered or grouped, and reproducible."""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from loopml.exceptions import DataError

if TYPE_CHECKING:
    import pandas as pd

__all__ = ["Split", "parse_sizes", "split"]

#: Fewest training rows loopml will fit a model on.
MIN_TRAIN_ROWS = 10


@dataclass
class Split:
    """The three frames and how they were made."""

    train: pd.DataFrame
    valid: pd.DataFrame
    test: pd.DataFrame
    strategy: str
    seed: int
    sizes: tuple[float, float, float]
    notes: list[str] = field(default_factory=list)

    @property
    def counts(self) -> dict[str, int]:
        return {"train": len(self.train), "valid": len(self.valid), "test": len(self.test)}

    def info(self) -> dict[str, Any]:
        return {
            "strategy": self.strategy,
            "seed": self.seed,
            "sizes": list(self.sizes),
            "rows": self.counts,
            "notes": self.notes,
        }


def parse_sizes(text: str | tuple[float, ...] | list[float]) -> tuple[float, float, float]:
    """Parse ``"0.8,0.1,0.1"`` (or ``"80,10,10"``) into three fractions that sum to 1."""
    if isinstance(text, str):
        try:
            parts = [float(p) for p in text.replace(" ", "").split(",") if p]
        except ValueError:
            raise DataError(
                f"--split must be three numbers like 0.7,0.15,0.15; got {text!r}."
            ) from None
    else:
        parts = [float(p) for p in text]
    if len(parts) == 2:
        parts.append(0.0)
    if len(parts) != 3 or any(p < 0 for p in parts) or parts[0] <= 0:
        raise DataError(
            f"The split must be train,valid,test fractions like 0.7,0.15,0.15; got {parts}."
        )
    total = sum(parts)
    if total > 1.0 + 1e-9 and total <= 100.0 + 1e-9:
        parts = [p / total for p in parts]
    elif not math.isclose(total, 1.0, abs_tol=1e-6):
        raise DataError(f"The split fractions must sum to 1; {parts} sum to {total:g}.")
    return (parts[0], parts[1], parts[2])


def split(
    df: pd.DataFrame,
    target: str | None = None,
    *,
    sizes: tuple[float, float, float] | str = (0.7, 0.15, 0.15),
    seed: int = 0,
    stratify: bool = True,
    time_column: str | None = None,
    group_column: str | None = None,
    where: str = "the data",
) -> Split:
    """Split *df* into train, validation and test frames.

    Stratified on *target* for classification targets (when every class has at
    least 3 rows); ordered by *time_column* (oldest rows train, newest test);
    or by *group_column* (a group's rows all land in one split).

    Examples
    --------
    >>> import pandas as pd
    >>> df = pd.DataFrame({"x": range(100), "y": [0, 1] * 50})
    >>> s = split(df, "y", seed=0)
    >>> s.counts
    {'train': 70, 'valid': 15, 'test': 15}
    """
    fractions = parse_sizes(sizes)
    n = len(df)
    n_test = round(n * fractions[2])
    n_valid = round(n * fractions[1])
    n_train = n - n_test - n_valid
    needed = _rows_needed(fractions)
    if (
        n_train < MIN_TRAIN_ROWS
        or (fractions[1] > 0 and n_valid < 1)
        or (fractions[2] > 0 and n_test < 1)
    ):
        raise DataError(
            f"{where} has {n} rows: too few for a {_pct(fractions)} split "
            f"(needs at least {needed} rows so that training gets {MIN_TRAIN_ROWS} and "
            "validation and test at least 1). Add rows, or change --split."
        )
    notes: list[str] = []
    for col, flag in ((time_column, "--time-column"), (group_column, "--group-column")):
        if col is not None and col not in df.columns:
            raise DataError(f"{flag} '{col}' is not a column of {where}.")
    if time_column:
        order = _time_order(df, time_column, where)
        idx_train = order[:n_train]
        idx_valid = order[n_train : n_train + n_valid]
        idx_test = order[n_train + n_valid :]
        strategy = f"time-ordered by '{time_column}'"
    elif group_column:
        idx_train, idx_valid, idx_test = _grouped(df, group_column, fractions, seed, where)
        strategy = f"grouped by '{group_column}'"
    else:
        strat = None
        strategy = "random"
        if stratify and target is not None and target in df.columns:
            y = df[target]
            if _is_classlike(y):
                counts = y.value_counts()
                if counts.min() >= 3:
                    strat = y
                    strategy = "stratified"
                else:
                    rare = counts[counts < 3].index.tolist()
                    notes.append(f"Not stratified: class(es) {rare[:5]} have fewer than 3 rows.")
        idx_train, idx_valid, idx_test = _random(df, strat, n_valid, n_test, seed)
    return Split(
        train=df.iloc[idx_train].reset_index(drop=True),
        valid=df.iloc[idx_valid].reset_index(drop=True),
        test=df.iloc[idx_test].reset_index(drop=True),
        strategy=strategy,
        seed=seed,
        sizes=fractions,
        notes=notes,
    )


def _pct(f: tuple[float, float, float]) -> str:
    return "/".join(f"{round(100 * x):d}" for x in f)


def _rows_needed(f: tuple[float, float, float]) -> int:
    need = math.ceil(MIN_TRAIN_ROWS / f[0])
    for frac in f[1:]:
        if frac > 0:
            need = max(need, math.ceil(1 / frac))
    return need


def _is_classlike(y: Any) -> bool:
    import pandas as pd

    if not pd.api.types.is_numeric_dtype(y) or pd.api.types.is_bool_dtype(y):
        return True
    return bool(y.nunique() <= 20)


def _random(df: Any, strat: Any, n_valid: int, n_test: int, seed: int) -> tuple[Any, Any, Any]:
    import numpy as np
    from sklearn.model_selection import train_test_split

    idx = np.arange(len(df))
    if n_test:
        rest, test = train_test_split(
            idx, test_size=n_test, random_state=seed, stratify=None if strat is None else strat
        )
    else:
        rest, test = idx, idx[:0]
    if n_valid:
        strat_rest = None if strat is None else strat.iloc[rest]
        train, valid = train_test_split(
            rest, test_size=n_valid, random_state=seed + 1, stratify=strat_rest
        )
    else:
        train, valid = rest, rest[:0]
    return np.sort(train), np.sort(valid), np.sort(test)


def _time_order(df: Any, col: str, where: str) -> Any:
    import warnings

    import numpy as np
    import pandas as pd

    values = df[col]
    if not pd.api.types.is_numeric_dtype(values) and not pd.api.types.is_datetime64_any_dtype(
        values
    ):
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            values = pd.to_datetime(values, errors="coerce", format="mixed")
        if values.isna().all():
            raise DataError(
                f"--time-column '{col}' in {where} holds no dates or numbers to order by."
            )
    return np.argsort(values.to_numpy(), kind="stable")


def _grouped(
    df: Any, col: str, f: tuple[float, float, float], seed: int, where: str
) -> tuple[Any, Any, Any]:
    import numpy as np
    from sklearn.model_selection import GroupShuffleSplit

    groups = df[col].astype(str).to_numpy()
    n_groups = len(np.unique(groups))
    if n_groups < 3:
        raise DataError(
            f"--group-column '{col}' in {where} has {n_groups} group(s); a grouped split "
            "needs at least 3 (one per split)."
        )
    idx = np.arange(len(df))
    if f[2] > 0:
        gss = GroupShuffleSplit(n_splits=1, test_size=f[2], random_state=seed)
        rest, test = next(gss.split(idx, groups=groups))
    else:
        rest, test = idx, idx[:0]
    if f[1] > 0:
        gss = GroupShuffleSplit(n_splits=1, test_size=f[1] / (f[0] + f[1]), random_state=seed + 1)
        tr, va = next(gss.split(rest, groups=groups[rest]))
        train, valid = rest[tr], rest[va]
    else:
        train, valid = rest, rest[:0]
    return np.sort(train), np.sort(valid), np.sort(test)
