"""Models and clients shared by the serving tests (trained once per session)."""

from __future__ import annotations

import warnings
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest

from loopml.bundle import ModelBundle, load_model
from loopml.serve.app import create_app
from loopml.serve.state import ServeConfig
from loopml.store import Store

with warnings.catch_warnings():
    # starlette asks for httpx2; the httpx-based client still works.
    warnings.simplefilter("ignore")
    from fastapi.testclient import TestClient

__all__ = ["Served", "TestClient", "client_for", "mixed_frame", "served", "trained"]


@dataclass
class Served:
    """A model trained into a store: its reference, the store and the training frame."""

    ref: str
    store_root: Path
    frame: pd.DataFrame
    target: str

    def store(self) -> Store:
        return Store(root=self.store_root)

    def bundle(self) -> ModelBundle:
        return load_model(self.ref, store=self.store())

    @property
    def X(self) -> pd.DataFrame:
        return self.frame.drop(columns=self.target)


def mixed_frame(n: int = 400, seed: int = 0) -> pd.DataFrame:
    """Numeric (with missing values), categorical (one-hot and target-encoded), boolean."""
    rng = np.random.default_rng(seed)
    df = pd.DataFrame({f"x{i}": rng.normal(size=n).round(4) for i in range(3)})
    df.loc[rng.random(n) < 0.1, "x1"] = np.nan
    df["plan"] = rng.choice(["basic", "pro", "team", "rare"], n, p=[0.45, 0.3, 0.24, 0.01])
    df.loc[rng.random(n) < 0.05, "plan"] = None
    df["member"] = rng.choice(["yes", "no"], n)
    df["city"] = rng.choice([f"c{i}" for i in range(30)], n)
    score = df["x0"] + (df["plan"] == "pro") + rng.normal(size=n)
    df["y"] = np.where(score > 0.5, "churn", "stay")
    return df


def trained(
    root: Path, data: Any, target: str, name: str, models: list[str], frame: pd.DataFrame
) -> Served:
    from loopml.learn.supervised import train

    store = Store(root=root)
    try:
        result = train(data, target, name=name, models=models, store=store)
    finally:
        store.close()
    return Served(result.ref, root, frame, target)


@pytest.fixture(scope="session")
def served(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Served]:
    """breast_cancer (binary, numeric), mixed (categorical + missing), iris, diabetes."""
    from loopml.data.io import load

    root = tmp_path_factory.mktemp("serving-store")
    out = {}
    cancer = load("builtin:breast_cancer")
    out["cancer"] = trained(root, cancer, "target", "cancer", ["logreg"], cancer)
    mixed = mixed_frame()
    out["mixed"] = trained(root, mixed, "y", "mixed", ["logreg"], mixed)
    iris = load("builtin:iris")
    out["iris"] = trained(root, iris, "target", "iris", ["logreg"], iris)
    diabetes = load("builtin:diabetes")
    out["diabetes"] = trained(root, diabetes, "target", "diabetes", ["ridge"], diabetes)
    return out


@contextmanager
def client_for(
    model: Any, store: Store | None = None, **config: Any
) -> Iterator[tuple[TestClient, Any]]:
    """A TestClient on a fresh app (lifespan run) and the app's server state."""
    settings = {"jobs": False, "log_predictions": False, "api_keys": (), **config}
    app = create_app(model, store=store, config=ServeConfig(**settings))
    with TestClient(app) as client:
        yield client, app.state.loopml
