"""loopml's AutoML search against FLAML at the same time budget, on scikit-learn's datasets.

For each dataset (breast_cancer, wine, digits, iris, diabetes) and budget (30 s,
60 s): the same 75/25 split (stratified for classes, seed 0), both tools on 2
cores, their default selection metrics; the score is test accuracy
(classification) or test R² (regression) of the model each tool returns, and the
wall time of the fit call. loopml runs in this process; FLAML runs in its own
virtual environment (its pins must not touch loopml's), as a subprocess that
times ``AutoML.fit`` itself.

Usage::

    python benchmarks/automl_vs_peers.py [--budgets 30,60] [--datasets iris,wine]
        [--flaml-python /work/flaml-venv/bin/python] [--no-write]

Set up FLAML once: ``python3.11 -m venv /work/flaml-venv &&
/work/flaml-venv/bin/pip install 'flaml[automl]' scikit-learn``.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import textwrap
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

DATASETS = ["breast_cancer", "wine", "digits", "iris", "diabetes"]
REGRESSION = {"diabetes"}
SEED = 0
N_JOBS = 2

#: Runs in FLAML's venv: same data, same split, AutoML.fit timed around the call.
FLAML_SCRIPT = textwrap.dedent(
    """
    import json, sys, time, warnings
    warnings.simplefilter("ignore")
    import sklearn.datasets as skd
    from sklearn.metrics import accuracy_score, r2_score
    from sklearn.model_selection import train_test_split
    from flaml import AutoML

    name, budget, seed, n_jobs, regression = sys.argv[1], float(sys.argv[2]), int(sys.argv[3]), \\
        int(sys.argv[4]), sys.argv[5] == "1"
    X, y = getattr(skd, f"load_{name}")(return_X_y=True, as_frame=True)
    X_tr, X_te, y_tr, y_te = train_test_split(
        X, y, test_size=0.25, random_state=seed, stratify=None if regression else y)
    automl = AutoML()
    t0 = time.perf_counter()
    automl.fit(X_tr, y_tr, task="regression" if regression else "classification",
               time_budget=budget, n_jobs=n_jobs, seed=seed, verbose=0)
    wall = time.perf_counter() - t0
    pred = automl.predict(X_te)
    score = r2_score(y_te, pred) if regression else accuracy_score(y_te, pred)
    print(json.dumps({"score": float(score), "wall": wall, "model": str(automl.best_estimator),
                      "metric": "r2" if regression else "accuracy"}))
    """
)


def split(name: str) -> tuple[Any, Any]:
    """The 75/25 split both tools use, as DataFrames with a 'target' column."""
    import sklearn.datasets as skd
    from sklearn.model_selection import train_test_split

    X, y = getattr(skd, f"load_{name}")(return_X_y=True, as_frame=True)
    regression = name in REGRESSION
    X_tr, X_te, y_tr, y_te = train_test_split(
        X, y, test_size=0.25, random_state=SEED, stratify=None if regression else y
    )
    train = X_tr.assign(target=y_tr.to_numpy())
    test = X_te.assign(target=y_te.to_numpy())
    if not regression:  # class labels, so loopml infers a classification task
        train["target"] = train["target"].map(lambda v: f"c{v}")
        test["target"] = test["target"].map(lambda v: f"c{v}")
    return train, test


def run_loopml(name: str, budget: float) -> dict[str, Any]:
    import numpy as np
    from sklearn.metrics import accuracy_score, r2_score

    import loopml
    from loopml.store import Store

    train, test = split(name)
    store = Store.in_memory()
    try:
        t0 = time.perf_counter()
        result = loopml.train(
            train,
            target="target",
            name=name,
            time_budget=budget,
            n_jobs=N_JOBS,
            seed=SEED,
            split_sizes=(0.8, 0.2, 0.0),
            store=store,
        )
        wall = time.perf_counter() - t0
        pred = result.model.predict(test.drop(columns=["target"]))
        if name in REGRESSION:
            score = r2_score(test["target"], np.asarray(pred, dtype=float))
        else:
            score = accuracy_score(test["target"].astype(str), np.asarray(pred).astype(str))
        ok = sum(1 for t in result.trials if t.status == "complete")
        return {
            "score": float(score),
            "wall": wall,
            "model": result.best.model,
            "trials": f"{ok}/{len(result.trials)}",
            "metric": result.metric,
        }
    finally:
        store.close()


def run_flaml(python: str, name: str, budget: float) -> dict[str, Any]:
    cmd = [
        python,
        "-c",
        FLAML_SCRIPT,
        name,
        str(budget),
        str(SEED),
        str(N_JOBS),
        "1" if name in REGRESSION else "0",
    ]
    t0 = time.perf_counter()
    proc = subprocess.run(
        cmd,
        capture_output=True,
        text=True,
        timeout=budget * 4 + 120,
        env={**os.environ, "PYTHONWARNINGS": "ignore"},
    )
    if proc.returncode != 0:
        raise RuntimeError(f"FLAML failed on {name}: {proc.stderr[-2000:]}")
    out = json.loads(proc.stdout.strip().splitlines()[-1])
    out["process_wall"] = time.perf_counter() - t0
    return dict(out)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--budgets", default="30,60")
    parser.add_argument("--datasets", default=",".join(DATASETS))
    parser.add_argument("--flaml-python", default="/work/flaml-venv/bin/python")
    parser.add_argument("--no-write", action="store_true")
    args = parser.parse_args(argv)
    budgets = [float(b) for b in args.budgets.split(",")]
    datasets = [d for d in args.datasets.split(",") if d]
    flaml_version = subprocess.run(
        [args.flaml_python, "-c", "import flaml; print(flaml.__version__)"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout.strip()
    load_before = os.getloadavg()[0]
    rows = []
    for name in datasets:
        for budget in budgets:
            ours = run_loopml(name, budget)
            peer = run_flaml(args.flaml_python, name, budget)
            row = {"dataset": name, "budget": budget, "loopml": ours, "flaml": peer}
            rows.append(row)
            print(
                f"{name:14s} {budget:4.0f}s  loopml {ours['score']:.4f} ({ours['model']}, "
                f"{ours['wall']:.1f}s)  FLAML {peer['score']:.4f} ({peer['model']}, "
                f"{peer['wall']:.1f}s)",
                flush=True,
            )
    load_after = os.getloadavg()[0]
    body = report(rows, flaml_version, load_before, load_after)
    print(body)
    if not args.no_write:
        from _report import write_section

        write_section("AutoML vs FLAML", body)


def report(rows: list[dict[str, Any]], flaml_version: str, load0: float, load1: float) -> str:
    from _report import machine_info

    import loopml

    lines = [
        machine_info(),
        "",
        f"loopml {loopml.__version__} `train(df, time_budget=B, n_jobs=2)` vs FLAML "
        f"{flaml_version} `AutoML.fit(X, y, time_budget=B, n_jobs=2)`; same stratified 75/25 "
        "split (seed 0), each tool's default selection metric; score = test accuracy "
        "(classification) or test R² (diabetes). Wall = seconds of the fit call "
        f"(loopml's includes its final refit and saving). 1-minute load average "
        f"{load0:.1f} before, {load1:.1f} after (2 cores, shared machine).",
        "",
        "| dataset | budget s | loopml score | FLAML score | loopml - FLAML | loopml wall s "
        "| FLAML wall s | loopml model (trials ok/all) | FLAML model |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    wins = 0
    within = 0
    for r in rows:
        o, p = r["loopml"], r["flaml"]
        diff = o["score"] - p["score"]
        wins += diff >= 0
        within += o["wall"] <= r["budget"] * 1.1
        lines.append(
            f"| {r['dataset']} | {r['budget']:.0f} | {o['score']:.4f} | {p['score']:.4f} | "
            f"{diff:+.4f} | {o['wall']:.1f} | {p['wall']:.1f} | {o['model']} ({o['trials']}) "
            f"| {p['model']} |"
        )
    lines += [
        "",
        f"loopml ≥ FLAML on {wins} of {len(rows)} runs; loopml within 110 % of the budget on "
        f"{within} of {len(rows)}.",
    ]
    return "\n".join(lines)


if __name__ == "__main__":
    main()
