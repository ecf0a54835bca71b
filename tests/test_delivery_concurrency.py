"""Many agent runs at once, through the whole pipeline to an OTLP receiver: each run is its
own trace, no span is linked into another run's trace, and none is lost."""

from __future__ import annotations

import asyncio
from collections import defaultdict
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import pytest
from agents import Agent, OpenAIResponsesModel, RunConfig, Runner

import agentel
from fake_openai import FakeOpenAI, Reply, Request
from otlp_receiver import OTLPReceiver, ReceivedSpan
from pipeline_helpers import clean_pipeline

RUNS_EACH_WAY = 500  # asyncio.gather, then threads with run_sync: 1,000 runs in all


@pytest.fixture(autouse=True)
def _clean(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    yield from clean_pipeline(monkeypatch)
    agentel.uninstrument()


def _agent(fake: FakeOpenAI) -> Agent[Any]:
    return Agent(
        name="Echo",
        instructions="Repeat the run number.",
        # A request the loaded fake server drops is retried soon rather than after the
        # client's default ten minutes; retries stay inside one model call (one span).
        model=OpenAIResponsesModel(
            model="gpt-echo", openai_client=fake.client(timeout=20, max_retries=3)
        ),
    )


def _answer(request: Request) -> Reply:
    return Reply(text=f"done {request.user_text}")


def _config(run: int) -> RunConfig:
    return RunConfig(workflow_name=f"run {run}")


async def _gathered(fake: FakeOpenAI) -> list[str]:
    agent = _agent(fake)
    results = await asyncio.gather(
        *(Runner.run(agent, f"{i}", run_config=_config(i)) for i in range(RUNS_EACH_WAY))
    )
    return [r.final_output for r in results]


def _threaded(fake: FakeOpenAI) -> list[str]:
    def one(run: int) -> str:
        result = Runner.run_sync(_agent(fake), f"{run}", run_config=_config(run))
        return result.final_output

    runs = range(RUNS_EACH_WAY, 2 * RUNS_EACH_WAY)
    with ThreadPoolExecutor(max_workers=16) as pool:
        return list(pool.map(one, runs))


def test_concurrent_runs_are_separate_traces_and_none_is_lost(
    receiver: OTLPReceiver, fake_openai: FakeOpenAI
) -> None:
    fake_openai.set_responder(_answer)
    pipeline = agentel.setup(
        "otlp", otlp_endpoint=f"{receiver.url}/v1/traces", schedule_delay=0.05, metrics=False
    )
    outputs = asyncio.run(_gathered(fake_openai)) + _threaded(fake_openai)
    assert outputs == [f"done {i}" for i in range(2 * RUNS_EACH_WAY)]
    pipeline.shutdown(timeout_millis=20_000)

    by_trace: dict[str, list[ReceivedSpan]] = defaultdict(list)
    for span in receiver.spans():
        by_trace[span.trace_id].append(span)
    assert len(by_trace) == 2 * RUNS_EACH_WAY
    workflows = set()
    for spans in by_trace.values():
        names = sorted(span.name for span in spans)
        assert names[:2] == ["chat gpt-echo", "invoke_agent Echo"] and len(names) == 3
        ids = {span.span_id for span in spans}
        roots = [span for span in spans if not span.parent_span_id]
        assert len(roots) == 1
        assert all(span.parent_span_id in ids for span in spans if span.parent_span_id)
        workflows.add(roots[0].name)
    assert len(workflows) == 2 * RUNS_EACH_WAY  # every run exactly once
    stats = pipeline.delivery["otlp"]
    assert stats.produced == stats.exported == 3 * 2 * RUNS_EACH_WAY
