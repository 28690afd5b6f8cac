"""A family described once gives one catalogue entry per task kind, differences stated."""

from __future__ import annotations

import pickle
from typing import Any

import pytest

from loopml.models import ModelSpec, list_models
from loopml.models.catalog._family import Family, Variant
from loopml.tune.space import Choice, Float


def _echo(kind: str, p: dict[str, Any], seed: int, n_jobs: int) -> Any:
    return kind, p, seed, n_jobs


def test_variants_extend_the_space_and_replace_what_they_set() -> None:
    family = Family(
        "demo",
        _echo,
        classification=Variant(extra_space={"criterion": Choice(["gini", "entropy"])}),
        regression=Variant(
            portfolio=({"alpha": 0.5},),
            scale_target=True,
            description="demo regressor",
            aliases=("dr",),
        ),
        description="demo",
        space={"alpha": Float(0.1, 1.0)},
        grid={"alpha": [0.1, 1.0]},
        portfolio=({"alpha": 1.0},),
        cost="cheap",
        aliases=("d",),
    )
    clf, reg = family.specs()
    assert (clf.task, reg.task) == ("classification", "regression")
    assert list(clf.space) == ["alpha", "criterion"] and list(reg.space) == ["alpha"]
    assert clf.portfolio == ({"alpha": 1.0},) and reg.portfolio == ({"alpha": 0.5},)
    assert (clf.description, clf.aliases, clf.scale_target) == ("demo", ("d",), False)
    assert (reg.description, reg.aliases, reg.scale_target) == ("demo regressor", ("dr",), True)
    assert clf.grid == reg.grid == {"alpha": [0.1, 1.0]}
    assert {clf.cost, reg.cost} == {"cheap"}
    assert clf.factory({"alpha": 0.2}, 3, 2) == ("classification", {"alpha": 0.2}, 3, 2)
    assert reg.factory({}, 0, 1)[0] == "regression"


def test_a_family_with_one_variant_gives_one_entry() -> None:
    (spec,) = Family("only", _echo, regression=Variant()).specs()
    assert spec.task == "regression" and spec.portfolio == ({},)


@pytest.mark.parametrize("spec", [pytest.param(s, id=f"{s.task}-{s.name}") for s in list_models()])
def test_builtin_factories_pickle_for_worker_processes(spec: ModelSpec) -> None:
    factory = pickle.loads(pickle.dumps(spec.factory))
    params = spec.portfolio[-1]
    built, again = spec.factory(dict(params), 1, 1), factory(dict(params), 1, 1)
    assert type(again) is type(built)
    assert repr(again.get_params(deep=True)) == repr(built.get_params(deep=True))
