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
        if job["status"] in ("succeeded", "failed", "cancelled"):
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


# -- cancel and delete ----------------------------------------------------------------


def test_delete_cancels_a_queued_job_then_deletes_it(
    served: dict[str, Served], tmp_path: Path
) -> None:
    s = served["mixed"]
    store = Store(root=tmp_path / "s")
    with jobs_client(s, store, job_workers=0) as (client, _):
        job_id = client.post("/jobs", json={"rows": rows_of(s.X.iloc[:5])}).json()["id"]
        folder = store.root / "jobs" / job_id
        assert (folder / "input.json").is_file()
        r = client.delete(f"/jobs/{job_id}")
        assert r.status_code == 200, r.text
        job = r.json()
        assert job["status"] == "cancelled" and job["finished_at"] is not None
        assert job["started_at"] is None and job["attempts"] == 0
        assert client.get(f"/jobs/{job_id}").json()["status"] == "cancelled"
        result = client.get(f"/jobs/{job_id}/result")
        assert result.status_code == 409 and "is cancelled" in result.json()["detail"]
        # A cancelled job is finished: deleting it again removes it and its files.
        r = client.delete(f"/jobs/{job_id}")
        assert r.status_code == 204 and r.content == b""
        assert not folder.exists()
        missing = client.get(f"/jobs/{job_id}")
        assert missing.status_code == 404
        again = client.delete(f"/jobs/{job_id}")
        assert again.status_code == 404 and again.json() == missing.json()
        assert client.get("/jobs").json() == {"jobs": []}


def test_delete_removes_a_finished_job_and_its_files_but_not_the_clients(
    served: dict[str, Served], tmp_path: Path
) -> None:
    s = served["mixed"]
    store = Store(root=tmp_path / "s")
    s.X.iloc[:20].to_parquet(tmp_path / "in.parquet")
    with jobs_client(s, store) as (client, _):
        by_rows = client.post("/jobs", json={"rows": rows_of(s.X.iloc[:20])}).json()
        by_path = client.post(
            "/jobs",
            json={"path": str(tmp_path / "in.parquet"), "output": str(tmp_path / "out.csv")},
        ).json()
        done = [wait_for(client, j["id"]) for j in (by_rows, by_path)]
        assert [j["status"] for j in done] == ["succeeded", "succeeded"]
        result = Path(done[0]["result"]["location"])
        assert result.is_file() and result.parent == store.root / "jobs" / by_rows["id"]
        for job in done:
            assert client.delete(f"/jobs/{job['id']}").status_code == 204
            assert client.get(f"/jobs/{job['id']}").status_code == 404
            assert client.get(f"/jobs/{job['id']}/result").status_code == 404
    assert not (store.root / "jobs" / by_rows["id"]).exists()
    assert not (store.root / "jobs" / by_path["id"]).exists()
    # The input and the output a client named are its own files.
    assert (tmp_path / "in.parquet").is_file() and (tmp_path / "out.csv").is_file()


def test_delete_of_an_unknown_job_is_404_and_needs_a_key(
    served: dict[str, Served], tmp_path: Path
) -> None:
    s = served["mixed"]
    with jobs_client(s, Store(root=tmp_path / "s"), job_workers=0, api_keys=("k",)) as (c, _):
        assert c.delete("/jobs/0123").status_code == 401
        job_id = c.post("/jobs", json={"rows": rows_of(s.X.iloc[:3])}, headers={"x-api-key": "k"})
        job_id = job_id.json()["id"]
        assert c.delete(f"/jobs/{job_id}").status_code == 401
        r = c.delete("/jobs/0123", headers={"x-api-key": "k"})
        assert r.status_code == 404
        assert r.json() == {"detail": "No job with id '0123'. GET /jobs lists the recent jobs."}
        got = c.get(f"/jobs/{job_id}", headers={"x-api-key": "k"}).json()
        assert got["status"] == "queued"


def test_a_job_cancelled_while_queued_never_runs_after_a_restart(
    served: dict[str, Served], tmp_path: Path
) -> None:
    s = served["mixed"]
    rows = rows_of(s.X.iloc[:10])
    with jobs_client(s, Store(root=tmp_path / "s"), job_workers=0) as (client, _):
        cancelled = client.post("/jobs", json={"rows": rows}).json()["id"]
        kept = client.post("/jobs", json={"rows": rows}).json()["id"]
        assert client.delete(f"/jobs/{cancelled}").json()["status"] == "cancelled"
    with jobs_client(s, Store(root=tmp_path / "s")) as (client, _):
        # Jobs are taken oldest first: once the newer one is done, the older was passed.
        assert wait_for(client, kept)["status"] == "succeeded"
        job = client.get(f"/jobs/{cancelled}").json()
    assert job["status"] == "cancelled" and job["attempts"] == 0 and job["started_at"] is None
    assert not (tmp_path / "s" / "jobs" / cancelled / "predictions.parquet").exists()


class Paused:
    """Jobs stop after their first chunk until ``go_on`` is set; chunks are counted."""

    def __init__(self) -> None:
        self.first_chunk = threading.Event()
        self.go_on = threading.Event()
        self.chunks = 0


@pytest.fixture
def paused(monkeypatch: pytest.MonkeyPatch) -> Paused:
    import loopml.serve.batch as batch

    pause = Paused()
    real = batch.predict_file

    def paused_predict_file(*args: Any, **kwargs: Any) -> Any:
        progress = kwargs["on_progress"]

        def on_progress(rows: int) -> None:
            pause.chunks += 1
            pause.first_chunk.set()
            assert pause.go_on.wait(20)
            progress(rows)

        return real(*args, **{**kwargs, "on_progress": on_progress})

    monkeypatch.setattr(batch, "predict_file", paused_predict_file)
    return pause


def test_delete_stops_a_running_job_at_its_next_chunk(
    served: dict[str, Served], tmp_path: Path, paused: Paused
) -> None:
    s = served["mixed"]
    s.X.to_parquet(tmp_path / "in.parquet")
    output = tmp_path / "out" / "p.parquet"
    request = {"path": str(tmp_path / "in.parquet"), "chunk_rows": 10, "output": str(output)}
    with jobs_client(s, Store(root=tmp_path / "s")) as (client, _):
        job_id = client.post("/jobs", json=request).json()["id"]
        try:
            assert paused.first_chunk.wait(20)
            # Its first chunk is written to a temporary file beside the output.
            assert [p.name.startswith(".p.parquet.") for p in output.parent.iterdir()] == [True]
            r = client.delete(f"/jobs/{job_id}")
            assert r.status_code == 202, r.text
            assert r.json()["status"] == "cancelling"
            assert r.headers["location"] == f"/jobs/{job_id}"
            # Asking again while it stops changes nothing.
            assert client.delete(f"/jobs/{job_id}").json()["status"] == "cancelling"
        finally:
            paused.go_on.set()
        job = wait_for(client, job_id)
        assert job["status"] == "cancelled" and job["result"] is None and job["error"] is None
        assert paused.chunks == 1  # of 40: it stopped right after the chunk it was in
        assert job["progress"]["rows_done"] < len(s.X)
        assert client.get(f"/jobs/{job_id}/result").status_code == 409
        assert client.delete(f"/jobs/{job_id}").status_code == 204
    assert list(output.parent.iterdir()) == []  # no output, not even a partial one


def test_a_job_cancelled_after_its_last_chunk_leaves_no_output(
    served: dict[str, Served], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import loopml.serve.batch as batch

    s = served["mixed"]
    predictor = Predictor(s.bundle(), fast=False)
    s.X.iloc[:20].to_parquet(tmp_path / "in.parquet")
    runner = _runner(Store(root=tmp_path / "s"), predictor, tmp_path)
    job_id = _submit(runner, predictor, tmp_path / "in.parquet")
    real = batch.predict_file

    def then_cancelled(*args: Any, **kwargs: Any) -> Any:
        summary = real(*args, **kwargs)
        assert runner.cancel(job_id)[0] == "cancelling"  # DELETE lands just now
        return summary

    monkeypatch.setattr(batch, "predict_file", then_cancelled)
    claimed = runner.jobstore.claim(runner.owner)
    assert claimed is not None
    runner.run(claimed)
    job = runner.jobstore.get(job_id)
    assert job is not None and job.status == "cancelled" and job.result is None
    assert list(runner.job_dir(job_id).iterdir()) == []
    assert (runner.completed, runner.cancelled) == (0, 1)


def test_a_job_cancelled_as_the_server_stops_stays_cancelled(
    served: dict[str, Served], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import loopml.serve.batch as batch

    s = served["mixed"]
    predictor = Predictor(s.bundle(), fast=False)
    s.X.iloc[:40].to_parquet(tmp_path / "in.parquet")
    runner = _runner(Store(root=tmp_path / "s"), predictor, tmp_path)
    job_id = _submit(runner, predictor, tmp_path / "in.parquet", chunk_rows=10)
    real = batch.predict_file

    def cancel_and_stop(*args: Any, **kwargs: Any) -> Any:
        progress = kwargs["on_progress"]

        def on_progress(rows: int) -> None:
            runner.cancel(job_id)
            runner.stop()  # no threads to wait for: the test runs the job itself
            progress(rows)

        return real(*args, **{**kwargs, "on_progress": on_progress})

    monkeypatch.setattr(batch, "predict_file", cancel_and_stop)
    claimed = runner.jobstore.claim(runner.owner)
    assert claimed is not None
    runner.run(claimed)
    job = runner.jobstore.get(job_id)
    assert job is not None and job.status == "cancelled"  # not requeued
    assert list(runner.job_dir(job_id).iterdir()) == []


def test_a_job_left_cancelling_by_a_dead_server_is_cancelled(
    served: dict[str, Served], tmp_path: Path
) -> None:
    s = served["mixed"]
    store = Store(root=tmp_path / "s")
    predictor = Predictor(s.bundle(), fast=False)
    s.X.iloc[:20].to_parquet(tmp_path / "in.parquet")
    runner = _runner(store, predictor, tmp_path)
    job_id = _submit(runner, predictor, tmp_path / "in.parquet")
    partial = runner.job_dir(job_id) / ".p.parquet.x1y2.tmp"
    partial.write_bytes(b"PAR1")
    _set(store, job_id, status="cancelling", owner="nohost:999999:dead", heartbeat_at=0.0)
    assert runner.recover() == [job_id]
    job = runner.jobstore.get(job_id)
    assert job is not None and job.status == "cancelled" and job.finished_at is not None
    assert not partial.exists()
    assert runner.jobstore.claim(runner.owner) is None


# -- retention ------------------------------------------------------------------------


def _set(store: Store, job_id: str, **values: Any) -> None:
    from sqlalchemy import update

    from loopml.serve.jobstore import jobs_table

    with store.engine.begin() as conn:
        conn.execute(update(jobs_table).where(jobs_table.c.id == job_id).values(**values))


def _aged(runner: JobRunner, predictor: Predictor, status: str, days: float) -> str:
    """A job in *status* created (and, if finished, finished) *days* ago, with a file."""
    job_id = _submit(runner, predictor, runner.jobs_dir / "nowhere.parquet")
    (runner.job_dir(job_id) / "p.parquet").write_bytes(b"PAR1")
    then = time.time() - days * 86_400
    finished = then if status in ("succeeded", "failed", "cancelled") else None
    running = status in ("running", "cancelling")
    _set(
        runner.jobstore.store,
        job_id,
        status=status,
        created_at=then,
        finished_at=finished,
        owner=runner.owner if running else None,
        heartbeat_at=time.time() if running else None,
    )
    return job_id


def test_retention_deletes_only_old_finished_jobs(
    served: dict[str, Served], tmp_path: Path
) -> None:
    import os

    s = served["mixed"]
    predictor = Predictor(s.bundle(), fast=False)
    runner = _runner(Store(root=tmp_path / "s"), predictor, tmp_path, retention_days=7)
    old = [_aged(runner, predictor, status, 8) for status in ("succeeded", "failed", "cancelled")]
    kept = [_aged(runner, predictor, "succeeded", 6)]
    kept += [_aged(runner, predictor, st, 30) for st in ("queued", "running", "cancelling")]
    # Folders without a record: an old leftover, and a submission being uploaded now.
    leftover, uploading = runner.job_dir("a" * 32), runner.job_dir("b" * 32)
    leftover.mkdir()
    uploading.mkdir()
    os.utime(leftover, (time.time() - 8 * 86_400,) * 2)

    assert sorted(runner.sweep()) == sorted(old)
    for job_id in old:
        assert runner.jobstore.get(job_id) is None and not runner.job_dir(job_id).exists()
    for job_id in kept:
        assert runner.jobstore.get(job_id) is not None
        assert (runner.job_dir(job_id) / "p.parquet").is_file()
    assert not leftover.exists() and uploading.exists()
    assert runner.sweep() == []
    runner.retention_days = 0  # keep forever
    _aged(runner, predictor, "succeeded", 3650)
    assert runner.sweep() == []


def test_retention_runs_at_start_and_then_periodically(
    served: dict[str, Served], tmp_path: Path
) -> None:
    s = served["mixed"]
    store = Store(root=tmp_path / "s")
    predictor = Predictor(s.bundle(), fast=False)
    setup = _runner(store, predictor, tmp_path)
    at_start = _aged(setup, predictor, "succeeded", 2)
    runner = _runner(
        store, predictor, tmp_path, retention_days=1, sweep_interval=0.05, poll_interval=0.05
    )
    runner.start()
    try:
        assert runner.jobstore.get(at_start) is None  # swept before start() returned
        later = _aged(setup, predictor, "failed", 2)
        deadline = time.monotonic() + 10
        while runner.jobstore.get(later) is not None:
            assert time.monotonic() < deadline, "the periodic sweep did not run"
            time.sleep(0.02)
    finally:
        runner.stop()
    assert not runner.job_dir(later).exists()


@pytest.mark.parametrize(("days", "kept"), [(7, False), (0, True)])
def test_the_server_applies_its_job_retention(
    served: dict[str, Served], tmp_path: Path, days: float, kept: bool
) -> None:
    s = served["mixed"]
    store = Store(root=tmp_path / "s")
    predictor = Predictor(s.bundle(), fast=False)
    job_id = _aged(_runner(store, predictor, store.root), predictor, "succeeded", 8)
    with jobs_client(s, store, job_retention_days=days) as (client, state):
        assert state.runner.retention_days == days
        status = client.get(f"/jobs/{job_id}").status_code
    assert status == (200 if kept else 404)


def test_serve_command_passes_the_job_retention(
    served: dict[str, Served], monkeypatch: pytest.MonkeyPatch
) -> None:
    import uvicorn
    from typer.testing import CliRunner

    from loopml.serve.state import ServeConfig
    from tests.serve.test_app import _serve_cli

    s = served["cancer"]
    calls: list[Any] = []
    monkeypatch.setattr(uvicorn, "run", lambda app, **kw: calls.append(app))
    url = f"sqlite:///{s.store_root / 'store.db'}"
    args = [s.ref, "--no-log", "--job-retention-days", "2.5", "--store", url]
    result = CliRunner().invoke(_serve_cli(), args)
    assert result.exit_code == 0, result.output
    state = calls[0].state.loopml
    assert state.config.job_retention_days == 2.5 and state.runner.retention_days == 2.5
    assert ServeConfig.from_json(state.config.to_json()) == state.config
    result = CliRunner().invoke(_serve_cli(), [*args[:2], "--job-retention-days", "-1"])
    assert result.exit_code == 2
