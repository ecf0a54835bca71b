"""The plain pytest summary says which tests were skipped and why, as README promises for the
PostgreSQL tests when no server is named."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).parents[1]


def test_postgres_skips_are_named_with_their_reason_in_the_plain_summary() -> None:
    env = {k: v for k, v in os.environ.items() if k != "AGENTEL_TEST_POSTGRES_URL"}
    result = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider",
         "tests/test_store.py::test_a_run_becomes_one_trace_row_with_its_aggregates"],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )  # fmt: skip
    assert result.returncode == 0, result.stdout + result.stderr
    assert "1 passed, 1 skipped" in result.stdout
    assert "SKIPPED [1]" in result.stdout
    assert "AGENTEL_TEST_POSTGRES_URL is not set" in result.stdout
