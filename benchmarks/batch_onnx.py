"""Batch transform at scale and edge (ONNX) latency.

Run: ``.venv/bin/python benchmarks/batch_onnx.py [--rows 5000000] [--workers 2]``

Writes two sections of BENCHMARKS.md:

"## Batch transform at scale" — a generated Parquet file (default 5 million rows,
20 numeric + 3 categorical columns, written in chunks) predicted by a model that
``loopml train`` fits on 50k rows:

- ``loopml predict`` in one process (chunked read, schema check, predict, atomic
  Parquet write), against the fitted pipeline's ``predict`` + ``predict_proba`` on the
  whole frame already in memory (reading excluded): the throughput ratio;
- the same prediction on a local Dask cluster (``predict_distributed``, N worker
  processes, one thread each), writing partitioned Parquet.

Each side runs in its own process, started by a wrapper that reports peak memory
two ways: the largest single process (``getrusage(RUSAGE_CHILDREN).ru_maxrss``) and
the peak of the whole process tree summed (sampled every 0.1 s with psutil; for Dask
that is client + scheduler + workers).

"## Edge (ONNX)" — the same model exported with ``loopml export``: the export check,
then latency per row at batch 1 and batch 1000 of onnxruntime (raw ``session.run``,
and through the edge runtime with its numpy coercion) against the scikit-learn
pipeline's ``predict_proba`` on a DataFrame, all single-threaded.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
PY = sys.executable
LOOPML = str(Path(PY).with_name("loopml"))
sys.path.insert(0, str(HERE))

from _report import machine_info, write_section  # noqa: E402

GEN = r"""
import sys
import numpy as np, pandas as pd, pyarrow as pa, pyarrow.parquet as pq
n, path, seed = int(sys.argv[1]), sys.argv[2], int(sys.argv[3])
with_target = len(sys.argv) > 4
chunk = 250_000
writer = None
rng = np.random.default_rng(seed)
for start in range(0, n, chunk):
    m = min(chunk, n - start)
    cols = {f"x{i}": rng.normal(size=m).round(5) for i in range(20)}
    cols["region"] = rng.choice(["north", "south", "east", "west"], m)
    cols["plan"] = rng.choice(["basic", "pro", "team", "enterprise"], m)
    cols["channel"] = rng.choice(["web", "store", "phone"], m)
    df = pd.DataFrame(cols)
    if with_target:
        logit = df["x0"] - 0.5 * df["x1"] + 0.8 * (df["plan"] == "pro") + rng.normal(size=m)
        df["churn"] = (logit > 0).astype(int)
    table = pa.Table.from_pandas(df, preserve_index=False)
    writer = writer or pq.ParquetWriter(path, table.schema)
    writer.write_table(table, row_group_size=chunk)
writer.close()
"""

# Runs a command; reports its peak memory: largest process and the whole tree summed.
WRAP = r"""
import json, resource, subprocess, sys, time
import psutil
proc = subprocess.Popen(sys.argv[1:], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
root = psutil.Process(proc.pid)
peak_tree = 0
while proc.poll() is None:
    try:
        procs = [root, *root.children(recursive=True)]
        total = 0
        for p in procs:
            try:
                total += p.memory_info().rss
            except psutil.Error:
                pass
        peak_tree = max(peak_tree, total)
    except psutil.Error:
        pass
    time.sleep(0.1)
out, err = proc.communicate()
sys.stderr.write(err)
print(out)
print("PEAKS", json.dumps({
    "max_process_mb": resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024,
    "tree_mb": peak_tree / 2**20,
}))
sys.exit(proc.returncode)
"""

BASELINE = r"""
import json, sys, time
import pyarrow.parquet as pq
import loopml
model = loopml.load_model(sys.argv[1])
df = pq.read_table(sys.argv[2]).to_pandas()
t0 = time.perf_counter()
pred = model.pipeline.predict(df)
proba = model.pipeline.predict_proba(df)
print(json.dumps({"seconds": time.perf_counter() - t0, "rows": len(df)}))
"""

EXPORT = r"""
import json
from loopml.serve.export import export_onnx
print(json.dumps(export_onnx("churn@1", "churn.onnx", quantize=True).to_dict()))
"""

DASK = r"""
import json, sys
from loopml.serve.distributed import predict_distributed
if __name__ == "__main__":
    s = predict_distributed(sys.argv[1], sys.argv[2], sys.argv[3], workers=int(sys.argv[4]))
    print(json.dumps(s.to_dict()))
"""

LATENCY = r"""
import json, statistics, sys, time
import numpy as np, pyarrow.parquet as pq, onnxruntime as ort
import loopml
from loopml.serve.edge import EdgeModel
model = loopml.load_model(sys.argv[1])
edge = EdgeModel(sys.argv[2], threads=1)
df = pq.ParquetFile(sys.argv[3]).read_row_group(0).to_pandas().head(20_000)

def per_row(fn, batches, size):
    for b in batches[:5]:
        fn(b)
    times = []
    for b in batches:
        t0 = time.perf_counter(); fn(b); times.append((time.perf_counter() - t0) / size)
    return statistics.median(times) * 1e3, float(np.percentile(times, 95)) * 1e3

res = {}
for size, n in ((1, 500), (1000, 15)):
    frames = [df.iloc[i * size:(i + 1) * size] for i in range(n)]
    feeds = [edge.feed({c: f[c].to_numpy() for c in edge.columns}) for f in frames]
    columns = [{c: f[c].to_numpy() for c in edge.columns} for f in frames]
    res[size] = {
        "sklearn": per_row(model.pipeline.predict_proba, frames, size),
        "onnx_run": per_row(lambda fd: edge.session.run(None, fd), feeds, size),
        "onnx_edge": per_row(edge.predict_columns, columns, size),
    }
print(json.dumps(res))
"""


def _run(args: list[str], cwd: Path, env: dict[str, str] | None = None) -> tuple[float, str]:
    t0 = time.perf_counter()
    out = subprocess.run(args, cwd=cwd, capture_output=True, text=True, env=env)
    elapsed = time.perf_counter() - t0
    if out.returncode != 0:
        raise RuntimeError(f"{args} failed:\n{out.stderr[-4000:]}")
    return elapsed, out.stdout


def _wrapped(args: list[str], cwd: Path) -> tuple[float, dict[str, float], dict[str, float]]:
    elapsed, out = _run([PY, "-c", WRAP, *args], cwd)
    body, _, peaks = out.rpartition("PEAKS")
    return elapsed, json.loads(body.strip()), json.loads(peaks)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rows", type=int, default=5_000_000)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--keep", help="Keep the working files in this directory.")
    args = parser.parse_args()
    os.environ.setdefault("OMP_NUM_THREADS", "1")
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(args.keep or tmp)
        work.mkdir(parents=True, exist_ok=True)
        big = work / "big.parquet"
        t_gen, _ = _run([PY, "-c", GEN, str(args.rows), str(big), "2"], work)
        _run([PY, "-c", GEN, "50000", str(work / "train.parquet"), "1", "target"], work)
        _run([LOOPML, "train", "train.parquet", "--target", "churn", "--name", "churn", "-q"], work)
        shown = json.loads(_run([LOOPML, "models", "show", "churn@1", "--json"], work)[1])
        print(f"generated {args.rows:,} rows in {t_gen:.1f} s; model {shown['info']['model']}")

        cmd_s, loop, loop_mem = _wrapped(
            [LOOPML, "predict", "churn", str(big), "-o", "out.parquet", "--json", "-q"], work
        )
        print("loopml predict", loop, loop_mem)
        _, base, base_mem = _wrapped([PY, "-c", BASELINE, "churn", str(big)], work)
        print("in-memory", base, base_mem)
        dask_cmd_s, dask, dask_mem = _wrapped(
            [PY, "-c", DASK, "churn", str(big), "out_dask", str(args.workers)], work
        )
        print("dask", dask, dask_mem)

        export = json.loads(_run([PY, "-c", EXPORT], work)[1])
        latency = json.loads(
            _run([PY, "-c", LATENCY, "churn", "churn.onnx", str(big)], work, dict(os.environ))[1]
        )
        print("latency", latency)

    rows = args.rows
    loop_rps = rows / loop["seconds"]
    base_rps = rows / base["seconds"]
    dask_rps = rows / dask["seconds"]
    batch = [
        machine_info(),
        "",
        f"Input: {rows:,}-row Parquet, 20 numeric + 3 categorical columns, row groups "
        "of 250k rows, generated in chunks. Model: "
        f"`{shown['info']['model']}` trained by `loopml train` on 50k rows. "
        "OMP_NUM_THREADS=1. Peak memory: largest single process (getrusage) and the "
        "whole process tree summed (psutil, sampled every 0.1 s).",
        "",
        "| | seconds | rows/s | peak RSS MB (largest process) | peak RSS MB (process tree) |",
        "|---|---|---|---|---|",
        f"| `loopml predict` one process (read + check + predict + write Parquet) | "
        f"{loop['seconds']:.1f} | {loop_rps:,.0f} | {loop_mem['max_process_mb']:.0f} | "
        f"{loop_mem['tree_mb']:.0f} |",
        f"| pipeline predict + predict_proba on the in-memory frame (read excluded) | "
        f"{base['seconds']:.1f} | {base_rps:,.0f} | {base_mem['max_process_mb']:.0f} | "
        f"{base_mem['tree_mb']:.0f} |",
        f"| Dask local cluster, {args.workers} workers x 1 thread (cluster start included) | "
        f"{dask['seconds']:.1f} | {dask_rps:,.0f} | {dask_mem['max_process_mb']:.0f} | "
        f"{dask_mem['tree_mb']:.0f} |",
        "",
        f"**Throughput ratio loopml (one process) / in-memory predict: {loop_rps / base_rps:.2f}** "
        f"(target >= 0.8). Dask local cluster / in-memory: {dask_rps / base_rps:.2f}; "
        f"Dask / loopml one process: {dask_rps / loop_rps:.2f}. Whole commands incl. "
        f"interpreter start-up: `loopml predict` {cmd_s:.1f} s, Dask {dask_cmd_s:.1f} s.",
    ]
    write_section("Batch transform at scale", "\n".join(batch))

    check = export.get("check") or {}
    q = export.get("quantized") or {}
    lat = [
        machine_info(),
        "",
        f"Model: the `churn` model above (`{shown['info']['model']}`), exported with "
        "`export_onnx('churn@1', 'churn.onnx', quantize=True)` (= `loopml export churn@1 "
        "--format onnx -o churn.onnx --quantize`) "
        f"({export['size_bytes']:,} bytes, {len(export['inputs'])} inputs).",
        "",
        f"Export check: {check.get('rows', 0):,} test rows, max |diff| of probabilities "
        f"{check.get('max_abs_diff', float('nan')):.3g}, labels agree on "
        f"{100 * (check.get('label_agreement') or 0):.2f}%; accuracy "
        f"{check.get('original_score') or float('nan'):.4f} (original) vs "
        f"{check.get('onnx_score') or float('nan'):.4f} (ONNX).",
        "",
        "int8 (dynamic quantisation): "
        + (
            f"{q['quantized_nodes']} nodes, {q['size_before']:,} → {q['size_after']:,} bytes, "
            f"accuracy {q['score_before']:.4f} → {q['score_after']:.4f}."
            if q.get("path")
            else (q.get("note") or "not run") + "."
        ),
        "",
        "Latency per row, milliseconds (median / p95 over batches), one thread each:",
        "",
        "| batch | scikit-learn pipeline.predict_proba (DataFrame) | onnxruntime session.run "
        "| edge runtime (numpy coercion + run) | speed-up run / edge vs sklearn |",
        "|---|---|---|---|---|",
    ]
    for size, r in latency.items():
        sk, run, edge = r["sklearn"], r["onnx_run"], r["onnx_edge"]
        lat.append(
            f"| {size} | {sk[0]:.4f} / {sk[1]:.4f} | {run[0]:.4f} / {run[1]:.4f} | "
            f"{edge[0]:.4f} / {edge[1]:.4f} | {sk[0] / run[0]:.1f}x / {sk[0] / edge[0]:.1f}x |"
        )
    write_section("Edge (ONNX)", "\n".join(lat))
    print("\n".join(batch))
    print("\n".join(lat))


if __name__ == "__main__":
    main()
