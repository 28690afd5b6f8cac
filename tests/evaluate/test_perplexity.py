"""Perplexity against exp(mean cross-entropy) computed independently with scipy."""

from __future__ import annotations

import json
import math

import numpy as np
import pytest
from scipy.special import log_softmax

from loopml.evaluate.perplexity import perplexity, perplexity_from_logits
from loopml.exceptions import DataError


@pytest.mark.parametrize("seed", range(4))
def test_logits_match_scipy(seed: int) -> None:
    rng = np.random.default_rng(seed)
    b, t, v = 3, 7, 11
    logits = rng.normal(0, 3, (b, t, v)) + 500.0  # large offset: must stay stable
    targets = rng.integers(0, v, (b, t))
    targets[0, -2:] = -100  # padding
    targets[2, 0] = -100
    r = perplexity_from_logits(logits, targets)
    lsm = log_softmax(logits, axis=-1)
    mask = targets != -100
    nll = -np.take_along_axis(lsm, np.where(mask, targets, 0)[..., None], axis=-1)[..., 0]
    assert r.perplexity == pytest.approx(math.exp(nll[mask].mean()))
    assert r.mean_nll == pytest.approx(nll[mask].mean())
    assert r.n_tokens == mask.sum() and r.n_skipped == 3
    per_seq = [math.exp(nll[i][mask[i]].mean()) for i in range(b)]
    np.testing.assert_allclose(r.per_sequence, per_seq)
    np.testing.assert_array_equal(r.per_sequence_tokens, mask.sum(axis=1))
    # corpus-level is not the mean of per-sequence perplexities
    assert r.perplexity != pytest.approx(np.mean(per_seq))
    # ragged list input gives the same answer
    ragged = perplexity_from_logits(
        [logits[i][mask[i]] for i in range(b)], [targets[i][mask[i]] for i in range(b)]
    )
    assert ragged.perplexity == pytest.approx(r.perplexity)
    # and so do the equivalent log-probabilities
    lp = [list(-nll[i][mask[i]]) for i in range(b)]
    assert perplexity(lp).perplexity == pytest.approx(r.perplexity)
    assert perplexity([list(np.array(x) / math.log(2)) for x in lp], log_base=2).perplexity == (
        pytest.approx(r.perplexity)
    )


def test_logprobs_skip_none_and_nan() -> None:
    seqs = [[None, math.log(0.5), math.log(0.25)], [math.log(0.5), float("nan")], [None]]
    r = perplexity(seqs)
    expected = math.exp(-(math.log(0.5) * 2 + math.log(0.25)) / 3)
    assert r.perplexity == pytest.approx(expected)
    assert r.n_tokens == 3 and r.n_skipped == 3 and r.n_sequences == 3
    assert r.per_sequence[1] == pytest.approx(2.0) and np.isnan(r.per_sequence[2])
    assert 2**r.bits_per_token == pytest.approx(r.perplexity)
    d = json.loads(json.dumps(r.to_dict(), allow_nan=False))
    assert d["per_sequence"][2] is None
    # a flat list is one sequence; a NaN-padded 2-D array works too
    assert perplexity([math.log(0.5), math.log(0.5)]).perplexity == pytest.approx(2.0)
    padded = np.array([[math.log(0.5), np.nan], [math.log(0.25), math.log(0.25)]])
    assert perplexity(padded).n_tokens == 3


def test_zero_probability_gives_inf() -> None:
    assert perplexity([[0.0, -math.inf]]).perplexity == math.inf


def test_errors() -> None:
    with pytest.raises(DataError, match=r"must be log-probabilities \(<= 0\); sequence 1 has 0.9"):
        perplexity([[-0.1], [0.9]])
    with pytest.raises(DataError, match="No token is counted: all 2 token"):
        perplexity([[None], [None]])
    with pytest.raises(DataError, match="logprobs is empty"):
        perplexity([])
    with pytest.raises(DataError, match="log_base must be positive"):
        perplexity([[-1.0]], log_base=1)
    with pytest.raises(DataError, match="sequence 0 must be a list of numbers"):
        perplexity([["a", -1.0]])
    with pytest.raises(
        DataError, match=r"token id 5 at position 1, outside the vocabulary \[0, 4\)"
    ):
        perplexity_from_logits(np.zeros((3, 4)), [0, 5, 1])
    with pytest.raises(DataError, match=r"targets must have shape \(1, 3\)"):
        perplexity_from_logits(np.zeros((3, 4)), [0, 1])
    with pytest.raises(DataError, match="contain NaN"):
        perplexity_from_logits(np.full((2, 3), np.nan), [0, 1])
    with pytest.raises(DataError, match="must be integer token ids"):
        perplexity_from_logits(np.zeros((2, 3)), [0.0, 1.0])
    with pytest.raises(DataError, match="Length mismatch: 2 logits arrays but 1"):
        perplexity_from_logits([np.zeros((2, 3)), np.zeros((1, 3))], [[0, 1]])
    with pytest.raises(DataError, match="No token is counted"):
        perplexity_from_logits(np.zeros((2, 3)), [-100, -100])
