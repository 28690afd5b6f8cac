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
"""

from __future__ import annotations

import math
import operator
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from itertools import chain, repeat
from typing import Any

import numpy as np
import orjson

from loopml.data.schema import Role, Schema

__all__ = ["Columns", "InputError", "InputParser", "error"]

#: Errors listed in one response at most; the rest are summarised in a last entry.
MAX_ERRORS = 100
_NONE_TYPE = type(None)
_STR_OK = frozenset({str, _NONE_TYPE})
_NUMBER_OK = frozenset({int, float, _NONE_TYPE})
_SCALARS = (bool, int, float)
_BAD = -1.0
_TRUE = ("true", "yes", "y", "t", "1", "1.0")
_FALSE = ("false", "no", "n", "f", "0", "0.0")
_BOOL_MAP: dict[Any, float] = {
    True: 1.0,
    False: 0.0,
    None: math.nan,
    **dict.fromkeys(_TRUE, 1.0),
    **dict.fromkeys(_FALSE, 0.0),
}
Loc = tuple[str | int, ...]


#: Largest finite float64. The spec publishes it as an *exclusive* bound: a JSON number
#: past it can round to it when read, so the bound itself is refused too.
_FLOAT_MAX = 1.7976931348623157e308


def error(loc: Sequence[str | int], type_: str, msg: str, value: Any = None) -> dict[str, Any]:
    """One entry of a FastAPI-style 422 ``detail`` list."""
    out: dict[str, Any] = {"type": type_, "loc": list(loc), "msg": msg}
    if value is not None:
        out["input"] = _short(value)
    return out


def _short(value: Any) -> Any:
    """The offending value, shortened so an error never echoes a huge payload back."""
    if isinstance(value, str) and len(value) > 200:
        return value[:200] + "..."
    if isinstance(value, dict | list):
        text = orjson.dumps(value, default=str).decode()
        return value if len(text) <= 200 else text[:200] + "..."
    return value


class InputError(Exception):
    """The request cannot be used; ``errors`` is FastAPI's ``detail`` list."""

    def __init__(self, errors: list[dict[str, Any]], status_code: int = 422) -> None:
        super().__init__("; ".join(f"{'.'.join(map(str, e['loc']))}: {e['msg']}" for e in errors))
        self.errors = errors
        self.status_code = status_code
        #: The main kind of problem, for metrics (``missing``, ``json_invalid``...).
        self.kind = errors[0]["type"] if errors else "invalid"


@dataclass
class Columns:
    """A validated batch: one array per feature column, in schema order."""

    data: dict[str, np.ndarray[Any, Any]]
    n_rows: int
    extra_columns: list[str] = field(default_factory=list)
    unseen_categories: dict[str, int] = field(default_factory=dict)
    #: The numeric columns as one (n_rows, k) float64 matrix when they were read as one,
    #: with their names; ``data`` then holds views of its columns.
    matrix: np.ndarray[Any, Any] | None = None
    matrix_names: tuple[str, ...] = ()

    @staticmethod
    def concat(parts: Sequence[Columns]) -> Columns:
        """One batch made of *parts*, in order (for micro-batching)."""
        if len(parts) == 1:
            return parts[0]
        first = parts[0]
        if first.matrix is not None and all(
            p.matrix is not None and p.matrix_names == first.matrix_names for p in parts
        ):
            matrix = np.concatenate([p.matrix for p in parts if p.matrix is not None])
            data = {n: matrix[:, j] for j, n in enumerate(first.matrix_names)}
            for n in first.data:
                if n not in data:
                    data[n] = np.concatenate([p.data[n] for p in parts])
            data = {n: data[n] for n in first.data}
            return Columns(data, matrix.shape[0], matrix=matrix, matrix_names=first.matrix_names)
        data = {n: np.concatenate([p.data[n] for p in parts]) for n in first.data}
        return Columns(data, sum(p.n_rows for p in parts))

    def records(self) -> list[dict[str, Any]]:
        """The rows as JSON-ready dicts (missing values as None); for logs, not the hot path."""
        names = list(self.data)
        lists = [_json_list(self.data[n]) for n in names]
        return [dict(zip(names, values, strict=True)) for values in zip(*lists, strict=True)]


def _json_list(arr: np.ndarray[Any, Any]) -> list[Any]:
    if arr.dtype.kind == "f":
        values: list[Any] = arr.tolist()
        if np.isnan(arr).any():
            return [None if v != v else v for v in values]
        return values
    return [None if isinstance(v, float) and v != v else v for v in arr.tolist()]


class _Collector:
    """Gathers errors up to :data:`MAX_ERRORS`, counting the rest."""

    def __init__(self) -> None:
        self.errors: list[dict[str, Any]] = []
        self.dropped = 0

    def add(self, loc: Loc, type_: str, msg: str, value: Any = None) -> None:
        if len(self.errors) < MAX_ERRORS:
            self.errors.append(error(loc, type_, msg, value))
        else:
            self.dropped += 1

    def raise_if_any(self) -> None:
        if not self.errors:
            return
        if self.dropped:
            self.errors.append(
                error(
                    ["body"],
                    "too_many_errors",
                    f"{self.dropped} more error(s) not listed; fix the ones above first.",
                )
            )
        raise InputError(self.errors)


# -- column converters: (values) -> (array, [(row, type, msg, value)]) ------------------

Problem = tuple[int, str, str, Any]
Converter = Callable[[Sequence[Any]], tuple[np.ndarray[Any, Any], list[Problem]]]


def _numeric(values: Sequence[Any]) -> tuple[np.ndarray[Any, Any], list[Problem]]:
    """JSON numbers (and null); a string or boolean is refused, as the spec says."""
    if not set(map(type, values)) <= _NUMBER_OK:
        return _numeric_slow(values, strict=True)
    return _numeric_text(values)


def _numeric_text(values: Sequence[Any]) -> tuple[np.ndarray[Any, Any], list[Problem]]:
    """Numbers, or text that reads as a number (CSV cells)."""
    n = len(values)
    try:
        arr = np.array(values, dtype=np.float64)
    except (TypeError, ValueError, OverflowError):
        arr = None
    if arr is None or arr.shape != (n,):
        return _numeric_slow(values)
    with np.errstate(invalid="ignore"):
        bad = ~(np.abs(arr) < _FLOAT_MAX)
    if not bad.any():
        return arr, []
    problems = [
        (i, "finite_number", "Input should be a finite number", values[i])
        for i in np.flatnonzero(bad).tolist()
        if values[i] is not None
    ]
    return arr, problems


def _numeric_slow(
    values: Sequence[Any], strict: bool = False
) -> tuple[np.ndarray[Any, Any], list[Problem]]:
    out = np.full(len(values), np.nan)
    problems: list[Problem] = []
    for i, v in enumerate(values):
        if v is None:
            continue
        if strict and (isinstance(v, bool) or not isinstance(v, int | float)):
            problems.append((i, "float_type", "Input should be a valid number", v))
        elif isinstance(v, _SCALARS) or isinstance(v, str):
            try:
                f = float(v)
            except (ValueError, OverflowError):
                problems.append(
                    (
                        i,
                        "float_parsing",
                        "Input should be a valid number, unable to parse string as a number",
                        v,
                    )
                )
                continue
            if abs(f) < _FLOAT_MAX:
                out[i] = f
            else:
                problems.append((i, "finite_number", "Input should be a finite number", v))
        else:
            problems.append((i, "float_type", "Input should be a valid number", v))
    return out, problems


def _boolean(values: Sequence[Any]) -> tuple[np.ndarray[Any, Any], list[Problem]]:
    n = len(values)
    try:
        arr = np.fromiter(map(_BOOL_MAP.get, values, repeat(_BAD)), np.float64, n)
    except TypeError:  # an unhashable value (list, object)
        arr = np.array([_BOOL_MAP.get(v, _BAD) if _hashable(v) else _BAD for v in values])
    problems: list[Problem] = []
    for i in np.flatnonzero(arr == _BAD).tolist():
        v = values[i]
        if isinstance(v, str) and v.strip().lower() in _BOOL_MAP:
            arr[i] = _BOOL_MAP[v.strip().lower()]
        elif isinstance(v, str | int | float):
            problems.append(
                (i, "bool_parsing", "Input should be a valid boolean, unable to interpret input", v)
            )
        else:
            problems.append((i, "bool_type", "Input should be a valid boolean", v))
    return arr, problems


def _is_none(arr: np.ndarray[Any, Any]) -> np.ndarray[Any, Any]:
    """Elementwise ``is None`` of an object array (a C loop, no Python per element)."""
    none: Any = None
    return np.asarray(np.equal(arr, none), dtype=bool)


def _hashable(v: Any) -> bool:
    try:
        hash(v)
    except TypeError:
        return False
    return True


def _strings(values: Sequence[Any]) -> tuple[np.ndarray[Any, Any], list[Problem]]:
    arr = np.empty(len(values), dtype=object)
    problems: list[Problem] = []
    types = set(map(type, values))
    if types <= _STR_OK:
        arr[:] = values
    else:
        converted: list[Any] = []
        for i, v in enumerate(values):
            if v is None or isinstance(v, str):
                converted.append(v)
            elif isinstance(v, _SCALARS):
                # Training saw categories as text: 3 and "3" are the same category.
                converted.append(str(v))
            else:
                converted.append(None)
                problems.append((i, "string_type", "Input should be a valid string", v))
        arr[:] = converted
    if _NONE_TYPE in types:
        arr[_is_none(arr)] = np.nan
    return arr, problems


def _datetimes(values: Sequence[Any]) -> tuple[np.ndarray[Any, Any], list[Problem]]:
    import warnings

    import pandas as pd

    arr = np.empty(len(values), dtype=object)
    problems: list[Problem] = []
    if set(map(type, values)) <= _STR_OK:
        arr[:] = values
    else:
        converted = []
        for i, v in enumerate(values):
            if v is None or isinstance(v, str):
                converted.append(v)
            else:
                converted.append(None)
                problems.append((i, "string_type", "Input should be a valid datetime string", v))
        arr[:] = converted
    present = ~_is_none(arr)
    arr[~present] = np.nan
    if present.any():
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            parsed = pd.to_datetime(pd.Series(arr[present]), errors="coerce", format="mixed")
        for i in np.flatnonzero(present)[parsed.isna().to_numpy()].tolist():
            if isinstance(values[i], str):
                problems.append(
                    (
                        i,
                        "datetime_parsing",
                        "Input should be a valid datetime, unable to parse the string",
                        values[i],
                    )
                )
    return arr, problems


_CONVERTERS: dict[Role, Converter] = {
    Role.NUMERIC: _numeric,
    Role.BOOLEAN: _boolean,
    Role.CATEGORICAL: _strings,
    Role.TEXT: _strings,
    Role.DATETIME: _datetimes,
}


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
        self._converters = [_CONVERTERS[c.role] for c in self.features]
        self._text_converters = [
            _numeric_text if c.role == Role.NUMERIC else _CONVERTERS[c.role] for c in self.features
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
            raise InputError(
                [
                    {
                        "type": "json_invalid",
                        "loc": ["body", int(getattr(exc, "pos", 0) or 0)],
                        "msg": "JSON decode error",
                        "input": {},
                        "ctx": {"error": str(exc).split(":", 1)[0]},
                    }
                ]
            ) from None
        return self.parse_payload(payload)

    def parse_payload(self, payload: Any) -> Columns:
        """Validate an already-decoded JSON payload."""
        if not isinstance(payload, dict):
            raise InputError(
                [error(["body"], "model_attributes_type", _BODY_HELP, _type_name(payload))]
            )
        if "rows" in payload:
            return self.from_rows(payload["rows"], ("body", "rows"))
        if "columns" in payload:
            return self.from_columns(payload["columns"], ("body", "columns"))
        raise InputError([error(["body", "rows"], "missing", "Field required. " + _BODY_HELP)])

    def parse_csv(self, body: bytes) -> Columns:
        """Parse a CSV body with a header row; empty cells are missing values."""
        import io

        import pandas as pd

        try:
            text = body.decode("utf-8-sig")
        except UnicodeDecodeError as exc:
            raise InputError(
                [error(["body"], "csv_invalid", f"The CSV body is not UTF-8 text ({exc.reason}).")]
            ) from None
        try:
            df = pd.read_csv(
                io.StringIO(text),
                dtype=str,
                keep_default_na=False,
                na_values=["", "NA", "N/A", "NaN", "nan", "null", "NULL", "None"],
            )
        except (ValueError, pd.errors.ParserError) as exc:
            raise InputError(
                [error(["body"], "csv_invalid", f"The CSV body cannot be parsed: {exc}".strip())]
            ) from None
        columns = {
            str(c): [None if isinstance(v, float) else v for v in df[c].tolist()]
            for c in df.columns
        }
        if not columns or len(df) == 0:
            raise InputError(
                [error(["body"], "too_short", "The CSV body needs a header row and data rows.")]
            )
        # Report problems by row, as for JSON rows.
        return self._from_column_lists(columns, len(df), ("body", "rows"), by_row=True, text=True)

    # -- rows and columns -------------------------------------------------------------

    def from_rows(self, rows: Any, loc: Loc) -> Columns:
        """Validate a list of row objects."""
        if not isinstance(rows, list):
            raise InputError([error(loc, "list_type", "Input should be a valid list", rows)])
        if not rows:
            raise InputError(
                [
                    error(
                        loc, "too_short", "List should have at least 1 item after validation, not 0"
                    )
                ]
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
        if not set(map(type, flat)) <= _NUMBER_OK:
            return None  # strings or booleans: refused column by column
        try:
            matrix = np.array(source, dtype=np.float64)
        except (TypeError, ValueError, OverflowError):
            return None
        if k == 1:
            matrix = matrix.reshape(-1, 1) if matrix.ndim == 1 else matrix
        if matrix.shape != (n, k) or not (np.abs(matrix) < _FLOAT_MAX).all():
            return None  # missing or bad values: checked column by column
        return matrix

    def from_columns(self, columns: Any, loc: Loc) -> Columns:
        """Validate a columnar payload ``{name: [values...]}``."""
        if not isinstance(columns, dict):
            raise InputError(
                [error(loc, "dict_type", "Input should be a valid dictionary", columns)]
            )
        bad = _Collector()
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
            raise InputError(
                [error(loc, "too_short", "Columns should have at least 1 value, not 0")]
            )
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
        out = self._convert(
            {name: columns[name] for name in self.names}, n, loc, by_row=by_row, text=text
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
        bad = _Collector()
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
        bad = _Collector()
        for i, row in enumerate(rows):
            if not isinstance(row, dict):
                bad.add((*loc, i), "model_type", "Input should be a valid dictionary", row)
                continue
            for name in self.names:
                if name not in row:
                    bad.add((*loc, i, name), "missing", "Field required")
        bad.raise_if_any()
        raise InputError([error(loc, "invalid", "The rows could not be read.")])

    def to_frame(self, columns: Columns) -> Any:
        """The batch as the DataFrame the training pipeline expects."""
        import pandas as pd

        return pd.DataFrame(columns.data, index=pd.RangeIndex(columns.n_rows), copy=False)


def _type_name(value: Any) -> str:
    return type(value).__name__


_BODY_HELP = (
    "Send a JSON object with 'rows' (a list of objects, one per row) or 'columns' "
    "(an object mapping each column to a list of values), or a CSV body with "
    "Content-Type: text/csv."
)
