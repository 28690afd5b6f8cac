"""What a running endpoint holds: the model, its helpers, the API keys, and hot reload.

Kept apart from the routes (:mod:`loopml.serve.app`): :class:`ServeConfig` (every
knob of ``loopml serve``), :class:`ServerState`, the ASGI gate that checks API keys
and records request metrics for every route, and :class:`Reloader`, which follows a
stage (``churn@production``) and swaps in a newly promoted version without dropping
a request.
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import json
import logging
import os
import re
import threading
import time
from collections.abc import Awaitable, Callable, MutableMapping
from dataclasses import asdict, dataclass, fields
from pathlib import Path
from typing import TYPE_CHECKING, Any

import orjson

from loopml.serve.fastpath import Predictor
from loopml.serve.metrics import Metrics

if TYPE_CHECKING:
    from loopml.serve.batching import MicroBatcher
    from loopml.serve.jobs import JobRunner
    from loopml.serve.jobstore import JobStore
    from loopml.serve.logging import PredictionLogger
    from loopml.serve.requests import ServeModels
    from loopml.store import Store

__all__ = [
    "ENV_CONFIG",
    "ENV_KEYS",
    "ENV_MODEL",
    "Reloader",
    "ServeConfig",
    "ServerState",
    "api_keys_from_env",
    "follows_stage",
]

log = logging.getLogger("loopml.serve")

ENV_KEYS = "LOOPML_API_KEYS"
ENV_MODEL = "LOOPML_SERVE_MODEL"
ENV_CONFIG = "LOOPML_SERVE_CONFIG"

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]


@dataclass(frozen=True)
class ServeConfig:
    """How the endpoint serves; ``loopml serve`` options map one to one.

    Parameters
    ----------
    max_body_bytes : int
        Largest ``/predict`` body (413 above it). Default 10 MiB.
    max_job_body_bytes : int
        Largest ``/jobs`` upload. Default 1 GiB.
    follow_stage : bool
        Reload when the stage (or latest version) the model reference names moves.
    reload_interval : float
        Seconds between looks at the store when following a stage.
    log_predictions : bool
        Record every request in the store's prediction log (asynchronously).
    log_queue : int
        Requests waiting to be logged at most; beyond that they are dropped and counted.
    micro_batch : bool or None
        Batch concurrent requests into one model call; None (auto): only when the
        model runs through its pipeline (the compiled path gains nothing from it).
    batch_max_rows, batch_wait_ms : int, float
        Largest batch, and longest wait for requests already being read.
    fast_path : bool
        Use the compiled numpy path when it reproduces the pipeline.
    jobs : bool
        Offer ``/jobs`` (asynchronous inference).
    job_workers : int
        Jobs run at once by each server process.
    job_retention_days : float
        Finished jobs older than this are deleted (record and files), at start and
        hourly; 0 keeps them forever.
    api_keys : tuple of str, optional
        Accepted API keys; None reads ``$LOOPML_API_KEYS`` (comma-separated). Empty:
        no authentication.
    """

    max_body_bytes: int = 10 * 2**20
    max_job_body_bytes: int = 2**30
    follow_stage: bool = False
    reload_interval: float = 5.0
    log_predictions: bool = True
    log_queue: int = 10_000
    micro_batch: bool | None = None
    batch_max_rows: int = 64
    batch_wait_ms: float = 2.0
    fast_path: bool = True
    jobs: bool = True
    job_workers: int = 1
    job_retention_days: float = 7.0
    api_keys: tuple[str, ...] | None = None

    def to_json(self) -> str:
        """JSON of every setting except the API keys (which travel in the environment)."""
        data = asdict(self)
        data.pop("api_keys")
        return json.dumps(data)

    @classmethod
    def from_json(cls, text: str) -> ServeConfig:
        data = json.loads(text or "{}")
        known = {f.name for f in fields(cls)} - {"api_keys"}
        return cls(**{k: v for k, v in data.items() if k in known})


def api_keys_from_env() -> tuple[str, ...]:
    raw = os.environ.get(ENV_KEYS, "")
    return tuple(k.strip() for k in raw.split(",") if k.strip())


_FIXED_VERSION = re.compile(r"@v?\d+$")


def follows_stage(ref: str) -> bool:
    """Whether *ref* can move: ``name``, ``name@latest`` or ``name@<stage>``, not ``name@3``."""
    return not _FIXED_VERSION.search(ref)


class ServerState:
    """Everything the routes share. ``predictor`` is replaced whole on hot reload."""

    def __init__(
        self,
        predictor: Predictor,
        models: ServeModels,
        config: ServeConfig,
        *,
        store: Store | None,
        follow_ref: str | None,
        api_keys: tuple[str, ...],
    ) -> None:
        self.predictor = predictor
        self.models = models
        self.config = config
        self.store = store
        self.follow_ref = follow_ref
        self.metrics = Metrics()
        self.ready = False
        self.started_at = time.time()
        self.loaded_at = time.time()
        self.logger: PredictionLogger | None = None
        self.log_note = "off (--no-log)"
        self.batcher: MicroBatcher | None = None
        self.jobstore: JobStore | None = None
        self.runner: JobRunner | None = None
        self.reloader: Reloader | None = None
        self.loop: asyncio.AbstractEventLoop | None = None
        self.on_swap: list[Callable[[Predictor], None]] = []
        #: ``POST /predict`` called straight from the gate, skipping routing and
        #: dependency solving (the FastAPI route stays for the OpenAPI spec).
        self.predict_handler: Callable[[Any], Awaitable[Any]] | None = None
        self.error_response: Callable[[Any, Exception], Awaitable[Any]] | None = None
        self._keys = [hashlib.sha256(k.encode()).digest() for k in api_keys]
        self._job_predictors: dict[tuple[str, int | None], Predictor] = {}

    # -- model ----------------------------------------------------------------------

    def use_batching(self, predictor: Predictor) -> bool:
        if self.batcher is None:
            return False
        mode = self.config.micro_batch
        return (not predictor.fast) if mode is None else mode

    def swap(self, predictor: Predictor) -> None:
        """Serve *predictor* from now on; requests already running finish on the old one."""
        self.predictor = predictor
        self.loaded_at = time.time()
        for callback in self.on_swap:
            callback(predictor)

    def job_predictor(self, name: str, version: int | None) -> Predictor:
        """The predictor of a job's model version (the served one, or loaded once)."""
        current = self.predictor
        if version is None or (current.name == name and current.version == version):
            return current
        key = (name, version)
        found = self._job_predictors.get(key)
        if found is None:
            from loopml.bundle import load_model

            found = Predictor(load_model(f"{name}@{version}", store=self.store), fast=False)
            if len(self._job_predictors) >= 2:
                self._job_predictors.pop(next(iter(self._job_predictors)))
            self._job_predictors[key] = found
        return found

    # -- auth -----------------------------------------------------------------------

    @property
    def auth(self) -> bool:
        return bool(self._keys)

    def authorized(self, headers: list[tuple[bytes, bytes]]) -> bool:
        """Whether the request carries one of the keys (compared in constant time)."""
        token: bytes | None = None
        for name, value in headers:
            if name == b"authorization":
                scheme, _, credentials = value.partition(b" ")
                if scheme.lower() == b"bearer":
                    token = credentials.strip()
            elif name == b"x-api-key":
                token = value.strip()
        if not token:
            return False
        digest = hashlib.sha256(token).digest()
        ok = False
        for key in self._keys:  # no early exit: every key is compared
            ok |= hmac.compare_digest(digest, key)
        return ok


# -- the gate: auth and request metrics for every route ------------------------------

_FIXED_ROUTES = frozenset(
    {"/predict", "/jobs", "/health", "/ready", "/metadata", "/metrics", "/docs", "/openapi.json"}
)
_OPEN_ROUTES = frozenset({"/health", "/ready", "/docs", "/openapi.json", "/docs/oauth2-redirect"})


def route_label(path: str) -> str:
    """The route a path belongs to, with bounded cardinality for metric labels."""
    if path in _FIXED_ROUTES:
        return path
    if path.startswith("/jobs/"):
        return "/jobs/{id}/result" if path.endswith("/result") else "/jobs/{id}"
    return "other"


_UNAUTHORIZED = orjson.dumps(
    {
        "detail": "Missing or invalid API key. Send the header 'Authorization: Bearer <key>' "
        "(or 'X-API-Key: <key>') with a key listed in LOOPML_API_KEYS on the server."
    }
)


class Gate:
    """Pure ASGI middleware: API keys on protected routes, metrics on all of them."""

    def __init__(self, app: ASGIApp, state: ServerState) -> None:
        self.app = app
        self.state = state

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        state = self.state
        metrics = state.metrics
        started = time.perf_counter()
        path = scope["path"]
        route = route_label(path)
        status = [500]
        if state.auth and path not in _OPEN_ROUTES and not state.authorized(scope["headers"]):
            await send(
                {
                    "type": "http.response.start",
                    "status": 401,
                    "headers": [
                        (b"content-type", b"application/json"),
                        (b"content-length", str(len(_UNAUTHORIZED)).encode()),
                        (b"www-authenticate", b"Bearer"),
                    ],
                }
            )
            await send({"type": "http.response.body", "body": _UNAUTHORIZED})
            metrics.errors.inc((route, "unauthorized"))
            metrics.requests.inc((route, scope["method"], "401"))
            metrics.latency.observe(time.perf_counter() - started, (route,))
            return

        async def send_status(message: Message) -> None:
            if message["type"] == "http.response.start":
                status[0] = message["status"]
            await send(message)

        try:
            handler = state.predict_handler
            if handler is not None and path == "/predict" and scope["method"] == "POST":
                await self._predict(handler, scope, receive, send_status)
            else:
                await self.app(scope, receive, send_status)
        finally:
            code = status[0]
            metrics.requests.inc((route, scope["method"], str(code)))
            metrics.latency.observe(time.perf_counter() - started, (route,))
            if code >= 500:
                metrics.errors.inc((route, "internal"))

    async def _predict(
        self, handler: Callable[[Any], Awaitable[Any]], scope: Scope, receive: Receive, send: Send
    ) -> None:
        from starlette.requests import Request

        request = Request(scope, receive)
        try:
            response = await handler(request)
        except Exception as exc:
            assert self.state.error_response is not None
            response = await self.state.error_response(request, exc)
        await response(scope, receive, send)


# -- hot reload ---------------------------------------------------------------------


class Reloader:
    """Follow a model reference in the store and swap in new versions as they appear.

    The new version is loaded, verified (SHA-256) and compiled completely in this
    thread before the swap, which is one assignment on the event loop: requests in
    flight finish on the version they started with, new ones get the new version.
    """

    def __init__(self, state: ServerState, ref: str, interval: float) -> None:
        self.state = state
        self.ref = ref
        self.interval = interval
        self.last_error: str | None = None
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def start(self) -> None:
        self._thread = threading.Thread(target=self._run, name="loopml-reload", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(5.0)

    def _run(self) -> None:
        while not self._stop.wait(self.interval):
            self.check()

    def check(self) -> bool:
        """Look once; True if a new version was swapped in."""
        from loopml.bundle import ModelBundle

        state = self.state
        assert state.store is not None
        metrics = state.metrics
        try:
            record = state.store.resolve(self.ref)
            current = state.predictor
            if record.name == current.name and record.version == current.version:
                return False
            bundle = ModelBundle.load(Path(record.path), expected_sha256=record.sha256)
            bundle.info.update(
                {"name": record.name, "version": record.version, "stage": str(record.stage)}
            )
            predictor = Predictor(bundle, fast=state.config.fast_path)
        except Exception as exc:
            message = f"{type(exc).__name__}: {exc}"
            if message != self.last_error:
                log.warning(
                    "hot reload of %s failed; still serving %s: %s",
                    self.ref,
                    state.predictor.ref,
                    message,
                )
            self.last_error = message
            self._on_loop(lambda: metrics.reloads.inc(("failed",)))
            return False
        self.last_error = None

        def swap() -> None:
            old = state.predictor.ref
            state.swap(predictor)
            metrics.reloads.inc(("loaded",))
            log.info("hot reload: %s -> %s (%s)", old, predictor.ref, self.ref)

        self._on_loop(swap)
        return True

    def _on_loop(self, fn: Callable[[], None]) -> None:
        loop = self.state.loop
        if loop is not None and loop.is_running():
            done = threading.Event()

            def run() -> None:
                try:
                    fn()
                finally:
                    done.set()

            loop.call_soon_threadsafe(run)
            done.wait(5.0)
        else:
            fn()
