"""Real-time serving benchmark: `loopml serve` against plain FastAPI + uvicorn apps.

Run: ``.venv/bin/python benchmarks/serving.py [--duration 20] [--no-write]``

One logistic-regression pipeline on 20 numeric features (trained by loopml on a
generated binary dataset) is served by:

- **loopml**: ``loopml serve`` (compiled fast path, orjson, asynchronous prediction
  log on), and again with ``--no-log`` to show what logging costs;
- **plain FastAPI (same pipeline)**: a FastAPI + uvicorn app whose endpoint takes
  ``{"rows": [...]}`` through a pydantic model, builds a DataFrame and calls
  ``pipeline.predict`` on the very same fitted pipeline;
- **plain FastAPI (minimal pipeline)**: the same app around a bare scikit-learn
  ``Pipeline(StandardScaler, LogisticRegression)`` fitted on the same data: the
  fastest a plain app gets without loopml's feature pipeline.

Every server runs as its own uvicorn process with one worker, pinned with taskset to
the same two cores; the load generator (a separate process: asyncio, raw HTTP/1.1
keep-alive sockets, 127.0.0.1 only) sends single-row requests for a bounded time at
concurrency 1 and 8 and records each latency. Figures go to the "Real-time serving"
section of BENCHMARKS.md.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
PY = sys.executable
sys.path.insert(0, str(HERE))

N_FEATURES = 20
N_BODIES = 256
#: Hard bound on requests per run, whatever the duration.
MAX_REQUESTS = 2_000_000

PLAIN_APP = r"""
import os
import pickle

import pandas as pd
from fastapi import FastAPI
from pydantic import BaseModel

with open(os.environ["BENCH_MODEL"], "rb") as fh:
    model = pickle.load(fh)
app = FastAPI()


class Request(BaseModel):
    rows: list[dict[str, float | None]]


@app.post("/predict")
def predict(request: Request) -> dict:
    df = pd.DataFrame(request.rows)
    return {"predictions": model.predict(df).tolist()}
"""

SERVE = (
    "import sys, typer\n"
    "from loopml.cli.serve import serve_command\n"
    "app = typer.Typer(add_completion=False)\n"
    "app.command()(serve_command)\n"
    "app(sys.argv[1:])\n"
)


# -- load generator (runs in its own process) ------------------------------------------


async def _client(
    port: int, requests: list[bytes], deadline: float, warm_until: float, out: list[float]
) -> int:
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    errors = 0
    i = 0
    try:
        while True:
            now = time.perf_counter()
            if now >= deadline or len(out) >= MAX_REQUESTS:
                break
            req = requests[i % len(requests)]
            i += 1
            writer.write(req)
            head = await reader.readuntil(b"\r\n\r\n")
            length = 0
            for line in head.split(b"\r\n"):
                if line[:15].lower() == b"content-length:":
                    length = int(line[15:])
            await reader.readexactly(length)
            if not head.startswith(b"HTTP/1.1 200"):
                errors += 1
            if now >= warm_until:
                out.append(time.perf_counter() - now)
    finally:
        writer.close()
    return errors


async def _load(
    port: int, concurrency: int, duration: float, warmup: float, bodies: list[bytes]
) -> dict[str, float]:
    requests = [
        b"POST /predict HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n"
        + f"Content-Length: {len(b)}\r\n\r\n".encode()
        + b
        for b in bodies
    ]
    start = time.perf_counter()
    warm_until = start + warmup
    deadline = warm_until + duration
    latencies: list[list[float]] = [[] for _ in range(concurrency)]
    errors = await asyncio.gather(
        *(
            _client(port, requests[i::concurrency] or requests, deadline, warm_until, latencies[i])
            for i in range(concurrency)
        )
    )
    lat = sorted(x for part in latencies for x in part)
    elapsed = time.perf_counter() - warm_until
    n = len(lat)

    def pct(q: float) -> float:
        return lat[min(n - 1, int(q * n))] * 1000 if n else float("nan")

    return {
        "requests": n,
        "errors": sum(errors),
        "rps": n / elapsed,
        "p50_ms": pct(0.50),
        "p90_ms": pct(0.90),
        "p99_ms": pct(0.99),
        "mean_ms": statistics.fmean(lat) * 1000 if n else float("nan"),
    }


def loadgen_main(args: argparse.Namespace) -> None:
    bodies = [line.encode() for line in Path(args.bodies).read_text().splitlines() if line]
    result = asyncio.run(_load(args.port, args.concurrency, args.duration, args.warmup, bodies))
    print(json.dumps(result))


# -- setup ---------------------------------------------------------------------------------


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _taskset() -> list[str]:
    return (
        ["taskset", "-c", "0,1"] if shutil.which("taskset") and (os.cpu_count() or 1) >= 2 else []
    )


def _wait_ready(port: int, proc: subprocess.Popen[bytes], timeout: float = 120.0) -> None:
    import urllib.request

    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"server exited with {proc.returncode}")
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/openapi.json", timeout=2):
                return
        except OSError:
            time.sleep(0.2)
    raise RuntimeError("server did not start")


def prepare(work: Path) -> dict[str, object]:
    import pickle

    import numpy as np
    import pandas as pd
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import Pipeline
    from sklearn.preprocessing import StandardScaler

    from loopml.learn.supervised import train
    from loopml.store import Store

    rng = np.random.default_rng(0)
    n = 20_000
    X = pd.DataFrame({f"x{i}": rng.normal(size=n).round(6) for i in range(N_FEATURES)})
    logit = X["x0"] - 0.7 * X["x1"] + 0.4 * X["x2"] + rng.normal(size=n)
    df = X.assign(churn=np.where(logit > 0, "yes", "no"))
    store = Store(root=work / ".loopml")
    result = train(df, "churn", name="bench", models=["logreg"], store=store)
    store.close()
    pipeline = result.model.pipeline
    with (work / "pipeline.pkl").open("wb") as fh:
        pickle.dump(pipeline, fh)
    minimal = Pipeline([("scale", StandardScaler()), ("model", LogisticRegression(max_iter=2000))])
    minimal.fit(X, df["churn"])
    with (work / "minimal.pkl").open("wb") as fh:
        pickle.dump(minimal, fh)
    (work / "plain_app.py").write_text(PLAIN_APP)
    sample = X.sample(N_BODIES, random_state=1)
    bodies = [json.dumps({"rows": [row]}) for row in sample.to_dict(orient="records")]
    (work / "bodies.jsonl").write_text("\n".join(bodies) + "\n")
    return {
        "ref": result.ref,
        "bundle": result.model,
        "pipeline": pipeline,
        "minimal": minimal,
        "sample": sample,
    }


def floors(info: dict[str, object]) -> dict[str, float]:
    """The model's own predict time: the floor under any serving overhead."""
    import pandas as pd

    from loopml.serve.fastpath import Predictor

    pipeline = info["pipeline"]
    sample = info["sample"]
    assert isinstance(sample, pd.DataFrame)
    one = sample.iloc[:1]
    big = pd.concat([sample] * 40, ignore_index=True)

    def per_call(fn: object, arg: object, n: int) -> float:
        f = fn  # type: ignore[assignment]
        f(arg)  # type: ignore[operator]
        t = time.perf_counter()
        for _ in range(n):
            f(arg)  # type: ignore[operator]
        return (time.perf_counter() - t) / n

    predictor = Predictor(info["bundle"])  # type: ignore[arg-type]
    cols = predictor.parser.parse_json(json.dumps({"rows": one.to_dict(orient="records")}).encode())
    return {
        "pipeline_1row_ms": per_call(pipeline.predict, one, 200) * 1000,  # type: ignore[attr-defined]
        "pipeline_per_row_batch_us": per_call(pipeline.predict, big, 20) / len(big) * 1e6,  # type: ignore[attr-defined]
        "minimal_1row_ms": per_call(info["minimal"].predict, one, 200) * 1000,  # type: ignore[attr-defined]
        "compiled_1row_us": per_call(predictor.predict, cols, 2000) * 1e6,
        "compiled_path": float(predictor.fast),
    }


def _log_counts(port: int) -> dict[str, float]:
    """Prediction-log entries written / dropped so far (loopml servers only)."""
    import urllib.request

    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=5) as r:
            text = r.read().decode()
    except OSError:
        return {}
    out = {}
    for line in text.splitlines():
        if line.startswith("loopml_prediction_log_entries{"):
            state = line.split('"')[1]
            out[f"log_{state}"] = float(line.rsplit(" ", 1)[1])
    return out


def run_server(
    name: str, cmd: list[str], env: dict[str, str], port: int, work: Path, args: argparse.Namespace
) -> dict[str, dict[str, float]]:
    proc = subprocess.Popen(
        [*_taskset(), *cmd], cwd=work, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE
    )
    try:
        _wait_ready(port, proc)
        out = {}
        for conc in args.concurrency:
            res = subprocess.run(
                [
                    PY,
                    __file__,
                    "--loadgen",
                    "--port",
                    str(port),
                    "--bodies",
                    str(work / "bodies.jsonl"),
                    "--conc",
                    str(conc),
                    "--duration",
                    str(args.duration),
                    "--warmup",
                    str(args.warmup),
                ],
                capture_output=True,
                text=True,
                timeout=args.duration + args.warmup + 120,
            )
            if res.returncode != 0:
                raise RuntimeError(f"load generator failed:\n{res.stderr}")
            out[str(conc)] = json.loads(res.stdout)
            out[str(conc)].update(_log_counts(port))
            print(
                f"  {name:<28} c={conc}: {out[str(conc)]['rps']:8.1f} req/s  "
                f"p50 {out[str(conc)]['p50_ms']:.2f} ms  p99 {out[str(conc)]['p99_ms']:.2f} ms  "
                f"errors {out[str(conc)]['errors']}",
                flush=True,
            )
        return out
    finally:
        proc.terminate()
        try:
            proc.wait(30)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


def _cpu_seconds(pid: int) -> tuple[float, float]:
    """CPU seconds used so far by process *pid* and by its live children (Linux /proc)."""
    tick = os.sysconf("SC_CLK_TCK")

    def own(p: int) -> float:
        try:
            fields = Path(f"/proc/{p}/stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            return 0.0
        return (int(fields[11]) + int(fields[12])) / tick  # utime + stime

    children = 0.0
    for task in Path(f"/proc/{pid}/task").glob("*/children"):
        children += sum(own(int(c)) for c in task.read_text().split())
    return own(pid), children


def logging_overhead(
    work: Path, ref: str, env: dict[str, str], args: argparse.Namespace
) -> dict[str, dict[str, float]]:
    """Log on vs off, measured in alternating short runs so that background load hits both.

    Both servers stay up; the load generator alternates between them, ``rounds`` times
    per concurrency, and the medians are compared.
    """
    procs, ports = [], {}
    try:
        for key, extra in (("on", []), ("off", ["--no-log"])):
            port = _free_port()
            cmd = [PY, "-c", SERVE, ref, "--log-level", "warning", "--port", str(port), *extra]
            proc = subprocess.Popen(
                [*_taskset(), *cmd],
                cwd=work,
                env=env,
                stdout=subprocess.DEVNULL,
                stderr=subprocess.DEVNULL,
            )
            procs.append(proc)
            _wait_ready(port, proc)
            ports[key] = port
        out: dict[str, dict[str, float]] = {}
        for conc in args.concurrency:
            runs: dict[str, list[dict[str, float]]] = {"on": [], "off": []}
            for _ in range(args.rounds):
                for key in ("on", "off"):
                    pid = procs[0 if key == "on" else 1].pid
                    cpu0 = _cpu_seconds(pid)
                    res = subprocess.run(
                        [
                            PY,
                            __file__,
                            "--loadgen",
                            "--port",
                            str(ports[key]),
                            "--bodies",
                            str(work / "bodies.jsonl"),
                            "--conc",
                            str(conc),
                            "--duration",
                            str(args.round_s),
                            "--warmup",
                            "0.5",
                        ],
                        capture_output=True,
                        text=True,
                        timeout=args.round_s + 120,
                    )
                    run = json.loads(res.stdout)
                    cpu1 = _cpu_seconds(pid)
                    # Per request measured: server (with its threads) and writer process.
                    n = max(run["requests"], 1)
                    run["server_cpu_us"] = (cpu1[0] - cpu0[0]) / n * 1e6
                    run["writer_cpu_us"] = (cpu1[1] - cpu0[1]) / n * 1e6
                    runs[key].append(run)
            for key in ("on", "off"):
                out[f"{key}_{conc}"] = {
                    m: statistics.median(r[m] for r in runs[key])
                    for m in (
                        "rps",
                        "p50_ms",
                        "p99_ms",
                        "mean_ms",
                        "server_cpu_us",
                        "writer_cpu_us",
                    )
                }
            on, off = out[f"on_{conc}"], out[f"off_{conc}"]
            print(
                f"  logging on/off c={conc}: p50 {on['p50_ms']:.3f}/{off['p50_ms']:.3f} ms, "
                f"{on['rps']:.0f}/{off['rps']:.0f} req/s, CPU per request "
                f"{on['server_cpu_us']:.0f}+{on['writer_cpu_us']:.0f}/{off['server_cpu_us']:.0f} us",
                flush=True,
            )
        return out
    finally:
        for proc in procs:
            proc.terminate()
            proc.wait(30)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--duration", type=float, default=20.0, help="Seconds measured per run.")
    parser.add_argument("--warmup", type=float, default=2.0)
    parser.add_argument("--concurrency", type=int, nargs="+", default=[1, 8])
    parser.add_argument("--no-write", action="store_true", help="Do not update BENCHMARKS.md.")
    parser.add_argument("--only", nargs="*", help="Run only these servers (by key).")
    parser.add_argument("--rounds", type=int, default=7, help="Alternating log on/off rounds.")
    parser.add_argument("--round-s", type=float, default=4.0, help="Seconds per round.")
    # internal: the load generator process
    parser.add_argument("--loadgen", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--port", type=int, help=argparse.SUPPRESS)
    parser.add_argument("--bodies", help=argparse.SUPPRESS)
    parser.add_argument("--conc", type=int, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.loadgen:
        args.concurrency = args.conc
        loadgen_main(
            argparse.Namespace(
                port=args.port,
                bodies=args.bodies,
                concurrency=args.conc,
                duration=args.duration,
                warmup=args.warmup,
            )
        )
        return

    work = Path(tempfile.mkdtemp(prefix="loopml-serving-bench-"))
    try:
        print("training the benchmark model...", flush=True)
        info = prepare(work)
        floor = floors(info)
        print("  floors:", {k: round(v, 3) for k, v in floor.items()}, flush=True)
        base_env = {
            **os.environ,
            "OMP_NUM_THREADS": "1",
            "OPENBLAS_NUM_THREADS": "1",
            "MKL_NUM_THREADS": "1",
            "LOOPML_STORE_URL": f"sqlite:///{work / '.loopml' / 'store.db'}",
        }
        base_env.pop("LOOPML_API_KEYS", None)
        servers: dict[str, tuple[str, list[str], dict[str, str]]] = {}
        for key, label, extra in (
            ("loopml", "loopml serve", []),
            ("loopml_w2", "loopml serve --workers 2", ["--workers", "2"]),
        ):
            servers[key] = (
                label,
                [PY, "-c", SERVE, str(info["ref"]), "--log-level", "warning", *extra],
                base_env,
            )
        for key, label, model in (
            ("plain", "plain FastAPI (same pipeline)", "pipeline.pkl"),
            ("plain_min", "plain FastAPI (minimal pipeline)", "minimal.pkl"),
        ):
            servers[key] = (
                label,
                [PY, "-m", "uvicorn", "plain_app:app", "--log-level", "warning", "--no-access-log"],
                {**base_env, "BENCH_MODEL": str(work / model)},
            )
        results: dict[str, dict[str, dict[str, float]]] = {}
        for key, (label, cmd, env) in servers.items():
            if args.only and key not in args.only:
                continue
            port = _free_port()
            full = [*cmd, "--port", str(port), "--host", "127.0.0.1"]
            results[key] = run_server(label, full, env, port, work, args)
        overhead = {}
        if not args.only or "logging" in args.only:
            overhead = logging_overhead(work, str(info["ref"]), base_env, args)
        report = render(results, floor, args, {k: v[0] for k, v in servers.items()}, overhead)
        print(report)
        if not args.no_write:
            from _report import write_section

            write_section("Real-time serving", report)
    finally:
        shutil.rmtree(work, ignore_errors=True)


NOTES = [
    "- `--workers 2` is shown for loopml only. uvicorn's multi-process mode binds its "
    "socket with protocol 0, so asyncio never sets TCP_NODELAY on accepted connections and "
    "every response waited ~40 ms for a delayed ACK (measured: 22 req/s, p50 44 ms); "
    "`loopml serve` sets TCP_NODELAY on the listening socket. A plain app run with "
    "`uvicorn --workers 2` has that stall.",
    "- Reference for plain FastAPI on this kind of machine (issue #5): 140-165 req/s at "
    "p50 6-7 ms (concurrency 1), 200-235 req/s (concurrency 8); MLflow serve 111-124, "
    "BentoML 113, Ray Serve 38-50 req/s.",
]


def render(
    results: dict[str, dict[str, dict[str, float]]],
    floor: dict[str, float],
    args: argparse.Namespace,
    labels: dict[str, str],
    overhead: dict[str, dict[str, float]],
) -> str:
    from _report import machine_info

    lines = [
        "`benchmarks/serving.py`: one logistic-regression pipeline on 20 numeric features, "
        "single-row JSON requests over loopback (127.0.0.1), one uvicorn worker per server, "
        f"server pinned to the same 2 cores, the same load generator (asyncio, raw HTTP/1.1 "
        f"keep-alive) in its own process, {args.duration:g} s per run after {args.warmup:g} s "
        "warm-up. The machine is shared: compare ratios.",
        "",
        "| server | concurrency | req/s | p50 ms | p90 ms | p99 ms | errors |",
        "|---|---:|---:|---:|---:|---:|---:|",
    ]
    for key, by_conc in results.items():
        for conc, r in by_conc.items():
            lines.append(
                f"| {labels[key]} | {conc} | {r['rps']:.0f} | {r['p50_ms']:.2f} | "
                f"{r['p90_ms']:.2f} | {r['p99_ms']:.2f} | {r['errors']:.0f} |"
            )
    lines.append("")

    def rps(key: str, conc: str) -> float | None:
        return results.get(key, {}).get(conc, {}).get("rps")

    for base_key in ("plain", "plain_min"):
        for conc in ("1", "8"):
            a, b = rps("loopml", conc), rps(base_key, conc)
            if a and b:
                lines.append(
                    f"- loopml / {labels[base_key]} throughput at concurrency {conc}: **{a / b:.1f}x**"
                )
    for conc, r in results.get("loopml", {}).items():
        if "log_written" in r:
            lines.append(
                f"- Prediction log after the concurrency-{conc} run: "
                f"{r['log_written']:.0f} requests written to the store, "
                f"{r.get('log_dropped', 0):.0f} dropped, {r.get('log_queued', 0):.0f} queued."
            )
    for conc in args.concurrency:
        on, off = overhead.get(f"on_{conc}"), overhead.get(f"off_{conc}")
        if on and off:
            lines.append(
                f"- Prediction logging on vs off at concurrency {conc} (medians of "
                f"{args.rounds} alternating {args.round_s:g} s runs): p50 {on['p50_ms']:.3f} vs "
                f"{off['p50_ms']:.3f} ms ({(on['p50_ms'] / off['p50_ms'] - 1) * 100:+.1f} %), "
                f"throughput {on['rps']:.0f} vs {off['rps']:.0f} req/s "
                f"({(on['rps'] / off['rps'] - 1) * 100:+.1f} %); CPU per request "
                f"{on['server_cpu_us']:.0f} µs in the server + {on['writer_cpu_us']:.0f} µs in "
                f"the log writer process vs {off['server_cpu_us']:.0f} µs "
                f"({((on['server_cpu_us'] + on['writer_cpu_us']) / off['server_cpu_us'] - 1) * 100:+.1f} %)."
            )
    lines += NOTES
    lines += [
        f"- Floor (the model alone, in-process): the pipeline's `predict` takes "
        f"{floor['pipeline_1row_ms']:.2f} ms for one row and {floor['pipeline_per_row_batch_us']:.2f} µs "
        f"per row in a 10,240-row batch; the minimal pipeline {floor['minimal_1row_ms']:.2f} ms for one "
        f"row; loopml's compiled path {floor['compiled_1row_us']:.0f} µs for one row "
        "(validation excluded).",
        "",
        machine_info(),
    ]
    return "\n".join(lines)


if __name__ == "__main__":
    main()
