"""Helpers for the export tests: a clean OTel global state, and a sample agent trace made
with a plain OTel tracer carrying the semconv attributes the instrumentation emits."""

from __future__ import annotations

import json
import os
from collections.abc import Iterator

import pytest
from opentelemetry import metrics, trace
from opentelemetry.metrics import _internal as metrics_internal
from opentelemetry.util._once import Once

from agentel import semconv as sc
from agentel.export import pipeline

_OWN_PREFIXES = ("OTEL_", "AGENTEL_", "CELESTO_", "LANGFUSE_", "DD_", "PHOENIX_")


def reset_otel_globals() -> None:
    """Forget the global providers, as a fresh process would (tests only)."""
    trace._TRACER_PROVIDER_SET_ONCE = Once()  # type: ignore[attr-defined]
    trace._TRACER_PROVIDER = None  # type: ignore[attr-defined]
    metrics_internal._METER_PROVIDER_SET_ONCE = Once()
    metrics_internal._METER_PROVIDER = None


def clean_pipeline(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """No env of ours, no global provider, no pipeline: before and after each test."""
    for name in list(os.environ):
        if name.startswith(_OWN_PREFIXES) and not name.startswith("AGENTEL_TEST_"):
            monkeypatch.delenv(name)
    reset_otel_globals()
    yield
    current = pipeline.current()
    if current is not None:
        current.shutdown(timeout_millis=2000)
    reset_otel_globals()


MESSAGES_IN = json.dumps([{"role": "user", "parts": [{"type": "text", "content": "Weather?"}]}])
MESSAGES_OUT = json.dumps(
    [
        {
            "role": "assistant",
            "parts": [{"type": "text", "content": "Sunny"}],
            "finish_reason": "stop",
        }
    ]
)
WORKFLOW_ATTRIBUTES = {
    sc.GEN_AI_OPERATION_NAME: sc.OP_INVOKE_WORKFLOW,
    sc.GEN_AI_WORKFLOW_NAME: "Weather flow",
    sc.GEN_AI_CONVERSATION_ID: "conv-42",
    sc.AGENTEL_METADATA_PREFIX + "user": "ada",
    sc.GEN_AI_USAGE_INPUT_TOKENS: 12,
    sc.GEN_AI_USAGE_OUTPUT_TOKENS: 5,
}
AGENT_ATTRIBUTES = {
    sc.GEN_AI_OPERATION_NAME: sc.OP_INVOKE_AGENT,
    sc.GEN_AI_PROVIDER_NAME: sc.PROVIDER_OPENAI,
    sc.GEN_AI_AGENT_NAME: "Forecaster",
    sc.GEN_AI_CONVERSATION_ID: "conv-42",
    sc.GEN_AI_OUTPUT_TYPE: sc.OUTPUT_TYPE_TEXT,
    sc.GEN_AI_INPUT_MESSAGES: MESSAGES_IN,
    sc.GEN_AI_OUTPUT_MESSAGES: MESSAGES_OUT,
    sc.GEN_AI_TOOL_DEFINITIONS: json.dumps([{"type": "function", "name": "get_weather"}]),
}
CHAT_ATTRIBUTES = {
    sc.GEN_AI_OPERATION_NAME: sc.OP_CHAT,
    sc.GEN_AI_PROVIDER_NAME: sc.PROVIDER_OPENAI,
    sc.GEN_AI_REQUEST_MODEL: "gpt-4o",
    sc.GEN_AI_RESPONSE_MODEL: "gpt-4o-2024-08-06",
    sc.GEN_AI_REQUEST_TEMPERATURE: 0.2,
    sc.GEN_AI_RESPONSE_FINISH_REASONS: ("stop",),
    sc.GEN_AI_USAGE_INPUT_TOKENS: 12,
    sc.GEN_AI_USAGE_OUTPUT_TOKENS: 5,
    sc.GEN_AI_CONVERSATION_ID: "conv-42",
    sc.GEN_AI_INPUT_MESSAGES: MESSAGES_IN,
    sc.GEN_AI_OUTPUT_MESSAGES: MESSAGES_OUT,
}
TOOL_ATTRIBUTES = {
    sc.GEN_AI_OPERATION_NAME: sc.OP_EXECUTE_TOOL,
    sc.GEN_AI_TOOL_NAME: "get_weather",
    sc.GEN_AI_TOOL_TYPE: sc.TOOL_TYPE_FUNCTION,
    sc.GEN_AI_TOOL_CALL_ID: "call_1",
    sc.GEN_AI_AGENT_NAME: "Forecaster",
    sc.GEN_AI_TOOL_CALL_ARGUMENTS: '{"city": "Paris"}',
    sc.GEN_AI_TOOL_CALL_RESULT: "Sunny",
}
HANDOFF_ATTRIBUTES = {
    sc.GEN_AI_OPERATION_NAME: sc.OP_EXECUTE_TOOL,
    sc.GEN_AI_TOOL_NAME: "transfer_to_poet",
    sc.GEN_AI_TOOL_TYPE: sc.TOOL_TYPE_HANDOFF,
    sc.AGENTEL_HANDOFF_FROM_AGENT: "Forecaster",
    sc.AGENTEL_HANDOFF_TO_AGENT: "Poet",
}
GUARDRAIL_ATTRIBUTES = {
    sc.GEN_AI_OPERATION_NAME: sc.OP_APPLY_GUARDRAIL,
    sc.GEN_AI_GUARDRAIL_COMPONENT_NAME: "no_secrets",
    sc.GEN_AI_GUARDRAIL_SOURCE: sc.GUARDRAIL_SOURCE_INPUT,
    sc.GEN_AI_GUARDRAIL_RESULT_TYPE: sc.GUARDRAIL_RESULT_TRIPWIRE,
    sc.GEN_AI_GUARDRAIL_RESULT_VALUE: "false",
}
SAMPLE_SPANS = {
    "invoke_workflow Weather flow": WORKFLOW_ATTRIBUTES,
    "invoke_agent Forecaster": AGENT_ATTRIBUTES,
    "apply_guardrail no_secrets": GUARDRAIL_ATTRIBUTES,
    "chat gpt-4o": CHAT_ATTRIBUTES,
    "execute_tool get_weather": TOOL_ATTRIBUTES,
    "execute_tool transfer_to_poet": HANDOFF_ATTRIBUTES,
}


def emit_sample_trace(provider: trace.TracerProvider | None = None) -> None:
    """workflow > agent > (guardrail, chat, tool, handoff), like one instrumented run."""
    tracer = trace.get_tracer("agentel.test", tracer_provider=provider)
    names = list(SAMPLE_SPANS)
    with (
        tracer.start_as_current_span(names[0], attributes=WORKFLOW_ATTRIBUTES),
        tracer.start_as_current_span(names[1], attributes=AGENT_ATTRIBUTES),
    ):
        for name in names[2:]:
            kind = trace.SpanKind.CLIENT if name.startswith("chat") else trace.SpanKind.INTERNAL
            with tracer.start_as_current_span(name, kind=kind, attributes=SAMPLE_SPANS[name]):
                pass


def record_sample_metrics(provider: metrics.MeterProvider | None = None) -> None:
    """The four GenAI histograms, as the instrumentor records them."""
    meter = (provider or metrics.get_meter_provider()).get_meter("agentel.test")
    meter.create_histogram(sc.METRIC_OPERATION_DURATION, unit="s").record(0.3)
    meter.create_histogram(sc.METRIC_TOKEN_USAGE, unit="{token}").record(12)
    meter.create_histogram(sc.METRIC_INVOKE_AGENT_DURATION, unit="s").record(1.2)
    meter.create_histogram(sc.METRIC_EXECUTE_TOOL_DURATION, unit="s").record(0.01)
