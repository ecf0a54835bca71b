"""Core helpers the Agentor instrumentor added, framework-neutral: a stream traced from its
first item, a stream that holds only the framework's variable, the error type on a span's
metric points, which backends the pipeline announces, LiteLLM's providers by semconv name."""

from __future__ import annotations

import contextvars
import gc
from collections.abc import AsyncIterator
from typing import Any

from opentelemetry import trace
from opentelemetry.sdk.metrics import MeterProvider
from opentelemetry.sdk.metrics.export import InMemoryMetricReader
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

from agentel import backends as exports
from agentel import semconv as sc
from agentel.instrumentation.core import nodes
from agentel.instrumentation.core.chat import litellm_provider
from agentel.instrumentation.core.guest import StreamPlan, traced_when_started
from agentel.instrumentation.core.telemetry import Telemetry

MARK: contextvars.ContextVar[str | None] = contextvars.ContextVar("test_mark", default=None)


class _Framework:
    """An async generator of the framework's: records what it saw while producing items."""

    def __init__(self) -> None:
        self.seen: list[tuple[bool, str | None]] = []
        self.closed = False

    async def stream(self) -> AsyncIterator[int]:
        try:
            for index in range(3):
                span_context = trace.get_current_span().get_span_context()
                self.seen.append((span_context.is_valid, MARK.get()))
                yield index
        finally:
            self.closed = True


def _telemetry() -> tuple[Telemetry, InMemorySpanExporter, InMemoryMetricReader]:
    exporter = InMemorySpanExporter()
    provider = TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    reader = InMemoryMetricReader()
    made = Telemetry.create(
        "test", tracer_provider=provider, meter_provider=MeterProvider(metric_readers=[reader])
    )
    return made, exporter, reader


async def test_a_stream_starts_its_span_at_the_first_item_and_ends_it_when_closed() -> None:
    made, exporter, _ = _telemetry()
    framework = _Framework()
    started: list[Any] = []

    def begin() -> StreamPlan:
        node = made.start_node(nodes.AGENT, "invoke_agent a", "", None, {})
        started.append(node)
        return StreamPlan(node.otel_context(), None, lambda exc, done: made.finish(node))

    never_iterated = traced_when_started(_Framework().stream(), begin)
    assert started == []
    await never_iterated.aclose()
    assert started == [] and exporter.get_finished_spans() == ()

    stream = traced_when_started(framework.stream(), begin)
    assert await stream.__anext__() == 0
    assert not trace.get_current_span().get_span_context().is_valid  # the consumer's side
    await stream.aclose()  # closed early by the consumer
    assert framework.closed
    assert [s.name for s in exporter.get_finished_spans()] == ["invoke_agent a"]
    assert framework.seen == [(True, None)]


async def test_a_plan_without_context_holds_only_the_frameworks_variable() -> None:
    framework = _Framework()

    def begin() -> StreamPlan:
        return StreamPlan(None, None, lambda exc, done: None, (MARK, "untraced"))

    items = [item async for item in traced_when_started(framework.stream(), begin)]
    assert items == [0, 1, 2]
    assert framework.seen == [(False, "untraced")] * 3
    assert MARK.get() is None


async def test_a_failing_begin_leaves_the_stream_untouched() -> None:
    framework = _Framework()

    def begin() -> StreamPlan:
        raise RuntimeError("our bug")

    assert [item async for item in traced_when_started(framework.stream(), begin)] == [0, 1, 2]


def test_a_reported_failure_keeps_its_error_type_on_the_metric() -> None:
    made, exporter, reader = _telemetry()
    node = made.start_node(nodes.AGENT, "invoke_agent a", "", None, {})
    node.name = "a"
    nodes.mark_error(node, "ran out of turns", "max_turns")
    made.finish(node)
    [span] = exporter.get_finished_spans()
    assert span.attributes[sc.ERROR_TYPE] == "max_turns"
    metrics = reader.get_metrics_data().resource_metrics[0].scope_metrics[0].metrics
    [duration] = [m for m in metrics if m.name == sc.METRIC_INVOKE_AGENT_DURATION]
    [point] = duration.data.data_points
    assert point.attributes[sc.ERROR_TYPE] == "max_turns"


def test_backends_are_announced_and_withdrawn_per_sender() -> None:
    class Sender:
        pass

    first, second = Sender(), Sender()
    assert not exports.sending_to("test-backend")
    exports.announce("test-backend", first)
    exports.announce("test-backend", second)
    exports.withdraw(first)
    assert exports.sending_to("test-backend")
    del second  # a sender that is collected no longer counts
    gc.collect()
    assert not exports.sending_to("test-backend")


def test_litellm_prefixes_name_the_semconv_provider() -> None:
    assert litellm_provider("gemini/gemini-2.0-flash") == "gcp.gemini"
    assert litellm_provider("bedrock/anthropic.claude-3") == "aws.bedrock"
    assert litellm_provider("anthropic/claude-sonnet-4") == "anthropic"
    assert litellm_provider("gpt-4o") == "litellm"
