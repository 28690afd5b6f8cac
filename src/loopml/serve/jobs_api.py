"""The ``/jobs`` routes: submit asynchronous inference, follow it, fetch the result,
cancel it or delete it."""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import orjson
from fastapi import FastAPI, Query, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import FileResponse, Response

from loopml.serve.http import BodyTooLarge, json_response, read_body, stream_to_file
from loopml.serve.input_errors import json_invalid
from loopml.serve.inputs import InputError, error

if TYPE_CHECKING:
    from loopml.serve.jobstore import JobRecord
    from loopml.serve.state import ServerState

__all__ = ["add_job_routes"]

#: JSON bodies up to this size are read at once (to tell a path job from a payload).
SMALL_BODY = 1 << 20
_JOB_HINT = "Split the input, or raise the limit (loopml serve --max-job-body-mb)."
_MEDIA = {
    "parquet": "application/vnd.apache.parquet",
    "csv": "text/csv",
    "tsv": "text/tab-separated-values",
}
_ERRORS: dict[int | str, dict[str, Any]] = {
    401: {"description": "Missing or invalid API key (when the server requires keys)."},
    404: {"description": "No job with this id."},
}


def _not_found(job_id: str) -> Response:
    return json_response(
        {"detail": f"No job with id '{job_id[:64]}'. GET /jobs lists the recent jobs."}, 404
    )


def _path_job(payload: dict[str, Any]) -> dict[str, Any]:
    """Check a ``{"path": ...}`` job request; the options to store."""
    bad: list[dict[str, Any]] = []
    path = payload.get("path")
    if not isinstance(path, str) or not path:
        bad.append(error(["body", "path"], "string_type", "Input should be a valid string", path))
    elif not Path(path).exists():
        bad.append(
            error(
                ["body", "path"],
                "path_not_found",
                f"No file or directory at '{path}' on the server. Give a path the server "
                "can read, or upload the rows (JSON or CSV body).",
                path,
            )
        )
    output = payload.get("output")
    if output is not None and (
        not isinstance(output, str) or Path(output).suffix.lower() not in (".parquet", ".csv")
    ):
        bad.append(
            error(["body", "output"], "value_error", "Output must end in .parquet or .csv", output)
        )
    keep = payload.get("keep")
    if keep is not None and not (isinstance(keep, list) and all(isinstance(k, str) for k in keep)):
        bad.append(error(["body", "keep"], "list_type", "Input should be a list of strings", keep))
    chunk = payload.get("chunk_rows")
    if chunk is not None and (isinstance(chunk, bool) or not isinstance(chunk, int) or chunk < 1):
        bad.append(
            error(["body", "chunk_rows"], "greater_than_equal", "Input should be >= 1", chunk)
        )
    if bad:
        raise InputError(bad)
    return {"keep": keep, "chunk_rows": chunk, "output": output}


def add_job_routes(app: FastAPI, state: ServerState) -> None:
    """Register ``POST /jobs``, ``GET /jobs``, ``GET|DELETE /jobs/{id}`` and its result."""
    runner = state.runner
    jobstore = state.jobstore
    assert runner is not None and jobstore is not None
    metrics = state.metrics
    models = state.models
    limit = state.config.max_job_body_bytes
    body_doc = {
        "requestBody": {
            "required": True,
            "content": {
                "application/json": {"schema": {"$ref": "#/components/schemas/JobRequest"}},
                "text/csv": {"schema": {"type": "string"}},
            },
        }
    }

    @app.post(
        "/jobs",
        status_code=202,
        response_model=models.job,
        responses={
            **_ERRORS,
            413: {"description": "The upload is larger than the server's limit."},
            422: {"description": "Invalid request."},
        },
        openapi_extra=body_doc,
        tags=["jobs"],
    )
    async def submit_job(request: Request) -> Response:
        """Start an asynchronous prediction; returns the job id at once.

        The body is rows (``{"rows": [...]}`` or ``{"columns": {...}}``, any size up
        to the upload limit), a CSV upload (``Content-Type: text/csv``), or
        ``{"path": "/data/big.parquet"}`` for a file on the server.
        """
        predictor = state.predictor
        job_id = jobstore.new_id()
        folder = runner.job_dir(job_id)
        folder.mkdir(parents=True, exist_ok=True)
        content_type = request.headers.get("content-type", "")
        output = folder / "predictions.parquet"
        options: dict[str, Any] = {}
        rows_total: int | None = None
        try:
            if "csv" in content_type:
                kind, source = "csv", folder / "input.csv"
                await stream_to_file(request, source, limit, _JOB_HINT)
            else:
                kind, source = "json", folder / "input.json"
                length = request.headers.get("content-length", "")
                if length.isdigit() and int(length) <= SMALL_BODY:
                    body = await read_body(request, SMALL_BODY)
                    payload = _decode(body)
                    if isinstance(payload, dict) and "path" in payload:
                        options = _path_job(payload)
                        kind, source = "path", Path(str(payload["path"])).resolve()
                        if options.get("output"):
                            output = Path(options["output"]).resolve()
                    else:
                        # Small enough to check now: bad rows get their 422 at once.
                        columns = await run_in_threadpool(predictor.parser.parse_payload, payload)
                        rows_total = columns.n_rows
                        source.write_bytes(body)
                else:
                    await stream_to_file(request, source, limit, _JOB_HINT)
        except BodyTooLarge as exc:
            shutil.rmtree(folder, ignore_errors=True)
            metrics.errors.inc(("/jobs", "too_large"))
            return json_response({"detail": str(exc)}, 413)
        except InputError as exc:
            shutil.rmtree(folder, ignore_errors=True)
            metrics.errors.inc(("/jobs", exc.kind))
            return json_response({"detail": exc.errors}, exc.status_code)
        except BaseException:
            shutil.rmtree(folder, ignore_errors=True)
            raise
        record = await run_in_threadpool(
            lambda: jobstore.create(
                job_id=job_id,
                model=predictor.name,
                version=predictor.version,
                input_kind=kind,
                input_path=str(source),
                output_path=str(output),
                options={k: v for k, v in options.items() if v is not None and k != "output"},
                rows_total=rows_total,
            )
        )
        runner.wake()
        return json_response(record.to_api(), 202, {"location": f"/jobs/{job_id}"})

    @app.get(
        "/jobs",
        response_model=models.job_list,
        responses={401: _ERRORS[401], 422: {"description": "Invalid limit."}},
        tags=["jobs"],
    )
    async def list_jobs(
        request: Request,
        limit: Annotated[int, Query(ge=1, le=500, description="Most jobs to list.")] = 50,
    ) -> Response:
        """The most recent jobs, newest first."""
        if len(request.query_params.getlist("limit")) > 1:
            return json_response(
                {"detail": [error(["query", "limit"], "int_type", "Give 'limit' once.")]}, 422
            )
        records = await run_in_threadpool(jobstore.recent, limit)
        return json_response({"jobs": [r.to_api() for r in records]})

    @app.get("/jobs/{job_id}", response_model=models.job, responses=_ERRORS, tags=["jobs"])
    async def get_job(job_id: str) -> Response:
        """A job's status, progress, result location, or error."""
        record = await run_in_threadpool(jobstore.get, job_id)
        if record is None:
            return _not_found(job_id)
        return json_response(record.to_api())

    @app.delete(
        "/jobs/{job_id}",
        response_model=models.job,
        responses={
            200: {"description": "The queued job is cancelled: it will never run."},
            202: {
                "model": models.job,
                "description": "The running job is `cancelling`: it stops at its next chunk, "
                "its partial output is removed, and `GET /jobs/{id}` then shows `cancelled`.",
            },
            204: {"description": "The finished job is deleted, with its files."},
            **_ERRORS,
        },
        tags=["jobs"],
    )
    async def delete_job(job_id: str) -> Response:
        """Cancel a job, or delete it once it has finished.

        - **queued**: cancelled at once (200, the job with status `cancelled`); it never
          runs, on this server or after a restart.
        - **running**: asked to stop (202, status `cancelling`); the worker stops at its
          next chunk and removes its partial output, and the job becomes `cancelled`.
          Follow it with `GET /jobs/{id}`. Deleting it again while it stops changes
          nothing.
        - **succeeded, failed or cancelled**: deleted (204): its record, its upload and
          its predictions on the server are removed, and `/jobs/{id}` is 404 from then
          on. An `output` path the request chose is the client's file and is kept.

        So a first `DELETE` stops a job and a second one deletes it. The server also
        deletes finished jobs older than its retention (`loopml serve
        --job-retention-days`, 7 by default).
        """
        outcome, record = await run_in_threadpool(runner.cancel, job_id)
        if record is None:
            return _not_found(job_id)
        if outcome == "deleted":
            return Response(status_code=204)
        code = 200 if record.status == "cancelled" else 202
        return json_response(record.to_api(), code, {"location": f"/jobs/{job_id}"})

    @app.get(
        "/jobs/{job_id}/result",
        responses={
            200: {
                "description": "The predictions file (Parquet unless the job asked for CSV).",
                "content": {
                    m: {"schema": {"type": "string", "format": "binary"}} for m in _MEDIA.values()
                },
            },
            409: {"description": "The job has not succeeded (yet)."},
            **_ERRORS,
        },
        response_class=Response,
        tags=["jobs"],
    )
    async def job_result(job_id: str) -> Response:
        """Download the predictions of a finished job."""
        record: JobRecord | None = await run_in_threadpool(jobstore.get, job_id)
        if record is None:
            return _not_found(job_id)
        if record.status != "succeeded" or record.result is None:
            detail = f"Job {job_id} is {record.status}; its result is not available."
            if record.status == "failed":
                detail += f" Error: {record.error}"
            return json_response({"detail": detail}, 409)
        location = Path(record.result["location"])
        if not location.exists():
            return json_response(
                {"detail": f"The result file {location} no longer exists on the server."}, 404
            )
        fmt = location.suffix.lstrip(".").lower()
        return FileResponse(location, media_type=_MEDIA.get(fmt), filename=f"{job_id}.{fmt}")


def _decode(body: bytes) -> Any:
    try:
        return orjson.loads(body)
    except orjson.JSONDecodeError as exc:
        raise json_invalid(exc) from None
