from __future__ import annotations

import pytest

from loopml.report import figures


def test_histogram_bars_sit_on_bin_centres() -> None:
    fig = figures.histogram([0.0, 1.0, 3.0], [4, 2], x_title="age")
    bar = fig.data[0]
    assert list(bar.x) == [0.5, 2.0] and list(bar.width) == [1.0, 2.0] and list(bar.y) == [4, 2]
    assert fig.layout.xaxis.title.text == "age"


def test_histogram_on_a_time_axis() -> None:
    fig = figures.histogram(["2024-01-01T00:00:00", "2024-01-03T00:00:00"], [5])
    bar = fig.data[0]
    assert bar.x[0].startswith("2024-01-02")
    assert bar.width[0] == pytest.approx(2 * 86_400_000)


def test_histogram_checks_edge_count() -> None:
    with pytest.raises(ValueError, match="one more edge than counts; got 2 edges and 2 counts"):
        figures.histogram([0, 1], [1, 2])


def test_bar_orientation() -> None:
    v = figures.bar(["a", "b"], [1, 2])
    h = figures.bar(["a", "b"], [1, 2], horizontal=True)
    assert v.data[0].orientation is None and list(v.data[0].x) == ["a", "b"]
    assert h.data[0].orientation == "h" and list(h.data[0].y) == ["a", "b"]
    assert h.layout.yaxis.autorange == "reversed"


def test_heatmap_toggle_between_matrices() -> None:
    m1 = [[1.0, 0.5], [0.5, 1.0]]
    m2 = [[1.0, None], [None, 1.0]]
    fig = figures.heatmap({"Pearson": m1, "Spearman": m2}, ["a", "b"])
    assert [t.visible for t in fig.data] == [True, False]
    buttons = fig.layout.updatemenus[0].buttons
    assert [b.label for b in buttons] == ["Pearson", "Spearman"]
    assert buttons[1].args[0]["visible"] == [False, True]
    assert fig.layout.yaxis.scaleanchor == "x"


def test_heatmap_needs_a_matrix() -> None:
    with pytest.raises(ValueError, match="at least one matrix"):
        figures.heatmap({}, ["a"])


def test_small_template() -> None:
    fig = figures.bar(["a"], [1])
    assert len(fig.to_json()) < 2000
