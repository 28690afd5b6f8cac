"""The real-time endpoint: a FastAPI app that serves one model.

Routes
------
``POST /predict``      rows (JSON rows, JSON columns, or CSV) → predictions, probabilities, threshold
                       (anomaly models: scores and their threshold)
``POST /jobs``         asynchronous inference on a large payload, an uploaded CSV, or a file path
``GET  /jobs/{id}``    a job's status, progress and result location (``/jobs/{id}/result``: the file)
``DELETE /jobs/{id}``  cancel a queued or running job; delete a finished one and its files
``GET  /health``       the process is up;  ``GET /ready``: it is serving a model
``GET  /metadata``     model name, version, schema, metrics, how it is served
``GET  /metrics``      Prometheus text format
``GET  /docs``         OpenAPI documentation with the model's real fields

The hot path reads the raw body, validates it column by column
(:mod:`loopml.serve.inputs`), predicts with the compiled numpy path when it
reproduces the pipeline (:mod:`loopml.serve.fastpath`) or micro-batches concurrent
requests into one pipeline call (:mod:`loopml.serve.batching`), answers with orjson,
and queues the request for the prediction log (:mod:`loopml.serve.logging`).

Examples
--------
>>> from loopml.serve.app import create_app
>>> app = create_app("churn@production")  # doctest: +SKIP
>>> # uvicorn.run(app, port=8000), or: loopml serve churn@production --port 8000
"""

from __future__ import annotations

import asyncio
import os
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import orjson
from fastapi import FastAPI, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import Response

from loopml.bundle import ModelBundle
from loopml.exceptions import DataError, LoopmlError, ModelNotFoundError
from loopml.serve.fastpath import Output, Predictor
from loopml.serve.http import JSON as _JSON
from loopml.serve.http import BodyTooLarge, json_response, read_body
from loopml.serve.inputs import Columns, InputError, error
from loopml.serve.metrics import CONTENT_TYPE, Gauge
from loopml.serve.metrics_dir import MetricsDir
from loopml.serve.requests import build_models
from loopml.serve.state import (
    ENV_CONFIG,
    ENV_MODEL,
    Gate,
    Reloader,
    ServeConfig,
    ServerState,
    api_keys_from_env,
    follows_stage,
)

if TYPE_CHECKING:
    from loopml.store import Store

__all__ = ["ServeConfig", "app_from_env", "create_app"]

_NUMPY = orjson.OPT_SERIALIZE_NUMPY
_json = json_response


def _load(
    model: str | Path | ModelBundle, store: Store | None
) -> tuple[ModelBundle, str | None, Store | None]:
    """The bundle, the store reference it came from (None for a path), and the store."""
    from loopml.bundle import load_model

    if isinstance(model, ModelBundle):
        return model, None, store
    path = Path(model)
    if isinstance(model, Path) or (path.is_dir() and (path / "bundle.json").exists()):
        return ModelBundle.load(path), None, store
    from loopml.store import Store as _Store

    store = store or _Store()
    return load_model(str(model), store=store), str(model), store


def create_app(
    model: str | Path | ModelBundle,
    *,
    store: Store | None = None,
    config: ServeConfig | None = None,
) -> FastAPI:
    """Build the FastAPI app serving *model*.

    Parameters
    ----------
    model : str, Path or ModelBundle
        A store reference (``"churn"``, ``"churn@3"``, ``"churn@production"``), a
        bundle directory, or a loaded bundle. Loaded (and compiled) once, here.
    store : Store, optional
        The store for references, prediction logs, jobs and hot reload (default:
        ``$LOOPML_STORE_URL``, else ``./.loopml``).
    config : ServeConfig, optional
        Limits, batching, logging, jobs, hot reload and API keys.

    Raises
    ------
    ModelNotFoundError
        If the reference names no model version.
    DataError
        If ``follow_stage`` is set for a reference that cannot move.
    """
    config = config or ServeConfig()
    bundle, ref, store = _load(model, store)
    if config.follow_stage and (ref is None or not follows_stage(ref)):
        raise DataError(
            f"--follow-stage follows a stage or the latest version, e.g. "
            f"'{bundle.name}@production'; {ref or 'a bundle directory'!s} names one fixed "
            "version. Drop --follow-stage, or name a stage."
        )
    predictor = Predictor(bundle, fast=config.fast_path)
    keys = config.api_keys if config.api_keys is not None else api_keys_from_env()
    state = ServerState(
        predictor,
        build_models(bundle.schema, bundle.name),
        config,
        store=store,
        follow_ref=ref if config.follow_stage else None,
        api_keys=keys,
    )
    _setup_helpers(state)

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        state.loop = asyncio.get_running_loop()
        if state.logger is not None:
            state.logger.start()
        if state.runner is not None:
            await run_in_threadpool(state.runner.start)
        if state.reloader is not None:
            state.reloader.start()
        state.ready = True
        try:
            yield
        finally:
            state.ready = False
            if state.reloader is not None:
                await run_in_threadpool(state.reloader.stop)
            if state.batcher is not None:
                await state.batcher.close()
            if state.runner is not None:
                await run_in_threadpool(state.runner.stop)
            if state.logger is not None:
                await run_in_threadpool(state.logger.close)

    app = FastAPI(
        title=f"loopml: {predictor.ref}",
        version=str(predictor.version or 0),
        description=_description(state),
        lifespan=lifespan,
        # /metrics covers requests; FastAPI's OpenTelemetry hooks cost ~10 % per request.
        telemetry={"tracing": False, "metrics": False, "logs": False},
    )
    app.state.loopml = state
    _add_routes(app, state)
    _add_error_handlers(app, state)
    app.add_middleware(Gate, state=state)
    _custom_openapi(app, state)
    return app


def _setup_helpers(state: ServerState) -> None:
    config = state.config
    predictor = state.predictor
    metrics = state.metrics
    if config.micro_batch is not False:
        from loopml.serve.batching import MicroBatcher

        state.batcher = MicroBatcher(
            config.batch_max_rows, config.batch_wait_ms, on_batch=metrics.on_batch
        )
    if config.log_predictions:
        if state.store is None or predictor.version is None:
            state.log_note = "off: the model is not a registered version in the store"
        else:
            from loopml.serve.logging import PredictionLogger

            state.logger = PredictionLogger(state.store, max_queue=config.log_queue)
            where = "a writer process" if state.logger.process else "a thread"
            state.log_note = f"on (asynchronous, batched, written by {where})"
    if config.jobs:
        from loopml.serve.jobs import JobRunner
        from loopml.serve.jobstore import JobStore
        from loopml.store import Store

        if state.store is None:
            state.store = Store()
        state.jobstore = JobStore(state.store)
        state.runner = JobRunner(
            state.jobstore,
            state.store.root / "jobs",
            state.job_predictor,
            workers=config.job_workers,
            retention_days=config.job_retention_days,
        )
    if state.follow_ref is not None:
        state.reloader = Reloader(state, state.follow_ref, config.reload_interval)

    def model_info() -> list[tuple[tuple[str, ...], float]]:
        p = state.predictor
        return [((p.name, str(p.version), "compiled" if p.fast else "pipeline"), 1.0)]

    metrics.add(
        Gauge(
            "loopml_model_info",
            "The model version being served (value 1) and how.",
            ("model", "version", "path"),
            model_info,
        )
    )
    logger = state.logger
    if logger is not None:
        metrics.add(
            Gauge(
                "loopml_prediction_log_entries",
                "Prediction log entries: written, dropped (queue full), failed, queued.",
                ("state",),
                lambda: [
                    (("written",), logger.written),
                    (("dropped",), logger.dropped),
                    (("failed",), logger.failed),
                    (("queued",), logger.depth),
                ],
            )
        )
    runner = state.runner
    if runner is not None:
        metrics.add(
            Gauge(
                "loopml_jobs_finished",
                "Jobs finished, by result.",
                ("result",),
                lambda: [
                    (("succeeded",), runner.completed),
                    (("failed",), runner.failed),
                    (("cancelled",), runner.cancelled),
                ],
            )
        )

    def on_swap(new: Predictor) -> None:
        from loopml.serve.requests import build_models

        state.models = build_models(new.bundle.schema, new.bundle.name)

    state.on_swap.append(on_swap)


def _description(state: ServerState) -> str:
    p = state.predictor
    auth = (
        "Requests need an API key: `Authorization: Bearer <key>` or `X-API-Key: <key>`."
        if state.auth
        else "No authentication (set LOOPML_API_KEYS to require keys)."
    )
    return (
        f"Serves **{p.ref}** ({p.bundle.task}) trained on target "
        f"`{p.bundle.schema.target}`. Send rows to `POST /predict` as JSON "
        '(`{"rows": [{...}]}` or `{"columns": {...}}`) or CSV (`Content-Type: text/csv`). '
        f"Large inputs: `POST /jobs`. {auth}"
    )


# -- routes ---------------------------------------------------------------------------

_ERRORS: dict[int | str, dict[str, Any]] = {
    401: {"description": "Missing or invalid API key (when the server requires keys)."},
    413: {"description": "The body is larger than the server's limit."},
    422: {"description": "Invalid input: FastAPI's `detail` list names each bad field and row."},
}


def _predict_payload(
    predictor: Predictor, columns: Columns, out: Output, request_id: str
) -> dict[str, Any]:
    preds = out.predictions
    probabilities = None
    if out.proba is not None:
        by_class = np.ascontiguousarray(out.proba.T)
        probabilities = dict(zip(predictor.classes, by_class, strict=False))
    payload = {
        "model": predictor.name,
        "version": predictor.version,
        "n_rows": columns.n_rows,
        "predictions": preds if preds.dtype.kind == "f" else preds.tolist(),
        "probabilities": probabilities,
        "threshold": predictor.threshold,
        "unseen_categories": columns.unseen_categories,
        "extra_columns": columns.extra_columns,
        "request_id": request_id,
    }
    if out.scores is not None:
        payload["scores"] = out.scores
        payload["score_threshold"] = predictor.score_threshold
    return payload


def _add_routes(app: FastAPI, state: ServerState) -> None:
    models = state.models
    metrics = state.metrics
    config = state.config
    body_doc = {
        "requestBody": {
            "required": True,
            "content": {
                _JSON: {"schema": {"$ref": "#/components/schemas/PredictRequest"}},
                "text/csv": {"schema": {"type": "string"}},
            },
        }
    }

    @app.post(
        "/predict",
        response_model=models.predict_response,
        responses=_ERRORS,
        openapi_extra=body_doc,
        summary="Predict rows",
        tags=["predict"],
    )
    async def predict(request: Request) -> Response:
        """Predict rows sent as JSON rows, JSON columns, or CSV.

        Returns one prediction per row, the class probabilities, and the decision
        threshold used. Unknown categories are accepted and counted.
        """
        started = time.perf_counter()
        predictor = state.predictor
        batched = state.use_batching(predictor)
        try:
            if batched:
                assert state.batcher is not None
                with state.batcher.expect():
                    columns = await _parse(request, predictor, config.max_body_bytes)
            else:
                columns = await _parse(request, predictor, config.max_body_bytes)
        except BodyTooLarge as exc:
            metrics.errors.inc(("/predict", "too_large"))
            return _json({"detail": str(exc)}, 413)
        except InputError as exc:
            metrics.errors.inc(("/predict", exc.kind))
            return _json({"detail": exc.errors}, exc.status_code)
        if batched:
            assert state.batcher is not None
            out = await state.batcher.submit(predictor, columns)
        elif predictor.fast:
            out = predictor.predict(columns)
        else:
            out = await run_in_threadpool(predictor.predict, columns)
        request_id = request.headers.get("x-request-id", "")[:64] or os.urandom(8).hex()
        body = orjson.dumps(_predict_payload(predictor, columns, out, request_id), option=_NUMPY)
        latency_ms = (time.perf_counter() - started) * 1000.0
        logger = state.logger
        if logger is not None and predictor.version is not None:
            logger.log(
                predictor.name,
                predictor.version,
                columns,
                out,
                predictor.classes,
                latency_ms=latency_ms,
                request_id=request_id,
            )
        metrics.rows.inc((predictor.ref,), columns.n_rows)
        for column, n in columns.unseen_categories.items():
            metrics.unseen.inc((column,), n)
        return Response(body, media_type=_JSON, headers={"x-request-id": request_id})

    state.predict_handler = predict

    @app.get("/health", response_model=models.status, tags=["operations"])
    async def health() -> Response:
        """The process is up (liveness)."""
        return _json({"status": "ok"})

    @app.get(
        "/ready",
        response_model=models.status,
        responses={503: {"description": "Starting or stopping."}},
        tags=["operations"],
    )
    async def ready() -> Response:
        """The model is loaded and the server takes requests (readiness)."""
        p = state.predictor
        if not state.ready:
            return _json({"status": "not ready", "model": p.name, "version": p.version}, 503)
        return _json({"status": "ready", "model": p.name, "version": p.version})

    @app.get("/metadata", response_model=models.metadata, responses=_ERRORS, tags=["operations"])
    async def metadata() -> Response:
        """Model name, version, schema, metrics, and how it is served."""
        return _json(_metadata(state))

    # `loopml serve --workers N` sets $LOOPML_METRICS_DIR: each worker snapshots its
    # metrics there every second, and /metrics adds up all the workers.
    shared = MetricsDir.from_env(metrics)
    if shared is not None:
        app.router.lifespan_context = shared.lifespan(app.router.lifespan_context)

    @app.get(
        "/metrics",
        responses={
            200: {"content": {CONTENT_TYPE.split(";")[0]: {"schema": {"type": "string"}}}},
            401: _ERRORS[401],
        },
        response_class=Response,
        tags=["operations"],
    )
    async def prometheus() -> Response:
        """Request counts, latency histogram, errors, rows predicted (Prometheus text)."""
        if shared is not None:
            return Response(await run_in_threadpool(shared.render), media_type=CONTENT_TYPE)
        return Response(state.metrics.render(), media_type=CONTENT_TYPE)

    if state.runner is not None:
        from loopml.serve.jobs_api import add_job_routes

        add_job_routes(app, state)


async def _parse(request: Request, predictor: Predictor, limit: int) -> Columns:
    body = await read_body(request, limit)
    content_type = request.headers.get("content-type", "")
    if "csv" in content_type:
        return predictor.parser.parse_csv(body)
    if not body.strip():
        raise InputError([error(["body"], "missing", "Field required: the body is empty.")])
    return predictor.parser.parse_json(body)


def _metadata(state: ServerState) -> dict[str, Any]:
    p = state.predictor
    bundle = p.bundle
    info = bundle.info
    config = state.config
    return {
        "name": p.name,
        "version": p.version,
        "stage": info.get("stage"),
        "task": str(bundle.task),
        "target": bundle.schema.target,
        "classes": bundle.classes,
        "threshold": p.threshold,
        "score_threshold": p.score_threshold,
        "schema": bundle.schema.to_dict(),
        "metrics": bundle.metrics,
        "model": {
            k: info.get(k)
            for k in ("model", "params", "metric", "run_id", "trained_at", "source", "sha256")
        },
        "serving": {
            "fast_path": p.fast,
            "fast_path_note": p.fast_path_note,
            "micro_batching": {
                "on": state.use_batching(p),
                "max_rows": config.batch_max_rows,
                "max_wait_ms": config.batch_wait_ms,
            },
            "prediction_log": state.log_note,
            "follow": state.follow_ref,
            "reload_interval_s": config.reload_interval if state.follow_ref else None,
            "loaded_at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(state.loaded_at)),
            "max_body_bytes": config.max_body_bytes,
            "auth": state.auth,
            "jobs": state.runner is not None,
            "pid": os.getpid(),
        },
    }


def _add_error_handlers(app: FastAPI, state: ServerState) -> None:
    async def loopml_error(request: Request, exc: Exception) -> Response:
        status = 404 if isinstance(exc, ModelNotFoundError) else 422
        kind = "not_found" if status == 404 else "value_error"
        state.metrics.errors.inc((request.url.path, kind))
        if status == 404:
            return _json({"detail": str(exc)}, 404)
        return _json({"detail": [error(["body"], kind, str(exc))]}, 422)

    async def internal_error(request: Request, exc: Exception) -> Response:
        import logging

        logging.getLogger("loopml.serve").exception("error while serving %s", request.url.path)
        return _json(
            {"detail": f"Internal error ({type(exc).__name__}); the server logged the details."},
            500,
        )

    async def any_error(request: Request, exc: Exception) -> Response:
        if isinstance(exc, LoopmlError):
            return await loopml_error(request, exc)
        return await internal_error(request, exc)

    app.add_exception_handler(LoopmlError, loopml_error)
    app.add_exception_handler(Exception, internal_error)
    state.error_response = any_error


def _custom_openapi(app: FastAPI, state: ServerState) -> None:
    from fastapi.openapi.utils import get_openapi

    def openapi() -> dict[str, Any]:
        # Rebuilt on each call (it is cheap) so a hot-reloaded version's schema shows.
        spec = get_openapi(
            title=app.title,
            version=str(state.predictor.version or 0),
            description=_description(state),
            routes=app.routes,
        )
        components = spec.setdefault("components", {}).setdefault("schemas", {})
        components.update(state.models.openapi_schemas())
        if state.auth:
            spec["components"]["securitySchemes"] = {
                "bearer": {"type": "http", "scheme": "bearer"},
                "apiKey": {"type": "apiKey", "in": "header", "name": "X-API-Key"},
            }
            for path, ops in spec.get("paths", {}).items():
                if path in ("/health", "/ready"):
                    continue
                for op in ops.values():
                    op["security"] = [{"bearer": []}, {"apiKey": []}]
        return spec

    app.openapi = openapi  # type: ignore[method-assign]


def app_from_env() -> FastAPI:
    """App factory for ``uvicorn --factory`` (``loopml serve --workers N``).

    Reads the model reference from ``$LOOPML_SERVE_MODEL``, the settings from
    ``$LOOPML_SERVE_CONFIG`` (JSON of :class:`ServeConfig`), the store from
    ``$LOOPML_STORE_URL`` and the API keys from ``$LOOPML_API_KEYS``.
    """
    model = os.environ.get(ENV_MODEL)
    if not model:
        raise LoopmlError(f"${ENV_MODEL} is not set: start the server with `loopml serve MODEL`.")
    config = ServeConfig.from_json(os.environ.get(ENV_CONFIG, ""))
    return create_app(model, config=config)
