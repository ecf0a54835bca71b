"""Fixtures and helpers for the OpenAI Agents instrumentation tests.

``traced`` instruments the SDK into an in-memory exporter and metric reader, and always
uninstruments afterwards so no test leaks patched SDK methods into the next one.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import pytest
from agents import Agent, OpenAIChatCompletionsModel, OpenAIResponsesModel, function_tool
from opentelemetry.sdk.metrics import MeterProvider
from opentelemetry.sdk.metrics.export import InMemoryMetricReader
from opentelemetry.sdk.trace import ReadableSpan, TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

from agentel.instrumentation.openai_agents import OpenAIAgentsInstrumentor
from fake_openai import FakeOpenAI, Reply, ToolCall, Usage


@dataclass
class Traced:
    exporter: InMemorySpanExporter
    metrics: InMemoryMetricReader
    tracer_provider: TracerProvider
    instrumentor: Any  # any of agentel's instrumentors

    def spans(self) -> list[ReadableSpan]:
        return sorted(self.exporter.get_finished_spans(), key=lambda s: s.start_time or 0)

    def names(self) -> list[str]:
        return [span.name for span in self.spans()]

    def named(self, name: str) -> list[ReadableSpan]:
        return [s for s in self.spans() if s.name == name]

    def one(self, name: str) -> ReadableSpan:
        found = self.named(name)
        assert len(found) == 1, f"expected one span {name!r}, got {[s.name for s in self.spans()]}"
        return found[0]

    def metric_points(self, name: str) -> list[Any]:
        data = self.metrics.get_metrics_data()
        points: list[Any] = []
        for resource_metrics in data.resource_metrics if data else []:
            for scope_metrics in resource_metrics.scope_metrics:
                for metric in scope_metrics.metrics:
                    if metric.name == name:
                        points.extend(metric.data.data_points)
        return points


def make_traced(instrumentor: Any = None, **instrument_kwargs: Any) -> Traced:
    """``instrumentor`` (the OpenAI Agents one by default) instrumented into an in-memory
    exporter and metric reader of its own."""
    exporter = InMemorySpanExporter()
    tracer_provider = TracerProvider()
    tracer_provider.add_span_processor(SimpleSpanProcessor(exporter))
    reader = InMemoryMetricReader()
    meter_provider = MeterProvider(metric_readers=[reader])
    instrumentor = instrumentor or OpenAIAgentsInstrumentor()
    instrumentor.instrument(
        tracer_provider=tracer_provider, meter_provider=meter_provider, **instrument_kwargs
    )
    return Traced(exporter, reader, tracer_provider, instrumentor)


@pytest.fixture
def traced(monkeypatch: pytest.MonkeyPatch) -> Iterator[Traced]:
    monkeypatch.delenv("OTEL_INSTRUMENTATION_GENAI_CAPTURE_MESSAGE_CONTENT", raising=False)
    result = make_traced()
    try:
        yield result
    finally:
        result.instrumentor.uninstrument()


@pytest.fixture
def traced_with_content(monkeypatch: pytest.MonkeyPatch) -> Iterator[Traced]:
    monkeypatch.setenv("OTEL_INSTRUMENTATION_GENAI_CAPTURE_MESSAGE_CONTENT", "SPAN_ONLY")
    result = make_traced()
    try:
        yield result
    finally:
        result.instrumentor.uninstrument()


# --- the support-desk scenario every tree test uses ------------------------------------------
@function_tool
def lookup_order(order_id: str) -> str:
    """Look up an order by its id."""
    return f"order {order_id}: shipped"


@function_tool
def refund(order_id: str, amount: float) -> str:
    """Refund part of an order."""
    return f"refunded {amount} on {order_id}"


def support_agents(fake: FakeOpenAI, api: str = "responses") -> Agent[Any]:
    """triage -> lookup_order tool -> handoff to billing -> refund tool -> answer."""
    client = fake.client()
    model_class = OpenAIResponsesModel if api == "responses" else OpenAIChatCompletionsModel
    return support_agents_on(model_class(model="gpt-4o", openai_client=client))


def support_agents_on(model: Any) -> Agent[Any]:
    """The support-desk agents on any model object (the benchmark uses an in-process one)."""
    billing = Agent(
        name="billing",
        instructions="You handle refunds.",
        handoff_description="Refunds and invoices",
        model=model,
        tools=[refund],
    )
    return Agent(
        name="triage",
        instructions="You route customer requests.",
        model=model,
        tools=[lookup_order],
        handoffs=[billing],
    )


SUPPORT_SCRIPT = [
    Reply(
        tool_calls=[ToolCall("lookup_order", {"order_id": "A7"}, call_id="call_lookup")],
        usage=Usage(input_tokens=100, output_tokens=10, cached_tokens=40),
    ),
    Reply(
        tool_calls=[ToolCall("transfer_to_billing", {}, call_id="call_handoff")],
        usage=Usage(input_tokens=120, output_tokens=8),
    ),
    Reply(
        tool_calls=[ToolCall("refund", {"order_id": "A7", "amount": 5.5}, call_id="call_refund")],
        usage=Usage(input_tokens=150, output_tokens=12, reasoning_tokens=6),
    ),
    Reply(text="Refunded 5.5 on order A7.", usage=Usage(input_tokens=170, output_tokens=20)),
]


def parent_of(span: ReadableSpan, spans: list[ReadableSpan]) -> ReadableSpan | None:
    if span.parent is None:
        return None
    for candidate in spans:
        if candidate.context.span_id == span.parent.span_id:
            return candidate
    return None


def tree(spans: list[ReadableSpan]) -> list[str]:
    """The span tree as indented names, children in start order: what a trace view shows."""
    lines: list[str] = []

    def walk(span: ReadableSpan, depth: int) -> None:
        lines.append("  " * depth + span.name)
        children = [s for s in spans if s.parent and s.parent.span_id == span.context.span_id]
        for child in sorted(children, key=lambda s: s.start_time or 0):
            walk(child, depth + 1)

    ids = {s.context.span_id for s in spans}
    for root in sorted(spans, key=lambda s: s.start_time or 0):
        if root.parent is None or root.parent.span_id not in ids:
            walk(root, 0)
    return lines
