"""Model bundles: the fitted pipeline with its schema, metrics and card, saved safely.

A bundle is a directory::

    pipeline.skops   the fitted scikit-learn pipeline (skops: no arbitrary code on load)
    schema.json      the training schema (drives validation at predict time)
    metrics.json     validation and test metrics
    bundle.json      name, task, classes, threshold, lineage, SHA-256 of pipeline.skops
    card.md          what the model is, its data, metrics and limits

Loading checks the pipeline file's SHA-256 against the one recorded when it was
saved (and against the store's record when loaded through the store).
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from loopml.data.schema import Schema, Task
from loopml.exceptions import LoopmlError, ModelNotFoundError

if TYPE_CHECKING:
    import numpy as np
    import pandas as pd

    from loopml.data.validate import InputReport
    from loopml.store import Store

__all__ = ["BundleIntegrityError", "ModelBundle", "load_model", "sha256_file"]

PIPELINE_FILE = "pipeline.skops"
#: Modules whose types a bundle may contain. skops rebuilds objects from their
#: state without running pickled code; these are the libraries loopml fits with.
TRUSTED_PREFIXES = ("sklearn.", "numpy.", "scipy.", "lightgbm.", "xgboost.", "loopml.")
TRUSTED_NAMES = ("collections.OrderedDict", "collections.defaultdict", "builtins.slice")


class BundleIntegrityError(LoopmlError, ValueError):
    """A bundle's files do not match the checksum recorded when it was saved."""


def sha256_file(path: str | Path) -> str:
    """Hex SHA-256 of a file, read in 1 MiB blocks."""
    h = hashlib.sha256()
    with Path(path).open("rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


@dataclass
class ModelBundle:
    """A fitted pipeline plus everything needed to use and trust it.

    Parameters
    ----------
    pipeline : sklearn Pipeline
        Raw columns in, predictions out. Classifiers predict class *indices*;
        :meth:`predict` maps them back to the original labels in ``classes``.
    schema : Schema
        Training schema.
    metrics : dict
        ``{"valid": {...}, "test": {...}}``.
    info : dict
        name, version, model family, params, threshold, lineage...
    """

    pipeline: Any
    schema: Schema
    metrics: dict[str, dict[str, float | None]] = field(default_factory=dict)
    info: dict[str, Any] = field(default_factory=dict)
    card: str = ""
    path: Path | None = None
    sha256: str | None = None

    # -- identity ------------------------------------------------------------------
    @property
    def name(self) -> str:
        return str(self.info.get("name", "model"))

    @property
    def version(self) -> int | None:
        v = self.info.get("version")
        return int(v) if v is not None else None

    @property
    def ref(self) -> str:
        """``name@version`` (the name alone for a bundle not registered in a store)."""
        v = self.version
        return self.name if v is None else f"{self.name}@{v}"

    @property
    def task(self) -> Task:
        return self.schema.task or Task.REGRESSION

    @property
    def classes(self) -> list[Any] | None:
        return self.schema.classes

    @property
    def threshold(self) -> float | None:
        """Decision threshold on the positive-class probability (binary models)."""
        t = self.info.get("threshold")
        return float(t) if t is not None else None

    # -- prediction ----------------------------------------------------------------
    def check(self, df: pd.DataFrame, where: str = "the input", row_offset: int = 0) -> InputReport:
        """Validate *df* against the training schema; raise on missing columns or bad types."""
        from loopml.data.validate import check_input

        return check_input(df, self.schema, where, row_offset=row_offset)

    def predict(self, df: pd.DataFrame) -> np.ndarray[Any, Any]:
        """Predict for each row of *df*, in the task's own terms.

        - binary / multiclass: labels (original class values);
        - regression: values (float64);
        - multilabel: a 0/1 matrix of shape (n_rows, n_labels), columns in ``classes``
          order (see :meth:`predict_labels` for label lists);
        - clustering: segment ids (int64; -1 is noise for DBSCAN/HDBSCAN);
        - anomaly: 1 for an anomaly, 0 for a normal row (see :meth:`score_samples`);
        - rules: for each basket, the list of recommended items (see :meth:`recommend`).
        """
        import numpy as np

        task = self.task
        if task in (Task.BINARY, Task.MULTICLASS):
            if task == Task.BINARY and self.threshold is not None and self._has_proba():
                proba = self.pipeline.predict_proba(df)
                idx = (proba[:, 1] >= self.threshold).astype(np.int64)
            else:
                idx = np.asarray(self.pipeline.predict(df)).astype(np.int64)
            labels: np.ndarray[Any, Any] = np.asarray(self.classes, dtype=object)[idx]
            return labels
        if task in (Task.MULTILABEL, Task.CLUSTERING, Task.ANOMALY):
            return np.asarray(self.pipeline.predict(df), dtype=np.int64)
        if task == Task.RULES:
            recs = self.pipeline.predict(df)
            out = np.empty(len(recs), dtype=object)
            for i, items in enumerate(recs):  # element-wise: equal-length lists must stay lists
                out[i] = list(items)
            return out
        return np.asarray(self.pipeline.predict(df), dtype="float64")

    def predict_proba(self, df: pd.DataFrame) -> pd.DataFrame | None:
        """Class probabilities as a DataFrame with one column per class (multilabel: per
        label, each in [0, 1] on its own); None if unsupported."""
        import pandas as pd

        task = self.task
        if task not in (Task.BINARY, Task.MULTICLASS, Task.MULTILABEL) or not self._has_proba():
            return None
        proba = self.pipeline.predict_proba(df)
        return pd.DataFrame(proba, columns=[str(c) for c in self.classes or []], index=df.index)

    def predict_labels(self, df: pd.DataFrame) -> list[list[Any]]:
        """Multilabel models: the labels predicted for each row, in ``classes`` order."""
        self._require(Task.MULTILABEL, "predict_labels")
        names = list(self.classes or [])
        return [[names[j] for j in row.nonzero()[0]] for row in self.predict(df)]

    def score_samples(self, df: pd.DataFrame) -> np.ndarray[Any, Any]:
        """Anomaly models: each row's anomaly score (higher = more anomalous); rows scoring
        above :attr:`anomaly_threshold` are flagged by :meth:`predict`."""
        import numpy as np

        self._require(Task.ANOMALY, "score_samples")
        return np.asarray(self.pipeline.score_samples(df), dtype="float64")

    @property
    def anomaly_threshold(self) -> float | None:
        """Anomaly models: the score above which a row is an anomaly (None otherwise)."""
        if self.task != Task.ANOMALY:
            return None
        return float(self.pipeline.threshold_)

    def recommend(self, df: pd.DataFrame) -> pd.DataFrame:
        """Rules models: one row per basket of *df* with its recommended items, the best
        recommendation's score and the rule behind it (see
        :meth:`loopml.learn.basket_task.BasketRecommender.recommend_frame`)."""
        self._require(Task.RULES, "recommend")
        frame: pd.DataFrame = self.pipeline.recommend_frame(df)
        return frame

    def _require(self, task: Task, method: str) -> None:
        if self.task != task:
            raise LoopmlError(
                f"{method}() applies to {task} models; {self.name} is a {self.task} model."
            )

    def _has_proba(self) -> bool:
        return hasattr(self.pipeline, "predict_proba")

    # -- persistence ---------------------------------------------------------------
    def save(self, path: str | Path) -> Path:
        """Write the bundle directory atomically (a temp directory renamed into place)."""
        import skops.io as sio

        from loopml._fs import atomic_dir

        path = Path(path)
        if path.exists():
            raise FileExistsError(f"{path} already exists; bundles are never overwritten.")
        with atomic_dir(path) as tmp:
            sio.dump(self.pipeline, tmp / PIPELINE_FILE)
            self.sha256 = sha256_file(tmp / PIPELINE_FILE)
            info = {**self.info, "sha256": self.sha256, "pipeline_file": PIPELINE_FILE}
            (tmp / "schema.json").write_text(self.schema.to_json())
            (tmp / "metrics.json").write_text(json.dumps(_json_safe(self.metrics), indent=2))
            (tmp / "bundle.json").write_text(json.dumps(_json_safe(info), indent=2))
            (tmp / "card.md").write_text(self.card or "")
        self.path = path
        self.info = info
        return path

    @classmethod
    def load(cls, path: str | Path, *, expected_sha256: str | None = None) -> ModelBundle:
        """Load and verify a bundle directory.

        Raises
        ------
        BundleIntegrityError
            If ``pipeline.skops`` does not match the SHA-256 recorded at save time
            (or *expected_sha256*), or it holds types outside the trusted libraries.
        """
        import skops.io as sio

        path = Path(path)
        if not (path / "bundle.json").exists():
            raise ModelNotFoundError(
                f"{path} is not a loopml model bundle (no bundle.json). "
                "Give a bundle directory or a model name from `loopml models list`."
            )
        info = json.loads((path / "bundle.json").read_text())
        pipeline_path = path / info.get("pipeline_file", PIPELINE_FILE)
        actual = sha256_file(pipeline_path)
        for label, expected in (
            ("bundle.json", info.get("sha256")),
            ("the store", expected_sha256),
        ):
            if expected and actual != expected:
                raise BundleIntegrityError(
                    f"{pipeline_path} has SHA-256 {actual[:12]}..., but {label} recorded "
                    f"{expected[:12]}...: the file changed after it was saved. Retrain the "
                    "model or restore the original file."
                )
        untrusted = sio.get_untrusted_types(file=pipeline_path)
        bad = [t for t in untrusted if not _trusted(t)]
        if bad:
            raise BundleIntegrityError(
                f"{pipeline_path} contains types outside the libraries loopml trusts: "
                f"{', '.join(bad)}. Refusing to load it."
            )
        pipeline = sio.load(pipeline_path, trusted=untrusted)
        schema = Schema.from_json((path / "schema.json").read_text())
        metrics = json.loads((path / "metrics.json").read_text())
        card = (path / "card.md").read_text() if (path / "card.md").exists() else ""
        return cls(pipeline, schema, metrics, info, card, path, actual)


def _trusted(type_name: str) -> bool:
    return type_name.startswith(TRUSTED_PREFIXES) or type_name in TRUSTED_NAMES


def _json_safe(obj: Any) -> Any:
    import math

    import numpy as np

    if isinstance(obj, dict):
        return {str(k): _json_safe(v) for k, v in obj.items()}
    if isinstance(obj, list | tuple):
        return [_json_safe(v) for v in obj]
    if isinstance(obj, np.generic):
        obj = obj.item()
    if isinstance(obj, float) and not math.isfinite(obj):
        return None
    if isinstance(obj, str | int | float | bool) or obj is None:
        return obj
    return str(obj)


def load_model(ref: str | Path, *, store: Store | None = None) -> ModelBundle:
    """Load a model by store reference (``"churn"``, ``"churn@3"``, ``"churn@production"``)
    or from a bundle directory path.

    Examples
    --------
    >>> model = load_model("iris@1")  # doctest: +SKIP
    >>> model.predict(df)  # doctest: +SKIP
    """
    path = Path(ref)
    if isinstance(ref, Path) or (path.is_dir() and (path / "bundle.json").exists()):
        return ModelBundle.load(path)
    from loopml.store import Store

    store = store or Store()
    record = store.resolve(str(ref))
    bundle = ModelBundle.load(record.path, expected_sha256=record.sha256)
    bundle.info.update({"name": record.name, "version": record.version, "stage": str(record.stage)})
    return bundle
