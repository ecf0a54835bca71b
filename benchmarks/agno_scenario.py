"""The Agno scenario of ``overhead.py``: an agent calls two tools, then answers.

agentel makes five spans a run: invoke_agent > chat (two tool calls), execute_tool x2, chat
(the answer). The model is either an Agno ``Model`` subclass that answers from a script with
no I/O (what tracing adds to Agno's own work), or Agno's ``OpenAIChat`` against the tests'
fake OpenAI server on loopback HTTP (a real client, request and response parsing).
"""

from __future__ import annotations

import contextlib
import json
import statistics
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

from agno.agent import Agent
from agno.metrics import MessageMetrics
from agno.models.base import Model
from agno.models.openai import OpenAIChat
from agno.models.response import ModelResponse

from fake_openai import FakeOpenAI, Reply, ToolCall

PROMPT = "Weather and air quality in Paris?"


def get_weather(city: str) -> str:
    """Today's weather in a city."""
    return f"sunny in {city}"


def air_quality(city: str) -> str:
    """Today's air quality in a city."""
    return f"good in {city}"


@dataclass
class ScenarioModel(Model):
    """Calls both tools, then answers; reads only how many tool results it has seen."""

    id: str = "gpt-4o"
    name: str = "ScenarioModel"
    provider: str = "OpenAI"

    def _reply(self, messages: list[Any]) -> ModelResponse:
        usage = MessageMetrics(input_tokens=120, output_tokens=15, total_tokens=135)
        if any(getattr(m, "role", None) == "tool" for m in messages):
            return ModelResponse(role="assistant", content="Sunny, good air.", response_usage=usage)
        calls = [
            {
                "id": f"call_{name}",
                "type": "function",
                "function": {"name": name, "arguments": json.dumps({"city": "Paris"})},
            }
            for name in ("get_weather", "air_quality")
        ]
        return ModelResponse(role="assistant", tool_calls=calls, response_usage=usage)

    def invoke(self, messages: list[Any], *args: Any, **kwargs: Any) -> ModelResponse:
        return self._reply(messages)

    async def ainvoke(self, messages: list[Any], *args: Any, **kwargs: Any) -> ModelResponse:
        return self._reply(messages)

    def invoke_stream(self, messages: list[Any], *args: Any, **kwargs: Any) -> Any:
        yield self._reply(messages)

    async def ainvoke_stream(self, messages: list[Any], *args: Any, **kwargs: Any) -> Any:
        yield self._reply(messages)

    def _parse_provider_response(self, response: Any, **kwargs: Any) -> ModelResponse:
        return response  # type: ignore[no-any-return]

    def _parse_provider_response_delta(self, response: Any) -> ModelResponse:
        return response  # type: ignore[no-any-return]


def _loopback_responder(request: Any) -> Reply:
    if request.tool_outputs:
        return Reply(text="Sunny, good air.")
    calls = [ToolCall(name, {"city": "Paris"}) for name in ("get_weather", "air_quality")]
    return Reply(tool_calls=calls)


@contextlib.contextmanager
def scenario_model(kind: str) -> Iterator[Model]:
    """The in-process model, or an OpenAIChat on a fake OpenAI server for the duration."""
    if kind == "inprocess":
        yield ScenarioModel()
        return
    with FakeOpenAI() as fake:
        fake.set_responder(_loopback_responder)
        yield OpenAIChat(id="gpt-4o", base_url=fake.base_url, api_key="bench", max_retries=0)


def make_agent(model: Model) -> Agent:
    return Agent(name="forecaster", model=model, tools=[get_weather, air_quality], telemetry=False)


Install = Callable[[], Callable[[], None]]


def measure(
    model: Model, install: Install, pairs: int, warmup: int, block: int = 5
) -> dict[str, float]:
    """Paired in one process: each pair is a block of runs with ``install()`` in place and a
    block without (instrumenting and uninstrumenting around a block, untimed), alternating
    which goes first; a pair's difference is between the blocks' median runs."""
    agent = make_agent(model)
    cpu_diffs: list[float] = []
    plain_cpus: list[float] = []
    for index in range(warmup + pairs):
        timings: dict[bool, float] = {}
        order = (True, False) if index % 2 == 0 else (False, True)
        for traced in order:
            undo = install() if traced else None
            runs = []
            for _ in range(block):
                cpu0 = time.process_time()
                output = agent.run(PROMPT)
                runs.append(time.process_time() - cpu0)
                if output.content != "Sunny, good air.":
                    raise SystemExit(f"the scenario went wrong: {output.content!r}")
            if undo is not None:
                undo()
            timings[traced] = statistics.median(runs)
        if index >= warmup:
            cpu_diffs.append(timings[True] - timings[False])
            plain_cpus.append(timings[False])
    cpu = statistics.median(cpu_diffs)
    plain = statistics.median(plain_cpus)
    return {
        "plain_cpu_us": plain * 1e6,
        "added_cpu_us": cpu * 1e6,
        "cpu_pct": 100 * cpu / plain,
        "traced_runs": (warmup + pairs) * block,
    }
