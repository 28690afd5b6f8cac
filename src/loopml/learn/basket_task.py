"""Association rules as a stored task: ``loopml rules`` and the basket recommender it saves.

The recommender is a scikit-learn estimator holding the mined rules, so a rules model
is stored, versioned and predicted (recommendations per basket) like any other.
"""

from __future__ import annotations

import math
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

import numpy as np
import pandas as pd
from sklearn.base import BaseEstimator
from sklearn.utils.validation import check_is_fitted

from loopml.data.schema import ColumnSpec, Role, Schema, Task
from loopml.exceptions import DataError
from loopml.learn.tasks import (
    EventHandler,
    RulesResult,
    _card,
    _clean,
    _emitter,
    _load,
    finish,
    save_bundle,
)

if TYPE_CHECKING:
    from loopml.learn.rules import Baskets, RuleSet
    from loopml.store import Store

__all__ = ["BasketRecommender", "mine"]

#: Holdout baskets scored by the leave-one-out hit rate (a seeded sample beyond this).
HOLDOUT_BASKETS = 2000


# -- association rules -------------------------------------------------------------------------

_TRUE = frozenset({"1", "1.0", "true", "t", "yes", "y"})


class BasketRecommender(BaseEstimator):  # type: ignore[misc]
    """Mine association rules from baskets; recommend items for new baskets.

    ``fit`` reads transactions in one of three layouts and mines rules with
    :func:`~loopml.learn.rules.mine_rules`; ``predict`` reads baskets in the same
    layout and returns, for each, the *n* items its rules recommend.

    - *long*: one row per (transaction, item), columns ``transaction_col`` and
      ``item_col`` (guessed for a two-column frame);
    - *one-hot*: one 0/1 column per item (other columns are kept as identifiers);
    - *delimited*: one row per basket, column ``basket_col`` holding items joined by
      ``delimiter`` (``"milk|bread"``; guessed when one text column holds the delimiter).

    Parameters
    ----------
    min_support, min_confidence, algorithm, max_len, min_lift, metric, max_itemsets
        As in :func:`~loopml.learn.rules.mine_rules`.
    transaction_col, item_col, basket_col : str, optional
        Column names of the layouts above.
    delimiter : str, default "|"
        Separates items in ``basket_col`` and in the joined recommendations.
    n : int, default 5
        Recommendations per basket.
    by : {"confidence_lift", "lift", "confidence"}
        How a recommendation is scored by its best rule.

    Attributes
    ----------
    rules_ : dict
        The mined :class:`~loopml.learn.rules.RuleSet` as a JSON-ready dict (so the
        estimator saves with skops); :attr:`ruleset_` rebuilds it.
    layout_ : {"long", "onehot", "delimited"}
    columns_ : dict
        The columns of the layout: "transaction", "item", "basket", "items", "ids".
    """

    def __init__(
        self,
        min_support: float = 0.01,
        min_confidence: float = 0.3,
        algorithm: Literal["fpgrowth", "apriori"] = "fpgrowth",
        max_len: int | None = None,
        min_lift: float | None = None,
        metric: Literal["lift", "confidence", "support", "leverage", "conviction"] = "lift",
        max_itemsets: float | None = 1_000_000,
        transaction_col: str | None = None,
        item_col: str | None = None,
        basket_col: str | None = None,
        delimiter: str = "|",
        n: int = 5,
        by: Literal["confidence_lift", "lift", "confidence"] = "confidence_lift",
    ) -> None:
        self.min_support = min_support
        self.min_confidence = min_confidence
        self.algorithm = algorithm
        self.max_len = max_len
        self.min_lift = min_lift
        self.metric = metric
        self.max_itemsets = max_itemsets
        self.transaction_col = transaction_col
        self.item_col = item_col
        self.basket_col = basket_col
        self.delimiter = delimiter
        self.n = n
        self.by = by

    def fit(self, X: Any, y: Any = None) -> BasketRecommender:
        """Work out the layout of *X* and mine its rules (y is ignored)."""
        frame = _frame(X)
        self.layout_, self.columns_ = self._layout(frame)
        baskets = self.baskets(frame)
        self._ruleset = self.mine(baskets)
        self.rules_ = self._ruleset.to_dict()
        self.n_transactions_ = baskets.n_transactions
        self.items_ = list(baskets.items)
        return self

    def mine(self, baskets: Baskets) -> RuleSet:
        """Mine rules from *baskets* with this estimator's settings."""
        from loopml.learn.rules import mine_rules

        return mine_rules(
            baskets,
            min_support=self.min_support,
            min_confidence=self.min_confidence,
            algorithm=self.algorithm,
            max_len=self.max_len,
            min_lift=self.min_lift,
            metric=self.metric,
            max_itemsets=self.max_itemsets,
        )

    @property
    def ruleset_(self) -> RuleSet:
        """The mined rules."""
        from loopml.learn.rules import RuleSet

        check_is_fitted(self, "rules_")
        cached = self.__dict__.get("_ruleset")
        if cached is None:
            cached = RuleSet.from_dict(self.rules_)
            self._ruleset = cached
        return cached

    def __getstate__(self) -> dict[str, Any]:
        state: dict[str, Any] = super().__getstate__()
        state.pop("_ruleset", None)  # rebuilt from rules_ on first use
        return state

    # -- layouts ----------------------------------------------------------------------------
    def _layout(self, frame: pd.DataFrame) -> tuple[str, dict[str, Any]]:
        from loopml.learn._baskets import _guess_long_columns, _is_binary

        cols = [str(c) for c in frame.columns]
        for given in (self.transaction_col, self.item_col, self.basket_col):
            if given is not None and given not in cols:
                raise DataError(
                    f"Column '{given}' is not in the baskets; columns are: {', '.join(cols[:12])}."
                )
        if self.basket_col is not None:
            ids = [c for c in cols if c != self.basket_col]
            return "delimited", {"basket": self.basket_col, "ids": ids}
        if self.transaction_col is not None or self.item_col is not None:
            t, i = self.transaction_col, self.item_col
            if t is None or i is None:
                rest = [c for c in cols if c not in (t, i)]
                if len(rest) != 1:
                    missing = "item_col" if i is None else "transaction_col"
                    raise DataError(
                        f"The baskets have {len(cols)} columns; pass {missing}= (--"
                        f"{missing.replace('_col', '-col')}) as well to say which one it is."
                    )
                t, i = (t, rest[0]) if i is None else (rest[0], i)
            return "long", {"transaction": t, "item": i, "ids": [t]}
        binary = [c for c in cols if _is_binary(frame[c])]
        other = [c for c in cols if c not in binary]
        if len(binary) >= 2:
            return "onehot", {"items": binary, "ids": other}
        joined = [
            c
            for c in other
            if not pd.api.types.is_numeric_dtype(frame[c])
            and frame[c].astype("string").str.contains(self.delimiter, regex=False).any()
        ]
        if len(joined) == 1:
            return "delimited", {"basket": joined[0], "ids": [c for c in cols if c != joined[0]]}
        if len(cols) == 2 and not binary:
            t, i = (str(c) for c in _guess_long_columns(frame))
            return "long", {"transaction": t, "item": i, "ids": [t]}
        text = [c for c in other if not pd.api.types.is_numeric_dtype(frame[c])]
        if len(text) == 1:
            return "delimited", {"basket": text[0], "ids": [c for c in cols if c != text[0]]}
        raise DataError(
            f"Cannot tell how the baskets ({len(cols)} columns: {', '.join(cols[:8])}) are "
            "laid out. Give one row per (transaction, item) with --transaction-col and "
            "--item-col, one 0/1 column per item, or one row per basket with --basket-col "
            f"(items joined by '{self.delimiter}')."
        )

    def baskets(self, X: Any) -> Baskets:
        """*X* (in the fitted layout) as a sparse :class:`~loopml.learn.rules.Baskets`."""
        from loopml.learn.rules import encode_transactions

        check_is_fitted(self, "layout_")
        frame = _frame(X)
        if self.layout_ == "long":
            c = self.columns_
            return encode_transactions(frame, transaction_col=c["transaction"], item_col=c["item"])
        if self.layout_ == "onehot":
            return encode_transactions(frame[self.columns_["items"]])
        return encode_transactions(self._split(frame[self.columns_["basket"]]))

    def _split(self, values: pd.Series) -> list[list[str]]:
        out: list[list[str]] = []
        for v in values.tolist():
            if v is None or (isinstance(v, float) and math.isnan(v)) or v is pd.NA:
                out.append([])
                continue
            out.append([p.strip() for p in str(v).split(self.delimiter) if p.strip()])
        return out

    def _basket_lists(self, frame: pd.DataFrame) -> tuple[np.ndarray[Any, Any], list[list[str]]]:
        """(position of each basket's first row, items of each basket)."""
        c = self.columns_
        missing = [
            col
            for col in (c.get("transaction"), c.get("item"), c.get("basket"), *c.get("items", []))
            if col is not None and col not in frame.columns
        ]
        if self.layout_ == "onehot":
            present = [col for col in c["items"] if col in frame.columns]
            if not present:
                raise DataError(
                    "The baskets have none of the item columns the rules were mined from "
                    f"(such as {', '.join(map(repr, c['items'][:5]))})."
                )
            flags = np.column_stack([_truthy(frame[col]) for col in present])
            names = np.asarray(present, dtype=object)
            return np.arange(len(frame)), [list(names[row]) for row in flags]
        if missing:
            raise DataError(
                f"The baskets miss column(s) {', '.join(map(repr, missing))}, which the rules "
                f"model reads ({self.layout_} layout)."
            )
        if self.layout_ == "delimited":
            return np.arange(len(frame)), self._split(frame[c["basket"]])
        tids = frame[c["transaction"]]
        codes, _ = pd.factorize(tids, sort=False, use_na_sentinel=True)
        items = frame[c["item"]].astype("string").to_numpy(dtype=object, na_value=None)
        n = int(codes.max()) + 1 if len(codes) and codes.max() >= 0 else 0
        first = np.full(n, -1, dtype=np.int64)
        baskets: list[list[str]] = [[] for _ in range(n)]
        for pos, (code, item) in enumerate(zip(codes, items, strict=True)):
            if code < 0:
                continue
            if first[code] < 0:
                first[code] = pos
            if item is not None and item not in baskets[code]:
                baskets[code].append(str(item))
        return first, baskets

    # -- prediction -------------------------------------------------------------------------
    def predict(self, X: Any) -> list[list[str]]:
        """The recommended items of each basket of *X* (one per transaction for long
        layout, in order of first appearance; one per row otherwise)."""
        _, baskets = self._basket_lists(_frame(X))
        rules = self.ruleset_
        return [[r.item for r in rules.recommend(b, n=self.n, by=self.by)] for b in baskets]

    def recommend_frame(self, X: Any) -> pd.DataFrame:
        """One row per basket: (long layout: the transaction id,) ``recommendations``
        joined by the delimiter, ``top_score`` and ``top_rule``. The index holds the
        position in *X* of each basket's first row."""
        frame = _frame(X)
        positions, baskets = self._basket_lists(frame)
        rules = self.ruleset_
        recs = [rules.recommend(b, n=self.n, by=self.by) for b in baskets]
        out = pd.DataFrame(index=pd.Index(positions, dtype=np.int64))
        if self.layout_ == "long":
            col = self.columns_["transaction"]
            out[col] = frame[col].to_numpy()[positions]
        out["recommendations"] = [self.delimiter.join(r.item for r in rec) for rec in recs]
        out["top_score"] = [rec[0].score if rec else math.nan for rec in recs]
        out["top_rule"] = [str(rec[0].rule) if rec else "" for rec in recs]
        return out


def _frame(X: Any) -> pd.DataFrame:
    if not isinstance(X, pd.DataFrame):
        raise DataError(
            f"Baskets must be a DataFrame (long, one-hot or delimited); got {type(X).__name__}."
        )
    if len(X) == 0:
        raise DataError("The baskets frame has no rows.")
    return X


def _truthy(col: pd.Series) -> np.ndarray[Any, Any]:
    if pd.api.types.is_bool_dtype(col) or pd.api.types.is_numeric_dtype(col):
        return np.asarray(col.fillna(0).to_numpy(dtype=np.float64) == 1.0)
    lowered = col.astype("string").str.strip().str.lower()
    return np.asarray(lowered.isin(list(_TRUE)).fillna(False).to_numpy(dtype=bool))


def _rules_schema(frame: pd.DataFrame, rec: BasketRecommender, items: list[str]) -> Schema:
    from loopml.data.schema import MAX_STORED_CATEGORIES

    c = rec.columns_
    cols: list[ColumnSpec] = []
    for name in frame.columns:
        name = str(name)
        s = frame[name]
        spec = ColumnSpec(name, Role.ID, str(s.dtype), n_unique=int(s.nunique()))
        if name == c.get("item"):
            spec.role = Role.CATEGORICAL
            spec.categories = items[:MAX_STORED_CATEGORIES]
            spec.n_unique = len(items)
        elif name in c.get("items", []):
            spec.role = Role.BOOLEAN
        elif name == c.get("basket"):
            spec.role = Role.TEXT
        cols.append(spec)
    return Schema(columns=cols, task=Task.RULES)


def mine(
    data: Any,
    *,
    min_support: float = 0.01,
    min_confidence: float = 0.3,
    algorithm: Literal["fpgrowth", "apriori"] = "fpgrowth",
    max_len: int | None = None,
    min_lift: float | None = None,
    metric: Literal["lift", "confidence", "support", "leverage", "conviction"] = "lift",
    max_itemsets: float | None = 1_000_000,
    transaction_col: str | None = None,
    item_col: str | None = None,
    basket_col: str | None = None,
    delimiter: str = "|",
    n_recommendations: int = 5,
    holdout: float = 0.2,
    name: str | None = None,
    store: Store | None = None,
    seed: int = 0,
    report: str | Path | None = None,
    on_event: EventHandler | None = None,
) -> RulesResult:
    """Mine association rules from baskets, check them on held-out baskets, and store a
    recommender that suggests items for new baskets.

    Parameters
    ----------
    data : path or DataFrame
        Baskets in long, one-hot or delimited layout (see :class:`BasketRecommender`).
    min_support, min_confidence, algorithm, max_len, min_lift, metric, max_itemsets
        As in :func:`~loopml.learn.rules.mine_rules`; rules are ranked by *metric*.
    n_recommendations : int
        Items recommended per basket by the stored model.
    holdout : float in [0, 0.5]
        Share of baskets set aside: rules mined on the rest recommend for each held-out
        basket with one item hidden; the hit rate says how often the hidden item is among
        the recommendations. 0 skips the check. The stored rules use every basket.

    Returns
    -------
    RulesResult
        ``.ruleset.table()`` lists the rules; ``.model.predict(baskets)`` recommends.
    """
    from loopml.store import Store

    if not 0 <= holdout <= 0.5:
        raise DataError(f"holdout must be a fraction in [0, 0.5]; got {holdout!r}.")
    if n_recommendations < 1:
        raise DataError(f"n_recommendations must be at least 1; got {n_recommendations!r}.")
    started = time.monotonic()
    emit = _emitter(on_event)
    emit("phase", {"phase": "load", "source": str(data)})
    df, where, name = _load(data, name, "rules")
    rec = BasketRecommender(
        min_support=min_support,
        min_confidence=min_confidence,
        algorithm=algorithm,
        max_len=max_len,
        min_lift=min_lift,
        metric=metric,
        max_itemsets=max_itemsets,
        transaction_col=transaction_col,
        item_col=item_col,
        basket_col=basket_col,
        delimiter=delimiter,
        n=n_recommendations,
    )
    params = {
        "source": where,
        "min_support": min_support,
        "min_confidence": min_confidence,
        "algorithm": algorithm,
        "max_len": max_len,
        "min_lift": min_lift,
        "metric": metric,
        "holdout": holdout,
        "seed": seed,
    }
    store = store or Store()
    with store.start_run(name, kind="rules", params=params) as run:
        emit("phase", {"phase": "fit", "model": algorithm})
        rec.fit(df)
        ruleset = rec.ruleset_
        baskets = rec.baskets(df)
        notes = list(ruleset.notes)
        if rec.layout_ == "onehot" and rec.columns_["ids"]:
            notes.append(
                f"Column(s) {', '.join(map(repr, rec.columns_['ids'][:5]))} are not 0/1 item "
                "columns; they are kept as identifiers."
            )
        emit("phase", {"phase": "evaluate"})
        rules = ruleset.rules
        sizes = np.diff(baskets.matrix.indptr)
        metrics: dict[str, float | None] = _clean(
            {
                "n_transactions": baskets.n_transactions,
                "n_items": len(baskets.items),
                "mean_basket_size": float(sizes.mean()) if len(sizes) else 0.0,
                "n_itemsets": ruleset.n_itemsets,
                "n_rules": len(rules),
                "max_lift": float(rules["lift"].max()) if len(rules) else None,
                "mean_lift": float(rules["lift"].mean()) if len(rules) else None,
                "mean_confidence": float(rules["confidence"].mean()) if len(rules) else None,
            }
        )
        checked = _holdout(rec, baskets, holdout, seed, notes) if holdout > 0 else None
        if checked is not None:
            metrics.update(checked)
        run.log_metrics(metrics)
        run.set(top_rules=ruleset.table(20).to_dict(orient="records"), notes=notes)
        emit("phase", {"phase": "save"})
        schema = _rules_schema(df, rec, list(baskets.items))
        info = {
            "model": algorithm,
            "params": {
                "min_support": min_support,
                "min_confidence": min_confidence,
                "max_len": max_len,
                "metric": metric,
                "n": n_recommendations,
            },
            "source": where,
            "rows": len(df),
            "layout": rec.layout_,
        }
        bundle, record = save_bundle(
            store,
            run,
            name=name,
            pipeline=rec,
            schema=schema,
            metrics={"train": metrics},
            info=info,
            registry_metrics=metrics,
            card=lambda b: _card(
                b,
                f"{len(rules):,} association rules between {len(baskets.items):,} items",
                f"up to {n_recommendations} recommended items per basket",
                notes,
            ),
        )
    result = RulesResult(
        name=name,
        version=record.version,
        run_id=run.id,
        schema=schema,
        metrics=metrics,
        model=bundle,
        source=where,
        notes=notes,
        ruleset=ruleset,
        item_counts=baskets.item_counts(),
        holdout=checked,
    )
    finish(result, report, started, emit)
    return result


def _holdout(
    rec: BasketRecommender, baskets: Baskets, share: float, seed: int, notes: list[str]
) -> dict[str, float | None] | None:
    """Leave-one-out hit rate of rules mined without the held-out baskets."""
    from loopml.learn.rules import Baskets

    n = baskets.n_transactions
    n_test = round(n * share)
    if n_test < 10 or n - n_test < 10:
        notes.append(f"The holdout check needs at least 20 baskets; there are {n}. Skipped.")
        return None
    rng = np.random.default_rng(seed)
    order = rng.permutation(n)
    test_rows, train_rows = np.sort(order[:n_test]), np.sort(order[n_test:])
    try:
        rules = rec.mine(Baskets(baskets.matrix[train_rows], baskets.items))
    except DataError as exc:
        notes.append(f"The holdout check was skipped: {exc}")
        return None
    X = baskets.matrix[test_rows]
    sizes = np.diff(X.indptr)
    eligible = np.flatnonzero(sizes >= 2)
    if len(eligible) > HOLDOUT_BASKETS:
        eligible = np.sort(rng.choice(eligible, HOLDOUT_BASKETS, replace=False))
    if not len(eligible):
        notes.append("No held-out basket has two or more items; the holdout check was skipped.")
        return None
    names = np.asarray(baskets.items, dtype=object)
    hits = covered = 0
    for row in eligible:
        items = list(names[X.indices[X.indptr[row] : X.indptr[row + 1]]])
        hidden = items.pop(int(rng.integers(len(items))))
        recs = rules.recommend(items, n=rec.n, by=rec.by)
        covered += bool(recs)
        hits += any(r.item == hidden for r in recs)
    m = len(eligible)
    return {
        "holdout_baskets": float(m),
        "holdout_hit_rate": hits / m,
        "holdout_coverage": covered / m,
        "holdout_rules": float(len(rules)),
    }
