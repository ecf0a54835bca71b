"""Message content (instructions, messages, tool definitions, arguments and results) is
recorded only when the capture switch is on, in the semconv JSON shapes."""

from __future__ import annotations

import json

import pytest
from agno.agent import Agent

from agent_fixtures import Traced
from agno_support import MODES, WEATHER_SCRIPT, model, run, weather_agent
from fake_openai import FakeOpenAI, Reply

_CONTENT_ATTRIBUTES = {
    "gen_ai.input.messages",
    "gen_ai.output.messages",
    "gen_ai.system_instructions",
    "gen_ai.tool.definitions",
    "gen_ai.tool.call.arguments",
    "gen_ai.tool.call.result",
}


@pytest.mark.parametrize("mode", MODES)
def test_no_content_by_default(agno_traced: Traced, fake_openai: FakeOpenAI, mode: str) -> None:
    fake_openai.script(list(WEATHER_SCRIPT))
    run(weather_agent(fake_openai), mode, "Weather in Paris?")
    for span in agno_traced.spans():
        assert not _CONTENT_ATTRIBUTES & set(span.attributes or {}), span.name
        assert not [e for e in span.events if e.name.startswith("gen_ai.")], span.name


@pytest.mark.parametrize("mode", MODES)
def test_content_when_asked(
    agno_traced_with_content: Traced, fake_openai: FakeOpenAI, mode: str
) -> None:
    traced = agno_traced_with_content
    fake_openai.script(list(WEATHER_SCRIPT))
    run(weather_agent(fake_openai), mode, "Weather in Paris?")
    first, second = traced.named("chat gpt-4o")
    instructions = json.loads(first.attributes["gen_ai.system_instructions"])
    assert instructions[0]["type"] == "text"
    assert "You answer weather questions." in instructions[0]["content"]
    assert json.loads(first.attributes["gen_ai.input.messages"]) == [
        {"role": "user", "parts": [{"type": "text", "content": "Weather in Paris?"}]}
    ]
    definitions = json.loads(first.attributes["gen_ai.tool.definitions"])
    assert [d["name"] for d in definitions] == ["get_weather", "read_station"]
    assert definitions[0]["description"] == "Today's weather in a city."
    assert definitions[0]["parameters"]["properties"]["city"]["type"] == "string"
    assert json.loads(first.attributes["gen_ai.output.messages"]) == [
        {
            "role": "assistant",
            "parts": [
                {
                    "type": "tool_call",
                    "id": "call_weather",
                    "name": "get_weather",
                    "arguments": {"city": "Paris"},
                },
                {
                    "type": "tool_call",
                    "id": "call_station",
                    "name": "read_station",
                    "arguments": {"station": "PAR-1"},
                },
            ],
            "finish_reason": "tool_call",
        }
    ]
    replayed = json.loads(second.attributes["gen_ai.input.messages"])
    assert [m["role"] for m in replayed] == ["user", "assistant", "tool", "tool"]
    assert replayed[2]["parts"] == [
        {"type": "tool_call_response", "id": "call_weather", "response": "sunny in Paris"}
    ]
    assert json.loads(second.attributes["gen_ai.output.messages"]) == [
        {
            "role": "assistant",
            "parts": [{"type": "text", "content": "Sunny in Paris; the station is offline."}],
            "finish_reason": "stop",
        }
    ]
    tool = traced.one("execute_tool get_weather")
    assert json.loads(tool.attributes["gen_ai.tool.call.arguments"]) == {"city": "Paris"}
    assert json.loads(tool.attributes["gen_ai.tool.call.result"]) == "sunny in Paris"
    assert "gen_ai.tool.call.result" not in traced.one("execute_tool read_station").attributes
    # The agent's input is its first request's, its output its last answer.
    agent = traced.one("invoke_agent forecaster")
    assert agent.attributes["gen_ai.input.messages"] == first.attributes["gen_ai.input.messages"]
    assert agent.attributes["gen_ai.output.messages"] == second.attributes["gen_ai.output.messages"]


def test_reasoning_is_its_own_part(
    agno_traced_with_content: Traced, fake_openai: FakeOpenAI
) -> None:
    fake_openai.script([Reply(text="<think>the sky is clear</think>Sunny.")])
    Agent(name="thinker", model=model(fake_openai), telemetry=False).run("Weather?")
    chat = agno_traced_with_content.one("chat gpt-4o")
    assert json.loads(chat.attributes["gen_ai.output.messages"])[0]["parts"] == [
        {"type": "reasoning", "content": "the sky is clear"},
        {"type": "text", "content": "Sunny."},
    ]
