"""A model family described once, with the catalogue entries it gives each task kind.

Most families (k-NN, SVMs, trees, boosting, MLPs) exist for both classification and
regression with the same search space and portfolio. A :class:`Family` holds what
the two entries share; a :class:`Variant` per task kind states how that kind's entry
differs. A family with one variant is a single-task family (``logreg``, ``ridge``).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from functools import partial
from typing import Any

from loopml.models.catalog._spec import CLASSIFICATION, REGRESSION, ModelSpec
from loopml.tune.space import Param

__all__ = ["Family", "KindFactory", "Variant"]

#: ``factory(kind, params, seed, n_jobs)`` → an unfitted estimator for task *kind*. Module
#: level, so that the :class:`ModelSpec` factory bound to a kind pickles into worker processes.
KindFactory = Callable[[str, dict[str, Any], int, int], Any]
Portfolio = tuple[dict[str, Any], ...]
Grid = Mapping[str, Sequence[Any]]


@dataclass(frozen=True)
class Variant:
    """How one task kind's entry of a :class:`Family` differs from what the family shares.

    ``extra_space`` is added after the family's space; any other field left as ``None``
    takes the family's value.
    """

    extra_space: Mapping[str, Param] = field(default_factory=dict)
    grid: Grid | None = None
    portfolio: Portfolio | None = None
    scale_target: bool = False
    description: str | None = None
    aliases: tuple[str, ...] | None = None


@dataclass(frozen=True)
class Family:
    """One built-in model family: what its entries share, and a :class:`Variant` per task kind.

    The fields mean what :class:`ModelSpec`'s fields of the same name mean.
    """

    name: str
    factory: KindFactory
    classification: Variant | None = None
    regression: Variant | None = None
    description: str = ""
    space: Mapping[str, Param] = field(default_factory=dict)
    grid: Grid = field(default_factory=dict)
    portfolio: Portfolio = ({},)
    scale: bool = True
    dense: bool = False
    cost: str = "medium"
    max_rows: int | None = None
    staged: str | None = None
    aliases: tuple[str, ...] = ()

    def specs(self) -> list[ModelSpec]:
        """The family's catalogue entries: classification first, then regression."""
        variants = ((CLASSIFICATION, self.classification), (REGRESSION, self.regression))
        return [self._spec(kind, v) for kind, v in variants if v is not None]

    def _spec(self, kind: str, v: Variant) -> ModelSpec:
        return ModelSpec(
            name=self.name,
            task=kind,
            factory=partial(self.factory, kind),
            space={**self.space, **v.extra_space},
            grid=self.grid if v.grid is None else v.grid,
            portfolio=self.portfolio if v.portfolio is None else v.portfolio,
            scale=self.scale,
            dense=self.dense,
            scale_target=v.scale_target,
            cost=self.cost,
            max_rows=self.max_rows,
            staged=self.staged,
            description=self.description if v.description is None else v.description,
            aliases=self.aliases if v.aliases is None else v.aliases,
        )
