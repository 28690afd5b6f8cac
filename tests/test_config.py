from __future__ import annotations

from pathlib import Path

import pytest

from loopml.config import ProjectSpec, SpecError, load_spec, starter_spec


def test_starter_spec_is_valid_and_documented(tmp_path: Path) -> None:
    path = tmp_path / "loopml.yaml"
    path.write_text(starter_spec("churn"))
    spec = load_spec(path)
    assert isinstance(spec, ProjectSpec)
    assert spec.name == "churn"
    assert spec.data.source == "builtin:breast_cancer"
    assert spec.kpis == ["roc_auc >= 0.90"]
    assert spec.data.split == pytest.approx([0.7, 0.15, 0.15])
    assert "# 1. Business goal and KPIs" in path.read_text()


def test_errors_name_the_key_and_line(tmp_path: Path) -> None:
    path = tmp_path / "loopml.yaml"
    path.write_text(
        "name: churn\n"
        "kpis:\n"
        "  - recall at least 0.8\n"
        "data:\n"
        "  source: builtin:iris\n"
        "  splitt: [0.8, 0.1, 0.1]\n"
        "training:\n"
        "  time_budget: -5\n"
    )
    with pytest.raises(SpecError) as info:
        load_spec(path)
    msg = str(info.value)
    assert "3 problem(s)" in msg
    assert "kpis (line 2)" in msg and "must look like 'metric >= number'" in msg
    assert "data.splitt (line 6): unknown key" in msg
    assert "training.time_budget (line 8)" in msg


def test_missing_required_key_and_missing_file(tmp_path: Path) -> None:
    path = tmp_path / "loopml.yaml"
    path.write_text("name: x\n")
    with pytest.raises(SpecError, match=r"data \(missing\): Field required"):
        load_spec(path)
    with pytest.raises(SpecError, match=r"does not exist\. Create one with: loopml init"):
        load_spec(tmp_path / "nope.yaml")


def test_not_yaml(tmp_path: Path) -> None:
    path = tmp_path / "loopml.yaml"
    path.write_text("name: [unclosed\n")
    with pytest.raises(SpecError, match="is not valid YAML"):
        load_spec(path)


def test_relative_data_paths_resolve_next_to_the_spec(tmp_path: Path) -> None:
    (tmp_path / "d.csv").write_text("a,b\n1,2\n")
    (tmp_path / "loopml.yaml").write_text("name: p\ndata:\n  source: d.csv\n  target: b\n")
    assert load_spec(tmp_path / "loopml.yaml").data.source == str(tmp_path / "d.csv")
