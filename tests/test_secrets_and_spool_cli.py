"""Credentials never printed, whatever the password holds; ``agentel spool`` shows, sends
and deletes what is spooled, and ``agentel doctor`` shows its size and age."""

from __future__ import annotations

import os
import subprocess
import sys
from collections import Counter
from collections.abc import Iterator
from pathlib import Path

import pytest

import agentel
from agentel.redact import mask_text, mask_url, url_secrets
from fault_servers import FaultyBackend
from pipeline_helpers import SAMPLE_SPANS, clean_pipeline, emit_sample_trace

_SCRIPT = Path(sys.executable).with_name("agentel")
AGENTEL = [str(_SCRIPT)] if _SCRIPT.exists() else [sys.executable, "-m", "agentel.cli"]
PASSWORD = "p@ss/w0rd:x"  # an @, a / and a : that a URL parser splits on
SECRET_PIECES = ("p@ss", "ss/w0rd", "w0rd", "0rd:x")


@pytest.fixture(autouse=True)
def _clean(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    yield from clean_pipeline(monkeypatch)


def cli(*args: str, **env: str) -> subprocess.CompletedProcess[str]:
    base = {
        k: v for k, v in os.environ.items() if not k.startswith(("AGENTEL_", "OTEL_", "CELESTO_"))
    }
    return subprocess.run(
        [*AGENTEL, *args], env={**base, **env}, capture_output=True, text=True, timeout=120
    )


def assert_no_secret(text: str) -> None:
    for piece in SECRET_PIECES:
        assert piece not in text, f"{piece!r} printed in:\n{text}"


@pytest.mark.parametrize(
    ("url", "shown"),
    [
        (f"postgresql://app:{PASSWORD}@db:5432/prod?schema=x", "postgresql://app:***@db:5432/prod?schema=x"),
        ("http://u:s3cret@h/v1/traces", "http://u:***@h/v1/traces"),
        ("https://h/v1/traces?api_key=abc&x=1", "https://h/v1/traces?api_key=***&x=1"),
        ("postgresql://postgres@127.0.0.1:5432/test", "postgresql://postgres@127.0.0.1:5432/test"),
    ],
)  # fmt: skip
def test_mask_url(url: str, shown: str) -> None:
    assert mask_url(url) == shown


def test_an_error_quoting_part_of_the_password_is_masked() -> None:
    url = f"postgresql://app:{PASSWORD}@db/prod"
    error = 'could not translate host name "ss/w0rd:x@db" to address'
    assert_no_secret(mask_text(error, url_secrets(url)))


def test_doctor_and_store_errors_never_print_the_password(tmp_path: Path) -> None:
    db = f"postgresql://app:{PASSWORD}@127.0.0.1:9/prod"
    doctor = cli(
        "doctor",
        AGENTEL_DB=db,
        OTEL_EXPORTER_OTLP_ENDPOINT=f"http://alice:{PASSWORD}@127.0.0.1:9",
    )
    assert doctor.returncode == 1
    assert "otlp http://alice:***@127.0.0.1:9/v1/traces" in doctor.stdout
    assert_no_secret(doctor.stdout + doctor.stderr)
    traces = cli("--db", db, "traces")
    assert traces.returncode == 1 and "cannot open the trace store" in traces.stderr
    assert_no_secret(traces.stdout + traces.stderr)


def _spool_some(backend: FaultyBackend, spool_dir: Path, traces: int) -> str:
    endpoint = f"http://u:s3cr3t-token@127.0.0.1:{backend.port}/v1/traces"
    pipeline = agentel.setup(
        "otlp",
        otlp_endpoint=endpoint,
        export_timeout=0.3,
        spool_dir=str(spool_dir),
        schedule_delay=0.05,
        instrument=False,
        metrics=False,
    )
    for _ in range(traces):
        emit_sample_trace()
    pipeline.shutdown()
    assert pipeline.delivery["otlp"].spooled == traces * len(SAMPLE_SPANS)
    return endpoint


def test_spool_status_flush_and_clear(tmp_path: Path) -> None:
    spool_dir = tmp_path / "spool"
    with FaultyBackend() as backend:
        endpoint = _spool_some(backend, spool_dir, 2)
        env = {"AGENTEL_SPOOL_DIR": str(spool_dir), "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT": endpoint}
        status = cli("spool", **env)
        assert status.returncode == 0, status.stderr
        line = f"otlp -> http/protobuf http://u:***@127.0.0.1:{backend.port}/v1/traces: "
        assert line + f"1 batch(es), {2 * len(SAMPLE_SPANS)} span(s)" in status.stdout
        assert "s3cr3t-token" not in status.stdout
        doctor = cli("doctor", **env)
        assert "Spool (batches waiting for a backend)" in doctor.stdout
        assert f"{2 * len(SAMPLE_SPANS)} span(s)" in doctor.stdout and "old" in doctor.stdout
        assert "s3cr3t-token" not in doctor.stdout

        backend.start()
        flushed = cli("spool", "flush", **env)
        assert flushed.returncode == 0, flushed.stderr
        assert f"sent all; {2 * len(SAMPLE_SPANS)} span(s) sent" in flushed.stdout
        ids = Counter(span.span_id for span in backend.spans())
        assert len(ids) == 2 * len(SAMPLE_SPANS) and set(ids.values()) == {1}
        assert "empty" in cli("spool", **env).stdout

        backend.stop()
        clean_state()
        _spool_some(backend, spool_dir, 1)
        cleared = cli("spool", "clear", "--yes", **env)
        assert f"deleted 1 batch(es), {len(SAMPLE_SPANS)} span(s)" in cleared.stdout
        assert "empty" in cli("spool", **env).stdout


def clean_state() -> None:
    from pipeline_helpers import reset_otel_globals

    reset_otel_globals()
