from __future__ import annotations

import os
from pathlib import Path

import pytest

# Keep BLAS/OpenMP from oversubscribing the two cores CI has.
os.environ.setdefault("OMP_NUM_THREADS", "1")
os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")
os.environ.setdefault("MKL_NUM_THREADS", "1")


@pytest.fixture(autouse=True)
def _isolated_cwd(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Every test runs in its own directory, so the default `.loopml/` store is private."""
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("LOOPML_STORE_URL", raising=False)
    return tmp_path
