from __future__ import annotations

import json

import numpy as np
import pandas as pd
import plotly.graph_objects as go
import pytest

from loopml.evaluate import plots
from loopml.evaluate.fit import BiasVariance, Curve
from loopml.evaluate.threshold import threshold_curve


def _json(fig: go.Figure) -> dict:
    text = fig.to_json()
    assert "NaN" not in text  # plotly.js would choke on bare NaN in a report
    return json.loads(text)


def test_confusion_matrix_colours_by_row_share_and_shows_counts() -> None:
    fig = plots.confusion_matrix(["cat", "dog"], [[8, 2], [1, 9]])
    hm = fig.data[0]
    assert hm.type == "heatmap"
    assert list(hm.x) == ["cat", "dog"]
    assert np.allclose(np.asarray(hm.z).sum(axis=1), 1.0)
    assert hm.z[0][0] == pytest.approx(0.8)
    assert hm.customdata[1][1] == 9
    assert hm.text[0][1].startswith("2<br>")
    assert fig.layout.yaxis.autorange == "reversed"
    _json(fig)


def test_confusion_matrix_with_an_empty_row_and_many_classes() -> None:
    counts = np.zeros((20, 20), dtype=int)
    counts[0, 0] = 3
    fig = plots.confusion_matrix([f"c{i}" for i in range(20)], counts)
    assert fig.data[0].texttemplate is None  # too many cells to label
    assert fig.data[0].z[5][5] == 0.0
    _json(fig)


def test_roc_and_pr_curves_carry_areas_and_baselines() -> None:
    roc = plots.roc_curves({"yes": {"fpr": [0, 0.1, 1], "tpr": [0, 0.7, 1]}}, {"yes": 0.85})
    assert roc.data[0].name == "yes (AUC 0.850)"
    assert roc.data[-1].name == "chance"
    pr = plots.pr_curves(
        {"yes": {"precision": [1, 0.8, 0.4], "recall": [0, 0.5, 1]}}, {"yes": 0.7}, {"yes": 0.4}
    )
    assert pr.data[0].name == "yes (AP 0.700)"
    assert list(pr.data[1].y) == [0.4, 0.4]
    _json(roc)
    _json(pr)


def test_curve_points_with_nan_become_gaps() -> None:
    fig = plots.pr_curves({"a": {"precision": [1.0, np.nan], "recall": [0.0, 1.0]}})
    assert fig.data[0].y[1] is None
    _json(fig)


def test_calibration_bins_are_exact() -> None:
    b = plots.calibration_bins([0, 1, 1, 1], [0.05, 0.15, 0.95, 1.0], n_bins=10)
    assert b["rows"] == [1, 1, 2]
    assert b["predicted"] == pytest.approx([0.05, 0.15, 0.975])
    assert b["observed"] == pytest.approx([0.0, 1.0, 1.0])


def test_calibration_binary_shows_the_positive_class_multiclass_each() -> None:
    rng = np.random.RandomState(0)
    p = rng.uniform(size=200)
    y = (rng.uniform(size=200) < p).astype(int)
    fig = plots.calibration(y, np.column_stack([1 - p, p]), ["no", "yes"])
    assert [t.name for t in fig.data] == ["yes", "perfectly calibrated"]
    P = rng.dirichlet([1, 1, 1], 90)
    fig3 = plots.calibration(rng.randint(0, 3, 90), P, ["a", "b", "c"])
    assert [t.name for t in fig3.data][:3] == ["a", "b", "c"]
    _json(fig3)


def test_threshold_plot_marks_the_current_threshold() -> None:
    rng = np.random.RandomState(0)
    curve = threshold_curve(rng.randint(0, 2, 2000), rng.uniform(size=2000))
    fig = plots.threshold(curve, current=0.3)
    names = [t.name for t in fig.data]
    assert names == ["precision", "recall", "f1", "predicted positive rate"]
    assert len(fig.data[0].x) <= 400
    assert fig.layout.shapes[0].x0 == 0.3
    _json(fig)


def test_regression_plots_subsample_large_data() -> None:
    rng = np.random.RandomState(0)
    y = rng.normal(size=10_000)
    pred = y + rng.normal(scale=0.1, size=10_000)
    res = plots.residuals(y, pred)
    assert len(res.data[0].x) == plots.MAX_POINTS
    assert "of 10,000 rows" in res.layout.title.text
    pva = plots.predicted_vs_actual(y[:50], pred[:50])
    assert len(pva.data[0].x) == 50
    assert pva.data[1].x[0] == pytest.approx(min(y[:50].min(), pred[:50].min()))
    _json(res)


def test_feature_importance_orders_by_magnitude() -> None:
    fig = plots.feature_importance(["a", "b", "c"], [0.1, -0.9, 0.5], [0.01, 0.02, 0.03], top=2)
    bar = fig.data[0]
    assert list(bar.y) == ["b", "c"]
    assert list(bar.x) == [-0.9, 0.5]
    assert list(bar.error_x.array) == [0.02, 0.03]
    _json(fig)


def _curve(kind: str = "learning") -> Curve:
    return Curve(
        kind,
        "training rows" if kind == "learning" else "C",
        [10, 50, 100] if kind == "learning" else [0.01, 1.0, 100.0],
        [1.0, 0.95, 0.93],
        [0.0, 0.01, 0.01],
        [0.7, 0.85, None],
        [0.05, 0.02, None],
        "accuracy",
        True,
        log_x=kind != "learning",
        current=None if kind == "learning" else 1.0,
    )


def test_learning_and_validation_curves_draw_bands() -> None:
    lc = plots.learning_curve(_curve())
    assert [t.name for t in lc.data if t.showlegend is not False] == [
        "training",
        "cross-validated",
    ]
    assert lc.data[0].fill == "toself"
    vc = plots.validation_curve(_curve("validation"))
    assert vc.layout.xaxis.type == "log"
    assert vc.layout.title.text == "Validation curve: C"
    assert vc.layout.shapes[0].x0 == 1.0
    _json(lc)
    _json(vc)


def test_bias_variance_and_leaderboard_figures() -> None:
    bv = BiasVariance("regression", "squared error", 3.0, 1.0, 1.5, 0.5, 10, 100, 50)
    fig = plots.bias_variance(bv)
    assert [t.name for t in fig.data] == ["bias²", "variance", "noise"]
    assert fig.layout.barmode == "relative"
    board = plots.leaderboard(["a", "b"], [0.9, None], [0.01, None], metric="f1")
    assert board.data[0].error_x.array[1] == 0.0
    assert "higher is better" in board.layout.xaxis.title.text
    _json(board)


def test_export_png_with_matplotlib(tmp_path, monkeypatch) -> None:
    pytest.importorskip("matplotlib")
    monkeypatch.setattr(plots, "png_backend", lambda: "matplotlib")
    figs = [
        plots.confusion_matrix(["a", "b"], [[3, 1], [0, 4]]),
        plots.learning_curve(_curve()),
        plots.feature_importance(["a", "b"], [1.0, -0.5]),
        plots.residuals([1.0, 2.0, 3.0], [1.1, 1.9, 3.3]),
    ]
    for i, fig in enumerate(figs):
        out = plots.export_png(fig, tmp_path / "png" / f"f{i}.png", scale=1)
        assert out is not None and out.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert sorted(p.name for p in (tmp_path / "png").iterdir()) == [
        "f0.png",
        "f1.png",
        "f2.png",
        "f3.png",
    ]


def test_export_png_without_a_backend_writes_nothing(tmp_path, monkeypatch) -> None:
    monkeypatch.setattr(plots, "png_backend", lambda: None)
    assert (
        plots.export_png(
            plots.bias_variance(
                BiasVariance(
                    "classification", "0-1 loss", 0.2, 0.1, 0.1, 0.0, 5, 10, 10, net_variance=0.1
                )
            ),
            tmp_path / "x.png",
        )
        is None
    )
    assert not (tmp_path / "x.png").exists()


def test_png_backend_reports_what_is_installed() -> None:
    import importlib.util

    backend = plots.png_backend()
    if importlib.util.find_spec("kaleido") is not None:
        assert backend == "kaleido"
    elif importlib.util.find_spec("matplotlib") is not None:
        assert backend == "matplotlib"
    else:
        assert backend is None


def test_threshold_plot_accepts_a_plain_frame() -> None:
    df = pd.DataFrame({"threshold": [0.9, 0.5, 0.1], "precision": [1.0, 0.8, 0.5]})
    fig = plots.threshold(df, current=None, metrics=("precision", "recall"))
    assert [t.name for t in fig.data] == ["precision"]
    assert list(fig.data[0].x) == [0.1, 0.5, 0.9]
