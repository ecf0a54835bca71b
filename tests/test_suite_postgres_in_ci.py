"""In CI an unreachable PostgreSQL fails the run, saying why; elsewhere its tests skip."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).parents[1]
ONE_POSTGRES_TEST = "tests/test_store.py::test_a_run_becomes_one_trace_row_with_its_aggregates"


def _pytest_with(**env: str) -> subprocess.CompletedProcess[str]:
    base = {k: v for k, v in os.environ.items() if k not in ("CI", "AGENTEL_TEST_POSTGRES_URL")}
    return subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-rs", "-p", "no:cacheprovider", ONE_POSTGRES_TEST],
        cwd=ROOT,
        env={**base, **env},
        capture_output=True,
        text=True,
        timeout=120,
    )


def test_an_unreachable_postgres_fails_in_ci_and_skips_elsewhere() -> None:
    with socket.socket() as sock:  # a port nothing listens on
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    url = f"postgresql://postgres:hunter2@127.0.0.1:{port}/test"

    in_ci = _pytest_with(CI="true", AGENTEL_TEST_POSTGRES_URL=url)
    assert in_ci.returncode == 1, in_ci.stdout
    assert "1 passed, 1 error" in in_ci.stdout  # the SQLite run passed, PostgreSQL's failed
    assert f"postgresql://postgres:***@127.0.0.1:{port}/test is unreachable" in in_ci.stdout
    assert "in CI (AGENTEL_TEST_POSTGRES_URL and CI set) the PostgreSQL tests must run" in (
        in_ci.stdout
    )
    assert "hunter2" not in in_ci.stdout + in_ci.stderr

    elsewhere = _pytest_with(AGENTEL_TEST_POSTGRES_URL=url)
    assert elsewhere.returncode == 0, elsewhere.stdout
    assert "1 passed, 1 skipped" in elsewhere.stdout
    assert "is unreachable" in elsewhere.stdout
