"""An in-process ``agents.Model`` that replays scripted outputs: real SDK runs, no network."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

from agents import Agent, Model, ModelResponse, function_tool
from agents.usage import Usage
from openai.types.responses import (
    ResponseFunctionToolCall,
    ResponseOutputMessage,
    ResponseOutputText,
)


def tool_call(name: str, arguments: str, call_id: str = "call_1") -> ResponseFunctionToolCall:
    return ResponseFunctionToolCall(
        type="function_call", call_id=call_id, name=name, arguments=arguments, id="fc_1"
    )


def message(text: str) -> ResponseOutputMessage:
    return ResponseOutputMessage(
        id="msg_1",
        type="message",
        role="assistant",
        status="completed",
        content=[ResponseOutputText(type="output_text", text=text, annotations=[])],
    )


class ScriptedModel(Model):
    """Answers each call with the next scripted output item."""

    def __init__(self, outputs: list[Any], model: str = "scripted-4o") -> None:
        self.model = model
        self._outputs = list(outputs)

    async def get_response(self, *args: Any, **kwargs: Any) -> ModelResponse:
        usage = Usage(requests=1, input_tokens=10, output_tokens=4, total_tokens=14)
        return ModelResponse(output=[self._outputs.pop(0)], usage=usage, response_id=None)

    def stream_response(self, *args: Any, **kwargs: Any) -> AsyncIterator[Any]:
        raise NotImplementedError("the scripted model answers only get_response")


@function_tool
def get_weather(city: str) -> str:
    """The weather in a city."""
    return f"Sunny in {city}"


def weather_agent() -> Agent:
    """An agent that calls ``get_weather`` once, then answers."""
    model = ScriptedModel([tool_call("get_weather", '{"city": "Paris"}'), message("Sunny")])
    return Agent(name="Forecaster", instructions="Be brief.", model=model, tools=[get_weather])
