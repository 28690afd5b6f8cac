from __future__ import annotations

import io
import threading
import time
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest

from loopml.serve.fastpath import Predictor
from loopml.serve.jobs import JobRunner, count_rows
from loopml.serve.jobstore import JobStore
from loopml.store import Store
from tests.serve.serving_fixtures import Served, client_for, served
from tests.serve.test_app import rows_of

__all__ = ["served"]


def wait_for(client: Any, job_id: str, timeout: float = 30.0) -> dict[str, Any]:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        job: dict[str, Any] = client.get(f"/jobs/{job_id}").json()
        if job["status"] in ("succeeded", "failed"):
            return job
        time.sleep(0.05)
    raise AssertionError(f"job {job_id} did not finish: {job}")


def jobs_client(s: Served, store: Store, **config: Any) -> Any:
    """Serve the model (loaded from its own store) with jobs kept in *store*."""
    return client_for(s.bundle(), store=store, jobs=True, **config)


def test_rows_csv_and_path_jobs_succeed(served: dict[str, Served], tmp_path: Path) -> None:
    s = served["mixed"]
    store = Store(root=tmp_path / "s")
    bundle = s.bundle()
    X = s.X.iloc[:120]
    expected = bundle.predict(X).tolist()
    X.to_parquet(tmp_path / "in.parquet")
    with jobs_client(s, store) as (client, _):
        by_rows = client.post("/jobs", json={"rows": rows_of(X)})
        assert by_rows.status_code == 202, by_rows.text
        assert by_rows.json()["status"] == "queued"
        assert by_rows.headers["location"] == f"/jobs/{by_rows.json()['id']}"
        by_csv = client.post(
            "/jobs", content=X.to_csv(index=False), headers={"content-type": "text/csv"}
        )
        by_path = client.post(
            "/jobs",
            json={
                "path": str(tmp_path / "in.parquet"),
                "chunk_rows": 50,
                "output": str(tmp_path / "out.csv"),
            },
        )
        jobs = [wait_for(client, r.json()["id"]) for r in (by_rows, by_csv, by_path)]
        for job in jobs:
            assert job["status"] == "succeeded", job["error"]
            assert job["progress"] == {"rows_done": 120, "rows_total": 120, "fraction": 1.0}
            assert job["result"]["rows"] == 120 and job["result"]["model"] == "mixed@1"
            assert job["result"]["url"] == f"/jobs/{job['id']}/result"
        assert jobs[2]["result"]["location"] == str(tmp_path / "out.csv")
        download = client.get(jobs[0]["result"]["url"])
        assert download.status_code == 200
        listed = client.get("/jobs").json()["jobs"]
    assert pd.read_parquet(io.BytesIO(download.content))["prediction"].tolist() == expected
    assert pd.read_parquet(jobs[1]["result"]["location"])["prediction"].tolist() == expected
    assert pd.read_csv(tmp_path / "out.csv")["prediction"].tolist() == expected
    assert {j["id"] for j in listed} == {j["id"] for j in jobs}


def test_failed_jobs_record_their_error(served: dict[str, Served], tmp_path: Path) -> None:
    s = served["mixed"]
    store = Store(root=tmp_path / "s")
    bad_csv = s.X.iloc[:5].assign(x0=["1", "2", "3", "lots", "5"]).to_csv(index=False)
    s.X.drop(columns="plan").to_parquet(tmp_path / "no-plan.parquet")
    # A payload over 1 MiB is stored as it streams in and checked by the job itself.
    big = rows_of(pd.concat([s.X] * 40, ignore_index=True))
    big[12345]["x1"] = "lots"
    with jobs_client(s, store) as (client, _):
        by_csv = client.post("/jobs", content=bad_csv, headers={"content-type": "text/csv"})
        by_path = client.post("/jobs", json={"path": str(tmp_path / "no-plan.parquet")})
        by_big = client.post("/jobs", json={"rows": big})
        assert by_big.json()["progress"]["rows_total"] is None  # not read yet
        failed = [wait_for(client, r.json()["id"]) for r in (by_csv, by_path, by_big)]
        result = client.get(f"/jobs/{failed[0]['id']}/result")
    assert [j["status"] for j in failed] == ["failed"] * 3
    assert "'x0' must be numeric" in failed[0]["error"] and "'lots'" in failed[0]["error"]
    assert "missing 1 column(s)" in failed[1]["error"] and "'plan'" in failed[1]["error"]
    assert failed[2]["error"].startswith("The job's rows are not valid: body.rows.12345.x1:")
    assert result.status_code == 409 and "failed" in result.json()["detail"]


def test_small_payloads_are_checked_at_submission(
    served: dict[str, Served], tmp_path: Path
) -> None:
    s = served["mixed"]
    rows = rows_of(s.X.iloc[:5])
    rows[3]["x0"] = "lots"
    with jobs_client(s, Store(root=tmp_path / "s")) as (client, _):
        r = client.post("/jobs", json={"rows": rows})
        assert r.status_code == 422
        assert r.json()["detail"][0]["loc"] == ["body", "rows", 3, "x0"]
        ok = client.post("/jobs", json={"rows": rows_of(s.X.iloc[:5])}).json()
        assert ok["progress"]["rows_total"] == 5


def test_bad_job_requests_are_refused_at_once(served: dict[str, Served], tmp_path: Path) -> None:
    s = served["mixed"]
    store = Store(root=tmp_path / "s")
    with jobs_client(s, store, max_job_body_bytes=2048) as (client, _):
        r = client.post("/jobs", json={"path": str(tmp_path / "nope.csv")})
        assert r.status_code == 422 and r.json()["detail"][0]["type"] == "path_not_found"
        r = client.post("/jobs", json={"path": str(tmp_path), "output": "x.txt", "chunk_rows": 0})
        assert [e["loc"] for e in r.json()["detail"]] == [
            ["body", "output"],
            ["body", "chunk_rows"],
        ]
        r = client.post("/jobs", content=b"{nope")
        assert r.status_code == 422 and r.json()["detail"][0]["type"] == "json_invalid"
        r = client.post("/jobs", json={"something": 1})
        assert r.status_code == 422
        big = s.X.iloc[:200].to_csv(index=False)
        r = client.post("/jobs", content=big, headers={"content-type": "text/csv"})
        assert r.status_code == 413 and "limit is 2,048 bytes" in r.json()["detail"]
        assert client.get("/jobs/0123").status_code == 404
        assert client.get("/jobs/0123/result").status_code == 404
        assert client.get("/jobs").json() == {"jobs": []}
    assert not any((store.root / "jobs").iterdir())


def test_a_job_survives_a_server_restart(served: dict[str, Served], tmp_path: Path) -> None:
    s = served["mixed"]
    store = Store(root=tmp_path / "s")
    X = s.X.iloc[:30]
    # The first server accepts the job but runs none (as if it stopped right away).
    with jobs_client(s, store, job_workers=0) as (client, _):
        job_id = client.post("/jobs", json={"rows": rows_of(X)}).json()["id"]
        assert client.get(f"/jobs/{job_id}").json()["status"] == "queued"
    # A new server on the same store finishes it.
    with jobs_client(s, Store(root=tmp_path / "s")) as (client, _):
        job = wait_for(client, job_id)
    assert job["status"] == "succeeded"
    assert pd.read_parquet(job["result"]["location"])["prediction"].tolist() == (
        s.bundle().predict(X).tolist()
    )


def _runner(store: Store, predictor: Predictor, tmp_path: Path, **kw: Any) -> JobRunner:
    return JobRunner(JobStore(store), tmp_path / "jobs", lambda name, version: predictor, **kw)


def _submit(runner: JobRunner, predictor: Predictor, source: Path, **options: Any) -> str:
    job_id = runner.jobstore.new_id()
    folder = runner.job_dir(job_id)
    folder.mkdir(parents=True)
    runner.jobstore.create(
        job_id=job_id,
        model=predictor.name,
        version=predictor.version,
        input_kind="path",
        input_path=str(source),
        output_path=str(folder / "p.parquet"),
        options=options,
    )
    return job_id


@pytest.mark.slow
def test_running_job_interrupted_by_shutdown_is_finished_after_restart(
    served: dict[str, Served], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import loopml.serve.batch as batch

    s = served["mixed"]
    store = Store(root=tmp_path / "s")
    predictor = Predictor(s.bundle(), fast=False)
    s.X.to_parquet(tmp_path / "in.parquet")
    started = threading.Event()
    real = batch.predict_file

    def slow_predict_file(*args: Any, **kwargs: Any) -> Any:
        progress = kwargs["on_progress"]

        def on_progress(rows: int) -> None:
            started.set()
            time.sleep(0.05)
            progress(rows)

        return real(*args, **{**kwargs, "on_progress": on_progress})

    monkeypatch.setattr(batch, "predict_file", slow_predict_file)
    first = _runner(store, predictor, tmp_path, poll_interval=0.05)
    job_id = _submit(first, predictor, tmp_path / "in.parquet", chunk_rows=10)
    first.start()
    assert started.wait(20)
    first.stop(timeout=20)  # the job goes back to the queue at its next chunk
    job = first.jobstore.get(job_id)
    assert job is not None and job.status == "queued" and job.attempts == 1
    monkeypatch.setattr(batch, "predict_file", real)
    second = _runner(store, predictor, tmp_path, poll_interval=0.05)
    second.start()
    try:
        deadline = time.monotonic() + 30
        while (job := second.jobstore.get(job_id)) is not None and job.status != "succeeded":
            assert time.monotonic() < deadline, job
            time.sleep(0.05)
    finally:
        second.stop()
    assert job.attempts == 2 and job.rows_done == len(s.X)


def test_jobs_of_a_dead_server_are_recovered_or_failed_after_three_tries(
    served: dict[str, Served], tmp_path: Path
) -> None:
    from sqlalchemy import update

    from loopml.serve.jobstore import jobs_table

    s = served["mixed"]
    store = Store(root=tmp_path / "s")
    predictor = Predictor(s.bundle(), fast=False)
    s.X.iloc[:20].to_parquet(tmp_path / "in.parquet")
    runner = _runner(store, predictor, tmp_path)
    ids = [_submit(runner, predictor, tmp_path / "in.parquet") for _ in range(2)]
    # As a crashed server leaves them: running, owned by a process that is gone.
    for job_id, attempts in zip(ids, (1, 3), strict=True):
        with store.engine.begin() as conn:
            conn.execute(
                update(jobs_table)
                .where(jobs_table.c.id == job_id)
                .values(
                    status="running",
                    owner="nohost:999999:dead",
                    attempts=attempts,
                    heartbeat_at=time.time() - 3600,
                )
            )
    assert sorted(runner.recover()) == sorted(ids)
    retried, given_up = (runner.jobstore.get(i) for i in ids)
    assert retried is not None and retried.status == "queued"
    assert given_up is not None and given_up.status == "failed"
    assert "interrupted 3 times" in (given_up.error or "")
    claimed = runner.jobstore.claim(runner.owner)
    assert claimed is not None and claimed.id == ids[0]
    runner.run(claimed)
    done = runner.jobstore.get(ids[0])
    assert done is not None and done.status == "succeeded" and done.attempts == 2


def test_count_rows(tmp_path: Path) -> None:
    df = pd.DataFrame({"a": np.arange(7)})
    df.to_csv(tmp_path / "a.csv", index=False)
    df.to_parquet(tmp_path / "a.parquet")
    (tmp_path / "b.csv").write_text("a\n1\n2")  # no final newline
    assert count_rows(tmp_path / "a.csv") == 7
    assert count_rows(tmp_path / "a.parquet") == 7
    assert count_rows(tmp_path / "b.csv") == 2
    assert count_rows(tmp_path / "missing.csv") is None
