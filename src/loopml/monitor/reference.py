"""The training reference of a model: the rows it was fitted on, read again.

:func:`reference_from_bundle` redoes the split ``loopml train`` recorded in the
bundle (source, sizes, seed, strategy), so drift can be measured against exactly
the rows the model learned from. Segmenters and anomaly detectors are fitted on
every row of their source, which is read again whole.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from loopml.exceptions import DataError

if TYPE_CHECKING:
    import pandas as pd

    from loopml.bundle import ModelBundle

__all__ = ["reference_from_bundle"]


def reference_from_bundle(bundle: ModelBundle, *, part: str = "fit") -> pd.DataFrame:
    """Reload the rows *bundle* was trained on, by redoing its recorded split.

    Parameters
    ----------
    bundle : ModelBundle
        A model trained by ``loopml train`` (its ``info`` records the data source and
        the split's sizes, seed and strategy), ``loopml cluster`` or ``loopml
        anomalies`` (the source and its row count).
    part : {"fit", "train", "valid", "test"}, default "fit"
        ``"fit"``: the rows the final model was fitted on (train + validation when it
        was refit on both, as ``loopml train`` does); otherwise one split (supervised
        models only).

    Raises
    ------
    DataError
        If the source is not a file or builtin dataset that can be read again, or it
        changed since training (different row counts); pass the reference explicitly.
    """
    import pandas as pd

    from loopml.data.schema import Task
    from loopml.data.split import split
    from loopml.data.validate import drop_missing_target

    info = bundle.info
    source = info.get("source")
    sp = info.get("split")
    whole = bundle.task in (Task.CLUSTERING, Task.ANOMALY) and isinstance(info.get("rows"), int)
    readable = isinstance(source, str) and source != "the DataFrame"
    if not readable or not (isinstance(sp, dict) or whole):
        raise DataError(
            f"Model '{bundle.name}' does not record a data source that can be read again "
            f"(source: {source!r}). {_FIX}"
        )
    if part not in ("fit", "train", "valid", "test"):
        raise DataError(f"part must be one of fit, train, valid, test; got {part!r}.")
    source = str(source)
    df = _reload(bundle, source)
    if not isinstance(sp, dict):
        # Fitted on every row: the whole source, if it still has as many rows.
        if part != "fit":
            raise DataError(
                f"Model '{bundle.name}' ({bundle.task}) was fitted on all its rows, without "
                f"a split: only part='fit' exists, not {part!r}."
            )
        if len(df) != info["rows"]:
            raise DataError(
                f"The training data of '{bundle.name}' ({source}) changed since training: it "
                f"now has {len(df)} rows, training had {info['rows']}. {_FIX}"
            )
        return df
    target = bundle.schema.target or info.get("target")
    if target is not None and target in df.columns:
        df, _ = drop_missing_target(df, target, source)
    strategy = str(sp.get("strategy", ""))
    time_column = _quoted(strategy) if strategy.startswith("time-ordered") else None
    group_column = _quoted(strategy) if strategy.startswith("grouped") else None
    parts = split(
        df,
        target,
        sizes=tuple(sp.get("sizes", (0.7, 0.15, 0.15))),  # type: ignore[arg-type]
        seed=int(sp.get("seed", 0)),
        stratify=strategy != "random",
        time_column=time_column,
        group_column=group_column,
        where=source,
    )
    expected = sp.get("rows")
    if isinstance(expected, dict) and expected != parts.counts:
        raise DataError(
            f"The training data of '{bundle.name}' ({source}) changed since training: the split "
            f"now has {parts.counts} rows, training had {expected}. {_FIX}"
        )
    if part == "fit":
        if info.get("refit_on") == "train+valid":
            return pd.concat([parts.train, parts.valid], ignore_index=True)
        return parts.train
    frame: pd.DataFrame = getattr(parts, part)
    return frame


_FIX = "Pass the training data explicitly (--reference FILE, or reference= in Python)."


def _reload(bundle: ModelBundle, source: str) -> pd.DataFrame:
    from loopml.data.io import load

    try:
        return load(source)
    except DataError as exc:
        raise DataError(
            f"Cannot reload the training data of '{bundle.name}': {exc} {_FIX}"
        ) from None


def _quoted(text: str) -> str | None:
    start = text.find("'")
    end = text.rfind("'")
    return text[start + 1 : end] if 0 <= start < end else None
