from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path

import pandas as pd
import pytest

from loopml.data.io import load
from loopml.exceptions import DataError
from loopml.learn.supervised import TrainResult, train
from loopml.report.run import (
    KPI,
    build_run_report,
    check_kpis,
    markdown_html,
    parse_kpi,
    render_run_report,
)
from loopml.store import Store


@pytest.fixture(scope="module")
def store() -> Iterator[Store]:
    s = Store.in_memory()
    yield s
    s.close()


@pytest.fixture(scope="module")
def iris(store: Store) -> TrainResult:
    return train("builtin:iris", store=store, models=["logreg", "knn"])


@pytest.fixture(scope="module")
def iris_html(store: Store, iris: TrainResult, tmp_path_factory: pytest.TempPathFactory) -> str:
    path = tmp_path_factory.mktemp("report") / "report.html"
    written = render_run_report(
        store,
        iris.run_id,
        path=path,
        spec_goal="Sort irises for the <herbarium>.",
        kpis=["accuracy >= 0.8", "f1_macro >= 0.999", "specificity >= 0.5", "lift > 2"],
    )
    assert written == path
    return path.read_text()


def _section_ids(html: str) -> list[str]:
    return re.findall(r'<section class="lm-section lm-depth-0" id="([^"]+)"', html)


def test_report_has_every_part_of_the_issue(iris_html: str) -> None:
    assert _section_ids(iris_html) == [
        "overview",
        "goal",
        "data",
        "leaderboard",
        "chosen-model",
        "test-evaluation",
        "fit-diagnosis",
        "model-card",
    ]
    for text in (
        "Run report: iris (run 1)",
        "Column summary",
        "Correlation matrix (numeric columns)",
        "Chosen hyperparameters",
        "Confusion matrix",
        "Learning curve",
        "Validation curve",
        "Bias-variance decomposition",
        "What would help",
        "Model card: iris",
    ):
        assert text in iris_html, text


def test_report_is_self_contained(iris_html: str) -> None:
    assert not re.search(r"<script[^>]+src=", iris_html)
    assert not re.search(r"<link[^>]+href=\"?https?:", iris_html)
    assert iris_html.count('<script type="text/javascript">') == 2  # plotly.js + page script
    n_plots = iris_html.count('class="lm-plot"')
    assert n_plots == iris_html.count('type="application/json" id="lm-fig-')
    assert n_plots >= 12


def test_goal_is_escaped_and_kpis_are_checked(iris_html: str) -> None:
    assert "Sort irises for the &lt;herbarium&gt;." in iris_html
    assert "<herbarium>" not in iris_html
    goal = iris_html.split('id="goal"')[1].split("</section>")[0]
    assert goal.count("lm-badge lm-good") >= 2  # accuracy and specificity pass
    assert 'lm-badge lm-danger">fail' in goal  # f1_macro >= 0.999 fails
    assert "not measured" in goal  # 'lift' is not a metric
    assert "KPI gate(s) not met: f1_macro &gt;= 0.999" in goal


def test_leaderboard_lists_every_candidate_and_marks_the_chosen(
    iris_html: str, iris: TrainResult
) -> None:
    board = iris_html.split('id="leaderboard"')[1].split("</section>")[0]
    assert "logreg" in board and "knn" in board
    assert board.count(">chosen<") == 1
    assert f"valid {iris.metric}" in board


def test_kpi_parsing_and_checking() -> None:
    assert parse_kpi("recall >= 0.8") == KPI("recall", ">=", 0.8)
    assert parse_kpi(" RMSE<12.5 ") == KPI("rmse", "<", 12.5)
    with pytest.raises(DataError, match="must look like 'metric >= number'"):
        parse_kpi("recall is high")
    results = check_kpis(
        ["recall >= 0.8", "valid_recall >= 0.8", "auc > 0.9", "mcc > 0"],
        {"recall": 0.9, "roc_auc": 0.85},
        {"recall": 0.7},
    )
    assert [r["passed"] for r in results] == [True, False, False, None]
    assert results[2]["metric"] == "roc_auc"


def test_malformed_kpi_fails_before_any_work(store: Store, iris: TrainResult) -> None:
    with pytest.raises(DataError, match="KPI 'accuracy ~ 1'"):
        build_run_report(store, iris.run_id, kpis=["accuracy ~ 1"])


def test_markdown_of_model_cards() -> None:
    html = str(
        markdown_html(
            "# Card\n\n## Metrics\n- **good** `code`\n- <script>x</script>\n\n"
            "| metric | test |\n|---|---|\n| f1 | 0.9 |\n\nPlain text\nwraps."
        )
    )
    assert "<h3 class='lm-md-h'>Card</h3>" in html
    assert "<h4 class='lm-md-h'>Metrics</h4>" in html
    assert "<li><strong>good</strong> <code>code</code></li>" in html
    assert "&lt;script&gt;" in html and "<script>" not in html
    assert "<th>metric</th>" in html and "<td>0.9</td>" in html and "---" not in html
    assert "<p>Plain text wraps.</p>" in html


def test_without_diagnosis(store: Store, iris: TrainResult) -> None:
    html = build_run_report(store, iris.run_id, diagnosis=False)
    fit = html.split('id="fit-diagnosis"')[1].split("</section>")[0]
    assert "Fit diagnosis was not requested." in fit
    assert "Learning curve" not in html


def test_dataframe_run_reports_what_it_can_without_the_data(store: Store) -> None:
    df = load("builtin:wine")
    run = train(df, "target", name="wine", store=store, models=["logreg"])
    html = build_run_report(store, run.run_id, diagnosis=False)
    assert "could not be reloaded" in html and "in-memory DataFrame" in html
    assert 'id="leaderboard"' in html and 'id="model-card"' in html
    with_data = build_run_report(store, run.run_id, data=df, diagnosis=False)
    assert "Confusion matrix" in with_data


def test_failed_run_without_model(store: Store) -> None:
    with (
        pytest.raises(RuntimeError, match="boom"),
        store.start_run(
            "broken",
            kind="train",
            params={
                "source": "builtin:iris",
                "target": "target",
                "split": [0.7, 0.15, 0.15],
                "seed": 0,
            },
        ),
    ):
        raise RuntimeError("boom")
    run_id = store.list_runs("broken")[0].id
    html = build_run_report(store, run_id)
    assert "The run failed" in html and "boom" in html
    assert "This run has no stored model" in html


@pytest.mark.slow
def test_regression_report(store: Store, tmp_path: Path) -> None:
    run = train("builtin:diabetes", store=store, models=["ridge"])
    path = render_run_report(store, run.run_id, path=tmp_path / "r.html")
    html = path.read_text()
    for text in ("Residuals vs predicted", "Predicted vs actual", "Validation curve: alpha"):
        assert text in html
    assert "bias²" in html


def test_report_notes_a_changed_source(store: Store, tmp_path: Path) -> None:
    df = load("builtin:iris")
    df.to_csv(tmp_path / "flowers.csv", index=False)
    run = train(str(tmp_path / "flowers.csv"), "target", store=store, models=["logreg"])
    pd.concat([df, df.head(20)]).to_csv(tmp_path / "flowers.csv", index=False)
    html = build_run_report(store, run.run_id, diagnosis=False)
    assert "has changed since training" in html
