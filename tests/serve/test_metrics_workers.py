"""/metrics with several worker processes: snapshots in a shared directory, merged."""

from __future__ import annotations

import json
import math
import os
import re
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from loopml.bundle import ModelBundle
from loopml.serve.metrics import Gauge, Metrics
from loopml.serve.metrics_dir import ENV_METRICS_DIR, MetricsDir, render_merged
from tests.serve.serving_fixtures import client_for
from tests.test_bundle import make_bundle

_SAMPLE = re.compile(r"^([a-zA-Z_:][a-zA-Z0-9_:]*)(\{.*\})? (\S+)$")
_LABEL = re.compile(r'(\w+)="((?:[^"\\]|\\.)*)"')

Samples = dict[tuple[str, tuple[tuple[str, str], ...]], float]


def parse(text: str) -> tuple[dict[str, str], Samples]:
    """Metric families (name → type) and samples of a page, checking the format.

    HELP and TYPE come once per family, before its samples; each sample belongs to
    the family declared last; histogram buckets are cumulative and end at +Inf with
    the count.
    """
    assert text.endswith("\n")
    types: dict[str, str] = {}
    helps: set[str] = set()
    samples: Samples = {}
    family = ""
    for line in text.splitlines():
        if line.startswith("# HELP "):
            name = line.split()[2]
            assert name not in helps, f"HELP twice for {name}"
            helps.add(name)
            family = name
        elif line.startswith("# TYPE "):
            _, _, name, kind = line.split()
            assert name == family and name not in types, line
            assert kind in ("counter", "gauge", "histogram"), line
            types[name] = kind
        else:
            match = _SAMPLE.match(line)
            assert match, f"not a sample line: {line!r}"
            name, labels, value = match.groups()
            suffixes = ("_bucket", "_sum", "_count") if types[family] == "histogram" else ()
            assert name == family or name in {family + s for s in suffixes}, line
            key = (name, tuple(_LABEL.findall(labels or "")))
            assert key not in samples, f"sample twice: {line!r}"
            samples[key] = float(value.replace("+Inf", "inf"))
    assert helps == set(types)
    for (name, labels), count in samples.items():
        if name.endswith("_count") and types.get(name[:-6]) == "histogram":
            base = name[:-6]
            buckets = [
                (float(dict(lb)["le"].replace("+Inf", "inf")), v)
                for (n, lb), v in samples.items()
                if n == base + "_bucket" and [x for x in lb if x[0] != "le"] == list(labels)
            ]
            values = [v for _, v in sorted(buckets)]
            assert values == sorted(values) and sorted(buckets)[-1] == (math.inf, count)
    return types, samples


def value(samples: Samples, name: str, **labels: str) -> float:
    return samples.get((name, tuple(labels.items())), 0.0)


def worker(
    requests: int, latencies: tuple[float, ...] = (), queued: int = 0, written: int = 0
) -> Metrics:
    m = Metrics()
    for _ in range(requests):
        m.requests.inc(("/predict", "POST", "200"))
    for seconds in latencies:
        m.latency.observe(seconds, ("/predict",))
    m.add(Gauge("loopml_queue_depth", "Requests waiting.", callback=lambda: [((), queued)]))
    log = Gauge("loopml_prediction_log_entries", "Log entries.", ("state",))
    log.set(written, ("written",))
    m.add(log)
    m.add(Gauge("loopml_model_info", "Model.", ("model",), lambda: [(("churn@1",), 1.0)]))
    return m


def snap(metrics: Metrics, live: bool = True) -> dict[str, Any]:
    # Through JSON, as the files carry them.
    return json.loads(json.dumps({"live": live, "metrics": metrics.snapshot()}))


# -- the merge --------------------------------------------------------------------------


def test_counters_and_histograms_of_two_workers_are_summed() -> None:
    a = worker(3, latencies=(0.0007, 0.003))
    b = worker(4, latencies=(0.0007, 20.0))
    a.unseen.inc(("plan",), 2)
    types, samples = parse(render_merged([snap(a), snap(b)]))
    assert types["loopml_requests_total"] == "counter"
    assert types["loopml_request_duration_seconds"] == "histogram"
    route = {"route": "/predict", "method": "POST", "status": "200"}
    assert value(samples, "loopml_requests_total", **route) == 7
    assert value(samples, "loopml_unseen_categories_total", column="plan") == 2
    hist = "loopml_request_duration_seconds"
    assert value(samples, hist + "_bucket", route="/predict", le="0.0005") == 0
    assert value(samples, hist + "_bucket", route="/predict", le="0.001") == 2
    assert value(samples, hist + "_bucket", route="/predict", le="0.005") == 3
    assert value(samples, hist + "_bucket", route="/predict", le="10") == 3
    assert value(samples, hist + "_bucket", route="/predict", le="+Inf") == 4
    assert value(samples, hist + "_count", route="/predict") == 4
    assert value(samples, hist + "_sum", route="/predict") == pytest.approx(20.0044)
    assert value(samples, "loopml_workers", state="live") == 2
    # each family once, in the order a single worker renders them
    single = [line for line in a.render().splitlines() if line.startswith("# TYPE")]
    merged = [line for line in render_merged([snap(a)]).splitlines() if line.startswith("# TYPE")]
    assert merged[: len(single)] == single


def test_exited_workers_keep_their_counters_and_gauges_merge_by_mode() -> None:
    live = worker(2, queued=5, written=10)
    gone = worker(3, queued=7, written=20)
    _, samples = parse(render_merged([snap(live), snap(gone, live=False)]))
    route = {"route": "/predict", "method": "POST", "status": "200"}
    assert value(samples, "loopml_requests_total", **route) == 5  # never goes backwards
    assert value(samples, "loopml_queue_depth") == 5  # livesum: the exited queue is gone
    assert value(samples, "loopml_prediction_log_entries", state="written") == 30  # sum
    assert value(samples, "loopml_model_info", model="churn@1") == 1  # livemax
    assert value(samples, "loopml_workers", state="live") == 1
    assert value(samples, "loopml_workers", state="exited") == 1
    _, both = parse(render_merged([snap(live), snap(worker(0, queued=1))]))
    assert value(both, "loopml_queue_depth") == 6
    assert value(both, "loopml_model_info", model="churn@1") == 1


def test_the_merge_leaves_out_what_disagrees() -> None:
    a, b = worker(1), worker(1)
    bad = snap(b)
    for data in bad["metrics"]:
        if data["name"] == "loopml_request_duration_seconds":
            data["buckets"] = [1.0]
        if data["name"] == "loopml_requests_total":
            data["kind"] = "gauge"
    a.latency.observe(0.5, ("/predict",))
    b.latency.observe(0.5, ("/predict",))
    _, samples = parse(render_merged([snap(a), bad]))
    assert value(samples, "loopml_request_duration_seconds_count", route="/predict") == 1
    route = {"route": "/predict", "method": "POST", "status": "200"}
    assert value(samples, "loopml_requests_total", **route) == 1


def test_gauge_merge_mode_is_checked() -> None:
    assert Gauge("g", "A gauge.").merge == "livesum"
    assert Gauge("loopml_model_info", "Model.").merge == "livemax"
    with pytest.raises(ValueError, match="merge mode of gauge 'g' must be one of sum"):
        Gauge("g", "A gauge.", merge="average")


# -- the directory ----------------------------------------------------------------------


def test_snapshots_are_written_atomically_and_read_back(tmp_path: Path) -> None:
    a, b = worker(2), worker(5)
    mine = MetricsDir(a, tmp_path)
    other = MetricsDir(b, tmp_path)
    other.write()
    assert re.fullmatch(rf"{os.getpid()}-[0-9a-f]{{8}}\.json", other.path.name)
    assert sorted(p.suffix for p in tmp_path.iterdir()) == [".json"]  # no temp file left
    (tmp_path / "junk.json").write_text("{not json")  # skipped, not fatal
    _, samples = parse(mine.render())
    route = {"route": "/predict", "method": "POST", "status": "200"}
    assert value(samples, "loopml_requests_total", **route) == 7
    assert mine.path.exists()  # a scrape writes this worker's fresh snapshot first
    # A worker that died without a last snapshot: its gauges stop, its counters stay.
    data = json.loads(other.path.read_text())
    data["time"] -= mine.stale_after + 1
    other.path.write_text(json.dumps(data))
    _, samples = parse(mine.render())
    assert value(samples, "loopml_requests_total", **route) == 7
    assert value(samples, "loopml_workers", state="exited") == 1


def test_the_thread_writes_every_interval_and_a_last_snapshot_at_stop(tmp_path: Path) -> None:
    m = worker(1)
    shared = MetricsDir(m, tmp_path, interval=0.02)
    shared.start()
    try:
        m.requests.inc(("/predict", "POST", "200"))
        deadline = time.monotonic() + 5
        while time.monotonic() < deadline:
            metrics = json.loads(shared.path.read_text())["metrics"]
            if metrics[0]["samples"] == [[["/predict", "POST", "200"], 2.0]]:
                break
            time.sleep(0.01)
        else:
            pytest.fail("no snapshot with the second request")
    finally:
        shared.stop()
    assert json.loads(shared.path.read_text())["live"] is False


def test_a_write_that_fails_is_logged_once(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    shared = MetricsDir(worker(1), tmp_path / "removed")
    shared.write()
    shared.write()
    logged = [r.getMessage() for r in caplog.records]
    assert len(logged) == 1 and logged[0].startswith("cannot share this worker's metrics")
    assert "loopml_workers" in shared.render()  # this worker's figures still show


# -- apps ---------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def bundle() -> ModelBundle:
    return make_bundle()[0]


def test_two_apps_sharing_a_directory_serve_one_page(
    bundle: ModelBundle, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv(ENV_METRICS_DIR, str(tmp_path))
    row = dict.fromkeys(bundle.schema.feature_names, 1.0)
    route = {"route": "/predict", "method": "POST", "status": "200"}
    with client_for(bundle) as (a, _):
        with client_for(bundle) as (b, _):
            for client, n in ((a, 3), (b, 2)):
                for _ in range(n):
                    assert client.post("/predict", json={"rows": [row, row]}).status_code == 200
            # A scrape writes its worker's fresh snapshot first; the others' are written
            # each second. Once both have been scraped, each page has all the figures.
            b.get("/metrics")
            for client in (a, b):
                _, samples = parse(client.get("/metrics").text)
                assert value(samples, "loopml_requests_total", **route) == 5
                assert value(samples, "loopml_rows_predicted_total", model="cancer") == 10
                assert value(samples, "loopml_workers", state="live") == 2
            assert len(list(tmp_path.glob("*.json"))) == 2
        # b's worker has stopped, leaving a last snapshot marked exited
        _, samples = parse(a.get("/metrics").text)
        assert value(samples, "loopml_requests_total", **route) == 5
        assert value(samples, "loopml_workers", state="exited") == 1
        info = [v for (n, _), v in samples.items() if n == "loopml_model_info"]
        assert info == [1.0]  # livemax over the one live worker


def test_one_worker_writes_no_files(
    bundle: ModelBundle, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv(ENV_METRICS_DIR, raising=False)
    monkeypatch.chdir(tmp_path)
    with client_for(bundle) as (client, state):
        expected = state.metrics.render()  # (the gate counts the scrape after it)
        text = client.get("/metrics").text
        assert text == expected
    assert "loopml_workers" not in text
    assert list(tmp_path.iterdir()) == []


# -- loopml serve --workers 2 -------------------------------------------------------------


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


def _get(url: str, data: bytes | None = None) -> tuple[int, bytes]:
    # urllib opens a new connection per request, so the kernel hands each to a worker.
    headers = {"content-type": "application/json"} if data else {}
    request = urllib.request.Request(url, data=data, headers=headers)
    with urllib.request.urlopen(request, timeout=10) as response:
        return response.status, response.read()


@pytest.fixture
def server(bundle: ModelBundle, tmp_path: Path) -> Iterator[tuple[str, Path]]:
    path = bundle.save(tmp_path / "model")
    port = _free_port()
    tmp = tmp_path / "tmp"
    tmp.mkdir()
    env = {**os.environ, "TMPDIR": str(tmp)}
    env.pop(ENV_METRICS_DIR, None)
    args = ["serve", str(path), "--workers", "2", "--port", str(port), "--no-jobs", "--no-log"]
    code = "from loopml.cli import app; app()"
    proc = subprocess.Popen(
        [sys.executable, "-c", code, *args, "--log-level", "warning"],
        cwd=tmp_path,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
    )
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 90
        while True:
            assert proc.poll() is None, proc.communicate()[0].decode()
            try:  # both workers are up once both have written a snapshot
                _, samples = parse(_get(url + "/metrics")[1].decode())
                if value(samples, "loopml_workers", state="live") == 2:
                    break
            except OSError:
                pass
            assert time.monotonic() < deadline, "the server did not start two workers"
            time.sleep(0.2)
        yield url, tmp
    finally:
        proc.terminate()
        try:
            out = proc.communicate(timeout=30)[0].decode()
        except subprocess.TimeoutExpired:
            proc.kill()
            out = proc.communicate()[0].decode()
        assert "Traceback" not in out, out
    assert list(tmp.iterdir()) == []  # the metrics directory is removed at exit


@pytest.mark.slow
def test_serve_workers_add_up_on_every_scrape(
    server: tuple[str, Path], bundle: ModelBundle
) -> None:
    url, tmp = server
    (metrics_dir,) = tmp.iterdir()
    row = dict.fromkeys(bundle.schema.feature_names, 1.0)
    body = json.dumps({"rows": [row]}).encode()
    n = 30
    pids = set()
    for _ in range(n):
        assert _get(url + "/predict", body)[0] == 200
        pids.add(json.loads(_get(url + "/metadata")[1])["serving"]["pid"])
    route = {"route": "/predict", "method": "POST", "status": "200"}
    # The worker that answers adds its own figures now, the other's within a second.
    deadline = time.monotonic() + 10
    while True:
        _, samples = parse(_get(url + "/metrics")[1].decode())
        total = value(samples, "loopml_requests_total", **route)
        assert total <= n
        if total == n:
            break
        assert time.monotonic() < deadline, f"{total} of {n} requests counted"
        time.sleep(0.2)
    assert value(samples, "loopml_workers", state="live") == 2
    assert value(samples, "loopml_request_duration_seconds_count", route="/predict") == n
    assert len(list(metrics_dir.glob("*.json"))) == 2
    # (which worker answered is the kernel's choice: usually both, not always)
    assert 1 <= len(pids) <= 2
