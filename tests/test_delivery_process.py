"""Whole processes and the spool: an app killed with SIGKILL in the middle of an outage
loses nothing (the next process sends what it spooled), and a hanging backend cannot hold
an app's exit past its bound."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path

from fault_servers import FaultyBackend

TESTS = Path(__file__).parent
SETUP = (
    "import agentel, sys\n"
    "from pipeline_helpers import emit_sample_trace\n"
    "pipeline = agentel.setup('otlp', otlp_endpoint={url!r}, export_timeout=0.3, "
    "schedule_delay=0.05, instrument=False, metrics=False, exit_flush_timeout={exit})\n"
)


def _env(spool: Path) -> dict[str, str]:
    own = ("OTEL_", "AGENTEL_", "CELESTO_")
    env = {k: v for k, v in os.environ.items() if not k.startswith(own)}
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(TESTS), env.get("PYTHONPATH")]))
    env["AGENTEL_SPOOL_DIR"] = str(spool)
    return env


def test_an_app_killed_mid_outage_loses_nothing(tmp_path: Path) -> None:
    with FaultyBackend() as backend:  # down: connections refused
        url = f"{backend.url}/v1/traces"
        first = subprocess.Popen(
            [
                sys.executable,
                "-c",
                SETUP.format(url=url, exit=5) + "for _ in range(20):\n    emit_sample_trace()\n"
                "pipeline.force_flush(10_000)\n"
                "print(pipeline.delivery['otlp'].spooled, flush=True)\n"
                "sys.stdin.read()\n",
            ],
            env=_env(tmp_path),
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
        )
        assert first.stdout is not None
        assert first.stdout.readline().strip() == "120"  # all spooled, none lost yet
        first.send_signal(signal.SIGKILL)
        first.wait()
        backend.start()
        second = subprocess.run(
            [sys.executable, "-c", SETUP.format(url=url, exit=10)],
            env=_env(tmp_path),
            capture_output=True,
            text=True,
            timeout=60,
        )
        assert second.returncode == 0, second.stderr
        ids = Counter(span.span_id for span in backend.spans())
        assert len(ids) == 120 and set(ids.values()) == {1}


def test_a_hanging_backend_cannot_hold_exit_past_its_bound(tmp_path: Path) -> None:
    with FaultyBackend() as backend:
        backend.hang.clear()
        backend.start()
        code = (
            SETUP.format(url=f"{backend.url}/v1/traces", exit=1.0).replace(
                "export_timeout=0.3", "export_timeout=30"
            )
            + "for _ in range(5):\n    emit_sample_trace()\n"
        )
        started = time.perf_counter()
        done = subprocess.run(
            [sys.executable, "-c", code],
            env=_env(tmp_path),
            capture_output=True,
            text=True,
            timeout=60,
        )
        elapsed = time.perf_counter() - started
        assert done.returncode == 0, done.stderr
        assert elapsed < 1.0 + 5.0  # the bound, plus interpreter start-up and a wide margin
        assert "30 span(s) could not be sent by the otlp exporter" in done.stderr
        assert "30 spooled" in done.stderr
