"""Foundation benchmark: import time, `loopml train` wall time, batch-predict throughput.

Run: ``.venv/bin/python benchmarks/foundation.py [--rows 2000000]``

Figures written to BENCHMARKS.md (section "## Foundation"):

- import time of ``loopml`` and ``loopml --help`` (median of 7 fresh interpreters);
- wall time of ``loopml train builtin:NAME`` on each built-in dataset;
- batch predict of a generated CSV (default 2 million rows x 20 numeric + 3
  categorical columns) with ``loopml predict`` (chunked, validated, written to
  Parquet) against the fitted pipeline's ``predict`` on the whole frame already in
  memory. Each side runs in its own subprocess so peak memory (max RSS) is its own.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
PY = sys.executable
LOOPML = str(Path(PY).with_name("loopml"))
sys.path.insert(0, str(HERE))

from _report import machine_info, write_section  # noqa: E402


def _run(args: list[str], cwd: Path) -> tuple[float, str]:
    t0 = time.perf_counter()
    out = subprocess.run(args, cwd=cwd, capture_output=True, text=True)
    elapsed = time.perf_counter() - t0
    if out.returncode != 0:
        raise RuntimeError(f"{args} failed:\n{out.stderr}")
    return elapsed, out.stdout


def import_times(work: Path) -> dict[str, float]:
    res = {}
    for label, args in {
        "import loopml": [PY, "-c", "import loopml"],
        "python -c pass (floor)": [PY, "-c", "pass"],
        "loopml --help": [LOOPML, "--help"],
    }.items():
        times = [_run(args, work)[0] for _ in range(7)]
        res[label] = statistics.median(times)
    return res


def train_times(work: Path) -> dict[str, tuple[float, str, str]]:
    res = {}
    for name in ("breast_cancer", "wine", "iris", "digits", "diabetes"):
        elapsed, out = _run([LOOPML, "train", f"builtin:{name}", "--json"], work)
        data = json.loads(out)
        metric = data["metric"]
        res[name] = (
            elapsed,
            f"{metric} {data['test_metrics'].get(metric, float('nan')):.4f}",
            data["best"]["model"],
        )
    return res


GEN = r"""
import numpy as np, pandas as pd, sys
n = int(sys.argv[1]); path = sys.argv[2]; seed = int(sys.argv[3])
rng = np.random.default_rng(seed)
cols = {f"x{i}": rng.normal(size=n).round(5) for i in range(20)}
cols["region"] = rng.choice(["north", "south", "east", "west"], n)
cols["plan"] = rng.choice(["basic", "pro", "team", "enterprise"], n)
cols["channel"] = rng.choice(["web", "store", "phone"], n)
df = pd.DataFrame(cols)
logit = df["x0"] - 0.5 * df["x1"] + 0.8 * (df["plan"] == "pro") + rng.normal(size=n)
if len(sys.argv) > 4:
    df["churn"] = (logit > 0).astype(int)
df.to_csv(path, index=False)
"""

WRAP = r"""
import resource, subprocess, sys
out = subprocess.run(sys.argv[1:], capture_output=True, text=True)
sys.stderr.write(out.stderr)
print(out.stdout)
print("MAXRSS_MB", resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024)
sys.exit(out.returncode)
"""


def _split_rss(out: str) -> tuple[dict[str, float], float]:
    body, _, rss = out.rpartition("MAXRSS_MB")
    return json.loads(body), float(rss)


BASELINE = r"""
import resource, sys, time, json
import pyarrow.csv as pacsv
import loopml
model = loopml.load_model(sys.argv[1])
df = pacsv.read_csv(sys.argv[2]).to_pandas()
t0 = time.perf_counter()
pred = model.pipeline.predict(df)
proba = model.pipeline.predict_proba(df)
elapsed = time.perf_counter() - t0
print(json.dumps({"seconds": elapsed, "rows": len(df),
                  "maxrss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024}))
"""


def batch_predict(work: Path, rows: int) -> dict[str, float]:
    train_csv = work / "churn_train.csv"
    big = work / "churn_big.csv"
    _run([PY, "-c", GEN, "50000", str(train_csv), "1", "target"], work)
    _run([PY, "-c", GEN, str(rows), str(big), "2"], work)
    _run([LOOPML, "train", str(train_csv), "--target", "churn", "--name", "churn", "-q"], work)
    model = json.loads(_run([LOOPML, "models", "show", "churn@1", "--json"], work)[1])
    # loopml predict: the whole command (read, validate, predict, write), in its own process.
    elapsed, out = _run(
        [
            PY,
            "-c",
            WRAP,
            LOOPML,
            "predict",
            "churn",
            str(big),
            "-o",
            str(work / "out.parquet"),
            "--json",
        ],
        work,
    )
    summary, loop_rss = _split_rss(out)
    base = json.loads(_run([PY, "-c", BASELINE, "churn", str(big)], work)[1])
    return {
        "model": model["info"].get("model", "?"),
        "rows": rows,
        "loopml_s": summary["seconds"],
        "loopml_cmd_s": elapsed,
        "loopml_rows_s": rows / summary["seconds"],
        "loopml_rss_mb": loop_rss,
        "base_s": base["seconds"],
        "base_rows_s": rows / base["seconds"],
        "base_rss_mb": base["maxrss_mb"],
    }


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rows", type=int, default=2_000_000)
    args = parser.parse_args()
    env_note = f"OMP_NUM_THREADS={os.environ.get('OMP_NUM_THREADS', 'unset')}"
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        imports = import_times(work)
        trains = train_times(work)
        batch = batch_predict(work, args.rows)

    lines = [
        machine_info(),
        "",
        f"Environment: {env_note}.",
        "",
        "### Import time (median of 7 fresh processes)",
        "",
        "| what | seconds |",
        "|---|---|",
    ]
    lines += [f"| `{k}` | {v:.3f} |" for k, v in imports.items()]
    lines += [
        "",
        "### `loopml train builtin:NAME` (whole command, default candidates)",
        "",
        "| dataset | wall s | chosen model | test score |",
        "|---|---|---|---|",
    ]
    lines += [f"| {k} | {t:.2f} | {m} | {s} |" for k, (t, s, m) in trains.items()]
    ratio = batch["loopml_rows_s"] / batch["base_rows_s"]
    lines += [
        "",
        f"### Batch predict: {batch['rows']:,}-row CSV, 20 numeric + 3 categorical columns",
        "",
        f"Model: `{batch['model']}` trained by `loopml train` on 50k rows. loopml reads the CSV in "
        "chunks, validates each against the schema, predicts labels and probabilities and "
        "writes Parquet atomically; the baseline calls the pipeline's `predict` and "
        "`predict_proba` on the whole frame already in memory (reading excluded).",
        "",
        "| | seconds | rows/s | peak RSS MB |",
        "|---|---|---|---|",
        f"| `loopml predict` (read + validate + predict + write) | {batch['loopml_s']:.2f} | "
        f"{batch['loopml_rows_s']:,.0f} | {batch['loopml_rss_mb']:.0f} |",
        f"| pipeline.predict on the in-memory frame | {batch['base_s']:.2f} | "
        f"{batch['base_rows_s']:,.0f} | {batch['base_rss_mb']:.0f} |",
        "",
        f"**Throughput ratio loopml / in-memory predict: {ratio:.2f}** (target >= 0.8); "
        f"whole `loopml predict` command incl. start-up: {batch['loopml_cmd_s']:.2f} s.",
    ]
    text = "\n".join(lines)
    print(text)
    write_section("Foundation", text)


if __name__ == "__main__":
    main()
