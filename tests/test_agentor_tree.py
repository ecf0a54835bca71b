"""Agentor 0.1 runs as span trees: one ``invoke_agent`` root per run, its model calls and
tool calls below it, with the attributes the GenAI semconv asks for."""

from __future__ import annotations

import asyncio
import json
import sys

import pytest
from agentor import Agentor
from agentor.engine import AgentLoop, LiteLLMModel, Tool
from agentor.engine.store import MemoryStore
from opentelemetry import trace
from opentelemetry.trace import SpanKind, StatusCode

import agentel
from agent_fixtures import Traced
from agentel import semconv as sc
from agentel.instrumentation.agentor import AgentorInstrumentor
from agentor_fixtures import (
    MODEL,
    chat_model,
    get_weather,
    weather_agent,
    weather_replies,
)
from fake_openai import FakeOpenAI, Reply, Request, ToolCall


def test_run_is_one_tree_with_semconv_attributes(
    traced_agentor: Traced, fake_openai: FakeOpenAI
) -> None:
    fake_openai.script(weather_replies())
    agent = weather_agent(fake_openai, trace_group_id="conv-7", trace_metadata={"plan": "pro"})
    result = agent.run("Weather in Paris?")
    assert result.final_output == "Sunny"

    assert traced_agentor.names() == [
        "invoke_agent Weather",
        f"chat {MODEL}",
        "execute_tool get_weather",
        f"chat {MODEL}",
    ]
    root, first, tool, second = traced_agentor.spans()
    assert root.parent is None and root.kind is SpanKind.INTERNAL
    assert {s.parent.span_id for s in (first, tool, second)} == {root.context.span_id}
    assert {s.context.trace_id for s in traced_agentor.spans()} == {root.context.trace_id}
    assert all(s.status.status_code is StatusCode.UNSET for s in traced_agentor.spans())
    for span in traced_agentor.spans():
        assert span.attributes[sc.GEN_AI_CONVERSATION_ID] == "conv-7"

    assert dict(root.attributes) == {
        sc.GEN_AI_OPERATION_NAME: "invoke_agent",
        sc.GEN_AI_AGENT_NAME: "Weather",
        sc.GEN_AI_PROVIDER_NAME: "openai",
        sc.GEN_AI_OUTPUT_TYPE: "text",
        sc.GEN_AI_CONVERSATION_ID: "conv-7",
        sc.AGENTEL_METADATA_PREFIX + "plan": "pro",
        sc.GEN_AI_USAGE_INPUT_TOKENS: 80,
        sc.GEN_AI_USAGE_OUTPUT_TOKENS: 9,
        sc.GEN_AI_USAGE_CACHE_READ_INPUT_TOKENS: 12,
        sc.GEN_AI_USAGE_REASONING_OUTPUT_TOKENS: 3,
    }
    assert first.kind is SpanKind.CLIENT
    attrs = first.attributes
    assert attrs[sc.GEN_AI_OPERATION_NAME] == "chat"
    assert attrs[sc.GEN_AI_PROVIDER_NAME] == "openai"
    assert attrs[sc.GEN_AI_REQUEST_MODEL] == MODEL
    assert attrs[sc.GEN_AI_RESPONSE_MODEL] == f"{MODEL}-2025-01-01"
    assert attrs[sc.GEN_AI_RESPONSE_ID].startswith("chatcmpl-")
    assert attrs[sc.GEN_AI_RESPONSE_FINISH_REASONS] == ("tool_call",)
    assert attrs[sc.GEN_AI_REQUEST_STREAM] is False
    assert attrs[sc.SERVER_ADDRESS] == "127.0.0.1"
    assert (attrs[sc.GEN_AI_USAGE_INPUT_TOKENS], attrs[sc.GEN_AI_USAGE_OUTPUT_TOKENS]) == (30, 7)
    assert attrs[sc.GEN_AI_USAGE_CACHE_READ_INPUT_TOKENS] == 12
    assert attrs[sc.GEN_AI_USAGE_REASONING_OUTPUT_TOKENS] == 3
    assert second.attributes[sc.GEN_AI_RESPONSE_FINISH_REASONS] == ("stop",)
    assert sc.GEN_AI_USAGE_CACHE_READ_INPUT_TOKENS not in second.attributes

    # the call id is the one the model sent, as Agentor answered it
    [answered] = [m for m in fake_openai.requests[1].body["messages"] if m["role"] == "tool"]
    assert tool.attributes[sc.GEN_AI_TOOL_CALL_ID] == answered["tool_call_id"]
    assert tool.attributes[sc.GEN_AI_TOOL_NAME] == "get_weather"
    assert tool.attributes[sc.GEN_AI_TOOL_TYPE] == "function"
    assert tool.attributes[sc.GEN_AI_TOOL_DESCRIPTION] == "Return the weather in a city."
    assert tool.attributes[sc.GEN_AI_AGENT_NAME] == "Weather"
    for span in traced_agentor.spans():  # no content unless asked for
        assert not [
            k
            for k in span.attributes
            if k.endswith(("messages", "instructions", "arguments", "result"))
        ]
        assert sc.GEN_AI_REQUEST_MODEL not in span.attributes or span.name.startswith("chat")

    durations = traced_agentor.metric_points(sc.METRIC_OPERATION_DURATION)
    assert sum(point.count for point in durations) == 2
    [agent_duration] = traced_agentor.metric_points(sc.METRIC_INVOKE_AGENT_DURATION)
    assert agent_duration.attributes == {sc.GEN_AI_AGENT_NAME: "Weather"}


def test_parallel_calls_of_one_tool_keep_their_own_call_ids(
    traced_agentor: Traced, fake_openai: FakeOpenAI
) -> None:
    fake_openai.script(
        [
            Reply(
                tool_calls=[
                    ToolCall("get_weather", {"city": "Paris"}, call_id="call_paris"),
                    ToolCall("get_weather", {"city": "Oslo"}, call_id="call_oslo"),
                ]
            ),
            Reply(text="Both sunny"),
        ]
    )
    weather_agent(fake_openai).run("Paris and Oslo?")
    tools = [s for s in traced_agentor.spans() if s.name == "execute_tool get_weather"]
    assert sorted(s.attributes[sc.GEN_AI_TOOL_CALL_ID] for s in tools) == [
        "call_oslo",
        "call_paris",
    ]


def test_content_only_when_capture_is_on(
    traced_agentor_with_content: Traced, fake_openai: FakeOpenAI
) -> None:
    traced = traced_agentor_with_content
    fake_openai.script(weather_replies())
    weather_agent(fake_openai).run("Weather in Paris?")
    root, first, tool, second = traced.spans()
    sent = json.loads(first.attributes[sc.GEN_AI_INPUT_MESSAGES])
    assert sent == [
        {"role": "system", "parts": [{"type": "text", "content": "Answer briefly."}]},
        {"role": "user", "parts": [{"type": "text", "content": "Weather in Paris?"}]},
    ]
    [definition] = json.loads(first.attributes[sc.GEN_AI_TOOL_DEFINITIONS])
    assert definition["name"] == "get_weather"
    assert definition["parameters"]["required"] == ["city"]
    [call] = json.loads(first.attributes[sc.GEN_AI_OUTPUT_MESSAGES])[0]["parts"]
    assert call["type"] == "tool_call" and call["arguments"] == {"city": "Paris"}
    assert json.loads(tool.attributes[sc.GEN_AI_TOOL_CALL_ARGUMENTS]) == {"city": "Paris"}
    assert json.loads(tool.attributes[sc.GEN_AI_TOOL_CALL_RESULT]) == "Sunny in Paris"
    answer = json.loads(second.attributes[sc.GEN_AI_OUTPUT_MESSAGES])
    assert answer == [
        {
            "role": "assistant",
            "parts": [{"type": "text", "content": "Sunny"}],
            "finish_reason": "stop",
        }
    ]
    # the agent: its instructions, what it was asked first, and what it answered last
    assert json.loads(root.attributes[sc.GEN_AI_SYSTEM_INSTRUCTIONS]) == [
        {"type": "text", "content": "Answer briefly."}
    ]
    assert root.attributes[sc.GEN_AI_INPUT_MESSAGES] == first.attributes[sc.GEN_AI_INPUT_MESSAGES]
    assert (
        root.attributes[sc.GEN_AI_OUTPUT_MESSAGES] == second.attributes[sc.GEN_AI_OUTPUT_MESSAGES]
    )


async def test_concurrent_batch_of_arun_makes_one_trace_per_prompt(
    traced_agentor: Traced, fake_openai: FakeOpenAI
) -> None:
    def answer(request: Request) -> Reply:
        if not request.tool_outputs:
            city = request.user_text.split()[-1]
            return Reply(tool_calls=[ToolCall("get_weather", {"city": city})])
        return Reply(text=request.tool_outputs[0])

    fake_openai.set_responder(answer)
    agent = weather_agent(fake_openai)
    outputs = await agent.arun(["Weather in Paris", "Weather in Oslo", "Weather in Rome"])
    assert [str(o) for o in outputs] == ["Sunny in Paris", "Sunny in Oslo", "Sunny in Rome"]

    roots = [s for s in traced_agentor.spans() if s.parent is None]
    assert [r.name for r in roots] == ["invoke_agent Weather"] * 3
    assert len({r.context.trace_id for r in roots}) == 3
    for root in roots:
        members = [s for s in traced_agentor.spans() if s.context.trace_id == root.context.trace_id]
        assert sorted(s.name for s in members) == sorted(
            ["invoke_agent Weather", f"chat {MODEL}", "execute_tool get_weather", f"chat {MODEL}"]
        )
        assert all(s.parent.span_id == root.context.span_id for s in members if s is not root)


async def test_stream_keeps_our_context_out_of_the_consumer(
    traced_agentor: Traced, fake_openai: FakeOpenAI
) -> None:
    fake_openai.script(weather_replies())
    seen_in_tool: list[str] = []

    def get_weather_traced(city: str) -> str:
        """Return the weather in a city."""
        seen_in_tool.append(trace.get_current_span().name)  # type: ignore[attr-defined]
        return f"Sunny in {city}"

    agent = weather_agent(
        fake_openai, tools=[Tool.from_function(get_weather_traced, "get_weather")]
    )
    user_tracer = trace.get_tracer("user")
    outputs = []
    async for output in agent.stream_chat("Weather in Paris?", serialize=False):
        # the consumer's code between items runs in its own context
        assert not trace.get_current_span().get_span_context().is_valid
        outputs.append(output)
        with user_tracer.start_as_current_span("user work"):
            pass
    assert any(o.message == "Sunny" for o in outputs)
    assert seen_in_tool == ["execute_tool get_weather"]

    names = traced_agentor.names()
    assert names[0] == "invoke_agent Weather" and names.count(f"chat {MODEL}") == 2
    root = traced_agentor.spans()[0]
    assert root.attributes[sc.GEN_AI_USAGE_INPUT_TOKENS] == 80


async def test_streamed_model_calls_record_chunks_and_tokens(
    traced_agentor: Traced, fake_openai: FakeOpenAI
) -> None:
    fake_openai.script(weather_replies())
    loop = AgentLoop(name="Weather", model=chat_model(fake_openai), tools=[get_weather])
    events = [event async for event in loop.astream("Weather in Paris?", stream_text=True)]
    assert "".join(e.text for e in events if e.type == "text_delta") == "Sunny"
    first, second = [s for s in traced_agentor.spans() if s.name.startswith("chat")]
    assert first.attributes[sc.GEN_AI_REQUEST_STREAM] is True
    assert first.attributes[sc.GEN_AI_RESPONSE_FINISH_REASONS] == ("tool_call",)
    assert (
        first.attributes[sc.GEN_AI_USAGE_INPUT_TOKENS],
        first.attributes[sc.GEN_AI_USAGE_OUTPUT_TOKENS],
    ) == (30, 7)
    assert second.attributes[sc.GEN_AI_RESPONSE_TIME_TO_FIRST_CHUNK] >= 0
    tool = traced_agentor.one("execute_tool get_weather")
    assert tool.attributes[sc.GEN_AI_TOOL_CALL_ID].startswith("call_")


async def test_tracing_false_for_a_run_makes_no_spans(
    traced_agentor: Traced, fake_openai: FakeOpenAI
) -> None:
    fake_openai.script([*weather_replies(), *weather_replies()])
    agent = weather_agent(fake_openai)
    assert str(await agent.arun("Weather in Paris?", tracing=False)) == "Sunny"
    assert len(fake_openai.requests) == 2
    assert traced_agentor.spans() == []
    await agent.arun("Weather in Paris?")  # the next run is traced again
    assert traced_agentor.names()[0] == "invoke_agent Weather"


def test_litellm_model_names_its_provider_and_streams_as_one_call(
    traced_agentor: Traced, fake_openai: FakeOpenAI
) -> None:
    fake_openai.script([Reply(text="Hi there"), Reply(text="Hi again")])
    model = LiteLLMModel(f"openai/{MODEL}", api_key="test-key", api_base=fake_openai.base_url)
    loop = AgentLoop(name="Greeter", model=model)
    assert loop.run("Hello").final_output == "Hi there"

    async def streamed() -> list[object]:
        return [e async for e in loop.astream("Hello", stream_text=True)]

    asyncio.run(streamed())
    chats = [s for s in traced_agentor.spans() if s.name.startswith("chat")]
    assert [s.name for s in chats] == [f"chat openai/{MODEL}"] * 2  # no span inside a span
    for chat in chats:
        assert chat.attributes[sc.GEN_AI_PROVIDER_NAME] == "openai"
        assert chat.attributes[sc.SERVER_ADDRESS] == "127.0.0.1"
    assert chats[0].attributes[sc.GEN_AI_RESPONSE_ID].startswith("chatcmpl-")
    assert chats[1].attributes[sc.GEN_AI_REQUEST_STREAM] is True


async def test_fork_is_its_own_run_named_by_its_run_id(
    traced_agentor: Traced, fake_openai: FakeOpenAI
) -> None:
    fake_openai.script([Reply(text="Sunny"), Reply(text="Rain tomorrow")])
    loop = AgentLoop(name="Weather", model=chat_model(fake_openai), store=MemoryStore())
    first = await loop.arun("Weather today?")
    forked = await loop.afork(first.run_id, "And tomorrow?", fork_id="fork-1")
    assert forked.final_output == "Rain tomorrow"
    roots = [s for s in traced_agentor.spans() if s.parent is None]
    assert [r.attributes[sc.GEN_AI_CONVERSATION_ID] for r in roots] == [first.run_id, "fork-1"]


def test_uninstrument_restores_agentor_and_setup_finds_it(fake_openai: FakeOpenAI) -> None:
    from agentor.engine import ChatCompletionsModel
    from agentor.engine.tracing import CelestoTracer

    originals = (
        AgentLoop.__dict__["astream"],
        ChatCompletionsModel.__dict__["complete"],
        LiteLLMModel.__dict__["stream"],
        Tool.__dict__["call"],
        CelestoTracer.__dict__["export"],
    )
    assert "agentor" in agentel.instrument()
    assert AgentLoop.__dict__["astream"] is not originals[0]
    agentel.uninstrument()
    assert (
        AgentLoop.__dict__["astream"],
        ChatCompletionsModel.__dict__["complete"],
        LiteLLMModel.__dict__["stream"],
        Tool.__dict__["call"],
        CelestoTracer.__dict__["export"],
    ) == originals
    assert not AgentorInstrumentor().is_instrumented_by_opentelemetry
    fake_openai.script(weather_replies())
    assert isinstance(weather_agent(fake_openai), Agentor)


async def test_mcp_tool_is_an_extension_named_by_its_server(
    traced_agentor: Traced, fake_openai: FakeOpenAI
) -> None:
    from agentor.engine.mcp import MCPServer

    from mcp_server import serve_calculator

    fake_openai.script([Reply(tool_calls=[ToolCall("add", {"a": 2, "b": 3})]), Reply(text="5")])
    with serve_calculator() as url:
        loop = AgentLoop(
            name="Calc", model=chat_model(fake_openai), mcp_servers=[MCPServer(url, name="calc")]
        )
        try:
            result = await loop.arun("2 + 3?")
        except ImportError as error:  # agentor 0.1.0's MCP client predates mcp 2
            pytest.skip(f"this Agentor's MCP client does not run on the installed mcp: {error}")
    assert [e.result for e in result.events if e.type == "tool_result"] == ["5"]
    tool = traced_agentor.one("execute_tool add")
    assert tool.attributes[sc.GEN_AI_TOOL_TYPE] == "extension"
    assert tool.attributes[sc.AGENTEL_MCP_SERVER] == "calc"
    assert tool.attributes[sc.GEN_AI_TOOL_CALL_ID].startswith("call_")
    assert tool.parent.span_id == traced_agentor.one("invoke_agent Calc").context.span_id


def test_without_agentor_instrument_skips_it_quietly(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in [n for n in sys.modules if n == "agentor" or n.startswith("agentor.")]:
        monkeypatch.delitem(sys.modules, name)
    monkeypatch.setitem(sys.modules, "agentor", None)  # import agentor now fails
    try:
        instrumented = agentel.instrument()
        assert "openai-agents" in instrumented and "agentor" not in instrumented
    finally:
        agentel.uninstrument()


async def test_request_settings_of_the_model_are_on_its_spans(
    traced_agentor: Traced, fake_openai: FakeOpenAI
) -> None:
    fake_openai.script([Reply(text="Sunny")])
    model = chat_model(fake_openai, temperature=0.2, max_tokens=64, stop=["END"], seed=7)
    await AgentLoop(name="Weather", model=model).arun("Weather?")
    assert fake_openai.requests[0].body["temperature"] == 0.2
    chat = traced_agentor.one(f"chat {MODEL}")
    assert chat.attributes[sc.GEN_AI_REQUEST_TEMPERATURE] == 0.2
    assert chat.attributes[sc.GEN_AI_REQUEST_MAX_TOKENS] == 64
    assert chat.attributes[sc.GEN_AI_REQUEST_STOP_SEQUENCES] == ("END",)
    assert chat.attributes[sc.GEN_AI_REQUEST_SEED] == 7
