"""OTLP export as a backend sees it: URL path, headers, and every span and attribute,
decoded from the protobuf a loopback receiver got; one test per backend preset."""

from __future__ import annotations

import base64
import sys
from collections.abc import Iterator

import pytest
from opentelemetry import trace
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor

import agentel
from agentel import semconv as sc
from agentel.export.otlp import PresetOTLPSpanExporter, resolve_target
from agentel.settings import SettingError
from otlp_receiver import OTLPGrpcReceiver, OTLPReceiver, ReceivedSpan, wait_for
from pipeline_helpers import (
    SAMPLE_SPANS,
    clean_pipeline,
    emit_sample_trace,
    record_sample_metrics,
)

FAST = {"schedule_delay": 0.05, "instrument": False}


@pytest.fixture(autouse=True)
def _clean(monkeypatch: pytest.MonkeyPatch, receiver: OTLPReceiver) -> Iterator[None]:
    """Depends on ``receiver`` so the pipeline is shut down while it still answers."""
    yield from clean_pipeline(monkeypatch)


def _by_name(spans: list[ReceivedSpan]) -> dict[str, ReceivedSpan]:
    return {span.name: span for span in spans}


def _assert_every_span_arrived(receiver: OTLPReceiver) -> dict[str, ReceivedSpan]:
    assert agentel.flush(5000)
    spans = _by_name(receiver.spans())
    assert set(spans) == set(SAMPLE_SPANS)
    for name, attributes in SAMPLE_SPANS.items():
        for key, value in attributes.items():
            assert spans[name].attributes[key] == value, (name, key)
    workflow, agent = spans["invoke_workflow Weather flow"], spans["invoke_agent Forecaster"]
    assert workflow.parent_span_id == ""
    assert agent.parent_span_id == workflow.span_id
    assert spans["chat gpt-4o"].parent_span_id == agent.span_id
    assert spans["chat gpt-4o"].kind == trace.SpanKind.CLIENT.value + 1  # protobuf enum offset
    assert len({span.trace_id for span in spans.values()}) == 1
    return spans


def test_plain_otlp_uses_http_protobuf_and_the_otel_endpoint_variable(
    receiver: OTLPReceiver, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("OTEL_EXPORTER_OTLP_ENDPOINT", receiver.url)
    monkeypatch.setenv("OTEL_EXPORTER_OTLP_HEADERS", "x-team=agents")
    agentel.setup("otlp", service_name="weather-app", **FAST)
    emit_sample_trace()
    spans = _assert_every_span_arrived(receiver)

    request = receiver.trace_requests()[0]
    assert request.path == "/v1/traces"
    assert request.headers["content-type"] == "application/x-protobuf"
    assert request.headers["x-team"] == "agents"
    assert spans["chat gpt-4o"].resource["service.name"] == "weather-app"
    assert sc.OI_SPAN_KIND not in spans["chat gpt-4o"].attributes  # GenAI only by default


def test_the_resource_is_hashed_once_not_per_span_and_arrives_whole(
    receiver: OTLPReceiver, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The OTLP encoder hashes every span's resource to group a batch; the resource setup()
    builds computes that hash once, and each request still carries it whole, once."""
    hashes: list[int] = []
    hash_attributes = Resource.__hash__

    def counted(resource: Resource) -> int:
        hashes.append(1)
        return hash_attributes(resource)

    monkeypatch.setattr(Resource, "__hash__", counted)
    agentel.setup(
        "otlp",
        otlp_endpoint=receiver.url + "/v1/traces",
        service_name="weather-app",
        resource_attributes={"deployment.environment": "test", "service.version": "1.2"},
        metrics=False,
        **FAST,
    )
    for _ in range(5):
        emit_sample_trace()
    assert agentel.flush(5000)

    spans = receiver.spans()
    assert len(spans) == 5 * len(SAMPLE_SPANS)
    for span in spans:
        assert span.resource["service.name"] == "weather-app"
        assert span.resource["deployment.environment"] == "test"
        assert span.resource["service.version"] == "1.2"
        assert span.resource["telemetry.sdk.name"] == "opentelemetry"
    for request in receiver.trace_requests():
        message = ExportTraceServiceRequest()
        message.ParseFromString(request.body)
        assert len(message.resource_spans) == 1  # one group: every span's resource is equal
    assert len(hashes) == 1


def test_an_otlp_endpoint_alone_turns_otlp_on(
    receiver: OTLPReceiver, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT", receiver.url + "/custom/traces")
    pipeline = agentel.setup(**FAST)
    assert list(pipeline.exporters) == ["otlp"]
    emit_sample_trace()
    _assert_every_span_arrived(receiver)
    assert {r.path for r in receiver.trace_requests()} == {"/custom/traces"}


def test_phoenix_preset_sends_openinference_dialect_with_bearer_key(
    receiver: OTLPReceiver, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("PHOENIX_COLLECTOR_ENDPOINT", receiver.url)
    monkeypatch.setenv("PHOENIX_API_KEY", "phx-secret")
    monkeypatch.setenv("PHOENIX_PROJECT_NAME", "weather")
    agentel.setup(otlp="phoenix", **FAST)
    emit_sample_trace()
    spans = _assert_every_span_arrived(receiver)

    request = receiver.trace_requests()[0]
    assert request.path == "/v1/traces"
    assert request.headers["authorization"] == "Bearer phx-secret"
    assert spans["chat gpt-4o"].resource[sc.OI_PROJECT_NAME] == "weather"
    kinds = {name: span.attributes[sc.OI_SPAN_KIND] for name, span in spans.items()}
    assert kinds == {
        "invoke_workflow Weather flow": "CHAIN",
        "invoke_agent Forecaster": "AGENT",
        "apply_guardrail no_secrets": "GUARDRAIL",
        "chat gpt-4o": "LLM",
        "execute_tool get_weather": "TOOL",
        "execute_tool transfer_to_poet": "TOOL",
    }


def test_langfuse_preset_posts_to_its_otel_path_with_basic_auth(
    receiver: OTLPReceiver, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("LANGFUSE_HOST", receiver.url + "/")
    monkeypatch.setenv("LANGFUSE_PUBLIC_KEY", "pk-lf-1")
    monkeypatch.setenv("LANGFUSE_SECRET_KEY", "sk-lf-2")
    monkeypatch.setenv("AGENTEL_OTLP_PRESET", "langfuse")
    agentel.setup(**FAST)
    emit_sample_trace()
    spans = _assert_every_span_arrived(receiver)

    request = receiver.trace_requests()[0]
    assert request.path == "/api/public/otel/v1/traces"
    expected = base64.b64encode(b"pk-lf-1:sk-lf-2").decode()
    assert request.headers["authorization"] == f"Basic {expected}"
    assert request.headers["content-type"] == "application/x-protobuf"
    assert sc.OI_SPAN_KIND not in spans["invoke_agent Forecaster"].attributes
    assert receiver.metric_names() == set()  # Langfuse takes no OTLP metrics


def test_datadog_preset_headers_on_the_wire(
    receiver: OTLPReceiver, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("DD_API_KEY", "dd-key")
    agentel.setup(otlp="datadog", otlp_endpoint=receiver.url + "/v1/traces", **FAST)
    emit_sample_trace()
    _assert_every_span_arrived(receiver)

    headers = receiver.trace_requests()[0].headers
    assert headers["dd-api-key"] == "dd-key"
    assert headers["dd-otlp-source"] == "llmobs"
    assert headers["content-type"] == "application/x-protobuf"


def test_datadog_site_picks_the_intake_host() -> None:
    env = {"DD_API_KEY": "k", "DD_SITE": "datadoghq.eu"}
    assert resolve_target("datadog", "http/protobuf", env=env).endpoint == (
        "https://otlp.datadoghq.eu/v1/traces"
    )
    assert resolve_target("datadog", "http/protobuf", env={"DD_API_KEY": "k"}).endpoint == (
        "https://otlp.datadoghq.com/v1/traces"
    )


@pytest.mark.parametrize(
    ("preset", "env", "missing"),
    [
        ("langfuse", {"LANGFUSE_PUBLIC_KEY": "pk"}, "LANGFUSE_SECRET_KEY"),
        ("langfuse", {"LANGFUSE_SECRET_KEY": "sk"}, "LANGFUSE_PUBLIC_KEY"),
        ("datadog", {}, "DD_API_KEY"),
    ],
)
def test_a_missing_backend_key_is_one_clear_error_and_changes_nothing(
    preset: str, env: dict[str, str], missing: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    with pytest.raises(SettingError, match=missing):
        agentel.setup(otlp=preset, **FAST)
    assert isinstance(trace.get_tracer_provider(), trace.ProxyTracerProvider)
    assert agentel.flush() is True  # no pipeline was left behind


def test_presets_refuse_grpc() -> None:
    with pytest.raises(SettingError, match="http/protobuf"):
        agentel.setup(otlp="phoenix", otlp_protocol="grpc", **FAST)


def test_grpc_on_request_reaches_a_grpc_collector_with_headers() -> None:
    pytest.importorskip("opentelemetry.exporter.otlp.proto.grpc")
    with OTLPGrpcReceiver() as grpc_receiver:
        agentel.setup(
            "otlp",
            otlp_protocol="grpc",
            otlp_endpoint=grpc_receiver.url,
            otlp_headers={"x-team": "agents"},
            metrics=False,
            **FAST,
        )
        emit_sample_trace()
        assert agentel.flush(5000)
        agentel.shutdown()
    assert {span.name for span in grpc_receiver.spans()} == set(SAMPLE_SPANS)
    assert grpc_receiver.requests[0].headers["x-team"] == "agents"


def test_grpc_without_its_exporter_says_what_to_install(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "opentelemetry.exporter.otlp.proto.grpc", None)
    with pytest.raises(SettingError, match=r"agentel\[grpc\]"):
        agentel.setup("otlp", otlp_protocol="grpc", **FAST)


def test_metrics_go_to_otlp_with_semconv_buckets(
    receiver: OTLPReceiver, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("OTEL_EXPORTER_OTLP_ENDPOINT", receiver.url)
    pipeline = agentel.setup("otlp", **FAST)
    record_sample_metrics(pipeline.meter_provider)
    assert agentel.flush(5000)
    wait_for(lambda: len(receiver.metric_names()) == 4)
    assert receiver.metric_names() == {
        sc.METRIC_OPERATION_DURATION,
        sc.METRIC_TOKEN_USAGE,
        sc.METRIC_INVOKE_AGENT_DURATION,
        sc.METRIC_EXECUTE_TOOL_DURATION,
    }
    assert receiver.histogram_bounds(sc.METRIC_TOKEN_USAGE) == tuple(map(float, sc.TOKEN_BUCKETS))
    assert receiver.histogram_bounds(sc.METRIC_INVOKE_AGENT_DURATION) == tuple(
        map(float, sc.AGENT_DURATION_BUCKETS)
    )


def test_presets_stay_on_http_when_the_distro_sets_grpc(
    receiver: OTLPReceiver, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("OTEL_EXPORTER_OTLP_PROTOCOL", "grpc")  # opentelemetry-distro's default
    monkeypatch.setenv("PHOENIX_COLLECTOR_ENDPOINT", receiver.url)
    agentel.setup(otlp="phoenix", **FAST)
    emit_sample_trace()
    _assert_every_span_arrived(receiver)


def test_agentel_otlp_entry_point_ignores_the_generic_grpc_default(
    receiver: OTLPReceiver, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("OTEL_EXPORTER_OTLP_PROTOCOL", "grpc")
    monkeypatch.setenv("OTEL_EXPORTER_OTLP_ENDPOINT", receiver.url)
    provider = TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(PresetOTLPSpanExporter()))
    emit_sample_trace(provider)
    assert receiver.trace_requests()[0].path == "/v1/traces"


def test_agentel_otlp_entry_point_reads_preset_and_dialect_from_env(
    receiver: OTLPReceiver, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("AGENTEL_OTLP_PRESET", "phoenix")
    monkeypatch.setenv("PHOENIX_COLLECTOR_ENDPOINT", receiver.url + "/v1/traces")
    provider = TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(PresetOTLPSpanExporter()))
    emit_sample_trace(provider)
    spans = _by_name(receiver.spans())
    assert receiver.trace_requests()[0].path == "/v1/traces"
    assert spans["invoke_agent Forecaster"].attributes[sc.OI_SPAN_KIND] == "AGENT"


@pytest.mark.parametrize(
    "variable", ["OTEL_EXPORTER_OTLP_PROTOCOL", "OTEL_EXPORTER_OTLP_TRACES_PROTOCOL"]
)
def test_the_grpc_error_names_the_variable_the_user_set(
    variable: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setitem(sys.modules, "opentelemetry.exporter.otlp.proto.grpc", None)
    monkeypatch.setenv(variable, "grpc")
    with pytest.raises(SettingError, match=rf"^{variable} is 'grpc'.*agentel\[grpc\]"):
        agentel.setup("otlp", **FAST)


def test_the_grpc_error_names_the_argument_when_it_was_the_argument(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setitem(sys.modules, "opentelemetry.exporter.otlp.proto.grpc", None)
    monkeypatch.setenv("OTEL_EXPORTER_OTLP_PROTOCOL", "http/protobuf")
    with pytest.raises(SettingError, match=r"^otlp_protocol is 'grpc'"):
        agentel.setup("otlp", otlp_protocol="grpc", **FAST)
