"""The framework-neutral core, through what a user sees in the spans it produces: which span a
user's own span nests under while a traced stream is consumed, what a stream's span records
when it is exhausted, closed early or fails, where tokens add up, and the content shapes."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Iterator
from typing import Any

import pytest
from opentelemetry.sdk.metrics import MeterProvider
from opentelemetry.sdk.trace import ReadableSpan, TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.trace import StatusCode

from agentel.instrumentation.core import chat_messages, nodes
from agentel.instrumentation.core.chat import ChatCall, ChatProfile, openai_usage_tokens
from agentel.instrumentation.core.guest import traced_async_iterator, traced_iterator
from agentel.instrumentation.core.nodes import record_exception
from agentel.instrumentation.core.telemetry import Telemetry


@pytest.fixture
def telemetry() -> Iterator[tuple[Telemetry, InMemorySpanExporter, TracerProvider]]:
    exporter = InMemorySpanExporter()
    provider = TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    made = Telemetry.create(
        "test", tracer_provider=provider, meter_provider=MeterProvider(), capture_content=False
    )
    yield made, exporter, provider


def _by_name(exporter: InMemorySpanExporter) -> dict[str, ReadableSpan]:
    return {span.name: span for span in exporter.get_finished_spans()}


class _Outcome:
    def __init__(self) -> None:
        self.ends: list[tuple[BaseException | None, bool]] = []
        self.items: list[Any] = []


def _framework_stream(tracer: Any, fail_at: int | None = None) -> Iterator[int]:
    """A framework's stream: it makes a span of its own for each item it produces."""
    for index in range(3):
        with tracer.start_as_current_span(f"framework step {index}"):
            if index == fail_at:
                raise ValueError("step failed")
        yield index


def test_stream_context_is_current_only_while_the_framework_works(telemetry):
    made, exporter, provider = telemetry
    node = made.start_node(nodes.AGENT, "invoke_agent a", "", None, {})
    outcome = _Outcome()
    user_tracer = provider.get_tracer("user")
    stream = traced_iterator(
        node.otel_context(),
        _framework_stream(user_tracer),
        outcome.items.append,
        lambda exc, completed: outcome.ends.append((exc, completed)),
    )
    for item in stream:
        with user_tracer.start_as_current_span(f"user code after {item}"):
            pass
    node.span.end()

    spans = _by_name(exporter)
    agent_id = spans["invoke_agent a"].context.span_id
    for index in range(3):
        assert spans[f"framework step {index}"].parent.span_id == agent_id
        assert spans[f"user code after {index}"].parent is None
    assert outcome.items == [0, 1, 2]
    assert outcome.ends == [(None, True)]


def test_stream_closed_early_ends_once_and_closes_the_framework_stream(telemetry):
    made = telemetry[0]
    node = made.start_node(nodes.AGENT, "invoke_agent a", "", None, {})
    closed: list[bool] = []

    def framework() -> Iterator[int]:
        try:
            yield from range(10)
        finally:
            closed.append(True)

    outcome = _Outcome()
    stream = traced_iterator(
        node.otel_context(), framework(), None, lambda e, c: outcome.ends.append((e, c))
    )
    assert next(stream) == 0
    stream.close()
    assert outcome.ends == [(None, False)]
    assert closed == [True]


def test_stream_failure_reaches_the_consumer_and_the_span(telemetry):
    made, exporter, provider = telemetry
    node = made.start_node(nodes.AGENT, "invoke_agent a", "", None, {})

    def on_end(exc: BaseException | None, completed: bool) -> None:
        if exc is not None:
            record_exception(node, exc)
        node.span.end()

    stream = traced_iterator(
        node.otel_context(), _framework_stream(provider.get_tracer("f"), fail_at=1), None, on_end
    )
    with pytest.raises(ValueError, match="step failed"):
        list(stream)
    agent = _by_name(exporter)["invoke_agent a"]
    assert agent.status.status_code is StatusCode.ERROR
    assert agent.attributes["error.type"] == "ValueError"
    assert agent.events[0].attributes["exception.message"] == "step failed"


async def test_async_stream_context_is_current_only_while_the_framework_works(telemetry):
    made, exporter, provider = telemetry
    node = made.start_node(nodes.AGENT, "invoke_agent a", "", None, {})
    user_tracer = provider.get_tracer("user")

    async def framework() -> AsyncIterator[int]:
        for index in range(2):
            with user_tracer.start_as_current_span(f"framework step {index}"):
                pass
            yield index

    ends: list[tuple[BaseException | None, bool]] = []
    stream = traced_async_iterator(
        node.otel_context(), framework(), None, lambda e, c: ends.append((e, c))
    )
    async for item in stream:
        with user_tracer.start_as_current_span(f"user code after {item}"):
            pass
    node.span.end()
    spans = _by_name(exporter)
    agent_id = spans["invoke_agent a"].context.span_id
    assert spans["framework step 1"].parent.span_id == agent_id
    assert spans["user code after 1"].parent is None
    assert ends == [(None, True)]


def test_tokens_add_up_to_every_agent_and_workflow_above(telemetry):
    made, exporter, _ = telemetry
    workflow = made.start_node(nodes.WORKFLOW, "invoke_workflow w", "", None, {})
    team = made.start_node(nodes.AGENT, "invoke_agent team", "", workflow, {})
    delegate = made.start_node(nodes.TOOL, "execute_tool delegate", "", team, {})
    member = made.start_node(nodes.AGENT, "invoke_agent member", "", delegate, {})
    call = ChatCall.start(made, ChatProfile("gpt-4o", "openai"), member, {})
    call.succeed((100, 10, 40, 0, 6), ("stop",), "resp_1", "gpt-4o-2025")
    call.end()
    for node in (member, delegate, team, workflow):
        made.finish(node)

    spans = _by_name(exporter)
    for name in ("invoke_agent member", "invoke_agent team", "invoke_workflow w"):
        assert spans[name].attributes["gen_ai.usage.input_tokens"] == 100
        assert spans[name].attributes["gen_ai.usage.output_tokens"] == 10
        assert spans[name].attributes["gen_ai.usage.cache_read.input_tokens"] == 40
        assert spans[name].attributes["gen_ai.usage.reasoning.output_tokens"] == 6
    assert "gen_ai.usage.input_tokens" not in spans["execute_tool delegate"].attributes
    chat = spans["chat gpt-4o"]
    assert chat.parent.span_id == spans["invoke_agent member"].context.span_id
    assert chat.attributes["gen_ai.response.finish_reasons"] == ("stop",)
    assert chat.attributes["gen_ai.response.id"] == "resp_1"
    assert spans["invoke_agent member"].attributes["gen_ai.provider.name"] == "openai"


def test_openai_usage_in_both_api_shapes():
    responses = {
        "input_tokens": 50,
        "output_tokens": 7,
        "input_tokens_details": {"cached_tokens": 20},
        "output_tokens_details": {"reasoning_tokens": 3},
    }
    chat = {
        "prompt_tokens": 50,
        "completion_tokens": 7,
        "prompt_tokens_details": {"cached_tokens": 20},
        "completion_tokens_details": {"reasoning_tokens": 3},
    }
    assert openai_usage_tokens(responses) == (50, 7, 20, 0, 3)
    assert openai_usage_tokens(chat) == (50, 7, 20, 0, 3)
    assert openai_usage_tokens(None) == (0, 0, 0, 0, 0)


def test_chat_completions_messages_in_semconv_shapes():
    messages = [
        {"role": "developer", "content": "Be brief."},
        {
            "role": "user",
            "content": [
                {"type": "text", "text": "What is this?"},
                {"type": "image_url", "image_url": {"url": "data:image/png;base64,AAAA"}},
            ],
        },
        {
            "role": "assistant",
            "content": None,
            "tool_calls": [
                {
                    "id": "call_1",
                    "type": "function",
                    "function": {"name": "look", "arguments": '{"x": 1}'},
                }
            ],
        },
        {"role": "tool", "tool_call_id": "call_1", "content": '{"seen": "a cat"}'},
    ]
    converted = chat_messages.input_messages(messages, capture_blobs=False)
    assert converted == [
        {"role": "system", "parts": [{"type": "text", "content": "Be brief."}]},
        {
            "role": "user",
            "parts": [
                {"type": "text", "content": "What is this?"},
                {
                    "type": "blob",
                    "modality": "image",
                    "mime_type": "image/png",
                    "content": "[blob omitted: 3 bytes]",
                },
            ],
        },
        {
            "role": "assistant",
            "parts": [{"type": "tool_call", "id": "call_1", "name": "look", "arguments": {"x": 1}}],
        },
        {
            "role": "tool",
            "parts": [
                {"type": "tool_call_response", "id": "call_1", "response": {"seen": "a cat"}}
            ],
        },
    ]
    reply = chat_messages.output_message({"content": "A cat."}, "stop", capture_blobs=False)
    assert reply == {
        "role": "assistant",
        "parts": [{"type": "text", "content": "A cat."}],
        "finish_reason": "stop",
    }
    assert chat_messages.finish_reason("tool_calls") == "tool_call"
    tools = [{"type": "function", "function": {"name": "look", "parameters": {"type": "object"}}}]
    assert json.loads(json.dumps(chat_messages.tool_definitions(tools))) == [
        {"type": "function", "name": "look", "parameters": {"type": "object"}}
    ]
