"""`loopml serve`: a real-time HTTP endpoint (FastAPI + uvicorn) for one model."""

from __future__ import annotations

from typing import Annotated, Any

import typer

from loopml.cli._common import StoreOption, command, console, open_store


@command
def serve_command(
    model: Annotated[
        str,
        typer.Argument(
            help="Model: NAME, NAME@VERSION, NAME@stage (e.g. churn@production), or a bundle dir."
        ),
    ],
    host: Annotated[str, typer.Option(help="Address to listen on.")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="Port to listen on.", min=0, max=65535)] = 8000,
    workers: Annotated[
        int, typer.Option(help="Server processes (each loads the model once).", min=1)
    ] = 1,
    follow_stage: Annotated[
        bool,
        typer.Option(
            "--follow-stage",
            help="Hot-reload when a new version reaches the stage MODEL names "
            "(or a new latest version), without dropping requests.",
        ),
    ] = False,
    reload_interval: Annotated[
        float,
        typer.Option(help="Seconds between checks of the store with --follow-stage.", min=0.1),
    ] = 5.0,
    max_body_mb: Annotated[
        float, typer.Option(help="Largest /predict body in MiB (413 above it).", min=0.001)
    ] = 10.0,
    max_job_body_mb: Annotated[
        float, typer.Option(help="Largest /jobs upload in MiB.", min=0.001)
    ] = 1024.0,
    log_predictions: Annotated[
        bool,
        typer.Option(
            "--log/--no-log", help="Record every prediction in the store (asynchronously)."
        ),
    ] = True,
    micro_batch: Annotated[
        str,
        typer.Option(
            help="Batch concurrent requests into one model call: auto (when the model runs "
            "through its pipeline), on, or off."
        ),
    ] = "auto",
    batch_max_rows: Annotated[int, typer.Option(help="Most rows per micro-batch.", min=1)] = 64,
    batch_wait_ms: Annotated[
        float, typer.Option(help="Longest wait for requests joining a micro-batch.", min=0.0)
    ] = 2.0,
    fast_path: Annotated[
        bool,
        typer.Option(
            "--fast-path/--no-fast-path",
            help="Use the compiled numpy path when it reproduces the pipeline exactly.",
        ),
    ] = True,
    jobs: Annotated[
        bool, typer.Option("--jobs/--no-jobs", help="Offer /jobs (asynchronous inference).")
    ] = True,
    job_workers: Annotated[int, typer.Option(help="Jobs run at once per process.", min=0)] = 1,
    job_retention_days: Annotated[
        float,
        typer.Option(
            help="Delete finished jobs (record, upload, predictions) older than this many "
            "days, at start and hourly; 0 keeps them forever.",
            min=0.0,
        ),
    ] = 7.0,
    access_log: Annotated[bool, typer.Option(help="Log every request (slower).")] = False,
    log_level: Annotated[str, typer.Option(help="uvicorn log level.")] = "info",
    store: StoreOption = None,
) -> None:
    """Serve MODEL over HTTP: POST /predict, /jobs, /health, /ready, /metadata, /metrics, /docs.

    API keys: set LOOPML_API_KEYS (comma-separated) to require
    'Authorization: Bearer <key>' on every route but /health, /ready and /docs.
    """
    import os
    import sys

    from loopml.exceptions import DataError, require

    require("fastapi", "serve", "loopml serve")
    require("uvicorn", "serve", "loopml serve")
    import uvicorn

    from loopml.serve.app import create_app
    from loopml.serve.state import ENV_CONFIG, ENV_MODEL, ServeConfig, api_keys_from_env

    modes = {"auto": None, "on": True, "off": False}
    if micro_batch not in modes:
        raise DataError(f"--micro-batch must be auto, on or off; got {micro_batch!r}.")
    config = ServeConfig(
        max_body_bytes=int(max_body_mb * 2**20),
        max_job_body_bytes=int(max_job_body_mb * 2**20),
        follow_stage=follow_stage,
        reload_interval=reload_interval,
        log_predictions=log_predictions,
        micro_batch=modes[micro_batch],
        batch_max_rows=batch_max_rows,
        batch_wait_ms=batch_wait_ms,
        fast_path=fast_path,
        jobs=jobs and job_workers > 0,
        job_workers=job_workers,
        job_retention_days=job_retention_days,
    )
    out = console(stderr=True)
    # Load (and check) the model here, so a bad reference fails before any worker starts.
    app = create_app(model, store=open_store(store), config=config)
    state = app.state.loopml
    predictor = state.predictor
    keys = api_keys_from_env()
    out.print(
        f"Serving [bold]{predictor.ref}[/] at http://{host}:{port} "
        f"(docs: http://{host}:{port}/docs) — fast path {predictor.fast_path_note}; "
        f"prediction log {state.log_note}; "
        f"{'API keys required (' + str(len(keys)) + ')' if keys else 'no API keys (set LOOPML_API_KEYS)'}"
        + (f"; following {model} every {reload_interval:g} s" if follow_stage else "")
    )
    # The prediction log and micro-batching run in threads; a short GIL switch interval
    # keeps the event loop from waiting up to 5 ms whenever one of them is busy.
    sys.setswitchinterval(0.001)
    options = {
        "host": host,
        "port": port,
        "log_level": log_level,
        "access_log": access_log,
        "timeout_graceful_shutdown": 30,
    }
    if workers == 1:
        uvicorn.run(app, **options)  # type: ignore[arg-type]
        return
    # Several processes need an import string: each worker rebuilds the app from the env.
    os.environ[ENV_MODEL] = model
    os.environ[ENV_CONFIG] = config.to_json()
    if store:
        os.environ["LOOPML_STORE_URL"] = store
    del app
    _run_workers(uvicorn, workers, options)


def _run_workers(uvicorn: Any, workers: int, options: dict[str, Any]) -> None:
    """uvicorn's multi-process mode, with Nagle's algorithm off on the shared socket.

    uvicorn binds the socket itself with protocol 0, so asyncio does not set
    TCP_NODELAY on the connections it accepts, and a response written in two parts
    waits for the client's delayed ACK (~40 ms). Set on the listening socket, the
    option is inherited by every accepted connection.

    The workers share their metrics through snapshot files in a temporary directory
    (``$LOOPML_METRICS_DIR``, removed at exit), so ``/metrics`` adds up all of them.
    """
    import os
    import shutil
    import socket
    import tempfile

    from uvicorn.supervisors import Multiprocess

    from loopml.serve.metrics_dir import ENV_METRICS_DIR

    config = uvicorn.Config(
        "loopml.serve.app:app_from_env", factory=True, workers=workers, **options
    )
    sock = config.bind_socket()
    sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    metrics_dir = tempfile.mkdtemp(prefix="loopml-metrics-")
    os.environ[ENV_METRICS_DIR] = metrics_dir  # inherited by the worker processes
    try:
        Multiprocess(config, sockets=[sock]).run()
    finally:
        os.environ.pop(ENV_METRICS_DIR, None)
        shutil.rmtree(metrics_dir, ignore_errors=True)
