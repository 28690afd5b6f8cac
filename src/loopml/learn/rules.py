"""Association rules: "frequently bought together" from baskets of items.

Input is either *long* transactions (one row per transaction and item) or *one-hot*
baskets (one 0/1 or bool column per item), or a list of baskets. Everything is turned
into a sparse transactions x items matrix (:class:`Baskets`); items below
``min_support`` are dropped before mining, so memory follows the frequent part only.
Frequent itemsets come from mlxtend (FP-growth or Apriori); the rules and their
metrics are computed here from exact integer counts.

Before mining, an *explosion guard* estimates how many frequent itemsets there will
be (see :func:`estimate_itemsets`) and refuses with advice (a higher ``min_support``
that fits, or a ``max_len``) when the estimate is over ``max_itemsets``.

Examples
--------
>>> import pandas as pd
>>> orders = pd.DataFrame({"order": [1, 1, 2, 2, 3, 3, 3], "item": list("abacabc")})
>>> rules = mine_rules(orders, min_support=0.5, min_confidence=0.5)
>>> rules.recommend(["a"], n=1)[0].item
'b'
"""

from __future__ import annotations

import json
import math
import os
import tempfile
import warnings
from collections.abc import Sequence
from dataclasses import dataclass, field
from itertools import combinations
from pathlib import Path
from typing import Any, Literal, NamedTuple

import numpy as np
import pandas as pd
import scipy.sparse as sp

from loopml.exceptions import DataError
from loopml.learn._baskets import Baskets, encode_transactions
from loopml.learn._itemset_guard import (
    ItemsetEstimate,
    _check_support,
    _guard,
    _min_count,
    estimate_itemsets,
)

__all__ = [
    "Baskets",
    "ItemsetEstimate",
    "Recommendation",
    "Rule",
    "RuleSet",
    "encode_transactions",
    "estimate_itemsets",
    "mine_rules",
]

#: Columns of :attr:`RuleSet.rules`, in order.
RULE_COLUMNS = [
    "antecedents",
    "consequents",
    "antecedent_support",
    "consequent_support",
    "support",
    "confidence",
    "lift",
    "leverage",
    "conviction",
    "count",
]
#: Candidate rules (2**k - 2 per k-itemset) allowed per unit of max_itemsets.
RULE_CANDIDATES_PER_ITEMSET = 20
_METRICS = ("lift", "confidence", "support", "leverage", "conviction")
_FORMAT = "loopml.ruleset"
_FORMAT_VERSION = 1


# -- mining ------------------------------------------------------------------------------


class Rule(NamedTuple):
    """One rule ``antecedents -> consequents`` with its metrics."""

    antecedents: tuple[str, ...]
    consequents: tuple[str, ...]
    support: float
    confidence: float
    lift: float

    def __str__(self) -> str:
        return f"{{{', '.join(self.antecedents)}}} -> {{{', '.join(self.consequents)}}}"


class Recommendation(NamedTuple):
    """An item to suggest, its score, and the rule that suggests it."""

    item: str
    score: float
    rule: Rule


def mine_rules(
    data: Any,
    *,
    min_support: float = 0.01,
    min_confidence: float = 0.3,
    algorithm: Literal["fpgrowth", "apriori"] = "fpgrowth",
    max_len: int | None = None,
    min_lift: float | None = None,
    metric: Literal["lift", "confidence", "support", "leverage", "conviction"] = "lift",
    top: int | None = None,
    max_itemsets: float | None = 1_000_000,
    transaction_col: str | None = None,
    item_col: str | None = None,
) -> RuleSet:
    """Mine association rules ``A -> C`` from transactions.

    Parameters
    ----------
    data : DataFrame, Baskets or list of baskets
        Long or one-hot transactions; see :func:`encode_transactions`.
    min_support : float in (0, 1]
        Keep itemsets found in at least this fraction of transactions.
    min_confidence : float in [0, 1]
        Keep rules with ``P(C | A) >= min_confidence``.
    algorithm : {"fpgrowth", "apriori"}
        mlxtend's FP-growth or (low-memory) Apriori; both give the same itemsets.
    max_len : int, optional
        Longest itemset (antecedent plus consequent) mined.
    min_lift : float, optional
        Keep rules with at least this lift.
    metric : str
        Sort rules by this metric, descending (ties: support, confidence, names).
    top : int, optional
        Keep the first *top* rules after sorting.
    max_itemsets : float or None
        The explosion guard's limit on the estimated number of frequent itemsets
        (see :func:`estimate_itemsets`); after mining, the itemsets may also give at
        most ``20 * max_itemsets`` candidate rules (2**k - 2 per k-itemset). None
        turns both checks off.
    transaction_col, item_col : str, optional
        Column names of long-format transactions.

    Returns
    -------
    RuleSet
        ``rules`` has one row per rule with antecedents and consequents as sorted
        tuples of item names, support, confidence, lift, leverage, conviction,
        antecedent/consequent support and the count of transactions.

    Notes
    -----
    Metrics come from integer counts (n transactions; ``a``, ``c``, ``ac`` holding A,
    C, both): support ``ac/n``, confidence ``ac/a``, lift ``ac*n/(a*c)``, leverage
    ``(ac*n - a*c)/n^2``, conviction ``(n-c)*a/(n*(a-ac))`` (inf when confidence is 1),
    each with one rounding, so they equal the exact fractions rounded to float.
    """
    _check_support(min_support)
    if not 0 <= min_confidence <= 1:
        raise DataError(f"min_confidence must be in [0, 1]; got {min_confidence!r}.")
    if algorithm not in ("fpgrowth", "apriori"):
        raise DataError(f"algorithm must be 'fpgrowth' or 'apriori'; got {algorithm!r}.")
    if metric not in _METRICS:
        raise DataError(f"metric must be one of {', '.join(_METRICS)}; got {metric!r}.")
    if max_len is not None and (not isinstance(max_len, int) or max_len < 1):
        raise DataError(f"max_len must be a positive integer or None; got {max_len!r}.")
    baskets = encode_transactions(data, transaction_col=transaction_col, item_col=item_col)
    X, n = baskets.matrix, baskets.n_transactions
    estimate = _guard(X, min_support, max_len, max_itemsets) if max_itemsets else None
    c = _min_count(min_support, n)
    counts = np.asarray(X.sum(axis=0)).ravel().astype(np.int64)
    frequent = np.flatnonzero(counts >= c)
    params: dict[str, Any] = {
        "min_support": min_support,
        "min_confidence": min_confidence,
        "algorithm": algorithm,
        "max_len": max_len,
        "min_lift": min_lift,
        "metric": metric,
        "top": top,
    }
    notes: list[str] = []
    if len(frequent) == 0:
        best = int(counts.argmax())
        notes.append(
            f"No item reaches min_support={min_support:g}; the most frequent, "
            f"'{baskets.items[best]}', is in {counts[best] / n:.3g} of transactions."
        )
        return RuleSet(_empty_rules(), n, params, n_itemsets=0, notes=notes)
    itemsets = _frequent_itemsets(X[:, frequent].tocsr(), c, algorithm, max_len)
    if max_itemsets:
        _check_rule_candidates(itemsets, min_support, RULE_CANDIDATES_PER_ITEMSET * max_itemsets)
    names = [baskets.items[j] for j in frequent]
    rules = _rules_from_itemsets(itemsets, n, names, min_confidence)
    if min_lift is not None:
        rules = rules[rules["lift"] >= min_lift]
    rules = _sort_rules(rules, metric)
    if top is not None:
        rules = rules.head(top)
    if estimate is not None:
        notes.append(
            f"The guard estimated {estimate.total:,.0f} itemsets; mining found {len(itemsets):,}."
        )
    return RuleSet(rules.reset_index(drop=True), n, params, n_itemsets=len(itemsets), notes=notes)


def _frequent_itemsets(
    XF: sp.csr_matrix, min_count: int, algorithm: str, max_len: int | None
) -> dict[tuple[int, ...], int]:
    """Frequent itemsets of *XF* (column indices) and their counts, via mlxtend."""
    # mlxtend's fpcommon sets a global 'always' filter for DeprecationWarning on import;
    # catch_warnings restores the caller's filters.
    with warnings.catch_warnings():
        from mlxtend.frequent_patterns import apriori, fpgrowth
    n = XF.shape[0]
    frame = pd.DataFrame.sparse.from_spmatrix(XF.astype(bool))  # type: ignore[attr-defined]
    # Half a count below the threshold: mlxtend compares count/n and ceil(s*n) in floats.
    support = (min_count - 0.5) / n
    if algorithm == "fpgrowth":
        found = fpgrowth(frame, min_support=support, max_len=max_len)
    else:
        found = apriori(frame, min_support=support, max_len=max_len, low_memory=True)
    sizes = found["support"].to_numpy() * n
    return {
        tuple(sorted(int(i) for i in s)): round(c)
        for s, c in zip(found["itemsets"], sizes, strict=True)
    }


def _check_rule_candidates(
    itemsets: dict[tuple[int, ...], int], min_support: float, limit: float
) -> None:
    """Refuse when checking every split of every itemset into a rule is too much work:
    an itemset of k items gives 2**k - 2 candidate rules."""
    lengths = np.fromiter((len(k) for k in itemsets), dtype=np.int64, count=len(itemsets))
    sizes, freq = np.unique(lengths[lengths >= 2], return_counts=True)
    work = freq * (2.0**sizes - 2)
    if work.sum() <= limit:
        return
    fits = [int(s) for s, w in zip(sizes, np.cumsum(work), strict=True) if w <= limit]
    advice = f"set max_len={fits[-1]}, or " if fits and fits[-1] >= 2 else ""
    raise DataError(
        f"The {len(itemsets):,} frequent itemsets at min_support={min_support:g} (the longest "
        f"has {int(sizes.max())} items) give {work.sum():,.0f} candidate rules to check, more "
        f"than {limit:,.0f} ({RULE_CANDIDATES_PER_ITEMSET} x max_itemsets). Fix: {advice}raise "
        "min_support, or raise max_itemsets if you have the time and memory."
    )


def _rules_from_itemsets(
    itemsets: dict[tuple[int, ...], int], n: int, names: list[str], min_confidence: float
) -> pd.DataFrame:
    ants: list[tuple[int, ...]] = []
    cons: list[tuple[int, ...]] = []
    c_a: list[int] = []
    c_c: list[int] = []
    c_ac: list[int] = []
    for iset, count in itemsets.items():
        if len(iset) < 2:
            continue
        for r in range(1, len(iset)):
            for ant in combinations(iset, r):
                a = itemsets[ant]
                if count / a < min_confidence:
                    continue
                con = tuple(i for i in iset if i not in ant)
                ants.append(ant)
                cons.append(con)
                c_a.append(a)
                c_c.append(itemsets[con])
                c_ac.append(count)
    if not ants:
        return _empty_rules()
    a_n = np.asarray(c_a, dtype=np.int64)
    c_n = np.asarray(c_c, dtype=np.int64)
    ac = np.asarray(c_ac, dtype=np.int64)
    with np.errstate(divide="ignore", invalid="ignore"):
        conviction = ((n - c_n) * a_n).astype(np.float64) / (n * (a_n - ac)).astype(np.float64)
    conviction[a_n == ac] = np.inf
    return pd.DataFrame(
        {
            "antecedents": [tuple(names[i] for i in t) for t in ants],
            "consequents": [tuple(names[i] for i in t) for t in cons],
            "antecedent_support": a_n / n,
            "consequent_support": c_n / n,
            "support": ac / n,
            "confidence": ac / a_n,
            "lift": (ac * n).astype(np.float64) / (a_n * c_n).astype(np.float64),
            "leverage": (ac * n - a_n * c_n).astype(np.float64) / float(n * n),
            "conviction": conviction,
            "count": ac,
        }
    )


def _empty_rules() -> pd.DataFrame:
    frame = pd.DataFrame({c: pd.Series(dtype="float64") for c in RULE_COLUMNS})
    frame["antecedents"] = frame["antecedents"].astype(object)
    frame["consequents"] = frame["consequents"].astype(object)
    frame["count"] = frame["count"].astype("int64")
    return frame


def _sort_rules(rules: pd.DataFrame, metric: str) -> pd.DataFrame:
    if rules.empty:
        return rules
    keys = rules.assign(
        _a=rules["antecedents"].map(", ".join), _c=rules["consequents"].map(", ".join)
    )
    keys = keys.sort_values(
        [metric, "support", "confidence", "_a", "_c"],
        ascending=[False, False, False, True, True],
        kind="mergesort",
    )
    return rules.loc[keys.index]


# -- the result ------------------------------------------------------------------------------


@dataclass(eq=False)
class RuleSet:
    """Mined rules plus what is needed to serve them.

    Attributes
    ----------
    rules : DataFrame
        One row per rule; columns :data:`RULE_COLUMNS`.
    n_transactions : int
        Transactions mined.
    params : dict
        The arguments of :func:`mine_rules`.
    n_itemsets : int
        Frequent itemsets found.
    notes : list of str
        Remarks for the report (e.g. no item frequent enough).
    """

    rules: pd.DataFrame
    n_transactions: int
    params: dict[str, Any] = field(default_factory=dict)
    n_itemsets: int = 0
    notes: list[str] = field(default_factory=list)
    _index: dict[str, list[int]] | None = field(default=None, repr=False, compare=False)

    def __len__(self) -> int:
        return len(self.rules)

    def __repr__(self) -> str:
        return (
            f"RuleSet({len(self.rules)} rules from {self.n_itemsets} frequent itemsets in "
            f"{self.n_transactions} transactions)"
        )

    def table(self, n: int | None = None) -> pd.DataFrame:
        """Rules for display: item tuples rendered as ``{a, b}`` strings."""
        out = self.rules if n is None else self.rules.head(n)
        out = out.copy()
        for col in ("antecedents", "consequents"):
            out[col] = out[col].map(lambda t: "{" + ", ".join(t) + "}")
        return out

    def rule(self, i: int) -> Rule:
        row = self.rules.iloc[i]
        return Rule(
            tuple(row["antecedents"]),
            tuple(row["consequents"]),
            float(row["support"]),
            float(row["confidence"]),
            float(row["lift"]),
        )

    def recommend(
        self,
        items: Sequence[str],
        n: int = 5,
        *,
        by: Literal["confidence_lift", "lift", "confidence"] = "confidence_lift",
    ) -> list[Recommendation]:
        """Items frequently bought together with *items* ("customers also bought").

        Uses the rules whose antecedents are all in *items* and whose consequents
        hold none of them. Each consequent item is scored by its best rule:
        ``confidence * lift`` (default), ``lift`` or ``confidence``. Returns at most
        *n* recommendations, best first (ties by item name).
        """
        if by not in ("confidence_lift", "lift", "confidence"):
            raise DataError(f"by must be 'confidence_lift', 'lift' or 'confidence'; got {by!r}.")
        basket = {str(i) for i in items}
        index = self._rule_index()
        candidates = sorted({r for item in basket for r in index.get(item, [])})
        best: dict[str, tuple[float, int]] = {}
        ants = self.rules["antecedents"].to_numpy()
        cons = self.rules["consequents"].to_numpy()
        conf = self.rules["confidence"].to_numpy()
        lift = self.rules["lift"].to_numpy()
        for r in candidates:
            if not set(ants[r]) <= basket or basket.intersection(cons[r]):
                continue
            score = {
                "confidence_lift": conf[r] * lift[r],
                "lift": lift[r],
                "confidence": conf[r],
            }[by]
            for item in cons[r]:
                if item not in best or score > best[item][0]:
                    best[item] = (float(score), r)
        ranked = sorted(best.items(), key=lambda kv: (-kv[1][0], kv[0]))[:n]
        return [Recommendation(item, score, self.rule(r)) for item, (score, r) in ranked]

    def _rule_index(self) -> dict[str, list[int]]:
        if self._index is None:
            index: dict[str, list[int]] = {}
            for r, ant in enumerate(self.rules["antecedents"]):
                for item in ant:
                    index.setdefault(item, []).append(r)
            self._index = index
        return self._index

    # -- persistence -------------------------------------------------------------------
    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready dict (conviction inf is written as null)."""
        cols: dict[str, list[Any]] = {}
        for col in RULE_COLUMNS:
            values = self.rules[col].tolist()
            if col in ("antecedents", "consequents"):
                values = [list(v) for v in values]
            elif col == "count":
                values = [int(v) for v in values]
            else:
                values = [None if math.isinf(v) else float(v) for v in values]
            cols[col] = values
        return {
            "format": _FORMAT,
            "version": _FORMAT_VERSION,
            "n_transactions": self.n_transactions,
            "n_itemsets": self.n_itemsets,
            "params": self.params,
            "notes": self.notes,
            "rules": cols,
        }

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> RuleSet:
        if d.get("format") != _FORMAT:
            raise DataError(
                f"This is not a saved RuleSet (format {d.get('format')!r}, expected {_FORMAT!r})."
            )
        if d.get("version", 0) > _FORMAT_VERSION:
            raise DataError(
                f"This RuleSet was saved by a newer loopml (format version {d['version']}; this "
                f"one reads up to {_FORMAT_VERSION}). Upgrade loopml."
            )
        cols = d["rules"]
        if not cols["antecedents"]:
            rules = _empty_rules()
        else:
            rules = pd.DataFrame(
                {
                    "antecedents": [tuple(v) for v in cols["antecedents"]],
                    "consequents": [tuple(v) for v in cols["consequents"]],
                    **{
                        c: np.array([np.inf if v is None else v for v in cols[c]], dtype=float)
                        for c in RULE_COLUMNS[2:-1]
                    },
                    "count": np.asarray(cols["count"], dtype=np.int64),
                }
            )
        return cls(
            rules,
            int(d["n_transactions"]),
            dict(d.get("params", {})),
            int(d.get("n_itemsets", 0)),
            list(d.get("notes", [])),
        )

    def to_json(self, indent: int | None = None) -> str:
        return json.dumps(self.to_dict(), indent=indent)

    @classmethod
    def from_json(cls, text: str) -> RuleSet:
        return cls.from_dict(json.loads(text))

    def save(self, path: str | Path) -> Path:
        """Write to ``.json`` or ``.parquet`` (by suffix), atomically."""
        path = Path(path)
        suffix = path.suffix.lower()
        if suffix not in (".json", ".parquet"):
            raise DataError(f"Save a RuleSet as .json or .parquet; got {path.name!r}.")
        fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
        os.close(fd)
        try:
            if suffix == ".json":
                Path(tmp).write_text(self.to_json(), encoding="utf-8")
            else:
                self._write_parquet(Path(tmp))
            os.replace(tmp, path)
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise
        return path

    @classmethod
    def load(cls, path: str | Path) -> RuleSet:
        """Read a RuleSet written by :meth:`save`."""
        path = Path(path)
        if not path.exists():
            raise DataError(f"RuleSet file {path} does not exist.")
        if path.suffix.lower() == ".parquet":
            import pyarrow.parquet as pq

            table = pq.read_table(path)
            meta = json.loads((table.schema.metadata or {}).get(b"loopml", b"{}"))
            frame = table.to_pandas()
            meta["rules"] = {
                c: [
                    None if isinstance(v, float) and math.isnan(v) else v for v in frame[c].tolist()
                ]
                if c not in ("antecedents", "consequents")
                else [list(v) for v in frame[c]]
                for c in RULE_COLUMNS
            }
            return cls.from_dict(meta)
        try:
            return cls.from_json(path.read_text(encoding="utf-8"))
        except json.JSONDecodeError as exc:
            raise DataError(f"{path} is not a RuleSet JSON file: {exc}.") from None

    def _write_parquet(self, path: Path) -> None:
        import pyarrow as pa
        import pyarrow.parquet as pq

        d = self.to_dict()
        table = pa.table(d.pop("rules"))
        table = table.replace_schema_metadata({b"loopml": json.dumps(d).encode()})
        pq.write_table(table, path)
