"""Small HTTP helpers shared by the routes: bounded body reading and orjson responses."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import orjson
from fastapi import Request
from fastapi.responses import Response

__all__ = ["JSON", "BodyTooLarge", "json_response", "read_body", "stream_to_file"]

JSON = "application/json"
_OPTIONS = orjson.OPT_SERIALIZE_NUMPY


class BodyTooLarge(Exception):
    """The request body is over the limit (answered with 413)."""

    def __init__(self, size: int, limit: int, *, at_least: bool = False, hint: str = "") -> None:
        super().__init__(
            f"The request body is {'at least ' if at_least else ''}{_size(size)}; the limit is "
            f"{_size(limit)}. {hint}".strip()
        )


_PREDICT_HINT = (
    "Send fewer rows per request, use POST /jobs for large inputs, or raise the limit "
    "(loopml serve --max-body-mb)."
)


def _size(n: int) -> str:
    return f"{n / 2**20:.1f} MiB" if n >= 2**20 else f"{n:,} bytes"


def json_response(
    content: Any, status: int = 200, headers: dict[str, str] | None = None
) -> Response:
    """A JSON response serialised by orjson (numpy arrays included)."""
    return Response(
        orjson.dumps(content, option=_OPTIONS, default=str), status, headers, media_type=JSON
    )


def _check_declared(request: Request, limit: int, hint: str) -> None:
    length = request.headers.get("content-length")
    if length is not None and length.isdigit() and int(length) > limit:
        raise BodyTooLarge(int(length), limit, hint=hint)


async def read_body(request: Request, limit: int, hint: str = _PREDICT_HINT) -> bytes:
    """The whole body, or :class:`BodyTooLarge` as soon as it passes *limit* bytes."""
    _check_declared(request, limit, hint)
    chunks = []
    size = 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > limit:
            raise BodyTooLarge(size, limit, at_least=True, hint=hint)
        chunks.append(chunk)
    return b"".join(chunks)


async def stream_to_file(request: Request, path: Path, limit: int, hint: str = "") -> int:
    """Write the body to *path* (via a temp file renamed into place); bytes written."""
    import os

    _check_declared(request, limit, hint)
    tmp = path.with_name(f".{path.name}.part")
    size = 0
    try:
        with tmp.open("wb") as fh:
            async for chunk in request.stream():
                size += len(chunk)
                if size > limit:
                    raise BodyTooLarge(size, limit, at_least=True, hint=hint)
                fh.write(chunk)
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    return size
