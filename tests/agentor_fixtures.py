"""Fixtures and helpers for the Agentor 0.1 instrumentation tests.

Real Agentor runs (``Agentor`` and its ``AgentLoop``) against the fake OpenAI server: the
model is Agentor's own ``ChatCompletionsModel`` over an ``openai`` client pointed at the fake
(no retries, so a scripted error reaches Agentor once). ``traced_agentor`` instruments into an
in-memory exporter and always uninstruments afterwards.
"""

from __future__ import annotations

import os

# LiteLLM fetches a model price list from the internet when first imported; tests run offline.
os.environ.setdefault("LITELLM_LOCAL_MODEL_COST_MAP", "True")

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import pytest
from agentor import Agentor
from agentor.engine import ChatCompletionsModel
from opentelemetry.sdk.metrics import MeterProvider
from opentelemetry.sdk.metrics.export import InMemoryMetricReader
from opentelemetry.sdk.trace import ReadableSpan, TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

from agentel.instrumentation.agentor import AgentorInstrumentor
from fake_openai import FakeOpenAI, Reply, ToolCall, Usage

MODEL = "gpt-4o-mini"


def get_weather(city: str) -> str:
    """Return the weather in a city.

    Args:
        city: The city to look up.
    """
    return f"Sunny in {city}"


def weather_replies() -> list[Reply]:
    """A tool call, then the answer; the first call with cached and reasoning tokens."""
    return [
        Reply(
            tool_calls=[ToolCall("get_weather", {"city": "Paris"})],
            usage=Usage(input_tokens=30, output_tokens=7, cached_tokens=12, reasoning_tokens=3),
        ),
        Reply(text="Sunny", usage=Usage(input_tokens=50, output_tokens=2)),
    ]


def chat_model(fake: FakeOpenAI, **params: Any) -> ChatCompletionsModel:
    return ChatCompletionsModel(MODEL, client=fake.client(), **params)


def weather_agent(fake: FakeOpenAI, **kwargs: Any) -> Agentor:
    kwargs.setdefault("tools", [get_weather])
    return Agentor(
        name="Weather",
        instructions="Answer briefly.",
        model=chat_model(fake),
        **kwargs,
    )


@dataclass
class TracedAgentor:
    exporter: InMemorySpanExporter
    metrics: InMemoryMetricReader
    instrumentor: AgentorInstrumentor

    def spans(self) -> list[ReadableSpan]:
        return sorted(self.exporter.get_finished_spans(), key=lambda s: s.start_time or 0)

    def names(self) -> list[str]:
        return [span.name for span in self.spans()]

    def one(self, name: str) -> ReadableSpan:
        found = [s for s in self.spans() if s.name == name]
        assert len(found) == 1, f"expected one span {name!r}, got {self.names()}"
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


def make_traced_agentor(**instrument_kwargs: Any) -> TracedAgentor:
    exporter = InMemorySpanExporter()
    tracer_provider = TracerProvider()
    tracer_provider.add_span_processor(SimpleSpanProcessor(exporter))
    reader = InMemoryMetricReader()
    instrumentor = AgentorInstrumentor()
    instrumentor.instrument(
        tracer_provider=tracer_provider,
        meter_provider=MeterProvider(metric_readers=[reader]),
        **instrument_kwargs,
    )
    return TracedAgentor(exporter, reader, instrumentor)


@pytest.fixture
def traced_agentor(monkeypatch: pytest.MonkeyPatch) -> Iterator[TracedAgentor]:
    monkeypatch.delenv("OTEL_INSTRUMENTATION_GENAI_CAPTURE_MESSAGE_CONTENT", raising=False)
    traced = make_traced_agentor()
    try:
        yield traced
    finally:
        traced.instrumentor.uninstrument()


@pytest.fixture
def traced_agentor_with_content(monkeypatch: pytest.MonkeyPatch) -> Iterator[TracedAgentor]:
    monkeypatch.setenv("OTEL_INSTRUMENTATION_GENAI_CAPTURE_MESSAGE_CONTENT", "SPAN_ONLY")
    traced = make_traced_agentor()
    try:
        yield traced
    finally:
        traced.instrumentor.uninstrument()
