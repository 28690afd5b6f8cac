"""Monitoring fixtures: a small churn-like dataset and a bundle trained on it, fast."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import Pipeline

from loopml.bundle import ModelBundle
from loopml.data.schema import infer_schema
from loopml.data.split import split
from loopml.features.build import build_features
from loopml.learn.supervised import encode_target


def churn_frame(n: int, seed: int, shift: float = 0.0) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    tenure = rng.gamma(2.0, 12.0, n) + 10 * shift
    spend = rng.normal(50 + 20 * shift, 10, n)
    plan = rng.choice(["basic", "plus", "pro"], n, p=[0.5, 0.3, 0.2])
    logit = -1.0 - 0.03 * tenure + 0.04 * (spend - 50) + (plan == "basic") * 0.8
    churn = np.where(rng.random(n) < 1 / (1 + np.exp(-logit)), "yes", "no")
    return pd.DataFrame(
        {"id": np.arange(n), "tenure": tenure, "spend": spend, "plan": plan, "churn": churn}
    )


def make_churn_bundle(tmp_path: Path, n: int = 600) -> tuple[ModelBundle, Path]:
    """A bundle whose info records a CSV source and split, as `loopml train` writes it."""
    df = churn_frame(n, seed=0)
    source = tmp_path / "churn.csv"
    df.to_csv(source, index=False)
    df = pd.read_csv(source)
    schema = infer_schema(df, "churn")
    sp = split(df, "churn", seed=0)
    fit = pd.concat([sp.train, sp.valid], ignore_index=True)
    pipe = Pipeline(
        [("features", build_features(schema)), ("model", LogisticRegression(max_iter=500))]
    ).fit(fit, encode_target(fit["churn"], schema))
    info = {
        "name": "churn",
        "task": "binary",
        "target": "churn",
        "source": str(source),
        "split": sp.info(),
        "refit_on": "train+valid",
    }
    metrics = {"valid": {"accuracy": 0.8}, "test": {"accuracy": 0.8, "recall": 0.5}}
    return ModelBundle(pipe, schema, metrics, info, "# churn"), source


@pytest.fixture
def churn_bundle(tmp_path: Path) -> ModelBundle:
    return make_churn_bundle(tmp_path)[0]
