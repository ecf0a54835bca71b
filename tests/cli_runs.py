"""Real runs for the CLI's views: the OpenAI Agents SDK against the fake OpenAI server, traced
by agentel into a trace store, as a user's app would record them.

- ``weather``: two tool calls in one turn, run in parallel; one raises
  ``ValueError("no such city")``, which the SDK turns into a message, so the run succeeds
  with one failed span.
- ``guardrail``: an input guardrail trips and the run fails.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
from dataclasses import dataclass
from typing import Any

from agents import (
    Agent,
    GuardrailFunctionOutput,
    InputGuardrailTripwireTriggered,
    OpenAIResponsesModel,
    RunConfig,
    Runner,
    function_tool,
    input_guardrail,
)
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor

import agentel
from agentel.store.exporter import StoreSpanExporter
from fake_openai import FakeOpenAI, Reply, ToolCall, Usage

# longer than the 400 characters the conversation view once cut messages at
LONG_QUESTION = "Weather in Paris and Atlantis? " + "I am planning a long trip. " * 25
TOOL_SECONDS = 0.3  # each weather lookup takes this long, so the two overlap visibly


@function_tool
async def get_weather(city: str) -> str:
    """The weather in a city."""
    await asyncio.sleep(TOOL_SECONDS)
    if city == "Atlantis":
        raise ValueError("no such city")
    return json.dumps({"city": city, "sky": "sunny", "celsius": 21})


@input_guardrail
async def no_card_numbers(ctx: Any, agent: Any, user_input: Any) -> GuardrailFunctionOutput:
    digits = sum(ch.isdigit() for ch in str(user_input))
    return GuardrailFunctionOutput(output_info={"digits": digits}, tripwire_triggered=digits > 12)


@dataclass(frozen=True)
class Recorded:
    weather: str  # trace ids
    guardrail: str


def record_runs(store_url: str, fake: FakeOpenAI, *, content: bool = True) -> Recorded:
    provider = TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(StoreSpanExporter(store_url)))
    agentel.instrument(tracer_provider=provider, capture_content=content)
    try:
        model = OpenAIResponsesModel(model="gpt-4o", openai_client=fake.client())
        weather = Agent(
            name="Forecaster",
            instructions="Answer with the weather of each city asked about.",
            model=model,
            tools=[get_weather],
            input_guardrails=[no_card_numbers],
        )
        fake.script(
            [
                Reply(
                    tool_calls=[
                        ToolCall("get_weather", {"city": "Paris"}, call_id="call_paris"),
                        ToolCall("get_weather", {"city": "Atlantis"}, call_id="call_atlantis"),
                    ],
                    usage=Usage(input_tokens=120, output_tokens=30),
                ),
                Reply(
                    text="Paris is sunny at 21 °C. I found no city called Atlantis.",
                    usage=Usage(input_tokens=210, output_tokens=18),
                ),
            ]
        )
        asyncio.run(
            Runner.run(
                weather,
                LONG_QUESTION,
                run_config=RunConfig(workflow_name="Weather desk", group_id="conv-weather"),
            )
        )
        fake.script([Reply(text="never used")])
        with contextlib.suppress(InputGuardrailTripwireTriggered):
            asyncio.run(
                Runner.run(
                    weather,
                    "Charge 4111 1111 1111 1111 and tell me the weather",
                    run_config=RunConfig(workflow_name="Card check"),
                )
            )
    finally:
        agentel.uninstrument()
        provider.shutdown()
    from agentel.store import open_store

    with open_store(store_url, read_only=True) as store:
        [weather_trace] = store.get_traces(workflow="Weather desk")
        [card_trace] = store.get_traces(workflow="Card check")
    return Recorded(weather_trace.trace_id, card_trace.trace_id)
