"""Perplexity of a language model, from token log-probabilities or from logits.

Definition used throughout: perplexity is ``exp(mean NLL)`` where the mean runs
over **all counted tokens of the corpus** (each token weighs the same), not the
mean of per-sequence perplexities, which over-weights short sequences. The
per-sequence perplexities are reported too.

Tokens that are not counted: a log-probability of None or NaN (e.g. the first
token, which APIs return without one), and targets equal to ``ignore_index``
(``-100``, as in PyTorch's ``CrossEntropyLoss``) for padding or prompt tokens.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
from numpy.typing import ArrayLike, NDArray

from loopml.evaluate._checks import jsonable
from loopml.exceptions import DataError

__all__ = ["PerplexityResult", "perplexity", "perplexity_from_logits"]

# A log-probability above this is not a log-probability (probabilities were passed?)
_LOGPROB_TOL = 1e-6


@dataclass(frozen=True)
class PerplexityResult:
    """Corpus-level and per-sequence perplexity.

    Attributes
    ----------
    perplexity : float
        ``exp(total NLL / n_tokens)`` over the whole corpus (inf if a counted
        token had probability 0).
    mean_nll : float
        Mean negative log-likelihood per counted token, in nats.
    n_tokens : int
        Counted tokens.
    n_skipped : int
        Tokens left out (None/NaN log-probabilities, ``ignore_index`` targets).
    per_sequence : ndarray of shape (n_sequences,)
        Perplexity of each sequence (NaN for a sequence with no counted token).
    per_sequence_tokens : ndarray of shape (n_sequences,)
        Counted tokens in each sequence.
    """

    perplexity: float
    mean_nll: float
    n_tokens: int
    n_skipped: int
    per_sequence: NDArray[np.float64]
    per_sequence_tokens: NDArray[np.int64]

    @property
    def n_sequences(self) -> int:
        return int(self.per_sequence.size)

    @property
    def bits_per_token(self) -> float:
        """Mean NLL in bits (cross-entropy in base 2); ``2 ** bits_per_token == perplexity``."""
        return self.mean_nll / math.log(2)

    def to_dict(self) -> dict[str, Any]:
        """JSON-safe dict (NaN/inf become None)."""
        out: dict[str, Any] = jsonable(
            {
                "perplexity": self.perplexity,
                "mean_nll": self.mean_nll,
                "bits_per_token": self.bits_per_token,
                "n_tokens": self.n_tokens,
                "n_skipped": self.n_skipped,
                "n_sequences": self.n_sequences,
                "per_sequence": self.per_sequence,
                "per_sequence_tokens": self.per_sequence_tokens,
            }
        )
        return out


def _result(
    nll: NDArray[np.float64], seq: NDArray[np.intp], n_seq: int, skipped: int
) -> PerplexityResult:
    """Aggregate counted per-token NLLs (nats) with their sequence ids."""
    if nll.size == 0:
        raise DataError(
            f"No token is counted: all {skipped} token(s) are None/NaN or ignore_index. "
            "Pass the log-probabilities of the generated/target tokens."
        )
    totals = np.bincount(seq, weights=nll, minlength=n_seq)
    counts = np.bincount(seq, minlength=n_seq).astype(np.int64)
    with np.errstate(invalid="ignore", divide="ignore", over="ignore"):
        per_seq = np.exp(totals / np.where(counts == 0, np.nan, counts))
        mean = float(nll.sum() / nll.size)
        ppl = float(np.exp(mean))
    return PerplexityResult(
        perplexity=ppl,
        mean_nll=mean,
        n_tokens=int(nll.size),
        n_skipped=skipped,
        per_sequence=per_seq,
        per_sequence_tokens=counts,
    )


def _is_number(x: Any) -> bool:
    return x is None or isinstance(x, int | float | np.number)


def perplexity(logprobs: Any, *, log_base: float = math.e) -> PerplexityResult:
    """Perplexity from per-token log-probabilities, as LLM APIs return them.

    Parameters
    ----------
    logprobs : sequence of sequences of float, or one sequence, or a 2-D array
        One list of token log-probabilities per sequence (``None``/NaN entries,
        e.g. an unscored first token or padding, are skipped). A flat list of
        numbers is one sequence; a 2-D array is padded with NaN.
    log_base : float, default e
        Base of the logarithms: ``math.e`` (natural log, what OpenAI-style APIs
        return) or ``2`` for bits. Perplexity itself does not depend on it.

    Examples
    --------
    >>> import math
    >>> r = perplexity([[math.log(0.5), math.log(0.25)], [math.log(0.5)]])
    >>> round(r.perplexity, 6), r.n_tokens
    (2.519842, 3)
    """
    if log_base <= 0 or log_base == 1:
        raise DataError(f"log_base must be positive and not 1 (e or 2); got {log_base}.")
    if isinstance(logprobs, np.ndarray) and logprobs.ndim == 2:
        rows: Sequence[Any] = list(logprobs)
    elif isinstance(logprobs, str | bytes) or not hasattr(logprobs, "__len__"):
        raise DataError(
            "logprobs must be a list of token log-probability lists (one per sequence); "
            f"got {type(logprobs).__name__}."
        )
    else:
        rows = list(logprobs)
        if rows and all(_is_number(x) for x in rows):
            rows = [rows]
    if not rows:
        raise DataError("logprobs is empty; pass one list of token log-probabilities per sequence.")
    arrays = []
    for i, row in enumerate(rows):
        try:
            arr = np.asarray(row, dtype=np.float64).ravel()
        except (TypeError, ValueError) as exc:
            raise DataError(
                f"logprobs sequence {i} must be a list of numbers (or None); it could not be "
                f"read as numbers ({exc})."
            ) from exc
        arrays.append(arr)
    flat = np.concatenate(arrays) if arrays else np.empty(0)
    seq = np.repeat(np.arange(len(arrays)), [a.size for a in arrays])
    keep = ~np.isnan(flat)
    if np.any(flat[keep] > _LOGPROB_TOL):
        j = int(np.flatnonzero(keep & (flat > _LOGPROB_TOL))[0])
        raise DataError(
            f"logprobs must be log-probabilities (<= 0); sequence {seq[j]} has {flat[j]:g}. "
            "If these are probabilities, pass numpy.log(p) instead."
        )
    nll = -np.minimum(flat[keep], 0.0) * math.log(log_base)
    return _result(nll, seq[keep], len(arrays), int((~keep).sum()))


def _log_softmax_nll(
    logits: NDArray[np.float64], targets: NDArray[np.int64], where: str
) -> NDArray[np.float64]:
    """NLL of *targets* under softmax(*logits*) along the last axis, computed stably."""
    if np.isnan(logits).any() or np.isposinf(logits).any():
        raise DataError(f"logits{where} contain NaN or +inf; pass finite model outputs.")
    m = logits.max(axis=-1, keepdims=True)
    if np.isneginf(m).any():
        raise DataError(f"logits{where} have a row that is -inf everywhere (no token possible).")
    lse = m[..., 0] + np.log(np.exp(logits - m).sum(axis=-1))
    picked = np.take_along_axis(logits, targets[..., None], axis=-1)[..., 0]
    out: NDArray[np.float64] = lse - picked
    return out


def perplexity_from_logits(
    logits: ArrayLike | Sequence[ArrayLike],
    targets: ArrayLike | Sequence[ArrayLike],
    *,
    ignore_index: int = -100,
) -> PerplexityResult:
    """Perplexity from raw logits and target token ids (log-softmax done stably).

    Parameters
    ----------
    logits : array of shape (seq_len, vocab) or (n_sequences, seq_len, vocab), or a list of (seq_len_i, vocab) arrays
        ``logits[..., t, :]`` is the model's distribution for ``targets[..., t]``.
        For a causal LM pass ``logits[:, :-1]`` and ``input_ids[:, 1:]`` (shifted).
    targets : int array of shape (seq_len,) or (n_sequences, seq_len), or a list
        Target token ids; ``ignore_index`` marks padding/prompt tokens to skip.
    ignore_index : int, default -100
        As in PyTorch's ``CrossEntropyLoss``.

    Examples
    --------
    >>> import numpy as np
    >>> r = perplexity_from_logits(np.zeros((3, 4)), [0, 1, 2])  # uniform over 4 tokens
    >>> round(r.perplexity, 6)
    4.0
    """
    if isinstance(logits, np.ndarray) or (
        hasattr(logits, "__array__") and not isinstance(logits, list)
    ):
        arr = np.asarray(logits, dtype=np.float64)
        tgt = np.asarray(targets)
        if arr.ndim == 2:
            arr = arr[None]
            tgt = tgt[None]
        if arr.ndim != 3:
            raise DataError(
                f"logits must have shape (seq_len, vocab) or (n_sequences, seq_len, vocab); "
                f"got {arr.shape}."
            )
        if tgt.shape != arr.shape[:2]:
            raise DataError(
                f"targets must have shape {arr.shape[:2]} to match logits {arr.shape}; "
                f"got {tgt.shape}."
            )
        pairs: list[tuple[Any, Any]] = [(arr[i], tgt[i]) for i in range(arr.shape[0])]
    else:
        seq_logits = list(logits)  # type: ignore[arg-type]
        seq_targets = list(targets)  # type: ignore[arg-type]
        if len(seq_logits) != len(seq_targets):
            raise DataError(
                f"Length mismatch: {len(seq_logits)} logits arrays but {len(seq_targets)} "
                "target sequences. Pass one target sequence per logits array."
            )
        pairs = list(zip(seq_logits, seq_targets, strict=True))
    if not pairs:
        raise DataError("logits is empty; pass at least one sequence.")
    nlls = []
    seqs = []
    skipped = 0
    for i, (lg, tg) in enumerate(pairs):
        x = np.asarray(lg, dtype=np.float64)
        t = np.asarray(tg)
        where = f" of sequence {i}"
        if x.ndim != 2 or t.shape != x.shape[:1]:
            raise DataError(
                f"Sequence {i}: logits must be (seq_len, vocab) and targets (seq_len,); got "
                f"{x.shape} and {t.shape}."
            )
        if t.dtype.kind not in "iu":
            raise DataError(f"targets{where} must be integer token ids; got dtype {t.dtype}.")
        t = t.astype(np.int64)
        counted = t != ignore_index
        bad = counted & ((t < 0) | (t >= x.shape[1]))
        if bad.any():
            j = int(np.flatnonzero(bad)[0])
            raise DataError(
                f"targets{where} has token id {t[j]} at position {j}, outside the vocabulary "
                f"[0, {x.shape[1]}). Use ignore_index={ignore_index} for tokens to skip."
            )
        skipped += int((~counted).sum())
        if counted.any():
            nlls.append(_log_softmax_nll(x[counted], t[counted], where))
            seqs.append(np.full(int(counted.sum()), i, dtype=np.intp))
    nll = np.concatenate(nlls) if nlls else np.empty(0)
    seq = np.concatenate(seqs) if seqs else np.empty(0, dtype=np.intp)
    return _result(nll, seq, len(pairs), skipped)
