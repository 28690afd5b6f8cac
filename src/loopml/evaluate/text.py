"""Text and LLM metrics: ROUGE (via the rouge-score package), perplexity, JSONL readers.

ROUGE types are ``rouge1``, ``rouge2``, any ``rougeN``, ``rougeL`` (longest
common subsequence over the whole text) and ``rougeLsum`` (summary-level LCS:
sentences are separated by newlines, as in rouge-score). Spellings such as
``"ROUGE-1"`` or ``"rouge-lsum"`` are accepted. Scores are computed by
``rouge_score.rouge_scorer.RougeScorer``; ROUGE-N for n >= 10 (which that
scorer's type names cannot express) uses its tokenizer and the same formula.

Perplexity lives in :mod:`loopml.evaluate.perplexity` and is re-exported here.
"""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
from numpy.typing import NDArray

from loopml.evaluate._checks import jsonable
from loopml.evaluate.perplexity import PerplexityResult, perplexity, perplexity_from_logits
from loopml.exceptions import DataError

if TYPE_CHECKING:
    import pandas as pd

__all__ = [
    "DEFAULT_ROUGE_TYPES",
    "PerplexityResult",
    "RougeResult",
    "TextPairs",
    "perplexity",
    "perplexity_from_logits",
    "read_logprobs",
    "read_text_pairs",
    "rouge",
]

DEFAULT_ROUGE_TYPES = ("rouge1", "rouge2", "rougeL", "rougeLsum")
_STATS = ("precision", "recall", "fmeasure")
# bootstrap resamples are drawn in blocks of about this many indices
_BOOTSTRAP_BLOCK = 2_000_000


def rouge_type(name: str) -> str:
    """Canonical rouge-score name: ``'ROUGE-1'`` -> ``'rouge1'``, ``'rouge-lsum'`` -> ``'rougeLsum'``."""
    key = name.strip().lower().replace("-", "").replace("_", "").replace(" ", "")
    if key in ("rougel", "l"):
        return "rougeL"
    if key in ("rougelsum", "lsum"):
        return "rougeLsum"
    digits = key.removeprefix("rouge")
    if digits.isdigit() and int(digits) > 0:
        return f"rouge{int(digits)}"
    raise DataError(
        f"Unknown ROUGE type {name!r}. Use rouge1, rouge2, ..., rougeN (any n >= 1), rougeL "
        "or rougeLsum."
    )


@dataclass
class RougeResult:
    """Corpus ROUGE: the mean of per-pair scores, with optional bootstrap intervals.

    Attributes
    ----------
    scores : dict
        ``{"rouge1": {"precision": ..., "recall": ..., "fmeasure": ...}, ...}`` (means).
    per_sample : DataFrame
        One row per pair, columns ``rouge1_precision``, ``rouge1_recall``, ...
    ci : dict or None
        ``{"rouge1": {"fmeasure": (low, high), ...}}`` percentile bootstrap interval.
    """

    scores: dict[str, dict[str, float]]
    per_sample: pd.DataFrame
    use_stemmer: bool
    ci: dict[str, dict[str, tuple[float, float]]] | None = None
    confidence: float | None = None
    n_bootstrap: int | None = None

    @property
    def n_samples(self) -> int:
        return len(self.per_sample)

    def fmeasure(self, rouge: str = "rougeL") -> float:
        """Mean F-measure of one ROUGE type."""
        return self.scores[rouge_type(rouge)]["fmeasure"]

    def to_dict(self) -> dict[str, Any]:
        """JSON-safe dict (per-sample scores left out)."""
        out: dict[str, Any] = jsonable(
            {
                "scores": self.scores,
                "ci": self.ci,
                "confidence": self.confidence,
                "n_bootstrap": self.n_bootstrap,
                "n_samples": self.n_samples,
                "use_stemmer": self.use_stemmer,
            }
        )
        return out


def _texts(
    predictions: str | Sequence[str], references: str | Sequence[str] | Sequence[Sequence[str]]
) -> tuple[list[str], list[list[str]]]:
    preds = [predictions] if isinstance(predictions, str) else list(predictions)
    refs_in = [references] if isinstance(references, str) else list(references)
    if not preds:
        raise DataError("predictions is empty; pass at least one text.")
    if len(preds) != len(refs_in):
        raise DataError(
            f"Length mismatch: {len(preds)} predictions but {len(refs_in)} references. "
            "Pass one reference (or list of references) per prediction, in the same order."
        )
    refs: list[list[str]] = []
    for i, (p, r) in enumerate(zip(preds, refs_in, strict=True)):
        if not isinstance(p, str):
            raise DataError(f"predictions[{i}] must be a string; got {type(p).__name__} ({p!r}).")
        group = [r] if isinstance(r, str) else list(r) if isinstance(r, list | tuple) else None
        if not group or not all(isinstance(x, str) for x in group):
            raise DataError(
                f"references[{i}] must be a string or a non-empty list of strings; got {r!r}."
            )
        refs.append(group)
    return preds, refs


def _ngram_score(target: list[str], pred: list[str], n: int) -> tuple[float, float, float]:
    """rouge-score's n-gram formula (for n beyond its single-digit type names)."""
    t = Counter(tuple(target[i : i + n]) for i in range(len(target) - n + 1))
    p = Counter(tuple(pred[i : i + n]) for i in range(len(pred) - n + 1))
    overlap = sum((t & p).values())
    precision = overlap / max(sum(p.values()), 1)
    recall = overlap / max(sum(t.values()), 1)
    f = 2 * precision * recall / (precision + recall) if precision + recall > 0 else 0.0
    return precision, recall, f


def rouge(
    predictions: str | Sequence[str],
    references: str | Sequence[str] | Sequence[Sequence[str]],
    *,
    rouge_types: Sequence[str] = DEFAULT_ROUGE_TYPES,
    use_stemmer: bool = False,
    confidence: float | None = None,
    n_bootstrap: int = 1000,
    seed: int = 0,
) -> RougeResult:
    """ROUGE precision, recall and F-measure per pair and averaged over the corpus.

    Parameters
    ----------
    predictions : str or list of str
        Generated texts.
    references : str, list of str, or list of lists of str
        Reference text(s) per prediction; with several, each ROUGE type takes the
        reference with the best F-measure (rouge-score's ``score_multi``).
    rouge_types : list of str
        Any of rouge1, rouge2, ..., rougeN, rougeL, rougeLsum (newlines separate
        sentences for rougeLsum).
    use_stemmer : bool, default False
        Porter-stem tokens before matching ("running" matches "run").
    confidence : float, optional
        e.g. 0.95 adds percentile bootstrap intervals of the corpus means.
    n_bootstrap, seed :
        Bootstrap resamples and their seed.

    Examples
    --------
    >>> r = rouge(["the cat sat"], ["the cat sat down"], rouge_types=["rouge1"])
    >>> r.scores["rouge1"]["recall"]
    0.75
    """
    import pandas as pd
    from rouge_score import rouge_scorer, tokenizers

    preds, refs = _texts(predictions, references)
    types = list(dict.fromkeys(rouge_type(t) for t in rouge_types))
    native = [t for t in types if t in ("rougeL", "rougeLsum") or int(t[5:]) <= 9]
    extra = [t for t in types if t not in native]
    scorer = rouge_scorer.RougeScorer(native, use_stemmer=use_stemmer) if native else None
    tokenizer = tokenizers.DefaultTokenizer(use_stemmer) if extra else None
    rows = np.zeros((len(preds), len(types) * 3))
    col = {t: i * 3 for i, t in enumerate(types)}
    for i, (p, group) in enumerate(zip(preds, refs, strict=True)):
        if scorer is not None:
            got = scorer.score_multi(group, p) if len(group) > 1 else scorer.score(group[0], p)
            for t in native:
                s = got[t]
                rows[i, col[t] : col[t] + 3] = (s.precision, s.recall, s.fmeasure)
        if tokenizer is not None:
            p_tok = tokenizer.tokenize(p)
            r_toks = [tokenizer.tokenize(r) for r in group]
            for t in extra:
                cands = [_ngram_score(r, p_tok, int(t[5:])) for r in r_toks]
                rows[i, col[t] : col[t] + 3] = max(cands, key=lambda c: c[2])
    columns = [f"{t}_{s}" for t in types for s in _STATS]
    per_sample = pd.DataFrame(rows, columns=columns)
    means = rows.mean(axis=0)
    scores = {t: {s: float(means[col[t] + j]) for j, s in enumerate(_STATS)} for t in types}
    result = RougeResult(scores=scores, per_sample=per_sample, use_stemmer=use_stemmer)
    if confidence is not None:
        if not 0 < confidence < 1:
            raise DataError(f"confidence must be between 0 and 1 (e.g. 0.95); got {confidence}.")
        lo, hi = bootstrap_ci(rows, confidence, n_bootstrap, seed)
        result.ci = {
            t: {s: (float(lo[col[t] + j]), float(hi[col[t] + j])) for j, s in enumerate(_STATS)}
            for t in types
        }
        result.confidence = confidence
        result.n_bootstrap = n_bootstrap
    return result


def bootstrap_ci(
    values: NDArray[np.float64], confidence: float, n_bootstrap: int, seed: int
) -> tuple[NDArray[np.float64], NDArray[np.float64]]:
    """Percentile bootstrap interval of the column means of *values* (n_samples, n_columns)."""
    if n_bootstrap < 1:
        raise DataError(f"n_bootstrap must be at least 1; got {n_bootstrap}.")
    rng = np.random.default_rng(seed)
    n = values.shape[0]
    means = np.empty((n_bootstrap, values.shape[1]))
    block = max(1, _BOOTSTRAP_BLOCK // max(n, 1))
    for start in range(0, n_bootstrap, block):
        stop = min(start + block, n_bootstrap)
        idx = rng.integers(0, n, size=(stop - start, n))
        means[start:stop] = values[idx].mean(axis=1)
    alpha = (1 - confidence) / 2
    lo, hi = np.quantile(means, [alpha, 1 - alpha], axis=0)
    return lo, hi


# --- JSONL readers -------------------------------------------------------------------


def _records(path: str | Path) -> Iterator[tuple[int, dict[str, Any]]]:
    p = Path(path)
    if not p.is_file():
        raise DataError(f"File not found: {p}. Check the path.")
    with p.open(encoding="utf-8") as fh:
        for lineno, line in enumerate(fh, start=1):
            if not line.strip():
                continue
            try:
                obj = json.loads(line)
            except json.JSONDecodeError as exc:
                raise DataError(
                    f"{p}, line {lineno}: not valid JSON ({exc.msg}). Each line must be one "
                    "JSON object."
                ) from exc
            if not isinstance(obj, dict):
                raise DataError(
                    f"{p}, line {lineno}: expected a JSON object, got {type(obj).__name__}."
                )
            yield lineno, obj


def _field(obj: dict[str, Any], names: Sequence[str], path: str | Path, lineno: int) -> Any:
    for name in names:
        if name in obj:
            return obj[name]
    raise DataError(
        f"{path}, line {lineno}: no field {' or '.join(map(repr, names))} (found: "
        f"{', '.join(map(repr, list(obj)[:8]))}). Pass the field names, e.g. "
        "prediction_field='output' or reference_field='gold'."
    )


def _text(value: Any, path: str | Path, lineno: int, name: str) -> str | list[str]:
    if isinstance(value, str):
        return value
    if isinstance(value, list) and value and all(isinstance(v, str) for v in value):
        return value
    raise DataError(
        f"{path}, line {lineno}: field {name!r} must be a string (or a list of reference "
        f"strings); got {value!r:.60}."
    )


@dataclass(frozen=True)
class TextPairs:
    """Predictions matched with their references (by id, or by line)."""

    predictions: list[str]
    references: list[str | list[str]]
    ids: list[Any] = field(default_factory=list)

    def __len__(self) -> int:
        return len(self.predictions)


def read_text_pairs(
    predictions_path: str | Path,
    references_path: str | Path | None = None,
    *,
    prediction_field: str = "prediction",
    reference_field: str = "reference",
    text_field: str = "text",
    id_field: str = "id",
) -> TextPairs:
    """Read predictions and references from JSON Lines.

    One file: each line holds both fields. Two files: the predictions file
    holds *prediction_field* (or *text_field*), the references file
    *reference_field* (or *text_field*); lines are matched by *id_field* when
    every line of both files has one, else by line order. A reference may be a
    list of strings (several references).

    Examples
    --------
    >>> # {"id": 1, "prediction": "a cat", "reference": "the cat"} per line
    >>> # pairs = read_text_pairs("outputs.jsonl"); rouge(pairs.predictions, pairs.references)
    """
    pred_names = (prediction_field, text_field)
    ref_names = (reference_field, text_field)
    if references_path is None:
        preds: list[str] = []
        refs: list[str | list[str]] = []
        ids: list[Any] = []
        for lineno, obj in _records(predictions_path):
            preds.append(
                str(
                    _text(
                        _field(obj, (prediction_field,), predictions_path, lineno),
                        predictions_path,
                        lineno,
                        prediction_field,
                    )
                )
            )
            refs.append(
                _text(
                    _field(obj, (reference_field,), predictions_path, lineno),
                    predictions_path,
                    lineno,
                    reference_field,
                )
            )
            ids.append(obj.get(id_field, lineno))
        if not preds:
            raise DataError(f"{predictions_path} has no records.")
        return TextPairs(predictions=preds, references=refs, ids=ids)

    def load(path: str | Path, names: Sequence[str]) -> list[tuple[int, Any, str | list[str]]]:
        out = []
        for lineno, obj in _records(path):
            value = _text(_field(obj, names, path, lineno), path, lineno, names[0])
            out.append((lineno, obj.get(id_field), value))
        if not out:
            raise DataError(f"{path} has no records.")
        return out

    p_rows = load(predictions_path, pred_names)
    r_rows = load(references_path, ref_names)
    with_id = [r[1] is not None for r in p_rows + r_rows]
    if all(with_id):
        return _match_by_id(p_rows, r_rows, predictions_path, references_path, id_field)
    if any(with_id):
        raise DataError(
            f"Some lines of {predictions_path} / {references_path} have an {id_field!r} field "
            f"and some do not. Give every line an {id_field!r} (to match by id) or none (to "
            "match by line order)."
        )
    if len(p_rows) != len(r_rows):
        raise DataError(
            f"{predictions_path} has {len(p_rows)} records but {references_path} has "
            f"{len(r_rows)}; without {id_field!r} fields they are matched by line, so the counts "
            f"must agree. Add {id_field!r} fields or fix the files."
        )
    return TextPairs(
        predictions=[str(r[2]) for r in p_rows],
        references=[r[2] for r in r_rows],
        ids=[r[0] for r in p_rows],
    )


def _match_by_id(
    p_rows: list[tuple[int, Any, str | list[str]]],
    r_rows: list[tuple[int, Any, str | list[str]]],
    p_path: str | Path,
    r_path: str | Path,
    id_field: str,
) -> TextPairs:
    def index(
        rows: list[tuple[int, Any, str | list[str]]], path: str | Path
    ) -> dict[Any, str | list[str]]:
        out: dict[Any, str | list[str]] = {}
        for lineno, key, value in rows:
            k = json.dumps(key, sort_keys=True)
            if k in out:
                raise DataError(f"{path}, line {lineno}: duplicate {id_field} {key!r}.")
            out[k] = value
        return out

    p_idx = index(p_rows, p_path)
    r_idx = index(r_rows, r_path)
    missing = [json.loads(k) for k in p_idx if k not in r_idx]
    extra = [json.loads(k) for k in r_idx if k not in p_idx]
    if missing or extra:
        parts = []
        if missing:
            parts.append(f"{len(missing)} prediction id(s) have no reference (e.g. {missing[:3]})")
        if extra:
            parts.append(f"{len(extra)} reference id(s) have no prediction (e.g. {extra[:3]})")
        raise DataError(
            f"{p_path} and {r_path} do not match by {id_field!r}: {'; '.join(parts)}. "
            "Score the matching subset or fix the files."
        )
    keys = list(p_idx)
    return TextPairs(
        predictions=[str(p_idx[k]) for k in keys],
        references=[r_idx[k] for k in keys],
        ids=[json.loads(k) for k in keys],
    )


def _logprob_list(
    obj: dict[str, Any], fld: str, path: str | Path, lineno: int
) -> list[float | None]:
    value = obj.get(fld)
    if value is None and "token_logprobs" in obj:  # OpenAI completions: top-level
        value = obj["token_logprobs"]
    if isinstance(value, dict):
        if "token_logprobs" in value:  # OpenAI completions: choice["logprobs"]
            value = value["token_logprobs"]
        elif "content" in value:  # OpenAI chat: {"content": [{"token", "logprob"}, ...]}
            value = value["content"]
    if isinstance(value, list) and value and all(isinstance(v, dict) for v in value):
        value = [v.get("logprob") for v in value]
    if not isinstance(value, list) or not all(
        v is None or (isinstance(v, int | float) and not isinstance(v, bool)) for v in value
    ):
        raise DataError(
            f"{path}, line {lineno}: expected {fld!r}: [numbers] or OpenAI-style "
            f"{{'tokens': [...], 'token_logprobs': [...]}}; got {str(value)[:80]}."
        )
    return value


def read_logprobs(path: str | Path, *, field: str = "logprobs") -> list[list[float | None]]:
    """Read one list of token log-probabilities per JSON line.

    Accepted shapes of a line: ``{"logprobs": [-0.1, -2.3, ...]}``;
    ``{"tokens": [...], "token_logprobs": [null, -0.1, ...]}`` (OpenAI completions,
    also nested as ``{"logprobs": {"tokens": ..., "token_logprobs": ...}}``);
    ``{"logprobs": {"content": [{"token": "a", "logprob": -0.1}, ...]}}`` (OpenAI chat).

    Examples
    --------
    >>> # r = perplexity(read_logprobs("logprobs.jsonl"))
    """
    out = [_logprob_list(obj, field, path, lineno) for lineno, obj in _records(path)]
    if not out:
        raise DataError(f"{path} has no records.")
    return out
