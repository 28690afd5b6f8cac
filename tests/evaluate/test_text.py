"""ROUGE against rouge-score directly, and the JSONL readers."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from rouge_score import rouge_scorer

from loopml.evaluate.text import read_logprobs, read_text_pairs, rouge, rouge_type
from loopml.exceptions import DataError

PREDS = [
    "the cats were running across the garden",
    "a quick brown fox jumped over the lazy dogs",
    "It rained.\nThe match was cancelled in the afternoon",
    "",
    "totally unrelated words here",
]
REFS = [
    "the cat ran across the big garden",
    "the quick brown fox jumps over the lazy dog",
    "Rain fell all morning.\nThe match was cancelled",
    "something",
    "completely different reference text",
]


def _random_texts(seed: int, n: int = 20) -> tuple[list[str], list[str]]:
    rng = np.random.default_rng(seed)
    vocab = "the a cat cats dog dogs run running ran sat on mat big small red".split()

    def text() -> str:
        sents = [" ".join(rng.choice(vocab, rng.integers(1, 9))) for _ in range(rng.integers(1, 3))]
        return "\n".join(sents)

    return [text() for _ in range(n)], [text() for _ in range(n)]


@pytest.mark.parametrize("use_stemmer", [False, True])
@pytest.mark.parametrize("seed", [None, 0, 1, 2])
def test_rouge_matches_rouge_score(use_stemmer: bool, seed: int | None) -> None:
    preds, refs = (PREDS, REFS) if seed is None else _random_texts(seed)
    types = ["rouge1", "rouge2", "rouge3", "rougeL", "rougeLsum"]
    r = rouge(preds, refs, rouge_types=types, use_stemmer=use_stemmer)
    scorer = rouge_scorer.RougeScorer(types, use_stemmer=use_stemmer)
    direct = [scorer.score(ref, pred) for pred, ref in zip(preds, refs, strict=True)]
    for t in types:
        for stat in ("precision", "recall", "fmeasure"):
            values = [getattr(d[t], stat) for d in direct]
            np.testing.assert_allclose(r.per_sample[f"{t}_{stat}"], values)
            assert r.scores[t][stat] == pytest.approx(np.mean(values))


def test_rouge_n_beyond_nine_uses_the_same_formula() -> None:
    preds, refs = _random_texts(5, n=30)
    # rougeN computed by loopml's own n-gram code must agree with rouge-score for n <= 9
    from loopml.evaluate import text as text_mod

    tok = __import__("rouge_score.tokenizers", fromlist=["DefaultTokenizer"]).DefaultTokenizer()
    scorer = rouge_scorer.RougeScorer(["rouge2", "rouge4"])
    for p, ref in zip(preds, refs, strict=True):
        for n in (2, 4):
            ours = text_mod._ngram_score(tok.tokenize(ref), tok.tokenize(p), n)
            theirs = scorer.score(ref, p)[f"rouge{n}"]
            assert ours == pytest.approx((theirs.precision, theirs.recall, theirs.fmeasure))
    long_ref = " ".join(f"w{i}" for i in range(15))
    r = rouge([long_ref], [long_ref], rouge_types=["rouge12"])
    assert r.scores["rouge12"]["fmeasure"] == 1.0


def test_multi_reference_takes_best_and_single_strings() -> None:
    r = rouge(
        ["the cat sat"],
        [["a dog ran", "the cat sat down"]],
        rouge_types=["ROUGE-1", "rouge-l"],
    )
    scorer = rouge_scorer.RougeScorer(["rouge1", "rougeL"])
    best = scorer.score_multi(["a dog ran", "the cat sat down"], "the cat sat")
    assert r.scores["rouge1"]["fmeasure"] == pytest.approx(best["rouge1"].fmeasure)
    assert r.fmeasure("rougeL") == pytest.approx(best["rougeL"].fmeasure)
    single = rouge("the cat", "the cat")
    assert single.n_samples == 1 and single.scores["rouge1"]["recall"] == 1.0


def test_bootstrap_ci_brackets_the_mean() -> None:
    preds, refs = _random_texts(3, n=60)
    r = rouge(preds, refs, rouge_types=["rouge1"], confidence=0.9, n_bootstrap=300, seed=4)
    assert r.ci is not None
    lo, hi = r.ci["rouge1"]["fmeasure"]
    assert lo <= r.scores["rouge1"]["fmeasure"] <= hi and lo < hi
    again = rouge(preds, refs, rouge_types=["rouge1"], confidence=0.9, n_bootstrap=300, seed=4)
    assert again.ci == r.ci
    json.dumps(r.to_dict(), allow_nan=False)


def test_rouge_errors() -> None:
    with pytest.raises(DataError, match="Length mismatch: 2 predictions but 1 references"):
        rouge(["a", "b"], ["a"])
    with pytest.raises(DataError, match="predictions is empty"):
        rouge([], [])
    with pytest.raises(DataError, match=r"predictions\[1\] must be a string; got NoneType"):
        rouge(["a", None], ["a", "b"])  # type: ignore[list-item]
    with pytest.raises(DataError, match="Unknown ROUGE type 'bleu'"):
        rouge(["a"], ["a"], rouge_types=["bleu"])
    with pytest.raises(DataError, match="confidence must be between 0 and 1"):
        rouge(["a"], ["a"], confidence=95)
    assert rouge_type("ROUGE-Lsum") == "rougeLsum" and rouge_type("rouge_2") == "rouge2"


def _write(path: Path, rows: list[dict]) -> Path:
    path.write_text("\n".join(json.dumps(r) for r in rows) + "\n\n", encoding="utf-8")
    return path


def test_read_text_pairs(tmp_path: Path) -> None:
    one = _write(
        tmp_path / "both.jsonl",
        [
            {"id": 1, "prediction": "a b", "reference": "a c"},
            {"prediction": "x", "reference": ["y", "x"]},
        ],
    )
    pairs = read_text_pairs(one)
    assert pairs.predictions == ["a b", "x"] and pairs.references == ["a c", ["y", "x"]]
    assert pairs.ids == [1, 2]
    preds = _write(tmp_path / "p.jsonl", [{"id": "b", "text": "two"}, {"id": "a", "text": "one"}])
    refs = _write(
        tmp_path / "r.jsonl", [{"id": "a", "reference": "uno"}, {"id": "b", "text": "dos"}]
    )
    matched = read_text_pairs(preds, refs)
    assert matched.ids == ["b", "a"] and matched.references == ["dos", "uno"]
    p2 = _write(tmp_path / "p2.jsonl", [{"output": "one"}, {"output": "two"}])
    r2 = _write(tmp_path / "r2.jsonl", [{"gold": "uno"}, {"gold": "dos"}])
    by_line = read_text_pairs(p2, r2, prediction_field="output", reference_field="gold")
    assert by_line.predictions == ["one", "two"] and by_line.references == ["uno", "dos"]
    assert len(by_line) == 2


def test_read_text_pairs_errors(tmp_path: Path) -> None:
    with pytest.raises(DataError, match="File not found"):
        read_text_pairs(tmp_path / "missing.jsonl")
    bad = tmp_path / "bad.jsonl"
    bad.write_text('{"prediction": "a", "reference": "b"}\n{not json}\n', encoding="utf-8")
    with pytest.raises(DataError, match=r"bad.jsonl, line 2: not valid JSON"):
        read_text_pairs(bad)
    nofield = _write(tmp_path / "nf.jsonl", [{"output": "a"}])
    with pytest.raises(
        DataError, match=r"nf.jsonl, line 1: no field 'prediction'.*found: 'output'"
    ):
        read_text_pairs(nofield)
    p = _write(tmp_path / "p.jsonl", [{"id": 1, "text": "a"}, {"id": 2, "text": "b"}])
    r = _write(tmp_path / "r.jsonl", [{"id": 1, "text": "a"}, {"id": 3, "text": "c"}])
    with pytest.raises(
        DataError,
        match=r"do not match by 'id': 1 prediction id\(s\) have no reference \(e.g. \[2\]\)",
    ):
        read_text_pairs(p, r)
    r_short = _write(tmp_path / "rs.jsonl", [{"text": "a"}])
    p_noid = _write(tmp_path / "pn.jsonl", [{"text": "a"}, {"text": "b"}])
    with pytest.raises(DataError, match=r"has 2 records but .* has 1"):
        read_text_pairs(p_noid, r_short)
    with pytest.raises(DataError, match="some do not"):
        read_text_pairs(p, r_short)
    dup = _write(tmp_path / "d.jsonl", [{"id": 1, "text": "a"}, {"id": 1, "text": "b"}])
    with pytest.raises(DataError, match="line 2: duplicate id 1"):
        read_text_pairs(dup, p)
    nonstr = _write(tmp_path / "ns.jsonl", [{"prediction": 3, "reference": "b"}])
    with pytest.raises(DataError, match="field 'prediction' must be a string"):
        read_text_pairs(nonstr)


def test_read_logprobs_formats(tmp_path: Path) -> None:
    path = _write(
        tmp_path / "lp.jsonl",
        [
            {"logprobs": [-0.1, -2.0]},
            {"tokens": ["a", "b"], "token_logprobs": [None, -0.5]},
            {"logprobs": {"tokens": ["a"], "token_logprobs": [-1.0]}},
            {
                "logprobs": {
                    "content": [{"token": "a", "logprob": -0.3}, {"token": "b", "logprob": -0.7}]
                }
            },
        ],
    )
    assert read_logprobs(path) == [[-0.1, -2.0], [None, -0.5], [-1.0], [-0.3, -0.7]]
    bad = _write(tmp_path / "bad.jsonl", [{"logprobs": "x"}])
    with pytest.raises(DataError, match=r"bad\.jsonl, line 1: expected 'logprobs'"):
        read_logprobs(bad)
    empty = tmp_path / "empty.jsonl"
    empty.write_text("\n", encoding="utf-8")
    with pytest.raises(DataError, match="has no records"):
        read_logprobs(empty)
