"""Saving a fitted model: a bundle under the store's artifact root, then the next version.

Every task ends here: :func:`~loopml.learn.supervised.train`, the self-training and
multi-label fits, segmenters, anomaly detectors and association rules.
"""

from __future__ import annotations

import shutil
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pandas as pd

from loopml.bundle import ModelBundle

if TYPE_CHECKING:
    from loopml.data.schema import Schema
    from loopml.store import RunHandle, Store

__all__ = ["save_bundle"]


def save_bundle(
    store: Store,
    run: RunHandle,
    *,
    name: str,
    pipeline: Any,
    schema: Schema,
    metrics: dict[str, dict[str, float | None]],
    info: dict[str, Any],
    notes: Sequence[str] = (),
    card: Callable[[ModelBundle], str] | None = None,
    registry_metrics: dict[str, float | None] | None = None,
) -> tuple[ModelBundle, Any]:
    """Save *pipeline* as a bundle under the store's artifact root and register the next
    version of *name* (the bundle directory is removed again if registering fails).

    *card* writes the model card from the bundle (default:
    :func:`loopml.card.render_card`, the supervised model card)."""
    from loopml.card import render_card

    full_info = {
        "name": name,
        "task": str(schema.task),
        "target": schema.target,
        "run_id": run.id,
        "trained_at": pd.Timestamp.now(tz="UTC").isoformat(),
        **info,
    }
    bundle = ModelBundle(pipeline, schema, metrics=metrics, info=full_info)
    bundle.card = card(bundle) if card is not None else render_card(bundle, notes=list(notes))
    path = Path(store.artifact_root) / name / f"run-{run.id}"
    bundle.save(path)
    try:
        record = store.register_model(
            name,
            run_id=run.id,
            path=str(path.resolve()),
            sha256=bundle.sha256 or "",
            task=str(schema.task),
            metrics=registry_metrics if registry_metrics is not None else {},
            info={
                "model": info.get("model"),
                "metric": info.get("metric"),
                "target": schema.target,
            },
        )
    except BaseException:
        shutil.rmtree(path, ignore_errors=True)
        raise
    bundle.info["version"] = record.version
    run.set(model={"name": name, "version": record.version, "path": str(path)})
    return bundle, record
