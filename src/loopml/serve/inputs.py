"""Request bodies → validated feature columns, with FastAPI-shaped errors.

The endpoint reads the raw body and parses it with orjson instead of letting
pydantic validate every row: rows become columns with C-level loops
(``operator.itemgetter``, ``zip``), and each column is checked and converted as a
whole (``numpy.array(values, dtype=float64)`` and ``numpy.isfinite``). Only when a
column fails does a per-value pass run, to name every bad field and row.

Errors keep FastAPI's 422 shape, ``{"detail": [{"type", "loc", "msg", "input"}]}``,
with ``loc`` such as ``["body", "rows", 3, "age"]`` (row 3, field ``age``) or
``["body", "columns", "age", 3]`` for a columnar body.

Missing values are ``null`` (or an empty CSV cell). Numeric and boolean columns
become float64 arrays (NaN when missing); the others become object arrays of
strings with ``numpy.nan`` when missing, the representation the training pipeline
imputes.

The pieces live beside it: the batch (:mod:`~loopml.serve.columns`), the errors
(:mod:`~loopml.serve.input_errors`) and the column converters
(:mod:`loopml.serve._coerce`); their public names are importable from here too.
"""

from __future__ import annotations

import operator
from collections.abc import Iterator, Sequence
from itertools import chain
from typing import Any

import numpy as np
import orjson

from loopml.data.schema import Role, Schema
from loopml.serve._coerce import CONVERTERS, FLOAT_MAX, NUMBER_OK, numeric_text
from loopml.serve.columns import Columns
from loopml.serve.input_errors import MAX_ERRORS as MAX_ERRORS
from loopml.serve.input_errors import Collector, InputError, Loc, error, json_invalid

__all__ = ["Columns", "InputError", "InputParser", "error"]

_BODY_HELP = (
    "Send a JSON object with 'rows' (a list of objects, one per row) or 'columns' "
    "(an object mapping each column to a list of values), or a CSV body with "
    "Content-Type: text/csv."
)


class InputParser:
    """Validate prediction requests against a training :class:`Schema`.

    Parameters
    ----------
    schema : Schema
        The model's training schema; its feature columns are required fields
        (``null`` allowed: missing values are imputed).

    Examples
    --------
    >>> import pandas as pd
    >>> from loopml.data.schema import infer_schema
    >>> df = pd.DataFrame({"age": [30, 41, 25, 52], "plan": list("abab"), "y": [0, 1, 0, 1]})
    >>> parser = InputParser(infer_schema(df, "y"))
    >>> cols = parser.parse_json(b'{"rows": [{"age": 33, "plan": "c"}]}')
    >>> cols.data["age"], cols.unseen_categories
    (array([33.]), {'plan': 1})
    """

    def __init__(self, schema: Schema) -> None:
        self.schema = schema
        self.features = schema.features
        self.names = [c.name for c in self.features]
        self._getter = operator.itemgetter(*self.names) if self.names else None
        self._converters = [CONVERTERS[c.role] for c in self.features]
        self._text_converters = [
            numeric_text if c.role == Role.NUMERIC else CONVERTERS[c.role] for c in self.features
        ]
        self._numeric = tuple(c.name for c in self.features if c.role == Role.NUMERIC)
        self._numeric_getter = operator.itemgetter(*self._numeric) if self._numeric else None
        known = {c.name for c in schema.columns}
        if schema.target:
            known |= set(schema.target.split(","))
        self._known = frozenset(known)
        # Unseen categories are counted only where the schema stored every category.
        self._categories: dict[str, frozenset[str]] = {
            c.name: frozenset(map(str, c.categories))
            for c in self.features
            if c.role == Role.CATEGORICAL
            and c.categories is not None
            and c.n_unique <= len(c.categories)
        }

    # -- entry points -----------------------------------------------------------------

    def parse_json(self, body: bytes) -> Columns:
        """Parse a JSON body: ``{"rows": [{...}, ...]}`` or ``{"columns": {name: [...]}}``."""
        try:
            payload = orjson.loads(body)
        except orjson.JSONDecodeError as exc:
            raise json_invalid(exc) from None
        return self.parse_payload(payload)

    def parse_payload(self, payload: Any) -> Columns:
        """Validate an already-decoded JSON payload."""
        if not isinstance(payload, dict):
            raise InputError.at(
                ["body"], "model_attributes_type", _BODY_HELP, type(payload).__name__
            )
        if "rows" in payload:
            return self.from_rows(payload["rows"], ("body", "rows"))
        if "columns" in payload:
            return self.from_columns(payload["columns"], ("body", "columns"))
        raise InputError.at(["body", "rows"], "missing", "Field required. " + _BODY_HELP)

    def parse_csv(self, body: bytes) -> Columns:
        """Parse a CSV body with a header row; empty cells are missing values."""
        import io

        import pandas as pd

        try:
            text = body.decode("utf-8-sig")
        except UnicodeDecodeError as exc:
            raise InputError.at(
                ["body"], "csv_invalid", f"The CSV body is not UTF-8 text ({exc.reason})."
            ) from None
        try:
            df = pd.read_csv(
                io.StringIO(text),
                dtype=str,
                keep_default_na=False,
                na_values=["", "NA", "N/A", "NaN", "nan", "null", "NULL", "None"],
            )
        except (ValueError, pd.errors.ParserError) as exc:
            raise InputError.at(
                ["body"], "csv_invalid", f"The CSV body cannot be parsed: {exc}".strip()
            ) from None
        columns = {
            str(c): [None if isinstance(v, float) else v for v in df[c].tolist()]
            for c in df.columns
        }
        if not columns or len(df) == 0:
            raise InputError.at(
                ["body"], "too_short", "The CSV body needs a header row and data rows."
            )
        # Report problems by row, as for JSON rows.
        return self._from_column_lists(columns, len(df), ("body", "rows"), by_row=True, text=True)

    # -- rows and columns -------------------------------------------------------------

    def from_rows(self, rows: Any, loc: Loc) -> Columns:
        """Validate a list of row objects."""
        if not isinstance(rows, list):
            raise InputError.at(loc, "list_type", "Input should be a valid list", rows)
        if not rows:
            raise InputError.at(
                loc, "too_short", "List should have at least 1 item after validation, not 0"
            )
        getter = self._getter
        n = len(rows)
        if getter is None:
            return Columns({}, n)
        try:
            picked = list(map(getter, rows))
        except (KeyError, TypeError, IndexError):
            self._raise_row_structure(rows, loc)
            raise  # pragma: no cover - _raise_row_structure always raises
        matrix = self._numeric_matrix(rows, picked, n)
        if matrix is not None and len(self._numeric) == len(self.names):
            # Every feature numeric and clean: the matrix is the whole batch.
            data = {name: matrix[:, j] for j, name in enumerate(self.names)}
            out = Columns(data, n, matrix=matrix, matrix_names=self._numeric)
            self._note_extra(out, rows)
            return out
        lists: Iterator[Sequence[Any]] | list[Sequence[Any]]
        lists = zip(*picked, strict=True) if len(self.names) > 1 else [picked]
        columns = dict(zip(self.names, lists, strict=True))
        out = self._convert(columns, n, loc, by_row=True, matrix=matrix)
        self._note_extra(out, rows)
        return out

    def _note_extra(self, out: Columns, rows: list[dict[str, Any]]) -> None:
        keys: set[str] = set().union(*rows) if len(rows) > 1 else set(rows[0])
        if len(keys) != len(self.names):
            extra = keys - self._known
            if extra:
                out.extra_columns = sorted(extra)

    def _numeric_matrix(
        self, rows: list[Any], picked: list[Any], n: int
    ) -> np.ndarray[Any, Any] | None:
        """The numeric columns as one float64 matrix, if they convert cleanly in one go."""
        k = len(self._numeric)
        if not k:
            return None
        getter = self._numeric_getter
        assert getter is not None
        source = picked if k == len(self.names) else list(map(getter, rows))
        flat = chain.from_iterable(source) if k > 1 else source
        if not set(map(type, flat)) <= NUMBER_OK:
            return None  # strings or booleans: refused column by column
        try:
            matrix = np.array(source, dtype=np.float64)
        except (TypeError, ValueError, OverflowError):
            return None
        if k == 1:
            matrix = matrix.reshape(-1, 1) if matrix.ndim == 1 else matrix
        if matrix.shape != (n, k) or not (np.abs(matrix) < FLOAT_MAX).all():
            return None  # missing or bad values: checked column by column
        return matrix

    def _column_matrix(self, columns: dict[str, Any], n: int) -> np.ndarray[Any, Any] | None:
        """The numeric columns of a columnar body as one float64 matrix, if clean."""
        k = len(self._numeric)
        if not k:
            return None
        source = [columns[name] for name in self._numeric]
        if not set(map(type, chain.from_iterable(source))) <= NUMBER_OK:
            return None  # strings or booleans: refused column by column
        try:
            matrix = np.array(source, dtype=np.float64)
        except (TypeError, ValueError, OverflowError):
            return None
        if matrix.shape != (k, n) or not (np.abs(matrix) < FLOAT_MAX).all():
            return None  # missing or bad values: checked column by column
        return np.ascontiguousarray(matrix.T)

    def from_columns(self, columns: Any, loc: Loc) -> Columns:
        """Validate a columnar payload ``{name: [values...]}``."""
        if not isinstance(columns, dict):
            raise InputError.at(loc, "dict_type", "Input should be a valid dictionary", columns)
        bad = Collector()
        lengths = {}
        for name in self.names:
            if name not in columns:
                bad.add((*loc, name), "missing", "Field required")
            elif not isinstance(columns[name], list):
                bad.add((*loc, name), "list_type", "Input should be a valid list", columns[name])
            else:
                lengths[name] = len(columns[name])
        bad.raise_if_any()
        n = max(lengths.values(), default=0)
        for name, length in lengths.items():
            if length != n:
                bad.add(
                    (*loc, name),
                    "length_mismatch",
                    f"Column '{name}' has {length} value(s); the longest column has {n}. "
                    "Every column must have one value per row.",
                )
        bad.raise_if_any()
        if n == 0 and self.names:
            raise InputError.at(loc, "too_short", "Columns should have at least 1 value, not 0")
        return self._from_column_lists(columns, n, loc, by_row=False)

    def _from_column_lists(
        self, columns: dict[str, Any], n: int, loc: Loc, *, by_row: bool, text: bool = False
    ) -> Columns:
        missing = [name for name in self.names if name not in columns]
        if missing:
            raise InputError(
                [
                    error(
                        (*loc, name) if not by_row else ("body", name), "missing", "Field required"
                    )
                    for name in missing
                ]
            )
        matrix = None if text else self._column_matrix(columns, n)
        out = self._convert(
            {name: columns[name] for name in self.names},
            n,
            loc,
            by_row=by_row,
            matrix=matrix,
            text=text,
        )
        extra = set(columns) - self._known
        if extra:
            out.extra_columns = sorted(extra)
        return out

    def _convert(
        self,
        columns: dict[str, Sequence[Any]],
        n: int,
        loc: Loc,
        *,
        by_row: bool,
        matrix: np.ndarray[Any, Any] | None = None,
        text: bool = False,
    ) -> Columns:
        data: dict[str, np.ndarray[Any, Any]] = {}
        if matrix is not None:
            for j, name in enumerate(self._numeric):
                data[name] = matrix[:, j]
        bad = Collector()
        converters = self._text_converters if text else self._converters
        for (name, values), convert in zip(columns.items(), converters, strict=True):
            if name in data:
                continue
            arr, problems = convert(values)
            data[name] = arr
            for row, type_, msg, value in problems:
                where = (*loc, row, name) if by_row else (*loc, name, row)
                bad.add(where, type_, f"{msg} (column '{name}')", value)
        bad.raise_if_any()
        data = {name: data[name] for name in self.names}
        unseen = {}
        for name, seen in self._categories.items():
            arr = data[name]
            n_missing = int(np.count_nonzero(arr != arr))  # NaN marks a missing value
            n_unseen = n - n_missing - sum(map(seen.__contains__, arr))
            if n_unseen:
                unseen[name] = n_unseen
        out = Columns(data, n, unseen_categories=unseen)
        if matrix is not None:
            out.matrix, out.matrix_names = matrix, self._numeric
        return out

    def _raise_row_structure(self, rows: list[Any], loc: Loc) -> None:
        bad = Collector()
        for i, row in enumerate(rows):
            if not isinstance(row, dict):
                bad.add((*loc, i), "model_type", "Input should be a valid dictionary", row)
                continue
            for name in self.names:
                if name not in row:
                    bad.add((*loc, i, name), "missing", "Field required")
        bad.raise_if_any()
        raise InputError.at(loc, "invalid", "The rows could not be read.")

    def to_frame(self, columns: Columns) -> Any:
        """The batch as the DataFrame the training pipeline expects."""
        import pandas as pd

        return pd.DataFrame(columns.data, index=pd.RangeIndex(columns.n_rows), copy=False)
