"""Fixtures and scenarios for the Agno instrumentation tests: real Agno objects on models that
talk to the fake OpenAI server, and an instrumentor tracing into memory.

The three scenarios the issue names: an agent with two tools (one raising), a team of two
members with delegation, and a workflow of two steps.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from typing import Any

import pytest
from agno.agent import Agent
from agno.models.openai import OpenAIChat
from agno.team import Team
from agno.workflow import Step, Workflow
from opentelemetry.sdk.trace import ReadableSpan

from agent_fixtures import Traced
from agent_fixtures import make_traced as make_agent_traced
from agentel.instrumentation.agno import AgnoInstrumentor
from fake_openai import FakeOpenAI, Reply, ToolCall, Usage

MODES = ("sync", "async", "stream", "async-stream")


def make_traced(**instrument_kwargs: Any) -> Traced:
    return make_agent_traced(AgnoInstrumentor(), **instrument_kwargs)


@pytest.fixture
def agno_traced(monkeypatch: pytest.MonkeyPatch) -> Iterator[Traced]:
    monkeypatch.delenv("OTEL_INSTRUMENTATION_GENAI_CAPTURE_MESSAGE_CONTENT", raising=False)
    monkeypatch.setenv("AGNO_TELEMETRY", "false")  # no usage report to Agno's servers
    traced = make_traced()
    try:
        yield traced
    finally:
        traced.instrumentor.uninstrument()


@pytest.fixture
def agno_traced_with_content(monkeypatch: pytest.MonkeyPatch) -> Iterator[Traced]:
    monkeypatch.setenv("OTEL_INSTRUMENTATION_GENAI_CAPTURE_MESSAGE_CONTENT", "SPAN_ONLY")
    monkeypatch.setenv("AGNO_TELEMETRY", "false")
    traced = make_traced()
    try:
        yield traced
    finally:
        traced.instrumentor.uninstrument()


def model(fake: FakeOpenAI) -> OpenAIChat:
    return OpenAIChat(id="gpt-4o", base_url=fake.base_url, api_key="test-key", max_retries=0)


def run(target: Any, mode: str, message: str, **kwargs: Any) -> Any:
    """Run an agent, team or workflow the way ``mode`` says and return its output (the last
    item of a stream), consuming streams to the end as a caller would."""
    if mode == "sync":
        return target.run(message, **kwargs)
    if "stream" in mode and not isinstance(target, Workflow):
        kwargs["yield_run_output"] = True  # the output last, after the events
    if mode == "stream":
        last = None
        for last in target.run(message, stream=True, **kwargs):  # noqa: B007
            pass
        return last
    if mode == "async":
        return asyncio.run(target.arun(message, **kwargs))

    async def consume() -> Any:
        last = None
        async for last in target.arun(message, stream=True, **kwargs):  # noqa: B007
            pass
        return last

    return asyncio.run(consume())


# --- an agent with two tools, one raising ---------------------------------------------------
def get_weather(city: str) -> str:
    """Today's weather in a city."""
    return f"sunny in {city}"


class StationOffline(RuntimeError):
    """The weather station a tool reads is down."""


def read_station(station: str) -> str:
    """Raw readings of a weather station."""
    raise StationOffline(f"station {station} is offline")


def weather_agent(fake: FakeOpenAI) -> Agent:
    return Agent(
        name="forecaster",
        model=model(fake),
        tools=[get_weather, read_station],
        instructions="You answer weather questions.",
        telemetry=False,
    )


WEATHER_SCRIPT = [
    Reply(
        tool_calls=[
            ToolCall("get_weather", {"city": "Paris"}, call_id="call_weather"),
            ToolCall("read_station", {"station": "PAR-1"}, call_id="call_station"),
        ],
        usage=Usage(input_tokens=100, output_tokens=10, cached_tokens=40),
    ),
    Reply(
        text="Sunny in Paris; the station is offline.",
        usage=Usage(input_tokens=130, output_tokens=12, reasoning_tokens=4),
    ),
]


# --- a team of two members with delegation ---------------------------------------------------
def crew(fake: FakeOpenAI) -> Team:
    scout = Agent(name="scout", role="Finds facts", model=model(fake), telemetry=False)
    editor = Agent(name="editor", role="Polishes text", model=model(fake), telemetry=False)
    return Team(name="crew", members=[scout, editor], model=model(fake), telemetry=False)


CREW_SCRIPT = [
    Reply(
        tool_calls=[
            ToolCall(
                "delegate_task_to_member",
                {"member_id": "scout", "task": "find the tallest tower"},
                call_id="call_delegate",
            )
        ],
        usage=Usage(input_tokens=50, output_tokens=6),
    ),
    Reply(text="The tallest tower is in Dubai.", usage=Usage(input_tokens=20, output_tokens=8)),
    Reply(text="Dubai has the tallest tower.", usage=Usage(input_tokens=70, output_tokens=9)),
]


# --- a workflow with two steps -----------------------------------------------------------------
def pipeline(fake: FakeOpenAI, **step_options: Any) -> Workflow:
    researcher = Agent(name="researcher", model=model(fake), telemetry=False)
    writer = Agent(name="writer", model=model(fake), telemetry=False)
    steps = [
        Step(name="research", agent=researcher, **step_options),
        Step(name="write", agent=writer, **step_options),
    ]
    return Workflow(name="article", steps=steps, telemetry=False)


PIPELINE_SCRIPT = [
    Reply(text="notes on towers", usage=Usage(input_tokens=11, output_tokens=3)),
    Reply(text="An article on towers.", usage=Usage(input_tokens=17, output_tokens=5)),
]


# --- reading the result ------------------------------------------------------------------------
def children(span: ReadableSpan, spans: list[ReadableSpan]) -> list[ReadableSpan]:
    found = [s for s in spans if s.parent and s.parent.span_id == span.context.span_id]
    return sorted(found, key=lambda s: s.start_time or 0)


def events_named(span: ReadableSpan, name: str) -> list[Any]:
    return [event for event in span.events if event.name == name]
