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
from typing import Any

import pytest
from agentor import Agentor
from agentor.engine import ChatCompletionsModel

from agent_fixtures import Traced, make_traced
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


def make_traced_agentor(**instrument_kwargs: Any) -> Traced:
    return make_traced(AgentorInstrumentor(), **instrument_kwargs)


@pytest.fixture
def traced_agentor(monkeypatch: pytest.MonkeyPatch) -> Iterator[Traced]:
    monkeypatch.delenv("OTEL_INSTRUMENTATION_GENAI_CAPTURE_MESSAGE_CONTENT", raising=False)
    traced = make_traced_agentor()
    try:
        yield traced
    finally:
        traced.instrumentor.uninstrument()


@pytest.fixture
def traced_agentor_with_content(monkeypatch: pytest.MonkeyPatch) -> Iterator[Traced]:
    monkeypatch.setenv("OTEL_INSTRUMENTATION_GENAI_CAPTURE_MESSAGE_CONTENT", "SPAN_ONLY")
    traced = make_traced_agentor()
    try:
        yield traced
    finally:
        traced.instrumentor.uninstrument()
