"""Backends that refuse, hang, fail then recover, or answer slowly: the app never sees an
exception, exit is bounded, every span ends in one counted outcome, and with the spool on
every span reaches the backend once it is back."""

from __future__ import annotations

import json
import logging
import threading
import time
from collections import Counter
from collections.abc import Iterator, Sequence
from pathlib import Path

import pytest
from opentelemetry.sdk.trace import ReadableSpan
from opentelemetry.sdk.trace.export import SpanExporter, SpanExportResult

import agentel
from agentel.export.celesto import CelestoSpanExporter
from agentel.export.delivery import OUTCOMES, DeliveryStats
from fault_servers import FaultyBackend, poll
from pipeline_helpers import SAMPLE_SPANS, clean_pipeline, emit_sample_trace

PER_TRACE = len(SAMPLE_SPANS)
FAST = {"schedule_delay": 0.05, "instrument": False, "metrics": False}


@pytest.fixture(autouse=True)
def _clean(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    yield from clean_pipeline(monkeypatch)


def adds_up(stats: DeliveryStats) -> bool:
    return stats.produced == sum(getattr(stats, o) for o in OUTCOMES) + stats.pending


def assert_settled(stats: DeliveryStats, produced: int) -> None:
    assert stats.produced == produced
    assert stats.pending == 0
    assert sum(getattr(stats, outcome) for outcome in OUTCOMES) == produced, stats


def received_once(backend: FaultyBackend, count: int) -> None:
    ids = Counter(span.span_id for span in backend.spans())
    assert len(ids) == count
    assert set(ids.values()) == {1}, "a span arrived twice"


def otlp(backend: FaultyBackend, spool_dir: Path | None, **extra: object) -> agentel.Pipeline:
    return agentel.setup(
        "otlp",
        otlp_endpoint=f"{backend.url}/v1/traces",
        spool=spool_dir is not None,
        spool_dir=str(spool_dir) if spool_dir else None,
        **{**FAST, "export_timeout": 0.5, **extra},
    )


def test_refused_without_spool_counts_every_span_as_failed() -> None:
    backend = FaultyBackend()  # never started: connections are refused
    pipeline = otlp(backend, None)
    for _ in range(3):
        emit_sample_trace()
    pipeline.force_flush(5000)
    stats = pipeline.delivery["otlp"]
    assert stats.failed == 3 * PER_TRACE
    pipeline.shutdown()
    assert_settled(agentel_stats(pipeline), 3 * PER_TRACE)


def exported(pipeline: agentel.Pipeline, name: str = "otlp") -> int:
    return pipeline.delivery[name].exported


def agentel_stats(pipeline: agentel.Pipeline, name: str = "otlp") -> DeliveryStats:
    return pipeline.delivery[name]


def test_refused_then_back_delivers_every_spooled_span_once(tmp_path: Path) -> None:
    with FaultyBackend() as backend:
        pipeline = otlp(backend, tmp_path)
        for _ in range(3):
            emit_sample_trace()
        pipeline.force_flush(5000)
        stats = pipeline.delivery["otlp"]
        assert stats.spooled == 3 * PER_TRACE and adds_up(stats)
        assert list(tmp_path.glob("otlp-*.sqlite"))
        backend.start()
        emit_sample_trace()  # a live batch while the spool still holds the old ones
        poll(
            lambda: pipeline.delivery["otlp"].exported == 4 * PER_TRACE, every=pipeline.force_flush
        )
        received_once(backend, 4 * PER_TRACE)
        pipeline.shutdown()
        assert_settled(pipeline.delivery["otlp"], 4 * PER_TRACE)


@pytest.mark.parametrize(
    "script",
    [
        [500, 500, 500],
        [(429, {"Retry-After": "0"})] * 3,
        [503, 503, 503, 503],
    ],
    ids=["500", "429-retry-after", "503-then-recover"],
)
def test_error_answers_then_recovery_lose_nothing(tmp_path: Path, script: list) -> None:
    with FaultyBackend() as backend:
        backend.script = list(script)
        backend.start()
        pipeline = otlp(backend, tmp_path)
        for _ in range(4):
            emit_sample_trace()
            pipeline.force_flush(5000)
        poll(
            lambda: pipeline.delivery["otlp"].exported == 4 * PER_TRACE, every=pipeline.force_flush
        )
        assert any(status >= 429 for status in backend.answered)
        received_once(backend, 4 * PER_TRACE)
        pipeline.shutdown()
        assert_settled(pipeline.delivery["otlp"], 4 * PER_TRACE)


def test_a_slow_backend_gets_everything_and_it_is_counted(tmp_path: Path) -> None:
    with FaultyBackend() as backend:
        backend.delay = 0.1
        backend.start()
        pipeline = otlp(backend, tmp_path, export_timeout=5)
        for _ in range(5):
            emit_sample_trace()
        pipeline.shutdown()
        assert_settled(pipeline.delivery["otlp"], 5 * PER_TRACE)
        assert pipeline.delivery["otlp"].exported == 5 * PER_TRACE
        received_once(backend, 5 * PER_TRACE)


def test_a_hanging_backend_cannot_hold_exit_past_its_bound_and_nothing_is_lost(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    with FaultyBackend() as backend:
        backend.hang.clear()
        backend.start()
        pipeline = otlp(backend, tmp_path, export_timeout=30, exit_flush_timeout=1.0)
        started = time.perf_counter()
        for _ in range(3):
            emit_sample_trace()
        emitting = time.perf_counter() - started
        with caplog.at_level(logging.WARNING, logger="agentel"):
            started = time.perf_counter()
            pipeline._at_exit()
            exiting = time.perf_counter() - started
        assert emitting < 1.0 and exiting < 1.0 + 3.0  # the bound, with a generous margin
        stats = pipeline.delivery["otlp"]
        assert_settled(stats, 3 * PER_TRACE)
        assert stats.spooled == 3 * PER_TRACE
        warning = [r.getMessage() for r in caplog.records if "could not be sent" in r.getMessage()]
        assert warning and f"{3 * PER_TRACE} spooled" in warning[0]
        backend.stop()
        # A process would end here. This one lives on, and so does the export that was cut
        # off: its client retries a lost connection at once, which would deliver a copy to
        # the backend started below. Let it fail against the stopped one first.
        poll(lambda: not any(t.name == "agentel-export-otlp" for t in threading.enumerate()))
        backend.start()
        # the next process with the same spool and destination sends them
        clean_pipeline_state()
        second = otlp(backend, tmp_path, export_timeout=10)  # no cut-off under a loaded CPU
        poll(lambda: second.delivery["otlp"].replayed == 3 * PER_TRACE, every=second.force_flush)
        received_once(backend, 3 * PER_TRACE)


def clean_pipeline_state() -> None:
    from pipeline_helpers import reset_otel_globals

    reset_otel_globals()


class Hanging(SpanExporter):
    def __init__(self) -> None:
        self.release = threading.Event()

    def export(self, spans: Sequence[ReadableSpan]) -> SpanExportResult:
        self.release.wait(30)
        return SpanExportResult.SUCCESS


class Recording(SpanExporter):
    def __init__(self) -> None:
        self.count = 0

    def export(self, spans: Sequence[ReadableSpan]) -> SpanExportResult:
        self.count += len(spans)
        return SpanExportResult.SUCCESS


def test_a_hung_export_is_cut_off_by_its_timeout_and_counted() -> None:
    hung = Hanging()
    pipeline = agentel.setup(
        [hung], export_timeout=0.2, exit_flush_timeout=20, schedule_delay=60,
        instrument=False, metrics=False,
    )  # fmt: skip
    try:
        for _ in range(4):
            emit_sample_trace()
        started = time.perf_counter()
        pipeline.shutdown()
        assert time.perf_counter() - started < 10  # cut off long before the exit deadline
        stats = pipeline.delivery["Hanging"]
        assert_settled(stats, 4 * PER_TRACE)
        assert stats.failed == 4 * PER_TRACE
    finally:
        hung.release.set()


def test_a_hung_exporter_holds_up_no_other_at_exit() -> None:
    hung, healthy = Hanging(), Recording()
    pipeline = agentel.setup(
        [hung, healthy], export_timeout=10, exit_flush_timeout=1.0, schedule_delay=60,
        instrument=False, metrics=False,
    )  # fmt: skip
    try:
        for _ in range(4):
            emit_sample_trace()
        started = time.perf_counter()
        pipeline.shutdown()
        assert time.perf_counter() - started < 1.0 + 3.0
        assert healthy.count == 4 * PER_TRACE
        stats = pipeline.delivery
        assert_settled(stats["Recording"], 4 * PER_TRACE)
        assert_settled(stats["Hanging"], 4 * PER_TRACE)
        assert stats["Hanging"].abandoned == 4 * PER_TRACE
    finally:
        hung.release.set()


def test_a_full_spool_drops_its_oldest_batches_and_counts_them(tmp_path: Path) -> None:
    backend = FaultyBackend()
    pipeline = otlp(backend, tmp_path, spool_max_mb=0.004)  # about two batches
    for _ in range(8):
        emit_sample_trace()
        pipeline.force_flush(5000)
    pipeline.shutdown()
    stats = pipeline.delivery["otlp"]
    assert_settled(stats, 8 * PER_TRACE)
    assert stats.dropped > 0 and stats.spooled > 0


def test_celesto_down_then_back_gets_every_trace_once(tmp_path: Path) -> None:
    with FaultyBackend() as backend:
        celesto = CelestoSpanExporter(
            "cel_key", f"{backend.url}/v1/traces/ingest", timeout=0.5, base_delay=0.01
        )
        pipeline = agentel.setup(celesto, spool_dir=str(tmp_path), **FAST)
        for _ in range(3):
            emit_sample_trace()
        pipeline.force_flush(5000)
        name = "CelestoSpanExporter"
        assert pipeline.delivery[name].spooled == 3 * PER_TRACE
        backend.start()
        poll(lambda: exported(pipeline, name) == 3 * PER_TRACE, every=pipeline.force_flush)
        pipeline.shutdown()
        assert_settled(pipeline.delivery[name], 3 * PER_TRACE)
        items = [i for r in backend.accepted for i in json.loads(r.body)["data"]]
        traces = [i for i in items if i["object"] == "trace"]
        assert len(traces) == 3 and len({t["id"] for t in traces}) == 3


def test_the_spool_can_be_turned_off_and_bad_values_name_the_setting(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setenv("AGENTEL_SPOOL_MAX_MB", "lots")
    with pytest.raises(agentel.settings.SettingError, match="AGENTEL_SPOOL_MAX_MB='lots'"):
        agentel.setup("otlp", **FAST)
    monkeypatch.delenv("AGENTEL_SPOOL_MAX_MB")
    monkeypatch.setenv("AGENTEL_SPOOL", "maybe")
    with pytest.raises(agentel.settings.SettingError, match="AGENTEL_SPOOL='maybe'"):
        agentel.setup("otlp", **FAST)
    monkeypatch.setenv("AGENTEL_SPOOL", "false")
    monkeypatch.setenv("AGENTEL_SPOOL_DIR", str(tmp_path))
    endpoint = f"{FaultyBackend().url}/v1/traces"
    pipeline = agentel.setup("otlp", otlp_endpoint=endpoint, **{**FAST, "export_timeout": 0.5})
    emit_sample_trace()
    pipeline.force_flush(5000)
    assert pipeline.delivery["otlp"].failed == PER_TRACE
    assert not list(tmp_path.iterdir())


def test_public_delivery_reports_the_current_pipeline() -> None:
    assert agentel.delivery() == {}
    agentel.setup("memory", **FAST)
    emit_sample_trace()
    stats = agentel.delivery()["memory"]
    assert (stats.produced, stats.exported, stats.pending) == (PER_TRACE, PER_TRACE, 0)


def test_without_a_writable_spool_directory_the_app_goes_on_and_failures_are_counted(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    blocker = tmp_path / "a-file"
    blocker.write_text("not a directory")
    with caplog.at_level(logging.WARNING, logger="agentel"):
        pipeline = otlp(FaultyBackend(), blocker / "spool")
    assert any("has no spool" in r.getMessage() for r in caplog.records)
    emit_sample_trace()
    pipeline.shutdown()
    stats = pipeline.delivery["otlp"]
    assert_settled(stats, PER_TRACE)
    assert stats.failed == PER_TRACE and stats.spool_path is None
