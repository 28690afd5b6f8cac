"""Fuzz the endpoint with schemathesis against its own OpenAPI spec: no 500s, and every
response matches what the spec documents (status codes, content types, bodies)."""

from __future__ import annotations

import warnings
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

schemathesis = pytest.importorskip("schemathesis")

from hypothesis import HealthCheck, settings  # noqa: E402

from loopml.serve.app import create_app  # noqa: E402
from loopml.serve.state import ServeConfig  # noqa: E402
from loopml.store import Store  # noqa: E402
from tests.serve.serving_fixtures import Served, served  # noqa: E402

__all__ = ["served"]

KEY = "fuzz-key"


@pytest.fixture(scope="module")
def api_schema(
    served: dict[str, Served], tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Any]:
    from schemathesis.python.asgi import shutdown_lifespans

    jobs_root: Path = tmp_path_factory.mktemp("fuzz-jobs")
    # The mixed model has every kind of compiled column: numeric with missing values,
    # one-hot and target-encoded categories, booleans.
    bundle = served["mixed"].bundle()
    config = ServeConfig(api_keys=(KEY,), max_body_bytes=64 * 1024, log_predictions=False)
    app = create_app(bundle, store=Store(root=jobs_root), config=config)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        schema = schemathesis.openapi.from_asgi("/openapi.json", app)
    yield schema
    shutdown_lifespans()


def _unknowable(case: Any) -> list[Any]:
    """Checks the spec cannot support, per case.

    JSON Schema cannot say that a text/csv string is CSV with the model's columns (so any
    string is "valid", and any value sent as text/csv is just text), that every list of
    a columnar body has one value per row, or that a job's ``path`` exists on the
    server. Such bodies may be schema-valid and still rightly refused (422), or be
    "schema-violating" and still a readable upload.
    """
    from schemathesis.core.parameters import ParameterLocation
    from schemathesis.specs.openapi.checks import (
        negative_data_rejection,
        positive_data_acceptance,
    )

    body = case.body
    if case.media_type == "text/csv":
        return [positive_data_acceptance, negative_data_rejection]
    excluded = []
    if isinstance(body, dict) and ("columns" in body or "path" in body):
        excluded.append(positive_data_acceptance)
    # A mutated Authorization header is replaced by the valid key the test sends.
    negative = {
        loc
        for loc, info in (case.meta.components if case.meta else {}).items()
        if info.mode.is_negative
    }
    if negative and negative <= {ParameterLocation.HEADER}:
        excluded.append(negative_data_rejection)
    return excluded


OPERATIONS = [
    ("POST", "/predict"),
    ("POST", "/jobs"),
    ("GET", "/jobs"),
    ("GET", "/jobs/{job_id}"),
    ("DELETE", "/jobs/{job_id}"),
    ("GET", "/jobs/{job_id}/result"),
    ("GET", "/health"),
    ("GET", "/ready"),
    ("GET", "/metadata"),
    ("GET", "/metrics"),
]


def test_the_spec_lists_every_route(api_schema: Any) -> None:
    found = {(r.ok().method.upper(), r.ok().path) for r in api_schema.get_all_operations()}
    assert found == set(OPERATIONS)


# Operations without parameters or body have nothing to break: positive cases only.
CASES = [
    (method, path, mode)
    for method, path in OPERATIONS
    for mode in ("positive", "negative")
    if mode == "positive" or method == "POST" or path.startswith("/jobs")
]


@pytest.mark.slow
@pytest.mark.parametrize(("method", "path", "mode"), CASES)
def test_the_endpoint_holds_to_its_own_spec(
    api_schema: Any, method: str, path: str, mode: str
) -> None:
    from hypothesis import given
    from schemathesis import GenerationMode

    if (
        mode == "negative"
        and method == "GET"
        and path in ("/health", "/ready", "/metadata", "/metrics")
    ):
        pytest.skip("no parameters or body to break")
    operation = api_schema[path][method]
    strategy = operation.as_strategy(GenerationMode(mode))
    examples = {"/predict": 200, "/jobs": 80}.get(path, 15)

    @given(case=strategy)
    @settings(
        max_examples=examples,
        deadline=None,
        suppress_health_check=list(HealthCheck),
        derandomize=True,
        database=None,
    )
    def run(case: Any) -> None:
        case.call_and_validate(
            headers={"Authorization": f"Bearer {KEY}"}, excluded_checks=_unknowable(case)
        )

    run()
