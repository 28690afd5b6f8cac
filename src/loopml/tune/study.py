"""The Optuna study of a tuning job, kept in the store's database.

:func:`study_storage` opens Optuna's storage on the store's database and
:func:`open_study` creates a study there, or continues a stored one after checking that
it optimises in the same direction and searches each parameter the same way. Several
processes (or machines pointed at one PostgreSQL URL) that open the same study tune it
together; :func:`grid_done` tells them when a grid has been covered.
"""

from __future__ import annotations

import time
import weakref
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from loopml.exceptions import DataError
from loopml.tune.search import Searcher, direction, make_pruner
from loopml.tune.space import Param

if TYPE_CHECKING:
    import optuna

    from loopml.evaluate.scoring import Metric
    from loopml.store import Store

__all__ = ["grid_done", "open_study", "study_name_for", "study_storage"]


def study_name_for(name: str, version: int) -> str:
    """The default study name of a tuning job on ``name@version``."""
    return f"loopml-tune:{name}@{version}"


_MEMORY_STUDIES: weakref.WeakKeyDictionary[Store, Any] = weakref.WeakKeyDictionary()


def study_storage(store: Store) -> Any:
    """Optuna storage on the store's database (studies of an in-memory store stay in memory)."""
    import optuna

    if store.url in ("sqlite://", "sqlite:///:memory:"):
        # Optuna cannot share the store's single in-memory connection: keep the
        # studies in memory beside the store, for as long as the store lives.
        storage = _MEMORY_STUDIES.get(store)
        if storage is None:
            storage = _MEMORY_STUDIES[store] = optuna.storages.InMemoryStorage()
        return storage
    from sqlalchemy.exc import SQLAlchemyError

    for attempt in range(4):
        try:
            return optuna.storages.RDBStorage(store.url)
        except SQLAlchemyError:
            # Two processes creating Optuna's tables at once: one loses, then finds them.
            if attempt == 3:
                raise
            time.sleep(0.2 * (attempt + 1))
    raise AssertionError("unreachable")  # pragma: no cover


def open_study(
    name: str,
    storage: Any,
    *,
    space: Mapping[str, Param],
    searcher: Searcher,
    metric: Metric,
    seed: int,
    resume: bool,
) -> tuple[optuna.Study, int]:
    """Study *name* in *storage* and the number of trials it held before: a new one, or
    with *resume* the stored one, which must optimise *metric*'s way and search *space*
    with the same kinds of values."""
    import optuna

    exists = name in optuna.study.get_all_study_names(storage)
    if exists and not resume:
        raise DataError(
            f"A tuning study '{name}' already exists in the store. Continue it with "
            "--resume, or start another with --study NAME."
        )
    study = optuna.load_study(study_name=name, storage=storage) if exists else None
    n_before = len(study.trials) if study is not None else 0
    if study is not None and study.direction.name.lower() != metric.direction:
        raise DataError(
            f"Study '{name}' {study.direction.name.lower()}s, but {metric.name} must be "
            f"{metric.direction}d. Use --study NAME for a study with this metric."
        )
    if study is not None:
        _check_compatible(study, space, name)
    study = optuna.create_study(
        study_name=name,
        storage=storage,
        load_if_exists=True,
        direction=direction(metric),
        # Offset by the trials already run, so a resumed study does not replay its samples.
        sampler=searcher.sampler(space, seed + n_before),
        pruner=make_pruner(),
    )
    return study, n_before


def _check_compatible(study: optuna.Study, space: Mapping[str, Param], name: str) -> None:
    """A resumed study must search each parameter the same way (values vs ranges)."""
    from optuna.distributions import check_distribution_compatibility

    for t in study.get_trials(deepcopy=False):
        for key, old in t.distributions.items():
            if key not in space:
                continue
            try:
                check_distribution_compatibility(old, space[key].distribution())
            except ValueError:
                raise DataError(
                    f"Study '{name}' searched '{key}' as {_describe(old)}; this search gives "
                    f"{_describe(space[key].distribution())}. Keep the same kind of values to "
                    "resume it, or start another with --study NAME."
                ) from None


def _describe(dist: Any) -> str:
    from optuna.distributions import CategoricalDistribution

    if isinstance(dist, CategoricalDistribution):
        return f"a list of values {list(dist.choices)}"
    kind = "an integer" if type(dist).__name__.startswith("Int") else "a float"
    return f"{kind} range {dist.low}:{dist.high}{':log' if getattr(dist, 'log', False) else ''}"


def grid_done(study: optuna.Study, space: Mapping[str, Param], size: int | None) -> bool:
    """Every grid point has been started (finished or running) in this study."""
    import optuna

    if size is None:
        return False
    states = (
        optuna.trial.TrialState.COMPLETE,
        optuna.trial.TrialState.PRUNED,
        optuna.trial.TrialState.FAIL,
        optuna.trial.TrialState.RUNNING,
    )
    seen = {
        tuple(sorted(t.params.items()))
        for t in study.get_trials(deepcopy=False, states=states)
        if set(t.params) == set(space)
    }
    return len(seen) >= size
