"""Failures in Agentor runs: each recorded where it happened, with the real exception, and
the run's root marked ERROR when the run failed."""

from __future__ import annotations

import openai
import pytest
from agentor.engine import AgentLoop
from agentor.engine.store import MemoryStore
from opentelemetry.trace import StatusCode
from pydantic import BaseModel

from agent_fixtures import Traced
from agentel import semconv as sc
from agentor_fixtures import MODEL, chat_model, weather_agent
from fake_openai import FakeOpenAI, Reply, ToolCall


def _exception_events(span: object) -> list[object]:
    return [e for e in span.events if e.name == "exception"]  # type: ignore[attr-defined]


async def test_failing_tool_is_an_error_on_its_span_and_the_run_goes_on(
    traced_agentor: Traced, fake_openai: FakeOpenAI
) -> None:
    def get_weather(city: str) -> str:
        """Return the weather in a city."""
        raise ValueError(f"no station in {city}")

    fake_openai.script(
        [Reply(tool_calls=[ToolCall("get_weather", {"city": "Atlantis"})]), Reply(text="Sorry")]
    )
    result = await weather_agent(fake_openai, tools=[get_weather]).arun("Weather in Atlantis?")
    assert str(result) == "Sorry"

    tool = traced_agentor.one("execute_tool get_weather")
    assert tool.status.status_code is StatusCode.ERROR
    assert tool.attributes[sc.ERROR_TYPE] == "ValueError"
    [event] = _exception_events(tool)
    assert event.attributes["exception.message"] == "no station in Atlantis"
    assert "raise ValueError" in event.attributes["exception.stacktrace"]
    root = traced_agentor.one("invoke_agent Weather")
    assert root.status.status_code is StatusCode.UNSET  # the model recovered
    [point] = traced_agentor.metric_points(sc.METRIC_EXECUTE_TOOL_DURATION)
    assert point.attributes[sc.ERROR_TYPE] == "ValueError"


async def test_model_http_500_keeps_the_failed_call_and_fails_the_run(
    traced_agentor: Traced, fake_openai: FakeOpenAI
) -> None:
    fake_openai.script([Reply(status=500, error_message="upstream broke")])
    agent = weather_agent(fake_openai)
    with pytest.raises(openai.InternalServerError):
        await agent.arun("Weather in Paris?")

    assert traced_agentor.names() == ["invoke_agent Weather", f"chat {MODEL}"]
    root, chat = traced_agentor.spans()
    assert chat.status.status_code is StatusCode.ERROR
    assert chat.attributes[sc.ERROR_TYPE] == "openai.InternalServerError"
    [event] = _exception_events(chat)
    assert "upstream broke" in event.attributes["exception.message"]
    assert root.status.status_code is StatusCode.ERROR
    assert root.attributes[sc.ERROR_TYPE] == "openai.InternalServerError"
    assert _exception_events(root) == []  # the stack is on the call where it happened
    [point] = traced_agentor.metric_points(sc.METRIC_OPERATION_DURATION)
    assert point.attributes[sc.ERROR_TYPE] == "openai.InternalServerError"


async def test_max_turns_marks_the_run_as_failed(
    traced_agentor: Traced, fake_openai: FakeOpenAI
) -> None:
    fake_openai.script(
        [Reply(tool_calls=[ToolCall("get_weather", {"city": "Paris"})]) for _ in range(2)]
    )
    loop = AgentLoop(
        name="Weather", model=chat_model(fake_openai), tools=weather_agent(fake_openai).tools
    )
    result = await loop.arun("Weather in Paris?", max_turns=2)
    assert result.status == "max_turns"

    root = traced_agentor.one("invoke_agent Weather")
    assert root.status.status_code is StatusCode.ERROR
    assert root.status.description == "Reached max_turns (2) without a final answer."
    assert root.attributes[sc.ERROR_TYPE] == "max_turns"
    others = [s for s in traced_agentor.spans() if s is not root]
    assert len(others) == 4 and all(s.status.status_code is StatusCode.UNSET for s in others)
    [point] = traced_agentor.metric_points(sc.METRIC_INVOKE_AGENT_DURATION)
    assert point.attributes[sc.ERROR_TYPE] == "max_turns"


async def test_a_call_to_an_unknown_tool_is_an_error_span(
    traced_agentor: Traced, fake_openai: FakeOpenAI
) -> None:
    fake_openai.script(
        [
            Reply(tool_calls=[ToolCall("get_forecast", {"city": "Paris"}, call_id="call_x")]),
            Reply(text="I cannot"),
        ]
    )
    await weather_agent(fake_openai).arun("Forecast?")
    tool = traced_agentor.one("execute_tool get_forecast")
    assert tool.status.status_code is StatusCode.ERROR
    assert tool.status.description == "unknown tool"
    assert tool.attributes[sc.GEN_AI_TOOL_CALL_ID] == "call_x"
    assert tool.parent.span_id == traced_agentor.one("invoke_agent Weather").context.span_id


async def test_abandoned_stream_ends_the_run_span(
    traced_agentor: Traced, fake_openai: FakeOpenAI
) -> None:
    fake_openai.script([Reply(text="Sunny")])
    loop = AgentLoop(name="Weather", model=chat_model(fake_openai))
    stream = loop.astream("Weather?")
    first = await stream.__anext__()
    assert first.type == "run_start"
    await stream.aclose()
    assert traced_agentor.names() == ["invoke_agent Weather"]


async def test_structured_output_that_does_not_parse_fails_the_run_at_the_agent(
    traced_agentor: Traced, fake_openai: FakeOpenAI
) -> None:
    class Forecast(BaseModel):
        city: str
        sunny: bool

    fake_openai.script([Reply(text='{"city": "Paris", "sunny": true}'), Reply(text="not json")])
    loop = AgentLoop(name="Forecaster", model=chat_model(fake_openai), output_type=Forecast)
    parsed = await loop.arun("Paris?")
    assert parsed.final_output == Forecast(city="Paris", sunny=True)
    with pytest.raises(ValueError, match="did not match Forecast"):
        await loop.arun("Paris?")

    ok, failed = [s for s in traced_agentor.spans() if s.name == "invoke_agent Forecaster"]
    assert ok.attributes[sc.GEN_AI_OUTPUT_TYPE] == "json"
    assert ok.status.status_code is StatusCode.UNSET
    assert failed.status.status_code is StatusCode.ERROR
    assert failed.attributes[sc.ERROR_TYPE] == "ValueError"
    [event] = _exception_events(failed)  # raised by the agent itself, so recorded there
    assert "did not match Forecast" in event.attributes["exception.message"]
    chats = [s for s in traced_agentor.spans() if s.name.startswith("chat")]
    assert all(s.status.status_code is StatusCode.UNSET for s in chats)


async def test_a_resumed_run_shares_the_failed_runs_conversation(
    traced_agentor: Traced, fake_openai: FakeOpenAI
) -> None:
    fake_openai.script([Reply(status=500), Reply(text="Sunny")])
    loop = AgentLoop(name="Weather", model=chat_model(fake_openai), store=MemoryStore())
    with pytest.raises(openai.InternalServerError):
        await loop.arun("Weather in Paris?", run_id="run-1")
    resumed = await loop.aresume("run-1")
    assert resumed.final_output == "Sunny"

    failed, finished = [s for s in traced_agentor.spans() if s.parent is None]
    assert failed.context.trace_id != finished.context.trace_id
    assert failed.status.status_code is StatusCode.ERROR
    assert finished.status.status_code is StatusCode.UNSET
    for span in traced_agentor.spans():
        assert span.attributes[sc.GEN_AI_CONVERSATION_ID] == "run-1"
