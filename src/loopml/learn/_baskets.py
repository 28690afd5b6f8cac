"""Baskets: transactions (long, one-hot or lists) as a sparse matrix."""

from __future__ import annotations

import math
import re
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd
import scipy.sparse as sp

from loopml.exceptions import DataError

_TXN_NAME = re.compile(
    r"transaction|order|basket|invoice|receipt|session|ticket|cart|(^|_)id$", re.I
)
_ITEM_NAME = re.compile(r"item|product|sku|article|name|category", re.I)


# -- input ---------------------------------------------------------------------------


@dataclass(frozen=True)
class Baskets:
    """Transactions as a sparse boolean matrix of shape (n_transactions, n_items).

    ``items[j]`` names column ``j``. Build one with :func:`encode_transactions`.
    """

    matrix: sp.csr_matrix
    items: list[str]

    @property
    def n_transactions(self) -> int:
        return int(self.matrix.shape[0])

    def item_counts(self) -> pd.Series:
        """How many transactions hold each item, most frequent first."""
        counts = np.asarray(self.matrix.sum(axis=0)).ravel().astype(np.int64)
        return pd.Series(counts, index=self.items, name="count").sort_values(ascending=False)


def encode_transactions(
    data: pd.DataFrame | Baskets | Iterable[Iterable[Any]],
    *,
    transaction_col: str | None = None,
    item_col: str | None = None,
) -> Baskets:
    """Turn transactions into a sparse :class:`Baskets` matrix.

    Parameters
    ----------
    data : DataFrame, Baskets or iterable of baskets
        - *long* format: one row per (transaction, item); name the columns with
          ``transaction_col`` / ``item_col``, or give a frame of exactly two columns
          (the item column is the one whose name looks like item/product/sku,
          otherwise the second). Rows with a missing id or item are ignored;
          a repeated item counts once per transaction.
        - *one-hot* format: one column per item holding only 0/1 or True/False
          (dense or pandas sparse columns). A frame whose columns are all 0/1 is
          read this way; each row is a transaction, an all-zero row an empty one.
        - a list of baskets, e.g. ``[["milk", "bread"], ["milk"]]``.
    transaction_col, item_col : str, optional
        Column names of the long format.

    Returns
    -------
    Baskets
        Item names are strings, sorted.
    """
    if isinstance(data, Baskets):
        return data
    if isinstance(data, pd.DataFrame):
        if len(data) == 0 or data.shape[1] == 0:
            raise DataError(
                f"The transactions frame is empty ({data.shape[0]} rows, {data.shape[1]} "
                "columns). Give one row per (transaction, item), or one 0/1 column per item."
            )
        if transaction_col is not None or item_col is not None:
            tcol, icol = _long_columns(data, transaction_col, item_col)
            return _from_long(data[tcol], data[icol])
        if data.shape[1] == 2 and not all(_is_binary(data[c]) for c in data.columns):
            tcol, icol = _guess_long_columns(data)
            return _from_long(data[tcol], data[icol])
        return _from_onehot(data)
    if isinstance(data, str | bytes) or not isinstance(data, Iterable):
        raise DataError(
            f"Cannot read transactions from a {type(data).__name__}. Give a DataFrame "
            "(long: transaction and item columns; or one-hot: one 0/1 column per item) "
            "or a list of baskets such as [['milk', 'bread'], ['milk']]."
        )
    return _from_lists(data)


def _long_columns(df: pd.DataFrame, tcol: Any, icol: Any) -> tuple[Any, Any]:
    labels = {str(c): c for c in df.columns}
    cols = list(labels)
    tcol = None if tcol is None else str(tcol)
    icol = None if icol is None else str(icol)
    for role, name in (("transaction_col", tcol), ("item_col", icol)):
        if name is not None and name not in cols:
            raise DataError(
                f"{role}={name!r} is not a column of the transactions frame; "
                f"columns are: {', '.join(repr(c) for c in cols)}."
            )
    if tcol is None or icol is None:
        given = tcol if tcol is not None else icol
        rest = [c for c in cols if c != given]
        if len(rest) != 1:
            missing = "item_col" if icol is None else "transaction_col"
            raise DataError(
                f"The transactions frame has {len(cols)} columns; pass {missing}= as well "
                "to say which one it is."
            )
        tcol, icol = (tcol, rest[0]) if icol is None else (rest[0], icol)
    return labels[str(tcol)], labels[str(icol)]


def _guess_long_columns(df: pd.DataFrame) -> tuple[Any, Any]:
    labels = {str(c): c for c in df.columns}
    a, b = labels
    item_like = [c for c in (a, b) if _ITEM_NAME.search(c)]
    txn_like = [c for c in (a, b) if _TXN_NAME.search(c)]
    if len(item_like) == 1:
        icol = item_like[0]
    elif len(txn_like) == 1:
        icol = b if txn_like[0] == a else a
    else:
        icol = b
    return labels[a if icol == b else b], labels[icol]


def _from_long(tids: pd.Series, items: pd.Series) -> Baskets:
    keep = tids.notna().to_numpy() & items.notna().to_numpy()
    if not keep.any():
        raise DataError(
            f"The transactions have no usable rows: every row misses its transaction id "
            f"('{tids.name}') or its item ('{items.name}')."
        )
    rows, _ = pd.factorize(tids[keep], sort=False)
    codes, names = pd.factorize(items[keep].astype(str), sort=True)
    n, m = int(rows.max()) + 1, len(names)
    return Baskets(
        _csr(rows.astype(np.int64), codes.astype(np.int64), n, m), [str(x) for x in names]
    )


def _from_lists(baskets: Iterable[Iterable[Any]]) -> Baskets:
    row_ids: list[int] = []
    values: list[str] = []
    n = 0
    for i, basket in enumerate(baskets):
        if isinstance(basket, str | bytes) or not isinstance(basket, Iterable):
            raise DataError(
                f"Basket {i} is a {type(basket).__name__} ({basket!r}), not a list of items. "
                "Give a list of baskets such as [['milk', 'bread'], ['milk']]."
            )
        for item in basket:
            if item is None or (isinstance(item, float) and math.isnan(item)):
                continue
            row_ids.append(i)
            values.append(str(item))
        n = i + 1
    if n == 0:
        raise DataError("The list of baskets is empty. Give at least one basket of items.")
    if not values:
        raise DataError(f"All {n} baskets are empty. Give baskets that hold items.")
    codes, names = pd.factorize(pd.Series(values, dtype=object), sort=True)
    return Baskets(
        _csr(np.asarray(row_ids, dtype=np.int64), codes.astype(np.int64), n, len(names)),
        [str(x) for x in names],
    )


def _csr(rows: np.ndarray, cols: np.ndarray, n: int, m: int) -> sp.csr_matrix:
    # Unique (row, col) keys give sorted, duplicate-free CSR arrays directly.
    keys = np.sort(rows * m + cols)
    if len(keys):
        keys = keys[np.concatenate(([True], keys[1:] != keys[:-1]))]
    r, c = np.divmod(keys, m)
    indptr = np.zeros(n + 1, dtype=np.int64)
    np.cumsum(np.bincount(r, minlength=n), out=indptr[1:])
    idx_dtype = np.int32 if max(len(keys), m) < 2**31 else np.int64
    return sp.csr_matrix(
        (np.ones(len(keys), dtype=bool), c.astype(idx_dtype), indptr.astype(idx_dtype)),
        shape=(n, m),
    )


def _is_binary(s: pd.Series) -> bool:
    return _first_bad_value(s) is None


def _first_bad_value(s: pd.Series) -> tuple[Any, Any] | None:
    """(row label, value) of the first entry of *s* that is not 0/1/True/False."""
    dtype = s.dtype
    if isinstance(dtype, pd.SparseDtype):
        fill = dtype.fill_value
        if not _is_01(fill):
            return (s.index[0] if len(s) else None), fill
        sp_values = np.asarray(s.array.sp_values)
        bad = _bad_mask(sp_values)
        if bad.any():
            pos = int(s.array.sp_index.indices[int(np.argmax(bad))])
            return s.index[pos], sp_values[int(np.argmax(bad))]
        return None
    if pd.api.types.is_bool_dtype(dtype) and not s.hasnans:
        return None
    values = s.to_numpy(dtype=object) if not pd.api.types.is_numeric_dtype(dtype) else s.to_numpy()
    bad = _bad_mask(values)
    if bad.any():
        pos = int(np.argmax(bad))
        return s.index[pos], values[pos]
    return None


def _is_01(v: Any) -> bool:
    try:
        return bool(v == 0 or v == 1)
    except (TypeError, ValueError):
        return False


def _bad_mask(values: np.ndarray) -> np.ndarray:
    if values.dtype == bool:
        return np.zeros(len(values), dtype=bool)
    if values.dtype.kind in "iuf":
        numeric: np.ndarray = ~((values == 0) | (values == 1))
        return numeric
    mask: np.ndarray = np.fromiter(
        (not _is_01(v) or v is None for v in values), dtype=bool, count=len(values)
    )
    return mask


def _from_onehot(df: pd.DataFrame) -> Baskets:
    cols: list[np.ndarray] = []
    for name in df.columns:
        s = df[name]
        bad = _first_bad_value(s)
        if bad is not None:
            row, value = (v.item() if isinstance(v, np.generic) else v for v in bad)
            raise DataError(
                f"Column '{name}' of the one-hot baskets must hold only 0/1 or True/False; "
                f"row {row!r} has {value!r}. Give one column per item with 1 where the "
                "transaction holds it, or give long format (one row per transaction and "
                "item) with transaction_col= and item_col=."
            )
        if isinstance(s.dtype, pd.SparseDtype) and not s.dtype.fill_value:
            arr = s.array
            pos = np.asarray(arr.sp_index.indices)[np.asarray(arr.sp_values, dtype=bool)]
        else:
            pos = np.flatnonzero(s.to_numpy(dtype=bool))
        cols.append(pos)
    n, m = len(df), len(cols)
    lengths = np.fromiter((len(c) for c in cols), dtype=np.int64, count=m)
    if lengths.sum() == 0:
        raise DataError(
            f"All {n} transactions of the one-hot baskets are empty (every value is 0). "
            "Give baskets that hold items."
        )
    rows = np.concatenate(cols).astype(np.int64)
    col_ids = np.repeat(np.arange(m, dtype=np.int64), lengths)
    names = [str(c) for c in df.columns]
    order = np.argsort(np.asarray(names, dtype=object), kind="stable")
    rank = np.empty(m, dtype=np.int64)
    rank[order] = np.arange(m)
    return Baskets(_csr(rows, rank[col_ids], n, m), [names[i] for i in order])
