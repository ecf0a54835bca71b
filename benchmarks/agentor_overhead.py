"""What tracing an Agentor 0.1 run with agentel costs: added wall and CPU time per run and
per span.

As in ``overhead.py``, runs are measured in pairs in one process, alternating which goes
first: a traced run, and the same run with Agentor's own ``tracing=False`` (which the
instrumentation honours by making no spans). The figure is the median of the per-pair
differences; CPU is ``time.process_time()`` (all threads, the BatchSpanProcessor's included).

Scenario (4 spans): agent > (chat, tool, chat), the model answered in process by an httpx
mock transport behind the real ``openai`` client, so no network time blurs the figure.

    python benchmarks/agentor_overhead.py
    python benchmarks/agentor_overhead.py --pairs 400
"""

from __future__ import annotations

import argparse
import asyncio
import json
import statistics
import time
from typing import Any

import httpx
import openai
from agentor.engine import AgentLoop, ChatCompletionsModel
from opentelemetry import trace
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import BatchSpanProcessor
from overhead import DiscardingExporter  # the same discarding exporter as every benchmark

from agentel.instrumentation.agentor import AgentorInstrumentor

SPANS_PER_RUN = 4


def _completion(request: httpx.Request) -> httpx.Response:
    body = json.loads(request.content)
    answered = any(message["role"] == "tool" for message in body["messages"])
    message: dict[str, Any] = {"role": "assistant", "content": "Sunny" if answered else None}
    if not answered:
        message["tool_calls"] = [
            {
                "id": "call_1",
                "type": "function",
                "function": {"name": "get_weather", "arguments": '{"city": "Paris"}'},
            }
        ]
    return httpx.Response(
        200,
        json={
            "id": "chatcmpl-1",
            "object": "chat.completion",
            "created": 0,
            "model": body["model"],
            "choices": [
                {
                    "index": 0,
                    "message": message,
                    "finish_reason": "stop" if answered else "tool_calls",
                }
            ],
            "usage": {"prompt_tokens": 20, "completion_tokens": 5, "total_tokens": 25},
        },
    )


def get_weather(city: str) -> str:
    """Return the weather in a city."""
    return f"Sunny in {city}"


async def _measure(loop: AgentLoop, pairs: int, warmup: int) -> dict[str, float]:
    wall_diffs: list[float] = []
    cpu_diffs: list[float] = []
    plain_walls: list[float] = []
    plain_cpus: list[float] = []
    for index in range(warmup + pairs):
        timings: dict[bool, tuple[float, float]] = {}
        order = (True, False) if index % 2 == 0 else (False, True)
        for traced in order:
            wall0, cpu0 = time.perf_counter(), time.process_time()
            await loop.arun("Weather in Paris?", tracing=None if traced else False)
            timings[traced] = (time.perf_counter() - wall0, time.process_time() - cpu0)
        if index < warmup:
            continue
        wall_diffs.append(timings[True][0] - timings[False][0])
        cpu_diffs.append(timings[True][1] - timings[False][1])
        plain_walls.append(timings[False][0])
        plain_cpus.append(timings[False][1])
    wall, cpu = statistics.median(wall_diffs), statistics.median(cpu_diffs)
    return {
        "plain_wall_us": statistics.median(plain_walls) * 1e6,
        "added_wall_us": wall * 1e6,
        "added_cpu_us": cpu * 1e6,
        "cpu_per_span_us": cpu * 1e6 / SPANS_PER_RUN,
        "cpu_pct": 100 * cpu / statistics.median(plain_cpus),
    }


def _floor_cpu_us(provider: TracerProvider, runs: int) -> float:
    """The bare OTel SDK: the same number of spans, with as many attributes, per run."""
    tracer = provider.get_tracer("floor")
    attributes = {f"attribute.{i}": i for i in range(10)}
    samples = []
    for _ in range(runs):
        cpu0 = time.process_time()
        root = tracer.start_span("root", attributes=attributes)
        context = trace.set_span_in_context(root)
        for _ in range(SPANS_PER_RUN - 1):
            tracer.start_span("child", context=context, attributes=attributes).end()
        root.end()
        samples.append(time.process_time() - cpu0)
    return statistics.median(samples) * 1e6


def _run_case(capture: str, pairs: int, warmup: int) -> dict[str, float]:
    provider = TracerProvider()
    exporter = DiscardingExporter()
    provider.add_span_processor(BatchSpanProcessor(exporter))
    instrumentor = AgentorInstrumentor()
    instrumentor.instrument(tracer_provider=provider, capture_content=capture)
    try:
        client = openai.AsyncOpenAI(
            api_key="bench",
            base_url="http://model.invalid/v1",
            http_client=httpx.AsyncClient(transport=httpx.MockTransport(_completion)),
        )
        model = ChatCompletionsModel("gpt-4o-mini", client=client)
        loop = AgentLoop(name="Weather", model=model, tools=[get_weather])
        result = asyncio.run(_measure(loop, pairs, warmup))
        result["floor_cpu_us"] = _floor_cpu_us(provider, pairs)
    finally:
        instrumentor.uninstrument()
        provider.shutdown()
    expected = (pairs + warmup + pairs) * SPANS_PER_RUN
    if exporter.count != expected:
        raise SystemExit(f"exported {exporter.count} spans, expected {expected}")
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--pairs", type=int, default=200)
    parser.add_argument("--warmup", type=int, default=20)
    options = parser.parse_args()
    print(f"Agentor run, {SPANS_PER_RUN} spans, {options.pairs} pairs (median of differences)")
    for capture in ("NO_CONTENT", "SPAN_ONLY"):
        r = _run_case(capture, options.pairs, options.warmup)
        print(
            f"  content {capture:<10} untraced run {r['plain_wall_us']:8.0f} us wall | "
            f"added {r['added_wall_us']:6.0f} us wall, {r['added_cpu_us']:6.0f} us CPU "
            f"({r['cpu_pct']:4.1f} % of the run's CPU, {r['cpu_per_span_us']:5.0f} us per span); "
            f"bare OTel SDK floor {r['floor_cpu_us']:4.0f} us CPU"
        )


if __name__ == "__main__":
    main()
