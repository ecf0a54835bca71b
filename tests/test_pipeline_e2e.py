"""End to end in one process: a real OpenAI Agents SDK run (scripted model, no network)
through ``agentel.setup()`` to the loopback OTLP receiver, spans and metrics."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from agents import RunConfig, Runner

import agentel
from agentel import semconv as sc
from otlp_receiver import OTLPReceiver, wait_for
from pipeline_helpers import clean_pipeline
from pipeline_scripted_model import weather_agent


@pytest.fixture(autouse=True)
def _clean(monkeypatch: pytest.MonkeyPatch, receiver: OTLPReceiver) -> Iterator[None]:
    yield from clean_pipeline(monkeypatch)
    agentel.uninstrument()


def test_a_real_run_reaches_langfuse_with_content_and_session(
    receiver: OTLPReceiver, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("LANGFUSE_PUBLIC_KEY", "pk")
    monkeypatch.setenv("LANGFUSE_SECRET_KEY", "sk")
    monkeypatch.setenv("LANGFUSE_HOST", receiver.url)
    pipeline = agentel.setup(otlp="langfuse", capture_content=True, schedule_delay=0.05)
    assert "openai-agents" in pipeline.instrumented
    config = RunConfig(workflow_name="Weather", group_id="conv-9")
    assert Runner.run_sync(weather_agent(), "Weather in Paris?", run_config=config).final_output
    assert agentel.flush(5000)

    assert {r.path for r in receiver.trace_requests()} == {"/api/public/otel/v1/traces"}
    spans = receiver.spans()
    assert sorted(span.name for span in spans) == [
        "chat scripted-4o",
        "chat scripted-4o",
        "execute_tool get_weather",
        "invoke_agent Forecaster",
        "invoke_workflow Weather",
    ]
    by_name = {span.name: span for span in spans}
    workflow = by_name["invoke_workflow Weather"]
    assert workflow.parent_span_id == "" and len({s.trace_id for s in spans}) == 1
    assert workflow.attributes[sc.GEN_AI_CONVERSATION_ID] == "conv-9"
    chat = by_name["chat scripted-4o"]
    assert chat.attributes[sc.GEN_AI_USAGE_INPUT_TOKENS] == 10
    assert sc.GEN_AI_INPUT_MESSAGES in chat.attributes
    tool = by_name["execute_tool get_weather"]
    assert "Sunny in Paris" in tool.attributes[sc.GEN_AI_TOOL_CALL_RESULT]
    assert pipeline.undelivered_spans == 0


def test_a_real_run_sends_the_genai_metrics_with_the_traces(
    receiver: OTLPReceiver, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("OTEL_EXPORTER_OTLP_ENDPOINT", receiver.url)
    agentel.setup("otlp", schedule_delay=0.05)
    Runner.run_sync(weather_agent(), "Weather in Paris?")
    assert agentel.flush(5000)
    wait_for(lambda: sc.METRIC_OPERATION_DURATION in receiver.metric_names())
    assert {
        sc.METRIC_OPERATION_DURATION,
        sc.METRIC_TOKEN_USAGE,
        sc.METRIC_INVOKE_AGENT_DURATION,
        sc.METRIC_EXECUTE_TOOL_DURATION,
    } <= receiver.metric_names()
    assert receiver.histogram_bounds(sc.METRIC_OPERATION_DURATION) == tuple(
        map(float, sc.DURATION_BUCKETS)
    )
