"""setup(): building or joining providers, settings and their errors, and a backend that
is down or slow never slowing or breaking the app."""

from __future__ import annotations

import logging
import socket
import threading
import time
from collections.abc import Iterator, Sequence

import pytest
from opentelemetry import metrics, trace
from opentelemetry.sdk.metrics import MeterProvider
from opentelemetry.sdk.metrics.export import InMemoryMetricReader
from opentelemetry.sdk.trace import ReadableSpan, TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor, SpanExporter, SpanExportResult
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

import agentel
from agentel import semconv as sc
from agentel.export import pipeline as pipeline_module
from agentel.settings import PipelineSettings, SettingError
from pipeline_helpers import SAMPLE_SPANS, clean_pipeline, emit_sample_trace, record_sample_metrics

FAST = {"schedule_delay": 0.05, "instrument": False}


@pytest.fixture(autouse=True)
def _clean(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    yield from clean_pipeline(monkeypatch)


class BatchRecorder(SpanExporter):
    """Records the size of each batch it is given; can be told to hang."""

    def __init__(self, gate: threading.Event | None = None) -> None:
        self.batches: list[int] = []
        self._gate = gate

    def export(self, spans: Sequence[ReadableSpan]) -> SpanExportResult:
        if self._gate is not None:
            self._gate.wait(10)
        self.batches.append(len(spans))
        return SpanExportResult.SUCCESS


def _closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def test_builds_a_global_provider_with_the_resource_asked_for() -> None:
    pipeline = agentel.setup(
        "memory", service_name="svc", resource_attributes={"deployment.environment": "t"}, **FAST
    )
    assert not pipeline.joined
    assert trace.get_tracer_provider() is pipeline.tracer_provider
    emit_sample_trace()
    spans = pipeline.exporter("memory").get_finished_spans()  # type: ignore[attr-defined]
    assert {span.name for span in spans} == set(SAMPLE_SPANS)
    assert spans[0].resource.attributes["service.name"] == "svc"
    assert spans[0].resource.attributes["deployment.environment"] == "t"


def test_joins_an_existing_sdk_provider_and_never_replaces_it(
    caplog: pytest.LogCaptureFixture,
) -> None:
    users_exporter = InMemorySpanExporter()
    users_provider = TracerProvider()
    users_provider.add_span_processor(SimpleSpanProcessor(users_exporter))
    trace.set_tracer_provider(users_provider)

    with caplog.at_level(logging.WARNING):
        pipeline = agentel.setup("memory", **FAST)
    assert pipeline.joined
    assert trace.get_tracer_provider() is users_provider
    assert "Overriding" not in caplog.text

    emit_sample_trace()
    ours = pipeline.exporter("memory").get_finished_spans()  # type: ignore[attr-defined]
    assert len(ours) == len(users_exporter.get_finished_spans()) == len(SAMPLE_SPANS)

    pipeline.shutdown()
    emit_sample_trace()  # the user's provider keeps working; ours fell silent
    assert len(users_exporter.get_finished_spans()) == 2 * len(SAMPLE_SPANS)
    assert len(ours) == len(SAMPLE_SPANS)


def test_joining_sends_nothing_extra_unless_asked() -> None:
    trace.set_tracer_provider(TracerProvider())
    pipeline = agentel.setup(**FAST)
    assert pipeline.joined and pipeline.exporters == {}


def test_a_non_sdk_provider_is_left_alone_with_a_warning(
    caplog: pytest.LogCaptureFixture,
) -> None:
    class VendorProvider(trace.NoOpTracerProvider):
        pass

    trace.set_tracer_provider(VendorProvider())
    with caplog.at_level(logging.WARNING):
        pipeline = agentel.setup("memory", **FAST)
    assert "VendorProvider" in caplog.text
    emit_sample_trace()
    assert pipeline.exporter("memory").get_finished_spans() == ()  # type: ignore[attr-defined]


def test_names_and_instances_together_and_a_second_setup_returns_the_first() -> None:
    recorder = BatchRecorder()
    first = agentel.setup(["memory", recorder], **FAST)
    assert list(first.exporters) == ["memory", "BatchRecorder"]
    assert agentel.setup("console", **FAST) is first
    emit_sample_trace()
    assert agentel.flush(2000)
    assert sum(recorder.batches) == len(SAMPLE_SPANS)


@pytest.mark.parametrize(
    ("env", "expected"),
    [
        ({"AGENTEL_EXPORTERS": "otlp,zipkin"}, r"^AGENTEL_EXPORTERS: unknown exporter 'zipkin'"),
        ({"OTEL_BSP_SCHEDULE_DELAY": "soon"}, r"^OTEL_BSP_SCHEDULE_DELAY='soon' is not a number"),
        ({"OTEL_BSP_MAX_QUEUE_SIZE": "0"}, r"^OTEL_BSP_MAX_QUEUE_SIZE='0' must be above 0"),
        ({"OTEL_BSP_MAX_EXPORT_BATCH_SIZE": "1.5"}, r"^OTEL_BSP_MAX_EXPORT_BATCH_SIZE='1.5'"),
        ({"AGENTEL_SAMPLE_RATIO": "2"}, r"^AGENTEL_SAMPLE_RATIO='2' must be between 0 and 1"),
        ({"AGENTEL_OTLP_PRESET": "honeycomb"}, r"^AGENTEL_OTLP_PRESET='honeycomb'.*phoenix"),
        ({"OTEL_EXPORTER_OTLP_PROTOCOL": "http/json"}, r"^OTEL_EXPORTER_OTLP_PROTOCOL="),
        ({"AGENTEL_METRICS": "perhaps"}, r"^AGENTEL_METRICS='perhaps' is not a yes/no value"),
    ],
)
def test_a_bad_environment_value_is_one_error_naming_the_variable(
    env: dict[str, str], expected: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    with pytest.raises(SettingError, match=expected):
        agentel.setup(instrument=False)
    assert isinstance(trace.get_tracer_provider(), trace.ProxyTracerProvider)


def test_a_bad_argument_names_the_argument() -> None:
    with pytest.raises(SettingError, match=r"^exporters: unknown exporter 'jaeger'"):
        agentel.setup(["memory", "jaeger"], **FAST)
    with pytest.raises(SettingError, match=r"^schedule_delay=-1 must be 0 or more"):
        agentel.setup("memory", schedule_delay=-1, instrument=False)
    with pytest.raises(SettingError, match="max_export_batch_size"):
        agentel.setup("memory", max_export_batch_size=10, max_queue_size=5, instrument=False)


def test_batch_settings_arguments_win_over_otel_bsp_variables() -> None:
    env = {
        "OTEL_BSP_SCHEDULE_DELAY": "250",
        "OTEL_BSP_MAX_QUEUE_SIZE": "100",
        "OTEL_BSP_MAX_EXPORT_BATCH_SIZE": "10",
        "OTEL_BSP_EXPORT_TIMEOUT": "1500",
    }
    batch = PipelineSettings.from_env(env).batch
    assert (batch.schedule_delay, batch.max_queue_size) == (0.25, 100)
    assert (batch.max_export_batch_size, batch.export_timeout) == (10, 1.5)
    batch = PipelineSettings.from_env(env, batch={"schedule_delay": 2.0}).batch
    assert batch.schedule_delay == 2.0


def test_otel_bsp_batch_size_reaches_the_batch_processor(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("OTEL_BSP_MAX_EXPORT_BATCH_SIZE", "2")
    monkeypatch.setenv("OTEL_BSP_SCHEDULE_DELAY", "60000")
    recorder = BatchRecorder()
    agentel.setup([recorder], instrument=False)
    emit_sample_trace()
    assert agentel.flush(2000)
    assert recorder.batches and max(recorder.batches) <= 2
    assert sum(recorder.batches) == len(SAMPLE_SPANS)


def test_sample_ratio_zero_keeps_nothing() -> None:
    pipeline = agentel.setup("memory", sample_ratio=0.0, **FAST)
    emit_sample_trace()
    assert pipeline.exporter("memory").get_finished_spans() == ()  # type: ignore[attr-defined]


def test_a_backend_that_is_down_never_blocks_the_app_and_losses_are_counted(
    caplog: pytest.LogCaptureFixture,
) -> None:
    endpoint = f"http://127.0.0.1:{_closed_port()}/v1/traces"
    pipeline = agentel.setup(
        "otlp", otlp_endpoint=endpoint, export_timeout=0.5, spool=False, **FAST
    )
    with caplog.at_level(logging.WARNING, logger="agentel"):
        emit_sample_trace()
        pipeline.force_flush(5000)
        emit_sample_trace()
        pipeline.force_flush(5000)
    assert pipeline.undelivered_spans == 2 * len(SAMPLE_SPANS)
    assert pipeline.delivery["otlp"].failed == 2 * len(SAMPLE_SPANS)
    warnings = [r for r in caplog.records if "could not deliver" in r.getMessage()]
    assert len(warnings) == 1 and "otlp" in warnings[0].getMessage()


def test_a_full_queue_drops_spans_and_counts_them(caplog: pytest.LogCaptureFixture) -> None:
    gate = threading.Event()
    stuck = BatchRecorder(gate)
    pipeline = agentel.setup(
        [stuck], max_queue_size=4, max_export_batch_size=2, schedule_delay=60, instrument=False
    )
    with caplog.at_level(logging.WARNING, logger="agentel"):
        try:
            for _ in range(5):
                emit_sample_trace()  # 30 spans into a queue of 4 behind a stuck exporter
        finally:
            gate.set()
        assert pipeline.force_flush(10_000)
    exported = sum(stuck.batches)
    assert 4 <= exported <= 2 + 4  # the batch the exporter was stuck on, and a full queue
    stats = pipeline.delivery["BatchRecorder"]
    assert (stats.exported, stats.dropped) == (exported, 30 - exported)  # each span once
    assert pipeline.undelivered_spans == 30 - exported
    warnings = [r.getMessage() for r in caplog.records if "queue is full" in r.getMessage()]
    assert len(warnings) == 1 and "BatchRecorder exporter" in warnings[0]


def test_the_app_never_waits_for_an_exporter_that_hangs() -> None:
    """No timing: the app's thread finishes its spans while the exporter is still stuck."""
    gate = threading.Event()
    stuck = BatchRecorder(gate)
    agentel.setup([stuck], max_export_batch_size=2, **FAST)
    app_done = threading.Event()

    def app() -> None:
        for _ in range(5):
            emit_sample_trace()
        app_done.set()

    try:
        threading.Thread(target=app, daemon=True).start()
        assert app_done.wait(30)
        assert stuck.batches == []  # no export has returned: the app waited for none
    finally:
        gate.set()


def test_flush_is_bounded_even_when_an_export_hangs() -> None:
    gate = threading.Event()
    pipeline = agentel.setup([BatchRecorder(gate)], **FAST)
    try:
        emit_sample_trace()
        started = time.perf_counter()
        assert pipeline.force_flush(timeout_millis=200) is False
        # What this catches is a flush that waits for the export (10 s here), not a slow one:
        # the margin holds on a loaded machine. benchmarks/ measures how fast things are.
        assert time.perf_counter() - started < 5
    finally:
        gate.set()


def test_module_flush_and_shutdown() -> None:
    assert agentel.flush() is True
    agentel.setup("memory", **FAST)
    assert agentel.flush() is True
    agentel.shutdown()
    assert pipeline_module.current() is None


def test_metric_readers_get_the_semconv_buckets() -> None:
    reader = InMemoryMetricReader()
    pipeline = agentel.setup("memory", metric_readers=[reader], **FAST)
    assert metrics.get_meter_provider() is pipeline.meter_provider
    record_sample_metrics()
    data = reader.get_metrics_data()
    found = {
        metric.name: tuple(metric.data.data_points[0].explicit_bounds)
        for rm in data.resource_metrics
        for sm in rm.scope_metrics
        for metric in sm.metrics
    }
    assert found[sc.METRIC_OPERATION_DURATION] == tuple(map(float, sc.DURATION_BUCKETS))
    assert found[sc.METRIC_EXECUTE_TOOL_DURATION] == tuple(map(float, sc.DURATION_BUCKETS))


def test_an_existing_meter_provider_is_joined() -> None:
    users = MeterProvider(metric_readers=[InMemoryMetricReader()])
    metrics.set_meter_provider(users)
    pipeline = agentel.setup("memory", metric_readers=[InMemoryMetricReader()], **FAST)
    assert pipeline.meter_provider is users


def test_an_explicit_setup_replaces_the_one_opentelemetry_instrument_made(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from agentel.export.auto import post_instrument

    trace.set_tracer_provider(TracerProvider())  # as the OTel configurator would
    monkeypatch.setenv("AGENTEL_EXPORTERS", "memory")
    post_instrument()
    automatic = pipeline_module.current()
    assert automatic is not None and list(automatic.exporters) == ["memory"]

    chosen = agentel.setup("memory", **FAST)
    assert chosen is not automatic and pipeline_module.current() is chosen
    emit_sample_trace()
    assert automatic.exporter("memory").get_finished_spans() == ()  # type: ignore[attr-defined]
    assert len(chosen.exporter("memory").get_finished_spans()) == len(SAMPLE_SPANS)  # type: ignore[attr-defined]


def test_a_bad_value_in_the_environment_never_stops_an_auto_instrumented_app(
    monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    from agentel.export.auto import post_instrument

    monkeypatch.setenv("AGENTEL_EXPORTERS", "nonsense")
    with caplog.at_level(logging.WARNING):
        post_instrument()
    assert "AGENTEL_EXPORTERS" in caplog.text
    assert pipeline_module.current() is None


def test_joining_a_provider_adds_no_otlp_for_an_endpoint_variable_alone(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The joined provider (opentelemetry-instrument's, say) already sends to that endpoint;
    adding our own OTLP exporter would send every span twice."""
    monkeypatch.setenv("OTEL_EXPORTER_OTLP_ENDPOINT", "http://127.0.0.1:4318")
    trace.set_tracer_provider(TracerProvider())
    pipeline = agentel.setup(instrument=False)
    assert pipeline.joined
    assert pipeline.exporters == {}
