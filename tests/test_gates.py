from __future__ import annotations

import math
from pathlib import Path

import pytest

from loopml.exceptions import LoopmlError
from loopml.gates import Gate, GateError, check_gates, gates_from_spec, parse_gates


@pytest.mark.parametrize(
    ("text", "metric", "op", "threshold"),
    [
        ("recall >= 0.8", "recall", ">=", 0.8),
        ("rmse<=50", "rmse", "<=", 50.0),
        ("latency_p95_ms <= 20", "latency_p95_ms", "<=", 20.0),
        ("  f1 > .5 ", "f1", ">", 0.5),
        ("mae < 1e-2", "mae", "<", 0.01),
        ("accuracy == 1", "accuracy", "==", 1.0),
        ("accuracy = 1", "accuracy", "==", 1.0),
        ("recall => 0.8", "recall", ">=", 0.8),
        ("recall >= 80%", "recall", ">=", 0.8),
        ("test_recall >= -0.5", "test_recall", ">=", -0.5),
    ],
)
def test_parse_one_gate(text: str, metric: str, op: str, threshold: float) -> None:
    gate = Gate.parse(text)
    assert (gate.metric, gate.op) == (metric, op)
    assert math.isclose(gate.threshold, threshold)
    assert Gate.parse(str(gate)) == gate


@pytest.mark.parametrize("text", ["recall", "recall >> 0.8", ">= 0.8", "recall >= high", ""])
def test_unreadable_gate_says_the_form(text: str) -> None:
    with pytest.raises(GateError, match=r"is not understood: write METRIC OP NUMBER"):
        Gate.parse(text)


def test_gate_error_is_a_loopml_value_error() -> None:
    assert issubclass(GateError, LoopmlError)
    assert issubclass(GateError, ValueError)


def test_failed_and_passed_messages_give_the_margin() -> None:
    res = Gate.parse("recall >= 0.8").check({"recall": 0.74})
    assert not res.passed
    assert res.message == "recall 0.74 < 0.8 (short by 0.06)"
    assert res.margin is not None and math.isclose(res.margin, -0.06)
    ok = Gate.parse("recall >= 0.8").check({"recall": 0.83})
    assert ok.passed and ok.message == "recall 0.83 >= 0.8 (by 0.03)"
    slow = Gate.parse("latency_p95_ms <= 20").check({"latency_p95_ms": 25.5})
    assert slow.message == "latency_p95_ms 25.5 > 20 (over by 5.5)"
    strict = Gate.parse("f1 > 0.5").check({"f1": 0.5})
    assert not strict.passed and strict.message == "f1 0.5 <= 0.5 (short by 0)"
    assert Gate.parse("accuracy == 1").check({"accuracy": 1.0}).passed


def test_missing_or_nan_metric_fails_with_what_is_recorded() -> None:
    res = Gate.parse("recall >= 0.8").check({"accuracy": 0.9, "f1": 0.7})
    assert not res.passed and res.actual is None
    assert "recall is not recorded" in res.message
    assert "accuracy, f1" in res.message
    nan = Gate.parse("recall >= 0.8").check({"recall": float("nan")})
    assert not nan.passed and "is NaN" in nan.message
    text = Gate.parse("recall >= 0.8").check({"recall": "high"})
    assert not text.passed


def test_metric_names_resolve_aliases_and_the_test_prefix() -> None:
    metrics = {"roc_auc": 0.91, "recall": 0.8, "rmse": 3.0}
    assert Gate.parse("auc >= 0.9").check(metrics).passed
    assert Gate.parse("test_recall >= 0.8").check(metrics).passed
    assert Gate.parse("root_mean_squared_error <= 3").check(metrics).passed
    assert "(roc_auc)" in Gate.parse("auc >= 0.9").check(metrics).message


def test_list_dict_and_string_forms() -> None:
    assert [str(g) for g in parse_gates(["recall >= 0.8", "rmse<=50"])] == [
        "recall >= 0.8",
        "rmse <= 50",
    ]
    gates = parse_gates({"recall": ">= 0.8", "rmse": 50, "accuracy": 0.9, "latency_p95_ms": "20"})
    assert [str(g) for g in gates] == [
        "recall >= 0.8",
        "rmse <= 50",
        "accuracy >= 0.9",
        "latency_p95_ms <= 20",
    ]
    items = parse_gates([{"metric": "f1", "op": ">", "value": 0.7}, {"mae": "< 2"}])
    assert [str(g) for g in items] == ["f1 > 0.7", "mae < 2"]
    assert len(parse_gates("recall >= 0.8; rmse <= 50")) == 2
    assert len(parse_gates("recall >= 0.8, rmse <= 50")) == 2
    assert parse_gates(None) == []
    kept = Gate("recall", ">=", 0.123456789)
    assert parse_gates([kept]) == [kept]


@pytest.mark.parametrize("bad", [{"recall": True}, {"recall": "about 0.8"}, 3])
def test_bad_entries_are_named(bad: object) -> None:
    with pytest.raises(GateError, match=r"KPI gate"):
        parse_gates(bad)


def test_report_summary() -> None:
    report = check_gates(["recall >= 0.8", "accuracy >= 0.9"], {"recall": 0.74, "accuracy": 0.95})
    assert not report.passed
    assert [r.gate.metric for r in report.failures] == ["recall"]
    assert report.summary() == "1/2 gates pass; failed: recall 0.74 < 0.8 (short by 0.06)"
    assert report.to_dict()["results"][1]["passed"] is True
    assert check_gates([], {}).passed


def test_gates_from_spec(tmp_path: Path) -> None:
    spec = tmp_path / "loopml.yaml"
    spec.write_text("goal: cut churn\nkpis:\n  - recall >= 0.8\n  - latency_p95_ms <= 20\n")
    assert [str(g) for g in gates_from_spec(spec)] == ["recall >= 0.8", "latency_p95_ms <= 20"]
    spec.write_text("project:\n  name: churn\n  kpis:\n    recall: '>= 0.8'\n")
    assert [str(g) for g in gates_from_spec(spec)] == ["recall >= 0.8"]
    spec.write_text("name: churn\n")
    assert gates_from_spec(spec) == []
    spec.write_text("kpis: [recall >>= 1]\n")
    with pytest.raises(GateError, match=r"loopml.yaml, key 'kpis'.*not understood"):
        gates_from_spec(spec)
    spec.write_text("kpis: [unclosed\n")
    with pytest.raises(GateError, match=r"Cannot read the spec .* as YAML"):
        gates_from_spec(spec)
    with pytest.raises(GateError, match=r"does not exist"):
        gates_from_spec(tmp_path / "nope.yaml")
